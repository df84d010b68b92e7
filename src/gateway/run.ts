/**
 * `segw gateway` in the foreground: starts the gateway, logs where it listens, and stops it
 * gracefully on SIGTERM/SIGINT (peers told, routes withdrawn). A second signal stops at once.
 * SIGUSR1 logs the status.
 */
import type { GatewayConfig } from '../config/gateway.js';
import { createRootLogger, logger, setRootLogger } from '../log/index.js';
import { Gateway } from './gateway.js';

export async function runGatewayDaemon(cfg: GatewayConfig): Promise<number> {
  setRootLogger(createRootLogger({ level: cfg.log.level, destination: cfg.log.file }));
  const log = logger('gateway', { node: cfg.node.name });
  const gw = await Gateway.start(cfg, { log });
  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: sig }, 'second signal: stopping without telling peers');
        void gw.stop({ notifyPeers: false }).finally(() => resolve(1));
        return;
      }
      log.info({ signal: sig }, 'stopping');
      void gw.stop().then(
        () => resolve(0),
        (err) => {
          log.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGUSR1', () => log.info({ status: gw.status() }, 'status'));
  });
}
