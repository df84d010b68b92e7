/**
 * The demo behind `npm run demo` (root): the product on one machine, in network namespaces
 * (topology and addresses in ./demo-config.ts, namespaces and nodes in ./demo-site.ts, the live
 * lines in ./demo-monitor.ts).
 *
 *   1. five `segw gateway` nodes, each with a BIRD announcing its injected routes over BGP to a
 *      core router (BIRD): gw1..gw3 the primary cluster (VRRPv3 master gw1 holds VIP
 *      203.0.113.10), gw4 and gw5 the backup cluster (master gw4, VIP 203.0.113.20);
 *   2. a simulator process brings up N base stations at the VIP and a strongSwan base station
 *      one more; the master redirects each to the least-loaded member (RFC 5685 at IKE_SA_INIT),
 *      so they spread; every tunnel's subnet reaches the core router's table by BGP; the
 *      strongSwan base station pings a server behind the core through its tunnel all along;
 *   3. gw1 (the master) crashes: gw2 takes the VIP, the base stations gw1 served notice (DPD),
 *      come back through the VIP and are spread over gw2 and gw3; the core forgets gw1's routes;
 *      gw1 restarts empty and joins as a backup (no preemption: see demo-config.ts);
 *   4. the member serving the strongSwan base station is drained: its tunnels are redirected to
 *      the other members (RFC 5685 in INFORMATIONAL) and its routes move with them;
 *   5. the whole primary site crashes: every base station moves to the backup cluster; the
 *      primary comes back: after the fail-back hold time they return to it;
 *   6. everything is stopped; no namespace, interface, process or route of the demo is left.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { Lab } from './lab.js';
import { eventually } from './eventually.js';
import { run } from './exec.js';
import { Bird } from './peers/bird.js';
import { Monitor, type Snapshot } from './demo-monitor.js';
import { buildSite, type DemoSite, type GatewayNode } from './demo-site.js';
import { startBaseStations, stopBaseStations, type BaseStations } from './demo-basestations.js';
import {
  BACKUP, BACKUP_VIP, CORE, MAX_SIMULATED, PRIMARY, SERVICE, STRONGSWAN_LAN, VIP, coreBirdConfig, gwName,
} from './demo-config.js';

export { segwGatewayConfig, strongSwanBaseStation } from './demo-config.js';

const REPO = resolve(import.meta.dirname, '..', '..');
export const DEFAULT_SIMULATED = 200;

export interface DemoOptions {
  /** Leave everything up after the last phase until Ctrl-C (SIGINT), then tear down. */
  keep?: boolean;
  /** Simulated base stations (default 200, at most 250: one /32 each of 198.51.100.0/24). */
  simulated?: number;
  /** Where the plain lines go (default stdout). */
  print?: (line: string) => void;
}

export interface DemoResult {
  /** 0 when every check held, 1 otherwise. */
  code: number;
  /** The lab's id (for Lab.leftovers), empty if no lab was made. */
  labId: string;
  /** The checks that did not hold, in order. */
  failed: string[];
  /** The phases that completed, in order. */
  phases: string[];
}

interface Ctx {
  site: DemoSite;
  n: number;
  say: (msg: string) => void;
  failed: string[];
  phases: string[];
  monitor: Monitor;
  bs: BaseStations;
  coreBird: Bird;
  t0: number;
}

const sum = (s: Snapshot, idx: readonly number[]) => idx.reduce((n, i) => n + s.gateways[i]!.tunnels, 0);
const routesVia = (s: Snapshot, idx: readonly number[]) => idx.reduce((n, i) => n + (s.coreRoutes[gwName(i)] ?? 0), 0);
const role = (s: Snapshot, i: number) => s.gateways[i]!.role;

