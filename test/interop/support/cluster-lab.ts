/**
 * A 3-member segw cluster on a VRRP LAN with strongSwan 5.9.8 base stations, for the RFC 5685
 * redirect tests (the balancer's `init` and `auth` modes, drain):
 *
 *   LAN 203.0.113.0/24 (bridge):  gw1 .1  gw2 .2  gw3 .3   VIP .10 (VRRP, gw1 has priority 200)
 *                                 bs1 .100  bs2 .101 ...   (each strongSwan in its own namespace)
 *   behind every gateway: 192.0.2.129/25 (the core side); behind bsN: 192.0.2.(16N+1)/28
 *
 * Each base station has its own identity (bsN.segw.example) and protected subnet, and connects
 * to the VIP; strongSwan follows redirects by default (charon.follow_redirects). The gateways run
 * the userspace ESP engine, so a ping from bsN's subnet to 192.0.2.129 crosses the child SA and
 * is answered by whichever member serves it. The balancer counts tunnels only (bandwidth and CPU
 * weights 0), so the expected member of each arrival follows from the capacities alone.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Host, Lab, LabSwitch } from '../../../src/lab/lab.js';
import { SegwProcess } from '../../../src/lab/peers/segw.js';
import { StrongSwan } from '../../../src/lab/peers/strongswan.js';
import { childSas, ikeSas, type ViciSection } from '../../../src/lab/peers/vici-raw.js';
import type { MembersView } from '../../../src/cluster/view.js';
import type { RedirectCounts } from '../../../src/cluster/balancer.js';
import { eventually } from '../../support/eventually.js';
import { segwConfig, swanctlConf, type TunnelSpec } from './configs.js';
import { segwView } from './sas.js';
import { GW_LAN, pingCount } from './topology.js';
import { vrrpLan } from './vrrp-lan.js';
import { GW_ID } from './certs.js';

export const VIP = '203.0.113.10';
export const gwAddr = (i: number) => `203.0.113.${i + 1}`;
const bsAddr = (i: number) => `203.0.113.${100 + i}`;
const PRIORITIES = [200, 150, 100];

const SPEC: TunnelSpec = { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16' };

export type RedirectMode = 'init' | 'auth' | 'off';

export interface Member {
  id: string;
  address: string;
  maxTunnels: number;
  host: Host;
  segw: SegwProcess;
}

export interface BaseStation {
  name: string;
  id: string;
  host: Host;
  /** Its address on the LAN (IKE source). */
  address: string;
  /** Its protected subnet and its own address there (ping source). */
  net: string;
  lanAddr: string;
  ss: StrongSwan;
  /** charon's file log (ike level 2: every message it parsed, redirects). */
  logFile: string;
}

export interface ClusterLab {
  lab: Lab;
  sw: LabSwitch;
  /** The switch namespace; its bridge br0 sees every frame of the LAN. */
  switchHost: Host;
  members: Member[];
  bss: BaseStation[];
  /** The cluster key file every member reads (to start a member again). */
  key: Record<string, string>;
}

/**
 * The members' data plane: the userspace ESP engine (default), or the kernel's XFRM
 * (test/kernel-esp, where the kernel has ESP), with routes on the device of ike.listen.
 */
export type ClusterDataPlane = 'userspace' | 'xfrm';

function kernelConfig(plane: ClusterDataPlane): Record<string, unknown> {
  return plane === 'xfrm' ? { ipsec: 'xfrm', routes: {} } : { ipsec: 'userspace', userspace: { tun: 'segw0', mtu: 1400, threads: 1 } };
}

export function gatewayConfig(i: number, mode: RedirectMode, capacities: readonly number[], plane: ClusterDataPlane = 'userspace'): Record<string, unknown> {
  const base = segwConfig(SPEC, 'gateway', gwAddr(i)).config;
  const others = capacities.map((_, j) => j).filter((j) => j !== i).map(gwAddr);
  return {
    ...base,
    node: { name: `gw${i + 1}` },
    kernel: kernelConfig(plane),
    cluster: {
      address: gwAddr(i),
      vips: [`${VIP}/24`],
      redirect: mode,
      keyFile: 'cluster.key',
      capacity: { maxTunnels: capacities[i], bandwidth: '1G' },
      weights: { tunnels: 1, bandwidth: 0, cpu: 0 },
      drain: { rate: 5, retry: '10s' },
      reports: { listen: gwAddr(i), interval: '200ms', staleAfter: 5, peers: others },
      vrrp: { interface: 'eth0', vrid: 51, priority: PRIORITIES[i], advertInterval: '100ms' },
    },
  };
}

