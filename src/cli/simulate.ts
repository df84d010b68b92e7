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
import { TrafficPlane } from '../initiator/traffic.js';
import { ProgressWriter, reportText } from '../initiator/sim-display.js';
import { EXIT_OK } from './exit.js';

export interface SimulateFlags {
  count?: number;
  /** --traffic K: base stations that carry traffic (overrides simulate.traffic.count; 0: none). */
  traffic?: number;
  json?: string;
  durationS?: number;
  exitWhenUp: boolean;
  check: boolean;
}

export async function runSimulate(path: string, f: SimulateFlags): Promise<number> {
  const cfg = loadSimulateConfig(path, f.count, f.traffic);
  const failback = cfg.failback.mode === 'never' ? 'never' : `after ${cfg.failback.holdMs / 1000} s (probe every ${cfg.failback.probeMs / 1000} s)`;
  const summary =
    `simulator: ${cfg.count} base stations from ${cfg.endpoints.join(', ')}, clusters ${cfg.clusters.join(' -> ')}, fail-back ${failback}\n` +
    `  arrival ${cfg.arrival.ratePerSec}/s (burst ${cfg.arrival.burst}), reconnect ${cfg.reconnect.initialMs / 1000}..${cfg.reconnect.maxMs / 1000} s, dpd ${cfg.dpdDelay} s` +
    (cfg.retransmit ? `, retransmit ${JSON.stringify(cfg.retransmit)}` : '') +
    (cfg.traffic
      ? `\n  traffic: ${cfg.traffic.count} base stations probe ${cfg.traffic.target}:${cfg.traffic.port} (UDP echo) every ${cfg.traffic.intervalMs / 1000} s through ESP on ${cfg.traffic.tun}`
      : '');
  if (f.check) {
    console.log(`${summary}\nconfiguration OK`);
    return EXIT_OK;
  }
  console.log(summary);
  const mem0 = heap();
  const log = logger('simulator');
  const endpoints = cfg.endpoints.map((address) => (cfg.localPort === undefined ? { address } : { address, port: cfg.localPort, natTPort: cfg.localPort && cfg.localPort + 1 }));
  const traffic = cfg.traffic
    ? await TrafficPlane.open({ traffic: cfg.traffic, population: { count: cfg.count, subnetPool: cfg.subnetPool, endpoints }, remoteTs: cfg.remoteTs, shards: endpoints.length, log })
    : undefined;
  try {
    return await simulate(cfg, f, { endpoints, traffic, log, mem0 });
  } finally {
    await traffic?.close();
  }
}

interface Run {
  endpoints: { address: string; port?: number; natTPort?: number }[];
  traffic: TrafficPlane | undefined;
  log: ReturnType<typeof logger>;
  mem0: ReturnType<typeof heap>;
}

async function simulate(cfg: ReturnType<typeof loadSimulateConfig>, f: SimulateFlags, { endpoints, traffic, log, mem0 }: Run): Promise<number> {
  const sim = await Simulator.create({
    count: cfg.count,
    endpoints,
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
    log,
    ...(traffic ? { kernel: (s: number) => traffic.kernelFor(s), traffic } : {}),
  });
  const out = new ProgressWriter(process.stdout);
  sim.start();
  traffic?.start((i) => sim.sa(i));
  const tick = setInterval(() => out.write(sim.progress()), cfg.progressMs);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (f.durationS !== undefined) setTimeout(stop, f.durationS * 1000).unref();
    if (f.exitWhenUp) void sim.allUp().then(stop);
  });
  clearInterval(tick);
  // The last probes' replies are waited for, so the counts are final.
  await traffic?.stopProbes();
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
