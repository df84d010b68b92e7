/**
 * bench/balance failover: issue 12's balance run with a real master loss. Three `segw gateway`
 * processes (stub kernel, redirect at IKE_SA_INIT, capacities 6000 / 9000 / 15000) form a VRRPv3
 * cluster on one bridge; the simulator (`segw basestation --simulate N`, src/initiator: every base
 * station its own identity, kept up by the keeper's back-off) starts every base station at the
 * VIP, arriving in bursts. Once half of them are up the master is killed with SIGKILL:
 *
 *   sim 203.0.113.100..103 ──bridge──┬── gw1 203.0.113.1 (VRRP priority 200: the first master)
 *                                    ├── gw2 203.0.113.2 (150: master after gw1 dies)
 *                                    └── gw3 203.0.113.3 (100)           VIP 203.0.113.10
 *
 * After the kill, gw2 takes the VIP (VRRP), the base stations whose tunnels were on gw1 notice
 * through DPD, reconnect to the VIP after their back-off and are redirected by gw2, and the
 * arrivals not started yet go on at the VIP too. The run ends when every base station is up;
 * max/min weighted load is over the surviving members (gw2, gw3), from the simulator's count of
 * where each base station's tunnel is, checked against the members' own `segw ctl members` rows.
 * `--no-kill` is the same run without the kill (max/min over all three).
 *
 *   node --import tsx bench/balance/failover.ts --n 10000 [--rate 500 --burst 250] [--no-kill]
 *
 * As root (namespaces); not part of npm test; everything is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { withLab, type Host } from '../../src/lab/lab.js';
import { eventually } from '../../src/lab/eventually.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import type { MembersView } from '../../src/cluster/view.js';
import { RAN_GW_ID as GW_ID, RAN_POOL as POOL, segwRanConnections } from '../ran-profile.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '500' },
    burst: { type: 'string', default: '250' },
    'no-kill': { type: 'boolean', default: false },
    'max-minutes': { type: 'string', default: '20' },
  },
});
const N = Number(values.n);
const RATE = Number(values.rate);
const BURST = Number(values.burst);
const KILL = !values['no-kill'];
const MAX_MS = Number(values['max-minutes']) * 60_000;
if (!(N >= 10 && N <= 100_000) || !(RATE > 0) || !(BURST >= 1) || !(MAX_MS > 0 && MAX_MS <= 60 * 60_000)) {
  throw new Error('--n 10..100000, --rate > 0, --burst >= 1, --max-minutes up to 60');
}

const CAPACITY = [6000, 9000, 15000];
const GW = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
const VIP = '203.0.113.10';
const SIM = ['203.0.113.100', '203.0.113.101', '203.0.113.102', '203.0.113.103'];
const PSK = 'balance failover bench psk 0123456789';
// The simulator's proposal (src/initiator/load-generator.ts default).
const CORE_TS = '192.0.2.128/25';
const RAN = { psk: PSK, coreTs: CORE_TS };

function gatewayConfig(i: number): Record<string, unknown> {
  return {
    node: { name: `gw${i + 1}` },
    // info: SegwProcess.start waits for the "gateway started" line.
    log: { level: 'info' },
    ike: { listen: [GW[i]], cookieThreshold: 1_000_000, halfOpenPerPeer: 1_000_000, halfOpenMax: 1_000_000 },
    kernel: { ipsec: 'stub', routes: { enabled: false } },
    connections: segwRanConnections(RAN),
    cluster: {
      address: GW[i],
      vips: [`${VIP}/24`],
      redirect: 'init',
      keyFile: 'cluster.key',
      capacity: { maxTunnels: CAPACITY[i], bandwidth: '1G' },
      weights: { tunnels: 1, bandwidth: 0, cpu: 0 },
      reports: { listen: GW[i], interval: '200ms', staleAfter: 5, peers: GW.filter((_, j) => j !== i) },
      vrrp: { interface: 'eth0', vrid: 52, priority: [200, 150, 100][i], advertInterval: '100ms' },
    },
  };
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const vrrpState = async (g: SegwProcess) => (await g.ctl<{ state: string }>('vrrp')).state;

await withLab('balfo', async (lab) => {
  const sw = await lab.switch('lan');
  const hosts: Host[] = [];
  for (const [i, a] of GW.entries()) {
    const h = await lab.host(`gw${i + 1}`);
    await sw.attach(h, `${a}/24`, { ifname: 'eth0' });
    hosts.push(h);
  }
  const simHost = await lab.host('sim');
  await sw.attach(simHost, SIM.map((a) => `${a}/24`), { ifname: 'eth0' });
  const key = { 'cluster.key': `${randomBytes(32).toString('hex')}\n` };
  const gws = await Promise.all(hosts.map((h, i) => SegwProcess.start(h, 'gateway', gatewayConfig(i), { files: key, timeoutMs: 120_000 })));
  await eventually(async () => (await vrrpState(gws[0]!)) === 'Master', { what: 'gw1 is VRRP master', timeoutMs: 20_000 });
  await eventually(async () => (await gws[0]!.ctl<MembersView>('members')).members.filter((m) => m.eligible).length === 3 || undefined, { what: 'three eligible members', timeoutMs: 20_000 });

  const simFile = join(lab.dir, 'sim.yaml');
  const jsonFile = join(lab.dir, 'sim.json');
  writeFileSync(simFile, stringify({
    simulate: {
      count: N,
      endpoints: SIM,
      'subnet-pool': POOL,
      psk: PSK,
      'gateway-id': GW_ID,
      clusters: [VIP],
      'remote-ts': [CORE_TS],
      arrival: { rate: RATE, burst: BURST },
      // The keeper's back-off after a loss (a dead master's tunnels) or a failed attempt.
      reconnect: { initial: '1s', max: '10s' },
      // How the dead master's base stations notice: DPD every 2 s, strongSwan's retransmissions shortened.
      dpd: '2s',
      retransmit: { timeout: 2, base: 1.5, tries: 3 },
      progress: '2s',
    },
  }));
  const load0 = loadavg();
  const t0 = Date.now();
  const sim = simHost.spawn(process.execPath, ['--max-old-space-size=4096', '--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', simFile, '--exit-when-up', '--duration', String(MAX_MS / 1000), '--json', jsonFile], {
    name: 'simulator',
    cwd: REPO,
    env: { ...process.env, SEGW_LOG_LEVEL: 'error' },
    logFile: join(lab.dir, 'simulator.log'),
  });
  let killedAt: number | null = null;
  let upAtKill = 0;
  if (KILL) {
    // Progress lines: "12.3s up 950/1000 (95.0%) ...": kill the master once half are up.
    upAtKill = await eventually(() => {
      const lines = [...sim.output.matchAll(/ up (\d+)\/\d+ /g)];
      const up = Number(lines.at(-1)?.[1] ?? 0);
      return up >= N / 2 ? up : undefined;
    }, { what: 'half of the base stations up', timeoutMs: MAX_MS, intervalMs: 200 }).catch((err: unknown) => {
      process.stderr.write(`[failover] simulator output:\n${sim.output.slice(-3000)}\n`);
      throw err;
    });
    await gws[0]!.kill();
    killedAt = (Date.now() - t0) / 1000;
    process.stderr.write(`[failover] gw1 killed at ${killedAt.toFixed(1)} s with ${upAtKill} up\n`);
    await eventually(async () => (await vrrpState(gws[1]!)) === 'Master', { what: 'gw2 takes over as VRRP master', timeoutMs: 20_000 });
  }
  await sim.waitFor(/simulator memory: /, MAX_MS + 120_000);
  const wall = (Date.now() - t0) / 1000;
  const r = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
    report: { count: number; up: number; allUpMs: number | null; setupsPerSec: number; losses: number; distribution: Record<string, number>; failures: Record<string, number>; redirects: Record<string, number> };
  };
  const alive = KILL ? [1, 2] : [0, 1, 2];
  // Each surviving member's own count (established IKE SAs in its report), against the simulator's.
  const own = await Promise.all(alive.map(async (i) => (await gws[i]!.ctl<MembersView>('members')).members.find((m) => m.self)!.load.tunnels));
  const rows = alive.map((i, k) => {
    // A tunnel set up on the VIP is the master's: gw2's after the kill (gw1's died with it).
    const tunnels = (r.report.distribution[GW[i]!] ?? 0) + (i === (KILL ? 1 : 0) ? (r.report.distribution[VIP] ?? 0) : 0);
    return { gw: `gw${i + 1}`, capacity: CAPACITY[i]!, tunnels, own: own[k]!, load: tunnels / CAPACITY[i]! };
  });
  const loads = rows.map((x) => x.load);
  const ratio = Math.max(...loads) / Math.min(...loads);
  const out = [
    `\nbench/balance failover: ${N} base stations (simulator, 4 addresses) -> VIP of 3 segw gateways (VRRPv3, redirect at IKE_SA_INIT), arrivals ${RATE}/s in bursts of ${BURST}; ${new Date().toISOString()}`,
    `master gw1 ${KILL ? `killed (SIGKILL) at ${killedAt!.toFixed(1)} s with ${upAtKill} up; gw2 took the VIP` : 'not killed'}; up ${r.report.up}/${r.report.count}, all up after ${r.report.allUpMs === null ? '(not all)' : `${(r.report.allUpMs / 1000).toFixed(1)} s`}; losses ${r.report.losses}; wall ${wall.toFixed(0)} s; load average ${load0} -> ${loadavg()}`,
    '',
    '| member | capacity | tunnels (simulator) | tunnels (member report) | weighted load |',
    '|---|---|---|---|---|',
    ...rows.map((x) => `| ${x.gw} | ${x.capacity} | ${x.tunnels} | ${x.own} | ${(x.load * 100).toFixed(2)}% |`),
    '',
    `max/min weighted load over ${KILL ? 'the surviving members gw2, gw3' : 'all members'}: ${ratio.toFixed(4)} (goal <= 1.05) ${ratio <= 1.05 && r.report.up === N ? 'OK' : 'NOT MET'}`,
    `redirects followed by the base stations: ${JSON.stringify(r.report.redirects)}`,
    `failures (retried by the keeper): ${JSON.stringify(r.report.failures)}`,
  ];
  console.log(out.join('\n'));
  for (const [i, g] of gws.entries()) if (alive.includes(i)) console.log(`gw${i + 1} redirects: ${JSON.stringify((await g.ctl<{ redirects: unknown[]; served: unknown }>('redirects')))}`);
  await sim.stop('SIGKILL', 2000);
  for (const i of alive) await gws[i]!.stop();
});