export async function demoCluster(opts: DemoOptions = {}): Promise<DemoResult> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const say = (msg: string) => print(`[demo] ${msg}`);
  const n = opts.simulated ?? DEFAULT_SIMULATED;
  if (process.getuid?.() !== 0) {
    say('needs root: it builds network namespaces and runs gateways, BIRD and strongSwan in them (run: sudo npm run demo)');
    return { code: 1, labId: '', failed: ['not root'], phases: [] };
  }
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_SIMULATED)) {
    say(`the simulated base stations are 1..${MAX_SIMULATED} (one /32 each of 198.51.100.0/24), not ${n}`);
    return { code: 2, labId: '', failed: ['bad count'], phases: [] };
  }
  const t0 = Date.now();
  const hostRoutes = await demoPrefixRoutes();
  const lab = await Lab.create('demo');
  const failed: string[] = [];
  const phases: string[] = [];
  let pids: number[] = [];
  try {
    const site = await buildSite(lab);
    say(`lab ${lab.id}: ${[...lab.hosts.keys()].length} namespaces (gw1..gw5, core, srv, bs1, sim, two bridges)`);
    const c = await startCluster(site, n, say, failed, phases, t0);
    try {
      await spread(c);
      await masterCrash(c);
      await drain(c);
      await siteFailover(c);
      await siteFailback(c);
      // Taken before --keep waits: Ctrl-C's lab teardown may have emptied the namespaces after it.
      pids = await namespacePids(lab);
      if (opts.keep) await keepUp(c);
    } finally {
      if (pids.length === 0) pids = await namespacePids(lab);
      await stopAll(c);
    }
  } catch (err) {
    failed.push(`aborted: ${(err as Error).message}`);
    say(`aborted: ${(err as Error).message}`);
  } finally {
    if (pids.length === 0) pids = await namespacePids(lab);
    await lab.close();
  }
  await verifyTornDown(lab.id, pids, hostRoutes, say, failed);
  if (failed.length === 0) phases.push('teardown');
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  say(failed.length === 0 ? `demo OK in ${secs}s` : `demo FAILED in ${secs}s: ${failed.join('; ')}`);
  return { code: failed.length === 0 ? 0 : 1, labId: lab.id, failed, phases };
}

async function startCluster(site: DemoSite, n: number, say: Ctx['say'], failed: string[], phases: string[], t0: number): Promise<Ctx> {
  say(`starting 5 segw gateways (userspace ESP, load reports every 250 ms, redirect at IKE_SA_INIT), each with a BIRD speaking eBGP to the core router (AS ${CORE.as})`);
  say(`  primary cluster gw1..gw3 on VIP ${VIP} (VRRPv3 vrid 51, priorities 200/150/100); backup cluster gw4, gw5 on VIP ${BACKUP_VIP} (vrid 52)`);
  const coreBird = await Bird.start(site.core, { name: 'core', config: coreBirdConfig() });
  // Without preemption the first member up becomes master: gw1 and gw4 start first.
  const [gw1, , , gw4] = site.gateways as [GatewayNode, GatewayNode, GatewayNode, GatewayNode, GatewayNode];
  await Promise.all([gw1.start(), gw4.start()]);
  await eventually(async () => (await gw1.ctl<{ state: string }>('vrrp')).state === 'Master' && (await gw4.ctl<{ state: string }>('vrrp')).state === 'Master',
    { what: 'gw1 and gw4 masters', timeoutMs: 20_000, intervalMs: 200 });
  await Promise.all([1, 2, 4].map((i) => site.gateways[i]!.start()));
  const bs = await startBaseStations(site, n, say);
  const monitor = new Monitor(site.gateways, site.core, bs.strongswan, bs.ping, () => bs.sim, (l) => say(l), t0);
  const c: Ctx = { site, n, say, failed, phases, monitor, bs, coreBird, t0 };
  say('live lines: gwN <VRRP role M/B/x> <tunnels>t <redirected>r [D draining] [rate] || the core router\'s BGP routes per gateway || bs1\'s ESP packets and pings to the server || the simulator');
  await c.monitor.until('gw1 and gw4 masters, the others backups', (s) => ['M', 'B', 'B', 'M', 'B'].every((r, i) => role(s, i) === r), 20_000);
  await check(c, `gw1 holds the primary VIP ${VIP}, gw4 the backup VIP ${BACKUP_VIP}`, async () =>
    (await site.gateways[0]!.host.hasAddress(`${VIP}/24`)) && (await site.gateways[3]!.host.hasAddress(`${BACKUP_VIP}/24`)));
  await Promise.all(site.gateways.map((g) => coreBird.waitForProtocol(g.name, /Established/, 60_000)));
  say('core router: BGP sessions with gw1..gw5 established (birdc show protocols)');
  phases.push('cluster');
  return c;
}

