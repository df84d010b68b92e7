/**
 * The demo behind `npm run demo` (root): a 3-gateway segw cluster in network namespaces, base
 * stations reaching it at its virtual address, and a failover (topology in ./demo-config.ts).
 *
 *   1. three `segw gateway` members start on one LAN; VRRPv3 elects gw1 (priority 200) master
 *      and it takes the VIP; every member sends HMAC-signed load reports to the others;
 *   2. a strongSwan 5.9.8 base station, a `segw basestation` with userspace ESP and a `segw
 *      basestation` process holding more base stations (IKE only, one IKE SA each) bring up
 *      tunnels to the VIP; the master serves them all;
 *   3. the members table (any member's view) shows the tunnels per gateway; ping runs through
 *      strongSwan's and segw's base station tunnels both ways (segw's userspace ESP engine);
 *   4. kill -9 of the master: gw2 becomes master, takes the VIP (gratuitous ARP), the base
 *      stations' DPD notices the dead SAs and they come back through the VIP on gw2; ping passes;
 *   5. everything is stopped and the namespaces deleted; nothing is left behind.
 */
import { randomBytes } from 'node:crypto';
import { Lab, type Host } from './lab.js';
import { eventually } from './eventually.js';
import { StrongSwan } from './peers/strongswan.js';
import { SegwProcess } from './peers/segw.js';
import type { MembersView } from '../cluster/view.js';
import {
  CORE_ADDR, FLEET_ADDR, FLEET_LANS, GW_PRIORITIES, SEGW_BS, STRONGSWAN_ADDR, STRONGSWAN_CHARON, STRONGSWAN_LAN, VIP,
  clusterGatewayConfig, fleetConfig, gwAddr, segwBaseStationConfig, strongSwanClusterBaseStation,
} from './demo-config.js';

export { segwGatewayConfig, strongSwanBaseStation } from './demo-config.js';

export interface DemoOptions {
  /** Leave everything up until Ctrl-C (SIGINT) before tearing down. */
  keep?: boolean;
  /** A reduced run for the test: one segw base station, fewer pings. */
  quick?: boolean;
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
}

interface Cluster {
  lab: Lab;
  hosts: Host[];
  gws: SegwProcess[];
  bs1Host: Host;
  bs2Host: Host;
  fleetCount: number;
  pings: number;
  say: (msg: string) => void;
  failed: string[];
}

const holdsVip = (h: Host): Promise<boolean> => h.hasAddress(`${VIP}/24`);
const vrrpState = async (g: SegwProcess): Promise<string> => (await g.ctl<{ state: string }>('vrrp')).state;
async function selfTunnels(g: SegwProcess): Promise<number> {
  return (await g.ctl<MembersView>('members')).members.find((m) => m.self)?.load.tunnels ?? -1;
}

export async function demoCluster(opts: DemoOptions = {}): Promise<DemoResult> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const say = (msg: string) => print(`[demo] ${msg}`);
  if (process.getuid?.() !== 0) {
    say('needs root: it builds network namespaces (run: sudo npm run demo)');
    return { code: 1, labId: '', failed: ['not root'] };
  }
  const started = Date.now();
  const lab = await Lab.create('demo');
  const c: Cluster = {
    lab, hosts: [], gws: [], bs1Host: undefined as unknown as Host, bs2Host: undefined as unknown as Host, fleetCount: opts.quick ? 1 : FLEET_LANS.length,
    pings: opts.quick ? 2 : 3, say, failed: [],
  };
  try {
    await buildTopology(c);
    await startCluster(c);
    const [ss, bs2, fleet] = await startBaseStations(c);
    await showServing(c, 0);
    // Still to show here (each exists and is tested on its own): redirects spreading base stations
    // over the members, the simulator, drain, backup-site recovery, a BIRD core router.
    await failover(c);
    await showServing(c, 1);
    if (opts.keep) await keepUp(c, [bs2, fleet]);
    say('stopping base stations and gateways');
    await ss.stop();
    await bs2.stop();
    await fleet.stop();
    for (const g of c.gws.slice(1)) await g.stop();
  } catch (err) {
    c.failed.push(`aborted: ${(err as Error).message}`);
    say(`aborted: ${(err as Error).message}`);
  } finally {
    await lab.close();
  }
  const left = await Lab.leftovers(lab.id);
  if (left.namespaces.length + left.links.length > 0) c.failed.push(`left behind: ${JSON.stringify(left)}`);
  say(`torn down: ${left.namespaces.length} namespaces and ${left.links.length} links left behind`);
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  say(c.failed.length === 0 ? `demo OK in ${secs}s` : `demo FAILED in ${secs}s: ${c.failed.join('; ')}`);
  return { code: c.failed.length === 0 ? 0 : 1, labId: lab.id, failed: c.failed };
}