/** charon's file log (added to strongswan.conf's charon section). */
function charonFileLog(path: string): string {
  return `filelog {
    segwtest {
      path = ${path}
      time_format = %H:%M:%S
      default = 1
      ike = 2
      cfg = 2
      flush_line = yes
    }
  }`;
}

export interface ClusterLabOptions {
  mode: RedirectMode;
  /** One per member (2 or 3 members). */
  capacities: readonly number[];
  basestations: number;
  /** The members' data plane (default userspace). */
  dataPlane?: ClusterDataPlane;
  /** strongSwan with kernel-libipsec (default true); false: kernel-netlink only, the kernel's ESP. */
  libipsec?: boolean;
  /**
   * Base stations that find a dead gateway by DPD (every `dpdS` seconds, two quick retransmits)
   * and connect again to the VIP (dpd_action = restart), trying until they are up (keyingtries
   * = 0: the quick retransmits give up on a setup after 2.2 s, which a busy machine can take).
   * Default: no DPD.
   */
  dpdS?: number;
}

/** charon's retransmits (strongswan.conf) for a quick DPD verdict: 1 s, 1.2 s, give up after 2.2 s. */
const QUICK_RETRANSMIT = 'retransmit_timeout = 1\n  retransmit_base = 1.2\n  retransmit_tries = 2';

/**
 * Builds the LAN, starts one member per capacity (gw1 becomes master) and `count` strongSwan
 * base stations (idle).
 */
export async function startClusterLab(lab: Lab, opts: ClusterLabOptions): Promise<ClusterLab> {
  const n = opts.capacities.length;
  if (n < 2 || n > PRIORITIES.length) throw new Error(`startClusterLab: 2 or 3 members, not ${n}`);
  const { sw, nodes, client } = await vrrpLan(lab, ['g1', 'g2', 'g3'].slice(0, n));
  const bsHosts = [client];
  for (let i = 1; i < opts.basestations; i++) {
    const h = await lab.host(`bs${i + 1}`);
    await sw.attach(h, `${bsAddr(i)}/24`, { ifname: 'eth0' });
    bsHosts.push(h);
  }
  for (const h of nodes) await lab.lan(h, GW_LAN.cidr);
  const key = { 'cluster.key': randomBytes(32).toString('hex') + '\n' };
  const segws = await Promise.all(nodes.map((h, i) => SegwProcess.start(h, 'gateway', gatewayConfig(i, opts.mode, opts.capacities, opts.dataPlane ?? 'userspace'), { files: key, timeoutMs: 40_000 })));
  const members = segws.map((segw, i) => ({ id: `gw${i + 1}`, address: gwAddr(i), maxTunnels: opts.capacities[i]!, host: nodes[i]!, segw }));
  const bss = await Promise.all(bsHosts.map((h, i) => startBaseStation(lab, h, i, opts.libipsec ?? true, opts.dpdS)));
  await eventually(async () => (await vrrpState(members[0]!)) === 'Master', { what: 'gw1 is VRRP master', timeoutMs: 20_000 });
  // Every member's table holds all of them, live: the master balances over the whole cluster.
  await eventually(async () => {
    const rows = (await members[0]!.segw.ctl<MembersView>('members')).members;
    return rows.length === n && rows.every((r) => !r.stale) && rows.find((r) => r.id === 'gw1')?.role === 'master';
  }, { what: `gw1 (master) sees all ${n} members live`, timeoutMs: 20_000 });
  return { lab, sw, switchHost: sw.host, members, bss, key };
}

async function startBaseStation(lab: Lab, host: Host, i: number, libipsec: boolean, dpdS?: number): Promise<BaseStation> {
  const name = `bs${i + 1}`;
  const net = `192.0.2.${16 * (i + 1)}/28`;
  const lanAddr = `192.0.2.${16 * (i + 1) + 1}`;
  await lab.lan(host, `${lanAddr}/28`);
  const id = `${name}.segw.example`;
  const logFile = join(lab.dir, `strongswan-${name}`, 'charon-full.log');
  const ss = await StrongSwan.start(host, {
    name,
    swanctl: swanctlConf(dpdS ? { ...SPEC, swan: { dpdDelay: dpdS, dpdAction: 'restart', keyingTries: 0 } } : SPEC, { localAddr: bsAddr(i), remoteAddr: VIP, localId: id, remoteId: GW_ID, localTs: net, remoteTs: GW_LAN.net }),
    charon: dpdS ? `${charonFileLog(logFile)}\n  ${QUICK_RETRANSMIT}` : charonFileLog(logFile),
    libipsec,
  });
  return { name, id, host, address: bsAddr(i), net, lanAddr, ss, logFile };
}