/** Phase 2: N+1 base stations at the VIP, spread by the master's redirects; routes reach the core. */
async function spread(c: Ctx): Promise<void> {
  const want = c.n + 1;
  c.say(`phase 1: ${c.n} simulated base stations (one process) and strongSwan's bs1 initiate to the VIP ${VIP}`);
  const s = await c.monitor.until(`${want} tunnels spread over gw1..gw3 and ${want} routes at the core`, (s) =>
    sum(s, PRIMARY) === want && PRIMARY.every((i) => s.gateways[i]!.tunnels > 0) && routesVia(s, PRIMARY) === want && s.coreTotal === want &&
    s.sim?.up === c.n && s.bs1 !== undefined, 90_000);
  await check(c, `gw1 (master) redirected base stations to the other members (${s.gateways[0]!.redirected} redirects)`, async () => s.gateways[0]!.redirected > 0);
  await trafficFlows(c, 'with every base station up');
  await showCtl(c, c.site.gateways[0]!, 'members');
  await showCoreRoutes(c);
  c.phases.push('spread');
}

/** Phase 3: kill -9 of the master; gw2 takes over; gw1's base stations re-home through the VIP. */
async function masterCrash(c: Ctx): Promise<void> {
  const want = c.n + 1;
  const [gw1, gw2] = c.site.gateways as [GatewayNode, GatewayNode];
  c.say('phase 2: gw1, the master, crashes (kill -9 of its segw and its BIRD)');
  const t = Date.now();
  await gw1.crash();
  await c.monitor.until('gw2 becomes master', (s) => role(s, 1) === 'M', 10_000);
  await check(c, `gw2 holds the VIP ${VIP} (${secondsSince(t)} s after the crash)`, () => gw2.host.hasAddress(`${VIP}/24`));
  let detour = 0;
  await c.monitor.until(`all ${want} base stations on gw2 and gw3, the core without gw1's routes`, (s) => {
    detour = Math.max(detour, sum(s, BACKUP));
    return sum(s, [1, 2]) === want && routesVia(s, [1, 2]) === want && s.coreTotal === want && s.sim?.up === c.n && s.bs1 !== undefined;
  }, 60_000);
  c.say(`all ${want} base stations re-homed on gw2 and gw3 ${secondsSince(t)} s after the crash`);
  if (detour > 0) {
    c.say(`  (up to ${detour} of them went by the backup cluster: a simulated base station whose DPD gives up counts its cluster as lost ` +
      '(README "Disaster recovery"), moves to the backup, and fails back once the primary answered its probes for the 4 s hold)');
  }
  await trafficFlows(c, 'after the failover');
  c.say('gw1 restarts (a fresh process): it joins as a backup (no preemption: the VIP stays with gw2) and takes new base stations');
  await gw1.start();
  await c.monitor.until('gw1 back as a backup', (s) => role(s, 0) === 'B' && role(s, 1) === 'M', 30_000);
  c.phases.push('master-crash');
}

/** Phase 4: drain the member serving bs1; its tunnels move to the others. */
async function drain(c: Ctx): Promise<void> {
  const want = c.n + 1;
  const s0 = await c.monitor.snapshot();
  const target = c.site.gateways.find((g) => g.name === s0.bs1?.on && g.primary) ?? c.site.gateways[1]!;
  const i = target.index;
  const others = PRIMARY.filter((j) => j !== i);
  c.say(`phase 3: drain ${target.name} (it serves bs1 and ${s0.gateways[i]!.tunnels - 1} more): segw ctl drain '{"rate":100}'`);
  await target.ctl('drain', { rate: 100 });
  const drained = c.monitor.until(`${target.name} empty, its base stations on ${others.map(gwName).join(' and ')}`, (s) =>
    s.gateways[i]!.tunnels === 0 && sum(s, others) === want && routesVia(s, others) === want && s.coreTotal === want && s.bs1 !== undefined && s.bs1.on !== target.name, 60_000);
  await drained.then(() => showCtl(c, target, 'redirects'), async (err: unknown) => {
    await showCtl(c, target, 'redirects');
    await showSas(c, target);
    throw err;
  });
  await trafficFlows(c, `after draining ${target.name}`);
  await target.ctl('undrain');
  c.say(`${target.name} undrained: it takes new base stations again`);
  c.phases.push('drain');
}