async function buildTopology(c: Cluster): Promise<void> {
  const sw = await c.lab.switch('lan');
  for (let i = 0; i < 3; i++) {
    const h = await c.lab.host(`gw${i + 1}`);
    await sw.attach(h, `${gwAddr(i)}/24`, { ifname: 'eth0' });
    await c.lab.lan(h, `${CORE_ADDR}/25`);
    c.hosts.push(h);
  }
  c.bs1Host = await c.lab.host('bs1');
  await sw.attach(c.bs1Host, `${STRONGSWAN_ADDR}/24`, { ifname: 'eth0' });
  await c.lab.lan(c.bs1Host, `${STRONGSWAN_LAN.addr}/27`);
  c.bs2Host = await c.lab.host('bs2');
  await sw.attach(c.bs2Host, `${SEGW_BS.addr}/24`, { ifname: 'eth0' });
  await c.lab.lan(c.bs2Host, `${SEGW_BS.lanAddr}/27`);
  await sw.attach(await c.lab.host('bsf'), `${FLEET_ADDR}/24`, { ifname: 'eth0' });
  c.say(`lab ${c.lab.id}: cluster LAN 203.0.113.0/24 on a bridge; gw1..gw3 at ${gwAddr(0)}..${gwAddr(2)}, VIP ${VIP}; ` +
    `base stations: strongSwan at ${STRONGSWAN_ADDR}, segw at ${SEGW_BS.addr} and ${FLEET_ADDR}`);
}

async function startCluster(c: Cluster): Promise<void> {
  c.say(`starting 3 segw gateways (VRRPv3 vrid 51, priorities ${GW_PRIORITIES.join('/')}; load reports every 250ms; userspace ESP)`);
  const key = { 'cluster.key': randomBytes(32).toString('hex') + '\n' };
  c.gws = await Promise.all(c.hosts.map((h, i) => SegwProcess.start(h, 'gateway', clusterGatewayConfig(i), { files: key, timeoutMs: 60_000 })));
  const dp = c.gws[0]!.logLines().find((l) => l.msg === 'gateway started');
  c.say(`gateways up; data plane: ${String(dp?.dataPlane)}`);
  await eventually(async () => (await vrrpState(c.gws[0]!)) === 'Master', { what: 'gw1 is VRRP master', timeoutMs: 10_000 });
  await eventually(async () => (await Promise.all(c.gws.slice(1).map(vrrpState))).every((s) => s === 'Backup'), 'gw2 and gw3 are backups');
  await showVrrp(c, []);
  await check(c, 'gw1 holds the VIP', holdsVip(c.hosts[0]!));
}

const tunnelCount = (c: Cluster): number => c.fleetCount + 2;

