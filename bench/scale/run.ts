/**
 * bench/scale: N simulated base stations (`segw basestation` in simulator mode, one process)
 * against a 3-member segw cluster (`segw gateway`s, stub kernel) in namespaces on one bridge:
 *
 *   sim 198.51.100.1..4 ──bridge──┬── m1 198.51.100.11  VRRP priority 200 (master: VIP .10)
 *                                 ├── m2 198.51.100.12  150
 *                                 └── m3 198.51.100.13  100
 *
 * Every base station starts IKE at the VIP 198.51.100.10 (the VRRPv3 master's); the master's
 * balancer answers IKE_SA_INIT with N(REDIRECT) to the least-loaded member (RFC 5685,
 * `cluster.redirect: init`), or serves the peer itself when it is the least loaded. Load reports
 * (HMAC) every second; utilization counts tunnels only (weights 1/0/0), so the weighted load of
 * a member is tunnels / maxTunnels.
 *
 * Once the simulator reports every base station up, each gateway is measured while it holds its
 * SAs: its own IKE SA and child SA counts (control socket `status`) and its JS heap + external
 * after two full GCs (bench/ike-setup/heap-probe.mjs), minus the same before the run, per SA.
 * Then the simulator is stopped and prints its report (setup latency, failures by reason,
 * redirects, its own memory per base station). As root; not part of `npm test`.
 *
 *   node --import tsx bench/scale/run.ts --n 100000 [--rate 400] [--max-minutes 20] [--json FILE]
 *        [--capacity 50000,50000,50000] [--cpu-prof DIR]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { withLab, type Host, type Lab } from '../../src/lab/lab.js';
import { eventually } from '../../src/lab/eventually.js';
import { ControlClient } from '../../src/control/client.js';
import type { MembersView } from '../../src/cluster/view.js';
import type { RedirectCounts } from '../../src/cluster/balancer.js';
import type { LabProcess } from '../../src/lab/process.js';
import { startSegw, type Responder } from '../ike-setup/responders.js';
import { cpuMs } from '../ike-setup/procfs.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const PSK = 'bench scale psk 0123456789abcdef';
const VIP = '198.51.100.10';
const MEMBERS = ['198.51.100.11', '198.51.100.12', '198.51.100.13'];
const PRIORITIES = [200, 150, 100];
const SIM = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4'];
const PROPOSAL = 'aes128gcm16-prfsha256-ecp256';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '2000' },
    'max-minutes': { type: 'string', default: '20' },
    capacity: { type: 'string', default: '50000,50000,50000' },
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const N = Number(values.n);
const RATE = Number(values.rate);
const MAX_MS = Number(values['max-minutes']) * 60_000;
const CAPACITY = values.capacity!.split(',').map(Number);
const PROF = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
if (!(N > 0) || !(RATE > 0) || !(MAX_MS > 0)) throw new Error('--n, --rate and --max-minutes must be positive numbers');
if (CAPACITY.length !== 3 || CAPACITY.some((c) => !(c > 0))) throw new Error('--capacity: three positive tunnel counts, e.g. 50000,50000,50000');

interface SimJson {
  report: { count: number; up: number; allUpMs: number | null; setupsPerSec: number; setupLatency: Record<string, number>; distribution: Record<string, number>; failures: Record<string, number>; redirects: Record<string, number> };
  memory: { gc: boolean; rssBytes: number; bytesPerBaseStation: number };
}

interface Member {
  name: string;
  addr: string;
  host: Host;
  gw: Responder;
  socket: string;
  /** heapUsed + external after GC before the run. */
  before: number;
  /** CPU time (all threads) before the run. */
  cpuBefore: number;
}

interface GatewayFigures {
  name: string;
  addr: string;
  ikeSas: number;
  childSas: number;
  weightedLoad: number;
  kibPerSa: number | null;
  /** CPU seconds the gateway used during the run (all threads). */
  cpuS: number;
}

async function ctl<T>(socket: string, method: string): Promise<T> {
  const c = await ControlClient.connect(socket);
  try {
    return await c.call<T>(method, {}, { timeoutMs: 120_000 });
  } finally {
    c.close();
  }
}