/** Phase 5: the whole primary site crashes; everything moves to the backup cluster. */
async function siteFailover(c: Ctx): Promise<void> {
  const want = c.n + 1;
  c.say(`phase 4: the primary site fails (kill -9 of gw1, gw2, gw3): the base stations move to the backup VIP ${BACKUP_VIP}`);
  const t = Date.now();
  await Promise.all(PRIMARY.map((i) => c.site.gateways[i]!.crash()));
  c.say('  bs1 (strongSwan 5.9.8 knows one peer address per connection) is moved by the demo: swanctl --initiate --ike dr');
  await c.bs.strongswan.swanctl(['--terminate', '--ike', 'vip', '--force', '--timeout', '2'], { allowFail: true });
  await c.bs.strongswan.initiate('s1dr', { ike: 'dr', timeoutS: 30 });
  await c.monitor.until(`all ${want} base stations on gw4 and gw5`, (s) =>
    sum(s, BACKUP) === want && BACKUP.every((i) => s.gateways[i]!.tunnels > 0) && routesVia(s, BACKUP) === want && s.coreTotal === want && s.sim?.up === c.n, 60_000);
  c.say(`all ${want} base stations on the backup cluster ${secondsSince(t)} s after the primary site failed`);
  await trafficFlows(c, 'on the backup site');
  c.phases.push('site-failover');
}

/** Phase 6: the primary site returns; after the fail-back hold the base stations go back to it. */
async function siteFailback(c: Ctx): Promise<void> {
  const want = c.n + 1;
  c.say('phase 5: the primary site returns (gw1, then gw2 and gw3 restarted); the simulated base stations probe it and fail back after 4 s of answers');
  const t = Date.now();
  await c.site.gateways[0]!.start();
  await c.monitor.until('gw1 master of the primary again', (s) => role(s, 0) === 'M', 20_000);
  await Promise.all([1, 2].map((i) => c.site.gateways[i]!.start()));
  c.say('  bs1 moved back by the demo: swanctl --terminate --ike dr, --initiate --ike vip');
  await c.bs.strongswan.swanctl(['--terminate', '--ike', 'dr', '--timeout', '5'], { allowFail: true });
  await c.bs.strongswan.initiate('s1', { ike: 'vip', timeoutS: 30 });
  await c.monitor.until(`all ${want} base stations back on the primary, none on the backup`, (s) =>
    sum(s, PRIMARY) === want && sum(s, BACKUP) === 0 && routesVia(s, PRIMARY) === want && s.coreTotal === want && s.sim?.up === c.n, 90_000);
  c.say(`all ${want} base stations back on the primary ${secondsSince(t)} s after it was restarted`);
  await trafficFlows(c, 'back on the primary');
  await showCtl(c, c.site.gateways[0]!, 'members');
  c.phases.push('site-failback');
}

/** Pings from bs1's LAN reach the server behind the core (new answers since the phase began). */
async function trafficFlows(c: Ctx, when: string): Promise<void> {
  const from = (await c.monitor.snapshot()).ping.answered;
  const ok = await c.monitor.until(`pings answered through bs1's tunnel ${when}`, (s) => s.ping.answered >= from + 3, 30_000).then(() => true, () => false);
  const s = c.monitor.last!;
  await check(c, `ping ${STRONGSWAN_LAN.addr} (bs1's LAN) -> ${SERVICE.server} (server behind the core) through the tunnel on ${s.bs1?.on ?? '?'} ${when}: ${s.ping.answered} answered so far`, async () => ok);
}

/** Runs `segw ctl` (the operator's command) against a gateway and prints its table. */
async function showCtl(c: Ctx, g: GatewayNode, method: string): Promise<void> {
  const socket = g.segw!.controlSocket;
  c.say(`$ segw ctl --socket ${socket} ${method}`);
  const out = await new Promise<string>((res) => {
    execFile(process.execPath, ['--import', 'tsx', resolve(REPO, 'src/cli/main.ts'), 'ctl', '--socket', socket, method], { cwd: REPO, timeout: 30_000 }, (err, stdout, stderr) =>
      res(err ? `(segw ctl failed: ${stderr.trim() || err.message})` : stdout));
  });
  for (const line of out.trimEnd().split('\n')) c.say(`    ${line}`);
}

/** The IKE SAs a gateway still holds (why a wait did not end). */
async function showSas(c: Ctx, g: GatewayNode): Promise<void> {
  const { ikeSas } = await g.ctl<{ ikeSas: { remote: { address: string; port: number }; state: string; establishedS: number; children: unknown[]; local: { address: string } }[] }>('list-sas');
  c.say(`${g.name} holds ${ikeSas.length} IKE SAs, e.g.:`);
  for (const sa of ikeSas.slice(0, 8)) c.say(`    ${sa.remote.address}:${sa.remote.port} -> ${sa.local.address} ${sa.state} for ${sa.establishedS}s, ${sa.children.length} children`);
}