async function startBaseStations(c: Cluster): Promise<[StrongSwan, SegwProcess, SegwProcess]> {
  const ss = await StrongSwan.start(c.bs1Host, { name: 'bs1', swanctl: strongSwanClusterBaseStation(), charon: STRONGSWAN_CHARON });
  c.say(`bs1 (strongSwan 5.9.8, LAN ${STRONGSWAN_LAN.net}): initiating to the VIP ${VIP}`);
  await ss.initiate('s1', { timeoutS: 20 });
  c.say(`bs2 (segw basestation, userspace ESP, LAN ${SEGW_BS.net}) and a segw basestation holding ${c.fleetCount} more ` +
    `(${FLEET_LANS.slice(0, c.fleetCount).join(', ')}, IKE only): initiating to the VIP`);
  const [bs2, fleet] = await Promise.all([
    SegwProcess.start(c.bs2Host, 'basestation', segwBaseStationConfig(), { timeoutMs: 60_000 }),
    SegwProcess.start(c.lab.hosts.get('bsf')!, 'basestation', fleetConfig(c.fleetCount), { timeoutMs: 60_000 }),
  ]);
  const want = tunnelCount(c);
  await eventually(async () => (await selfTunnels(c.gws[0]!)) === want, { what: `${want} tunnels on gw1`, timeoutMs: 30_000 });
  c.say(`gw1 (master) serves all ${want} base stations itself (redirect: off in this demo)`);
  return [ss, bs2, fleet];
}

/** The members table, VRRP roles and pings through the tunnel, served by gateway `m`. */
async function showServing(c: Cluster, m: number): Promise<void> {
  // Before the failover gw3's view (every member holds the whole table), after it the new master's.
  const viewer = m === 0 ? 2 : m;
  const want = tunnelCount(c);
  await eventually(async () => {
    const rows = (await c.gws[viewer]!.ctl<MembersView>('members')).members;
    return rows.find((r) => r.id === `gw${m + 1}`)?.load.tunnels === want;
  }, { what: `gw${viewer + 1} sees ${want} tunnels on gw${m + 1}`, timeoutMs: 10_000 });
  await showMembers(c, viewer);
  const master = c.hosts[m]!;
  await pingBothWays(c, c.bs1Host, 'bs1', STRONGSWAN_LAN.addr, m);
  await pingBothWays(c, c.bs2Host, 'bs2', SEGW_BS.lanAddr, m);
  const routes = await master.exec('ip', ['route', 'show', 'proto', 'segw']);
  c.say(`gw${m + 1}'s injected routes (ip route show proto segw): ${routes.stdout.trim().split('\n').map((l) => l.trim()).join(' | ') || '(none)'}`);
}

/** Pings from a base station's LAN to the core LAN and back, through its tunnel to gateway `m`. */
async function pingBothWays(c: Cluster, bs: Host, name: string, lanAddr: string, m: number): Promise<void> {
  const once = async () => (await bs.exec('ping', ['-c', '1', '-W', '1', '-I', lanAddr, CORE_ADDR], { allowFail: true })).code === 0;
  const up = await eventually(once, { what: `a ping through ${name}'s tunnel`, timeoutMs: 30_000 }).catch(() => false);
  if (!up) c.say(`FAILED: no ping through ${name}'s tunnel within 30 s`);
  const opts = ['-c', String(c.pings), '-i', '0.2', '-W', '2', '-I'];
  const out = await bs.exec('ping', [...opts, lanAddr, CORE_ADDR], { allowFail: true });
  const back = await c.hosts[m]!.exec('ping', [...opts, CORE_ADDR, lanAddr], { allowFail: true });
  const got = (r: { stdout: string }) => Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
  c.say(`ping ${name} ${lanAddr} -> core ${CORE_ADDR} (gw${m + 1}) through the tunnel: ${got(out)}/${c.pings} replies`);
  c.say(`ping core ${CORE_ADDR} (gw${m + 1}) -> ${name} ${lanAddr} through the tunnel: ${got(back)}/${c.pings} replies`);
  if (!up || got(out) === 0 || got(back) === 0) c.failed.push(`pings through ${name}'s tunnel on gw${m + 1}`);
}

