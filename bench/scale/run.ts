/**
 * bench/scale: N simulated base stations (`segw basestation` in simulator mode, one process)
 * against a 3-member "cluster" of `segw gateway`s (stub kernel), in namespaces:
 *
 *   sim 198.51.100.1..4 ──bridge──┬── m1 198.51.100.11   the cluster address (no VRRP/balancer on
 *                                 ├── m2 198.51.100.12   this branch: m2 and m3 only get what a
 *                                 └── m3 198.51.100.13   balancer would redirect to them)
 *
 * Prints: time until all N are up, setups/s, setup latency percentiles, per-gateway distribution
 * (max/min), memory per IKE SA + child SA on each gateway that holds SAs (JS heap + external
 * after two full GCs, minus the same before the run, as bench/ike-setup measures it), and the
 * simulator's own memory per base station. As root; not part of `npm test`.
 *
 *   node --import tsx bench/scale/run.ts --n 100000 [--rate 2000] [--max-minutes 20] [--json FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { withLab, type Host } from '../../src/lab/lab.js';
import { startSegw, type Responder } from '../ike-setup/responders.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const PSK = 'bench scale psk 0123456789abcdef';
const MEMBERS = ['198.51.100.11', '198.51.100.12', '198.51.100.13'];
const SIM = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4'];
const PROPOSAL = 'aes128gcm16-prfsha256-ecp256';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '2000' },
    'max-minutes': { type: 'string', default: '20' },
    json: { type: 'string' },
  },
});
const N = Number(values.n);
const RATE = Number(values.rate);
const MAX_MS = Number(values['max-minutes']) * 60_000;

interface SimJson {
  report: { count: number; up: number; allUpMs: number | null; setupsPerSec: number; setupLatency: Record<string, number>; distribution: Record<string, number>; failures: Record<string, number>; redirects: Record<string, number> };
  memory: { gc: boolean; rssBytes: number; bytesPerBaseStation: number };
}

await withLab('scale', async (lab) => {
  const sw = await lab.switch('core');
  const simHost = await lab.host('sim');
  await sw.attach(simHost, SIM.map((a) => `${a}/24`), { ifname: 'eth0' });
  const members: { addr: string; host: Host; gw: Responder; before: number }[] = [];
  for (const [i, addr] of MEMBERS.entries()) {
    const host = await lab.host(`m${i + 1}`);
    await sw.attach(host, `${addr}/24`, { ifname: 'eth0' });
    const gw = await startSegw(host, { proposal: PROPOSAL, esp: 'aes128gcm16', address: addr, psk: PSK, pool: '198.18.0.0/15', log: 'quiet' });
    const m = await gw.memory();
    members.push({ addr, host, gw, before: m.heapUsed! + m.external! });
  }
  const simFile = join(lab.dir, 'sim.yaml');
  const jsonFile = join(lab.dir, 'sim.json');
  writeFileSync(simFile, stringify({
    simulate: {
      count: N,
      endpoints: SIM,
      'subnet-pool': '198.18.0.0/15',
      psk: PSK,
      'gateway-id': 'gw.segw.example',
      clusters: [MEMBERS[0]],
      'remote-ts': ['203.0.113.0/24'],
      arrival: { rate: RATE, burst: Math.max(1, Math.round(RATE / 20)) },
      reconnect: { initial: '2s', max: '30s' },
      dpd: '5m',
      progress: '5s',
    },
  }));
  const t0 = Date.now();
  const sim = simHost.spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', simFile, '--exit-when-up', '--duration', String(MAX_MS / 1000), '--json', jsonFile], {
    name: 'simulator',
    cwd: REPO,
    env: { ...process.env, SEGW_LOG_LEVEL: 'error' },
    logFile: join(lab.dir, 'simulator.log'),
  });
  // The simulator measures itself and writes its JSON once every base station is up (or at the deadline).
  await sim.waitFor(/simulator memory: /, MAX_MS + 120_000);
  const r = JSON.parse(readFileSync(jsonFile, 'utf8')) as SimJson;
  // Keep the simulator's own table with the results (the lab directory goes away).
  console.log(sim.output.slice(sim.output.lastIndexOf('base stations: ')));
  const perGw: { addr: string; sas: number; kibPerSa: number | null }[] = [];
  for (const m of members) {
    const sas = r.report.distribution[m.addr] ?? 0;
    const mem = await m.gw.memory();
    perGw.push({ addr: m.addr, sas, kibPerSa: sas > 0 ? (mem.heapUsed! + mem.external! - m.before) / sas / 1024 : null });
  }
  await sim.stop('SIGKILL', 2000);
  for (const m of members) await m.gw.stop();
  const counts = MEMBERS.map((a) => r.report.distribution[a] ?? 0);
  const L = r.report.setupLatency;
  const lines = [
    `bench/scale: ${N} simulated base stations (4 local addresses, one process) -> 3 segw gateways (stub kernel), arrival ${RATE}/s; ${new Date().toISOString()}`,
    `load average ${readFileSync('/proc/loadavg', 'utf8').trim()}; wall ${(Date.now() - t0) / 1000} s`,
    '',
    `up                         ${r.report.up} / ${r.report.count}`,
    `time to establish all      ${r.report.allUpMs === null ? 'not all up' : `${(r.report.allUpMs / 1000).toFixed(1)} s`}`,
    `setups/s                   ${r.report.setupsPerSec}`,
    `setup latency ms           p50 ${L.p50Ms}  p90 ${L.p90Ms}  p99 ${L.p99Ms}  max ${L.maxMs}`,
    `distribution               ${MEMBERS.map((a, i) => `${a} ${counts[i]}`).join(', ')}  (max/min ${Math.min(...counts) > 0 ? (Math.max(...counts) / Math.min(...counts)).toFixed(2) : 'inf: no balancer on this branch'})`,
    `redirects                  ${JSON.stringify(r.report.redirects)}`,
    `failures                   ${JSON.stringify(r.report.failures)}`,
    ...perGw.map((g) => `gateway ${g.addr.padEnd(15)}   ${g.sas} SAs, ${g.kibPerSa === null ? '-' : g.kibPerSa.toFixed(2)} KiB per IKE SA + child SA (heap + external after GC)`),
    `simulator                  ${(r.memory.bytesPerBaseStation / 1024).toFixed(2)} KiB per base station (heap + external after GC), RSS ${(r.memory.rssBytes / 2 ** 20).toFixed(0)} MiB`,
  ];
  console.log(lines.join('\n'));
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ n: N, rate: RATE, report: r.report, simulatorMemory: r.memory, gateways: perGw }, null, 2)}\n`);
});