/** A `segw basestation` (segw's own initiator, userspace ESP) on the LAN at 203.0.113.(100+i), initiating to the VIP at start. */
export interface SegwBaseStation {
  name: string;
  id: string;
  host: Host;
  address: string;
  lanAddr: string;
  segw: SegwProcess;
}

export async function startSegwBaseStation(c: ClusterLab, i: number): Promise<SegwBaseStation> {
  const name = `sbs${i + 1}`;
  const host = await c.lab.host(name);
  await c.sw.attach(host, `${bsAddr(i)}/24`, { ifname: 'eth0' });
  const lan = { net: `192.0.2.${16 * (i + 1)}/28`, addr: `192.0.2.${16 * (i + 1) + 1}`, cidr: `192.0.2.${16 * (i + 1) + 1}/28` };
  await c.lab.lan(host, lan.cidr);
  const id = `${name}.segw.example`;
  const b = segwConfig(SPEC, 'basestation', bsAddr(i), VIP, { bs: lan, gw: GW_LAN });
  const conn = (b.config.connections as Record<string, Record<string, unknown>>).tun!;
  conn.local = { ...(conn.local as Record<string, unknown>), id };
  const config = { ...b.config, node: { name }, kernel: { ipsec: 'userspace', userspace: { tun: 'segw0', mtu: 1400, threads: 1 } }, reconnect: { initial: '500ms', max: '2s' } };
  const segw = await SegwProcess.start(host, 'basestation', config, { name, timeoutMs: 40_000 });
  return { name, id, host, address: bsAddr(i), lanAddr: lan.addr, segw };
}

export const vrrpState = async (m: Member) => (await m.segw.ctl<{ state: string }>('vrrp')).state;

/** Established IKE SAs a member holds. */
export const establishedOn = async (m: Member) => (await segwView(m.segw)).filter((s) => s.state === 'ESTABLISHED').length;

/** Every IKE SA a member holds, in any state. */
export const ikeSaCountOn = async (m: Member) => (await segwView(m.segw)).length;

export const redirectsOf = (m: Member) => m.segw.ctl<RedirectCounts & { drain: { state: string; remaining: number } }>('redirects');

/** strongSwan's IKE SAs as `swanctl --list-sas` reports them. */
export async function swanIkeSas(bs: BaseStation): Promise<ViciSection[]> {
  return (await bs.ss.listSas()).flatMap((e) => ikeSas(e).map(([, ike]) => ike));
}

/**
 * Starts the base station's connection (`swanctl --initiate`): its outcome is not asserted,
 * since a redirect after IKE_AUTH makes charon report the first IKE SA's end; the tests wait
 * for the SA that follows instead.
 */
export async function initiate(bs: BaseStation): Promise<void> {
  await bs.ss.swanctl(['--initiate', '--child', 'net', '--timeout', '25'], { allowFail: true, timeoutMs: 40_000 });
}

/**
 * Waits until strongSwan lists exactly one IKE SA, ESTABLISHED with an INSTALLED child, whose
 * remote host is `address`; returns it.
 */
export async function waitEstablishedTo(bs: BaseStation, address: string, timeoutMs = 40_000): Promise<ViciSection> {
  return eventually(async () => {
    const sas = await swanIkeSas(bs);
    const up = sas.filter((s) => s.state === 'ESTABLISHED');
    const children = childSas;
    if (sas.length !== 1 || up.length !== 1 || up[0]!['remote-host'] !== address || !children(up[0]!).some((c) => c.state === 'INSTALLED')) {
      throw new Error(`${bs.name}: ${JSON.stringify(sas.map((s) => ({ state: s.state, remote: s['remote-host'], children: children(s).map((c) => c.state) })))}`);
    }
    return up[0]!;
  }, { what: `${bs.name}'s IKE SA established to ${address}`, timeoutMs, intervalMs: 300 });
}

/** Waits until a ping from the base station's subnet to the core side through its tunnel is answered. */
export async function waitTraffic(bs: BaseStation, timeoutMs = 20_000): Promise<number> {
  return eventually(async () => {
    const n = await pingCount(bs.host, bs.lanAddr, GW_LAN.addr, 2);
    return n > 0 ? n : undefined;
  }, { what: `a ping from ${bs.name}'s subnet through its tunnel`, timeoutMs, intervalMs: 500 });
}