/** Cluster member i: VRRP on eth0 for the VIP, load reports to the other two, redirect at IKE_SA_INIT. */
function clusterSection(i: number, lab: Lab): Record<string, unknown> {
  return {
    control: { socket: join(lab.dir, `m${i + 1}.sock`) },
    cluster: {
      address: MEMBERS[i],
      vips: [`${VIP}/24`],
      keyFile: join(lab.dir, 'cluster.key'),
      redirect: 'init',
      capacity: { maxTunnels: CAPACITY[i], bandwidth: '10G' },
      weights: { tunnels: 1, bandwidth: 0, cpu: 0 },
      // The default ceiling (80 %) with room: a member takes new base stations until then.
      reports: { listen: MEMBERS[i], interval: '1s', staleAfter: 5, peers: MEMBERS.filter((_, j) => j !== i) },
      // Adverts every 3 s (master down after ~10 s): on this shared machine a member's event loop
      // can stall for seconds under the setup load, and with 1 s a backup declared the master
      // down and took the VIP too (seen in a 100k run at load average 21).
      vrrp: { interface: 'eth0', vrid: 61, priority: PRIORITIES[i], advertInterval: '3s' },
    },
  };
}

async function startCluster(lab: Lab, sim: Host): Promise<Member[]> {
  const sw = await lab.switch('core');
  await sw.attach(sim, SIM.map((a) => `${a}/24`), { ifname: 'eth0' });
  writeFileSync(join(lab.dir, 'cluster.key'), `${'5c'.repeat(32)}\n`, { mode: 0o600 });
  const members: Member[] = [];
  for (const [i, addr] of MEMBERS.entries()) {
    const name = `m${i + 1}`;
    const host = await lab.host(name);
    await sw.attach(host, `${addr}/24`, { ifname: 'eth0' });
    const cpuProfDir = PROF && join(PROF, name);
    if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
    const gw = await startSegw(host, { name, proposal: PROPOSAL, esp: 'aes128gcm16', address: addr, psk: PSK, pool: '198.18.0.0/15', log: 'quiet', cpuProfDir, config: clusterSection(i, lab) });
    members.push({ name, addr, host, gw, socket: join(lab.dir, `${name}.sock`), before: 0, cpuBefore: 0 });
  }
  // m1 (highest priority) holds the VIP, and knows every member as eligible, before any arrival.
  await eventually(() => members[0]!.host.hasAddress(`${VIP}/24`), { what: `m1 holds the VIP ${VIP}`, timeoutMs: 30_000 });
  await eventually(async () => (await ctl<MembersView>(members[0]!.socket, 'members')).members.filter((m) => m.eligible).length === 3, { what: 'three eligible members at m1', timeoutMs: 30_000 });
  for (const m of members) {
    const mem = await m.gw.memory();
    m.before = mem.heapUsed! + mem.external!;
    m.cpuBefore = cpuMs(m.gw.pid);
  }
  return members;
}

