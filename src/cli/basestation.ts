/** `segw basestation --config FILE.yaml [--check]`: brings up the configured connections and keeps them up. */
import { loadBasestationConfig } from '../config/basestation.js';
import { createRootLogger, logger, setRootLogger } from '../log/index.js';
import { Gateway } from '../gateway/gateway.js';
import { describeGateway } from './gateway.js';
import { EXIT_OK } from './exit.js';

export async function runBasestation(path: string, opts: { check: boolean }): Promise<number> {
  const cfg = loadBasestationConfig(path);
  if (opts.check) {
    console.log(`${describeGateway(cfg).replace(/^gateway/, 'basestation')}\n  initiate: ${cfg.initiate.join(', ')}\nconfiguration OK`);
    return EXIT_OK;
  }
  setRootLogger(createRootLogger({ level: cfg.log.level, destination: cfg.log.file }));
  const log = logger('basestation', { node: cfg.node.name });
  // The IKE node is the same machinery as a gateway's; a base station initiates.
  const node = await Gateway.start(cfg, { log });
  for (const name of cfg.initiate) {
    node.daemon.initiate(name).catch((err) => log.error({ err, conn: name }, 'initiate failed'));
  }
  return new Promise<number>((resolve) => {
    const stop = () => void node.stop().then(() => resolve(0), () => resolve(1));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGUSR1', () => log.info({ status: node.status() }, 'status'));
  });
}
