/**
 * One tunnel on the kernel's ESP, in the guest: strongSwan 5.9.8 as the base station with
 * kernel-netlink only (no kernel-libipsec: charon programs XFRM, the kernel does ESP), segw as the
 * gateway on the XFRM data plane (or `auto`, which must choose XFRM here), the interop topology
 * of test/interop/support (optionally behind a NAT).
 *
 *   bs 198.51.100.1 ─── 198.51.100.2 gw        LANs 192.0.2.0/25 (bs), 192.0.2.128/25 (gw)
 */
import assert from 'node:assert/strict';
import type { Host, Lab } from '../../../src/lab/lab.js';
import { StrongSwan } from '../../../src/lab/peers/strongswan.js';
import { SegwProcess } from '../../../src/lab/peers/segw.js';
import { iperf3 } from '../../../src/lab/peers/iperf.js';
import { BS_LAN, buildTopology, GW_LAN, pingCount, type Topology } from '../../interop/support/topology.js';
import { segwConfig, swanBaseStation, type TunnelSpec } from '../../interop/support/configs.js';
import { swanctlFiles } from '../../interop/support/certs.js';
import { oneTunnel, type Tunnel } from '../../interop/support/sas.js';
import { xfrmStates, type ShownSa } from './xfrm-show.js';
import { mark } from './scenario.js';

export const GCM: TunnelSpec = { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16' };

export interface KernelTunnelOptions {
  spec?: TunnelSpec;
  ipsec?: 'xfrm' | 'auto';
  /** segw's kernel.routes (default: via the base station's address). */
  routes?: Record<string, unknown>;
  /** segw's kernel.xfrm (offload). */
  xfrm?: Record<string, unknown>;
  nat?: boolean;
}

export interface KernelTunnel {
  topo: Topology;
  segw: SegwProcess;
  ss: StrongSwan;
  spec: TunnelSpec;
  /** The `gateway started` log line's dataPlane and reason. */
  dataPlane: string;
  reason: string;
}

export async function startKernelTunnel(lab: Lab, opts: KernelTunnelOptions = {}, ev: Record<string, unknown> = {}): Promise<KernelTunnel> {
  mark(ev, 'lab');
  const spec = opts.spec ?? GCM;
  const topo = opts.nat ? await natTopology(lab) : await buildTopology(lab);
  const lans = { bs: topo.bsLan, gw: topo.gwLan };
  const g = segwConfig(spec, 'gateway', topo.gwAddr, undefined, lans);
  g.config.kernel = { ipsec: opts.ipsec ?? 'xfrm', routes: opts.routes ?? { via: topo.nat ? '203.0.113.254' : topo.bsAddr }, ...(opts.xfrm && { xfrm: opts.xfrm }) };
  g.config.log = { level: 'info' };
  mark(ev, 'topology');
  const segw = await SegwProcess.start(topo.gw, 'gateway', g.config, { files: g.files, dist: true, timeoutMs: 30_000 });
  const started = segw.logLines().find((l) => l.msg === 'gateway started');
  mark(ev, 'segw started');
  const ss = await StrongSwan.start(topo.bs, {
    name: 'bs',
    swanctl: swanBaseStation(spec, topo.bsAddr, topo.gwAddr, lans),
    files: spec.certs && swanctlFiles(spec.certs, spec.certs.bs),
    libipsec: false,
  });
  mark(ev, 'charon started');
  return { topo, segw, ss, spec, dataPlane: String(started?.dataPlane), reason: String(started?.reason) };
}

/**
 * The interop NAT topology (test/interop/support/topology.ts), with the NAT made by iptables
 * (legacy): the guest kernel has no nf_tables for IPv4, only iptable_nat.
 *
 *   bs 198.51.100.1 ── 198.51.100.254 nat 203.0.113.254 ── 203.0.113.2 gw
 */
export async function natTopology(lab: Lab): Promise<Topology> {
  const bs = await lab.host('bs');
  const gw = await lab.host('gw');
  const nat = await lab.host('nat');
  await lab.lan(bs, BS_LAN.cidr);
  await lab.lan(gw, GW_LAN.cidr);
  await lab.link(bs, nat, { aIf: 'eth0', bIf: 'eth0', a: '198.51.100.1/24', b: '198.51.100.254/24' });
  await lab.link(nat, gw, { aIf: 'eth1', bIf: 'eth0', a: '203.0.113.254/24', b: '203.0.113.2/24' });
  await nat.enableForwarding();
  await setMasquerade(nat, false);
  await bs.addRoute('203.0.113.0/24', { via: '198.51.100.254' });
  return { lab, bs, gw, nat, bsAddr: '198.51.100.1', gwAddr: '203.0.113.2', bsSeenAs: '203.0.113.254', gwIf: 'eth0', bsLan: BS_LAN, gwLan: GW_LAN };
}

/** (Re)writes the NAT's one masquerade rule; `random` maps each new flow to a random port. */
export async function setMasquerade(nat: Host, random: boolean): Promise<void> {
  await nat.exec('iptables-legacy', ['-t', 'nat', '-F', 'POSTROUTING']);
  await nat.exec('iptables-legacy', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'eth1', '-j', 'MASQUERADE', ...(random ? ['--random-fully'] : [])]);
}

