/**
 * `segw basestation --config SIM.yaml [--simulate N] [--json FILE] [--duration S] [--exit-when-up]`:
 * the base-station simulator (src/initiator/simulator.ts, config src/config/simulate.ts). A
 * progress line every `progress` interval on stderr... stdout (in place on a TTY), then the report
 * as a table on stdout and as JSON with --json. Runs until SIGINT/SIGTERM, --duration, or (with
 * --exit-when-up) until every base station is up; then deletes every SA with the gateways.
 */
import { writeFileSync } from 'node:fs';
import { loadSimulateConfig } from '../config/simulate.js';
import { logger } from '../log/index.js';
import { Simulator } from '../initiator/simulator.js';
import { ProgressWriter, reportText } from '../initiator/sim-display.js';
import { EXIT_OK } from './exit.js';

export interface SimulateFlags {
  count?: number;
  json?: string;
  durationS?: number;
  exitWhenUp: boolean;
  check: boolean;
}

export async function runSimulate(path: string, f: SimulateFlags): Promise<number> {
  const cfg = loadSimulateConfig(path, f.count);
  const failback = cfg.failback.mode === 'never' ? 'never' : `after ${cfg.failback.holdMs / 1000} s (probe every ${cfg.failback.probeMs / 1000} s)`;
  const summary =
    `simulator: ${cfg.count} base stations from ${cfg.endpoints.join(', ')}, clusters ${cfg.clusters.join(' -> ')}, fail-back ${failback}\n` +
    `  arrival ${cfg.arrival.ratePerSec}/s (burst ${cfg.arrival.burst}), reconnect ${cfg.reconnect.initialMs / 1000}..${cfg.reconnect.maxMs / 1000} s, dpd ${cfg.dpdDelay} s` +
    (cfg.retransmit ? `, retransmit ${JSON.stringify(cfg.retransmit)}` : '');
  if (f.check) {
    console.log(`${summary}\nconfiguration OK`);
    return EXIT_OK;
  }
  console.log(summary);
  const mem0 = heap();
  const sim = await Simulator.create({
    count: cfg.count,
    endpoints: cfg.endpoints.map((address) => (cfg.localPort === undefined ? { address } : { address, port: cfg.localPort, natTPort: cfg.localPort && cfg.localPort + 1 })),
    subnetPool: cfg.subnetPool,
    psk: cfg.psk,
    gatewayId: cfg.gatewayId,
    clusters: cfg.clusters,
    port: cfg.port,
    remoteTs: cfg.remoteTs,
    arrival: cfg.arrival,
    reconnect: cfg.reconnect,
    dpdDelay: cfg.dpdDelay,
    retransmit: cfg.retransmit,
    failback: cfg.failback,
    moveOn: cfg.moveOn,
    recvBufferSize: 8 << 20,
    log: logger('simulator'),
  });
  const out = new ProgressWriter(process.stdout);
  sim.start();
  const tick = setInterval(() => out.write(sim.progress()), cfg.progressMs);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (f.durationS !== undefined) setTimeout(stop, f.durationS * 1000).unref();
    if (f.exitWhenUp) void sim.allUp().then(stop);
  });
  clearInterval(tick);
  out.write(sim.progress());
  out.done();
  const mem1 = heap();
  const report = sim.report();
  // The simulator's own memory per base station (JS heap + external, after full GCs with --expose-gc).
  const memory = { gc: mem1.gc, rssBytes: mem1.rss, bytesPerBaseStation: Math.round((mem1.bytes - mem0.bytes) / report.count) };
  // The JSON first: a reader of stdout may take the report line as "done".
  if (f.json) writeFileSync(f.json, `${JSON.stringify({ config: { ...cfg, psk: undefined }, report, memory }, null, 2)}\n`);
  console.log(`\n${reportText(report)}\nsimulator memory: ${(memory.bytesPerBaseStation / 1024).toFixed(2)} KiB per base station (heap + external${memory.gc ? ', after GC' : ''}), RSS ${(memory.rssBytes / 2 ** 20).toFixed(0)} MiB`);
  await sim.close({ notifyPeers: true });
  return report.notUp === 0 ? EXIT_OK : 1;
}

/** Heap + external bytes now (after two full GCs when node runs with --expose-gc). */
function heap(): { bytes: number; rss: number; gc: boolean } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { bytes: m.heapUsed + m.external, rss: m.rss, gc: gc !== undefined };
}
