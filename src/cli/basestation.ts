/**
 * `segw basestation --config FILE.yaml [--check]`: brings up the configured connections and keeps
 * them up: a lost IKE SA (DPD, the gateway's Delete) or a failed attempt (no answer, a refusal)
 * is initiated again after an exponential back-off with jitter (config `reconnect`), logged at
 * warn (src/initiator/keeper.ts).
 */
import { loadBasestationConfig } from '../config/basestation.js';
import { createRootLogger, logger, setRootLogger } from '../log/index.js';
import { Gateway } from '../gateway/gateway.js';
import { ConnectionKeeper } from '../initiator/keeper.js';
import { describeGateway } from './gateway.js';
import { EXIT_OK } from './exit.js';

export async function runBasestation(path: string, opts: { check: boolean }): Promise<number> {
  const cfg = loadBasestationConfig(path);
  if (opts.check) {
    const r = cfg.reconnect;
    console.log(
      `${describeGateway(cfg).replace(/^gateway/, 'basestation')}\n  initiate: ${cfg.initiate.join(', ')}\n` +
        `  reconnect: back-off from ${r.initialMs / 1000} s up to ${r.maxMs / 1000} s, full jitter\nconfiguration OK`,
    );
    return EXIT_OK;
  }
  setRootLogger(createRootLogger({ level: cfg.log.level, destination: cfg.log.file }));
  const log = logger('basestation', { node: cfg.node.name });
  const keeper = new ConnectionKeeper({ connections: cfg.initiate, bounds: cfg.reconnect, log });
  // The IKE node is the same machinery as a gateway's; a base station initiates.
  const node = await Gateway.start(cfg, { log, events: keeper.events });
  keeper.start(node.daemon);
  return new Promise<number>((resolve) => {
    const stop = () => {
      keeper.stop();
      void node.stop().then(() => resolve(0), () => resolve(1));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGUSR1', () => log.info({ status: node.status(), connections: keeper.status() }, 'status'));
  });
}