/** strongSwan initiates; resolves when both ends list the same tunnel. */
export async function bringUp(kt: KernelTunnel): Promise<Tunnel> {
  await kt.ss.initiate('net', { ike: 'tun', timeoutS: 20 });
  return oneTunnel(kt.ss, kt.segw);
}

export interface TrafficReport {
  pings: { toGw: number; toBs: number };
  iperf: { upBps: number; downBps: number };
  /** `ip -s xfrm state` of each end after the traffic. */
  gwSas: ShownSa[];
  bsSas: ShownSa[];
}

/**
 * Ping both ways and one bounded iperf3 each way through the tunnel; then the kernel's ESP
 * counters at both ends must have counted it, on the SPIs the IKE peers agreed.
 */
export async function trafficThroughKernel(kt: KernelTunnel, t: Tunnel, seconds = 2): Promise<TrafficReport> {
  const { bs, gw, bsLan, gwLan } = kt.topo;
  const pings = { toGw: await pingCount(bs, bsLan.addr, gwLan.addr), toBs: await pingCount(gw, gwLan.addr, bsLan.addr) };
  assert.deepEqual(pings, { toGw: 3, toBs: 3 }, 'ping through the tunnel both ways');
  const up = await iperf3(bs, gw, { serverAddr: gwLan.addr, clientAddr: bsLan.addr, seconds });
  const down = await iperf3(bs, gw, { serverAddr: gwLan.addr, clientAddr: bsLan.addr, seconds, reverse: true });
  assert.ok(up.bitsPerSecond > 0 && down.bitsPerSecond > 0, 'iperf3 TCP moved data both ways');
  const report = { pings, iperf: { upBps: up.bitsPerSecond, downBps: down.bitsPerSecond }, gwSas: await xfrmStates(gw), bsSas: await xfrmStates(bs) };
  assertEspCounted(report, t);
  return report;
}

/** The SA with this SPI in a listing, or a failure naming what the kernel had. */
export function saBySpi(sas: ShownSa[], spi: string): ShownSa {
  const sa = sas.find((s) => s.spi === spi);
  assert.ok(sa, `SPI ${spi} in ip xfrm state (has: ${sas.map((s) => s.spi).join(', ') || 'none'})`);
  return sa;
}

/** Both directions of the agreed child are ESP SAs in both kernels, and each counted packets. */
export function assertEspCounted(r: Pick<TrafficReport, 'gwSas' | 'bsSas'>, t: Tunnel): void {
  const child = t.segw.children[0]!;
  for (const [sas, spi, end] of [
    [r.gwSas, child.spiIn, 'gw in'],
    [r.gwSas, child.spiOut, 'gw out'],
    [r.bsSas, child.spiOut, 'bs in'],
    [r.bsSas, child.spiIn, 'bs out'],
  ] as const) {
    const sa = saBySpi(sas, spi);
    assert.equal(sa.proto, 'esp', `${end}: ESP`);
    assert.ok(sa.packets > 0n && sa.bytes > 0n, `${end} SA ${spi} counted traffic: ${sa.packets} packets`);
  }
}