/**
 * Waits until the master's table shows `tunnels` (by member id) in every member's report, so
 * the next choice is made from settled numbers the test knows.
 */
export async function waitTable(master: Member, tunnels: Record<string, number>, timeoutMs = 15_000): Promise<MembersView> {
  return eventually(async () => {
    const v = await master.segw.ctl<MembersView>('members');
    const seen = Object.fromEntries(v.members.map((r) => [r.id, r.load.tunnels]));
    for (const [id, n] of Object.entries(tunnels)) if (seen[id] !== n) throw new Error(`tunnels ${JSON.stringify(seen)}`);
    return v;
  }, { what: `the master's table to show tunnels ${JSON.stringify(tunnels)}`, timeoutMs, intervalMs: 200 });
}

/**
 * The balancer's rule (issue 12), written out here so the test does not take the choice from
 * the code under test: the least tunnels/maxTunnels (bandwidth and CPU weigh 0 in this lab),
 * equal loads to the smaller member id, draining members and `exclude` never.
 */
export function expectedMember(members: readonly Member[], tunnels: Record<string, number>, exclude: readonly string[] = []): Member {
  let best: Member | undefined;
  for (const m of members) {
    if (exclude.includes(m.id)) continue;
    const load = (tunnels[m.id] ?? 0) / m.maxTunnels;
    const bestLoad = best ? (tunnels[best.id] ?? 0) / best.maxTunnels : Infinity;
    if (load < bestLoad || (load === bestLoad && best && m.id < best.id)) best = m;
  }
  return best!;
}

/** charon's log lines so far that match `re`. */
export function charonLog(bs: BaseStation, re: RegExp): string[] {
  let text = '';
  try {
    text = readFileSync(bs.logFile, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => re.test(l));
}

/** One IKE message of a capture, with the RFC 5685 fields tshark decodes. */
export interface IkeFrame {
  frame: number;
  src: string;
  dst: string;
  ispi: string;
  exchange: number;
  response: boolean;
  /** Ni or Nr (the Nonce payload's data), hex. */
  nonce: string;
  /** Every Notify message type in the message. */
  notifies: number[];
  /** REDIRECT: the new gateway (IPv4) and its nonce data, hex. */
  redirectTo: string;
  redirectNonce: string;
  /** REDIRECTED_FROM: the original gateway (IPv4). */
  redirectedFrom: string;
}

const IKE_FIELDS = [
  'frame.number', 'ip.src', 'ip.dst', 'isakmp.ispi', 'isakmp.exchangetype', 'isakmp.flag_r', 'isakmp.nonce', 'isakmp.notify.msgtype',
  'isakmp.notify.data.redirect.new_resp_gw_ident.ipv4', 'isakmp.notify.data.redirect.nonce_data', 'isakmp.notify.data.redirect.org_resp_gw_ident.ipv4',
];

/**
 * The IKE messages of a capture file that is still being written (tshark reads what is complete;
 * a frame cut short at the end is left for the next read). Unencrypted payloads only: the
 * IKE_SA_INIT exchanges, where RFC 5685 §4 puts REDIRECT and REDIRECTED_FROM.
 */
export async function readIkeFrames(host: Host, file: string): Promise<IkeFrame[]> {
  const args = ['-n', '-r', file, '-Y', 'isakmp', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of IKE_FIELDS) args.push('-e', f);
  const r = await host.exec('tshark', args, { allowFail: true, timeoutMs: 60_000 });
  const hex = (s: string | undefined) => (s ?? '').split(',')[0]!.replace(/:/g, '').toLowerCase();
  return r.stdout.split('\n').filter((l) => l.trim()).map((line) => {
    const c = line.split('\t');
    const flag = c[5]?.split(',')[0] ?? '';
    return {
      frame: Number(c[0]),
      src: c[1]?.split(',')[0] ?? '',
      dst: c[2]?.split(',')[0] ?? '',
      ispi: hex(c[3]),
      exchange: Number(c[4]?.split(',')[0] ?? 0),
      response: flag === '1' || flag === 'True',
      nonce: hex(c[6]),
      notifies: (c[7] ?? '').split(',').filter(Boolean).map(Number),
      redirectTo: c[8]?.split(',')[0] ?? '',
      redirectNonce: hex(c[9]),
      redirectedFrom: c[10]?.split(',')[0] ?? '',
    };
  });
}