async function showVrrp(c: Cluster, dead: number[]): Promise<void> {
  c.say('VRRP as each member reports it (segw ctl vrrp):');
  for (const [i, g] of c.gws.entries()) {
    if (dead.includes(i)) {
      c.say(`  vrrp gw${i + 1}: (killed)`);
      continue;
    }
    const s = await g.ctl<{ state: string; priority: number; masterAddress?: string }>('vrrp');
    const vip = (await holdsVip(c.hosts[i]!)) ? `holds VIP ${VIP}` : 'no VIP';
    c.say(`  vrrp gw${i + 1}: ${s.state.padEnd(6)} priority ${s.priority}  ${vip}  master ${s.masterAddress ?? '?'}`);
  }
}

async function showMembers(c: Cluster, viewer: number): Promise<void> {
  const v = await c.gws[viewer]!.ctl<MembersView>('members');
  c.say(`members as gw${viewer + 1} sees them (segw ctl members):`);
  c.say('    member  role     state   tunnels  child SAs  utilization  report age');
  for (const r of [...v.members].sort((a, b) => a.id.localeCompare(b.id))) {
    const util = `${(r.utilization * 100).toFixed(1)}%`;
    c.say(`    ${r.id.padEnd(6)}  ${r.role.padEnd(7)}  ${r.state.padEnd(6)}  ${String(r.load.tunnels).padEnd(7)}  ` +
      `${String(r.load.childSas).padEnd(9)}  ${util.padEnd(11)}  ${r.self ? '(self)' : `${r.lastReportAgeMs}ms${r.stale ? ' (stale: its last report shown)' : ''}`}`);
  }
}

async function failover(c: Cluster): Promise<void> {
  c.say('kill -9 gw1 (the master)');
  const t0 = Date.now();
  await c.gws[0]!.kill();
  await eventually(async () => (await vrrpState(c.gws[1]!)) === 'Master', { what: 'gw2 becomes master', timeoutMs: 10_000 });
  await eventually(() => holdsVip(c.hosts[1]!), { what: 'gw2 holds the VIP', timeoutMs: 5000 });
  c.say(`gw2 is master and holds the VIP ${((Date.now() - t0) / 1000).toFixed(1)}s after the kill`);
  await showVrrp(c, [0]);
  await check(c, 'gw3 stays backup without the VIP', (async () => (await vrrpState(c.gws[2]!)) === 'Backup' && !(await holdsVip(c.hosts[2]!)))());
  const want = tunnelCount(c);
  c.say(`waiting for the base stations' DPD to give up on gw1 and re-initiate to the VIP (now gw2)`);
  await eventually(async () => (await selfTunnels(c.gws[1]!)) === want, { what: `${want} tunnels on gw2`, timeoutMs: 60_000 });
  c.say(`all ${want} base stations back on gw2 through the VIP ${((Date.now() - t0) / 1000).toFixed(1)}s after the kill`);
}

async function keepUp(c: Cluster, bss: SegwProcess[]): Promise<void> {
  const ctl = 'node --import tsx src/cli/main.ts ctl --socket';
  c.say('--keep: everything stays up until Ctrl-C. Explore with (as root, from the repository):');
  for (const g of [...c.gws.slice(1), ...bss]) {
    c.say(`    ${ctl} ${g.controlSocket} ${g.host.name.startsWith('gw') ? 'vrrp' : 'list-sas'}`);
  }
  c.say(`    ${ctl} ${c.gws[1]!.controlSocket} members`);
  c.say(`    ip netns exec ${c.bs1Host.ns} ping -I ${STRONGSWAN_LAN.addr} ${CORE_ADDR}     (through bs1's tunnel)`);
  c.say(`    ip netns exec ${c.bs2Host.ns} ping -I ${SEGW_BS.lanAddr} ${CORE_ADDR}    (through bs2's tunnel)`);
  c.say(`    kill -9 ${c.gws[1]!.process.pid ?? '?'}   (gw2's segw process: the cluster fails over to gw3)`);
  c.say('Ctrl-C tears everything down.');
  await new Promise<void>((r) => process.once('SIGINT', () => r()));
}

async function check(c: Cluster, what: string, holds: Promise<boolean>): Promise<void> {
  const ok = await holds;
  if (!ok) c.failed.push(what);
  c.say(`${ok ? 'ok' : 'FAILED'}: ${what}`);
}