function startSimulator(lab: Lab, host: Host): LabProcess {
  const simFile = join(lab.dir, 'sim.yaml');
  writeFileSync(simFile, stringify({
    simulate: {
      count: N,
      endpoints: SIM,
      'subnet-pool': '198.18.0.0/15',
      psk: PSK,
      'gateway-id': 'gw.segw.example',
      clusters: [VIP],
      'remote-ts': ['203.0.113.0/24'],
      arrival: { rate: RATE, burst: Math.max(1, Math.round(RATE / 20)) },
      reconnect: { initial: '2s', max: '30s' },
      // DPD every 30 min: the run measures setups; at 5 min, 100,000 established base stations
      // add ~330 INFORMATIONAL exchanges/s to the gateways once the first are 5 min old.
      dpd: '30m',
      progress: '5s',
    },
  }));
  const prof = PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(PROF, 'simulator')}`] : [];
  // No --exit-when-up: the gateways are measured while the base stations are still up; SIGTERM
  // then makes the simulator report (and delete its SAs). --duration bounds it.
  return host.spawn(process.execPath, [...prof, '--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', simFile, '--duration', String(MAX_MS / 1000), '--json', join(lab.dir, 'sim.json')], {
    name: 'simulator',
    cwd: REPO,
    env: { ...process.env, SEGW_LOG_LEVEL: 'error' },
    logFile: join(lab.dir, 'simulator.log'),
  });
}

async function measureGateways(members: Member[]): Promise<GatewayFigures[]> {
  const out: GatewayFigures[] = [];
  for (const [i, m] of members.entries()) {
    const s = await ctl<{ ikeSas: number; childSas: number; ike: Record<string, number> }>(m.socket, 'status');
    const cpuS = (cpuMs(m.gw.pid) - m.cpuBefore) / 1000;
    const mem = await m.gw.memory();
    const established = s.ike.ESTABLISHED ?? s.ikeSas;
    out.push({
      name: m.name,
      addr: m.addr,
      ikeSas: established,
      childSas: s.childSas,
      weightedLoad: established / CAPACITY[i]!,
      kibPerSa: established > 0 ? (mem.heapUsed! + mem.external! - m.before) / established / 1024 : null,
      cpuS,
    });
  }
  return out;
}

function table(r: SimJson, gws: GatewayFigures[], redirects: RedirectCounts, wallS: number, simCpuS: number): string[] {
  const loads = gws.map((g) => g.weightedLoad);
  const ratio = Math.min(...loads) > 0 ? Math.max(...loads) / Math.min(...loads) : Infinity;
  const L = r.report.setupLatency;
  const served = Object.entries(redirects.served).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `bench/scale: ${N} simulated base stations (4 local addresses, one process) -> VIP ${VIP} of a 3-member segw cluster (VRRP, redirect at IKE_SA_INIT, stub kernel), arrival ${RATE}/s; ${new Date().toISOString()}`,
    `load average ${readFileSync('/proc/loadavg', 'utf8').trim()}; wall ${wallS.toFixed(0)} s`,
    '',
    `up                         ${r.report.up} / ${r.report.count}`,
    `time to establish all      ${r.report.allUpMs === null ? 'not all up' : `${(r.report.allUpMs / 1000).toFixed(1)} s`}`,
    `setups/s                   ${r.report.setupsPerSec}`,
    `setup latency ms           p50 ${L.p50Ms}  p90 ${L.p90Ms}  p99 ${L.p99Ms}  max ${L.maxMs}`,
    `failures                   ${JSON.stringify(r.report.failures)}`,
    `redirects (simulator)      ${JSON.stringify(r.report.redirects)}`,
    `master m1 balancer         redirected ${redirects.redirects.map((x) => `${x.target} ${x.count} (${x.reason})`).join(', ') || '-'}; served ${served || '-'}; refused ${JSON.stringify(redirects.refused)}`,
    `weighted load max/min      ${ratio.toFixed(4)} (goal <= 1.05)`,
    ...gws.map((g, i) => `gateway ${g.name} ${g.addr.padEnd(14)} ${String(g.ikeSas).padStart(6)} IKE SAs ${String(g.childSas).padStart(6)} child SAs, load ${(g.weightedLoad * 100).toFixed(2)}% of ${CAPACITY[i]}, ${g.kibPerSa === null ? '-' : g.kibPerSa.toFixed(2)} KiB per IKE SA + child SA (heap + external after GC)`),
    `simulator                  ${(r.memory.bytesPerBaseStation / 1024).toFixed(2)} KiB per base station (heap + external after GC), RSS ${(r.memory.rssBytes / 2 ** 20).toFixed(0)} MiB`,
    `CPU until all up           gateways ${gws.map((g) => `${g.name} ${g.cpuS.toFixed(0)} s`).join(', ')} (${((gws.reduce((n, g) => n + g.cpuS, 0) * 1000) / N).toFixed(2)} ms per base station); simulator ${simCpuS.toFixed(0)} s (${((simCpuS * 1000) / N).toFixed(2)} ms per base station)`,
  ];
}

await withLab('scale', async (lab) => {
  const simHost = await lab.host('sim');
  const members = await startCluster(lab, simHost);
  const t0 = Date.now();
  const sim = startSimulator(lab, simHost);
  try {
    // Every base station up (the progress line), or the simulator's own deadline (it reports then).
    await Promise.race([sim.waitFor(new RegExp(`\\bup ${N}/${N} `), MAX_MS + 60_000), sim.waitFor(/simulator memory: /, MAX_MS + 60_000)]);
    const simCpuS = cpuMs(sim.pid!) / 1000;
    const gws = await measureGateways(members);
    const redirects = await ctl<RedirectCounts>(members[0]!.socket, 'redirects');
    sim.signalGroup('SIGTERM');
    await sim.waitFor(/simulator memory: /, 300_000);
    const r = JSON.parse(readFileSync(join(lab.dir, 'sim.json'), 'utf8')) as SimJson;
    // The simulator's own table (the lab directory goes away at the end).
    console.log(sim.output.slice(sim.output.lastIndexOf('base stations: ')));
    console.log(table(r, gws, redirects, (Date.now() - t0) / 1000, simCpuS).join('\n'));
    if (values.json) writeFileSync(values.json, `${JSON.stringify({ n: N, rate: RATE, capacity: CAPACITY, report: r.report, simulatorMemory: r.memory, gateways: gws, simulatorCpuS: simCpuS, balancer: redirects }, null, 2)}\n`);
    // A CPU profile is written at a clean exit only: let the simulator finish deleting its SAs.
    if (PROF) await Promise.race([sim.exited, new Promise((r) => setTimeout(r, 300_000))]);
  } finally {
    await sim.stop('SIGKILL', 2000);
    for (const m of members) await m.gw.stop();
  }
});
