/**
 * `segw basestation --config FILE.yaml [--check]`: brings up the configured connections and keeps
 * them up: a lost IKE SA (DPD, the gateway's Delete) or a failed attempt (no answer, a refusal)
 * is initiated again after an exponential back-off with jitter (config `reconnect`), logged at
 * warn (src/initiator/keeper.ts). With `recovery`, a connection moves between its cluster
 * addresses (src/initiator/recovery.ts); `status` and `list-sas` on the control socket show the
 * cluster each connection is on and why it moved.
 */
import { loadBasestationConfig } from '../config/basestation.js';
import { logger } from '../log/index.js';
import { Gateway } from '../gateway/gateway.js';
import { ConnectionKeeper } from '../initiator/keeper.js';
import { describeGateway } from './gateway.js';
import { EXIT_OK } from './exit.js';

export async function runBasestation(path: string, opts: { check: boolean }): Promise<number> {
  const cfg = loadBasestationConfig(path);
  if (opts.check) {
    for (const w of cfg.warnings) console.error(`segw: warning: ${w}`);
    const r = cfg.reconnect;
    console.log(
      `${describeGateway(cfg).replace(/^gateway/, 'basestation')}\n  initiate: ${cfg.initiate.join(', ')}\n` +
        `  reconnect: back-off from ${r.initialMs / 1000} s up to ${r.maxMs / 1000} s, full jitter\n` +
        [...cfg.recovery].map(([n, p]) => `  recovery ${n}: ${p.clusters.join(' -> ')}, fail-back ${p.failback.mode === 'never' ? 'never' : `after ${p.failback.holdMs / 1000} s (probe every ${p.failback.probeMs / 1000} s)`}\n`).join('') +
        'configuration OK',
    );
    return EXIT_OK;
  }
  const { startLogging } = await import('../gateway/run.js');
  startLogging(cfg);
  const log = logger('basestation', { node: cfg.node.name });
  for (const w of cfg.warnings) log.warn({ config: cfg.file }, w);
  // Reload is a gateway feature; SIGHUP's default action (exit, nothing cleaned up) must not happen.
  process.on('SIGHUP', () => log.warn('SIGHUP: a base station does not reload its config (restart it to apply changes); ignored'));
  const keeper = new ConnectionKeeper({ connections: cfg.initiate, bounds: cfg.reconnect, recovery: cfg.recovery, log });
  // The IKE node is the same machinery as a gateway's; a base station initiates.
  const node = await Gateway.start(cfg, { log, events: keeper.events, annotate: keeper.annotations() });
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