async function showCoreRoutes(c: Ctx): Promise<void> {
  const out = (await c.site.core.exec('ip', ['-4', 'route', 'show', 'proto', 'bird'])).stdout.trim().split('\n');
  c.say(`core router: ${out.length} routes learned by BGP (ip route show proto bird), e.g.:`);
  for (const l of out.filter((l) => l.startsWith('192.0.2.0/27') || l.startsWith('198.51.100.1 ') || l.startsWith('198.51.100.2 '))) c.say(`    ${l.trim()}`);
}

async function keepUp(c: Ctx): Promise<void> {
  const ctl = 'node --import tsx src/cli/main.ts ctl --socket';
  const g = c.site.gateways;
  c.say('--keep: everything stays up until Ctrl-C. Explore with (as root, from the repository):');
  c.say(`    ${ctl} ${g[0]!.segw!.controlSocket} --watch 1 members     (live table)`);
  for (const x of g) c.say(`    ${ctl} ${x.segw!.controlSocket} vrrp`);
  c.say(`    ${ctl} ${g[0]!.segw!.controlSocket} redirects`);
  c.say(`    ${ctl} ${g[1]!.segw!.controlSocket} drain`);
  c.say(`    ip netns exec ${c.site.core.ns} ip route show proto bird      (the core router's routes)`);
  c.say(`    ip netns exec ${g[1]!.host.ns} ip route show proto segw   (gw2's injected routes)`);
  c.say(`    ip netns exec ${c.site.bs1.ns} ping -I ${STRONGSWAN_LAN.addr} ${SERVICE.server}   (through bs1's tunnel)`);
  c.say(`    kill -9 ${g[0]!.segw!.process.pid ?? '?'}   (gw1's segw: gw2 takes the VIP)`);
  c.say('Ctrl-C tears everything down.');
  await new Promise<void>((r) => process.once('SIGINT', () => r()));
}

async function stopAll(c: Ctx): Promise<void> {
  c.say('stopping: the simulator (deletes its SAs), strongSwan, the gateways (routes withdrawn), BIRD');
  await stopBaseStations(c.bs);
  await Promise.all(c.site.gateways.map((g) => g.stop().catch(() => undefined)));
  await c.coreBird.stop();
}

/** Every process running in the lab's namespaces now. */
async function namespacePids(lab: Lab): Promise<number[]> {
  const out: number[] = [];
  for (const h of lab.hosts.values()) {
    const r = await run('ip', ['netns', 'pids', h.ns], { allowFail: true });
    out.push(...r.stdout.split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The host's (root namespace's) routes to the demo's prefixes: none of them is the demo's own. */
async function demoPrefixRoutes(): Promise<string[]> {
  return (await run('ip', ['-4', 'route', 'show'], { allowFail: true })).stdout
    .split('\n').filter((l) => /^(192\.0\.2\.|198\.51\.100\.|203\.0\.113\.)/.test(l));
}

/** No namespace, interface, process or route of the demo left (routes: the host's table as before). */
async function verifyTornDown(labId: string, pids: number[], hostRoutes: string[], say: Ctx['say'], failed: string[]): Promise<void> {
  const left = await Lab.leftovers(labId);
  const procs = pids.filter(alive);
  const routes = (await demoPrefixRoutes()).filter((r) => !hostRoutes.includes(r));
  say(`torn down: ${left.namespaces.length} namespaces, ${left.links.length} interfaces, ${procs.length} of ${pids.length} processes, ` +
    `${routes.length} new routes in the host's table left behind`);
  if (left.namespaces.length + left.links.length > 0) failed.push(`left behind: ${JSON.stringify(left)}`);
  if (procs.length > 0) failed.push(`processes left: ${procs.join(' ')}`);
  if (routes.length > 0) failed.push(`routes left: ${routes.join('; ')}`);
}

async function check(c: Ctx, what: string, holds: () => Promise<boolean>): Promise<void> {
  const ok = await holds().catch(() => false);
  if (!ok) c.failed.push(what);
  c.say(`${ok ? 'ok' : 'FAILED'}: ${what}`);
}

const secondsSince = (t: number) => ((Date.now() - t) / 1000).toFixed(1);
