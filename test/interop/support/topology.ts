/**
 * The namespaces every interop scenario stands on, with documentation addresses only:
 *
 *   direct:  bs 198.51.100.1 ───────────────────────────── 198.51.100.2 gw
 *   nat:     bs 198.51.100.1 ── 198.51.100.254 nat 203.0.113.254 ── 203.0.113.2 gw
 *                                   (nftables masquerade out of eth1)
 *
 *   bs LAN 192.0.2.0/25 (bs has 192.0.2.1)      gw LAN 192.0.2.128/25 (gw has 192.0.2.129)
 *
 *   v6:      bs 2001:db8:1::1 ─────────────────────────── 2001:db8:1::2 gw
 *            bs LAN 2001:db8:10::/64 (::1)               gw LAN 2001:db8:20::/64 (::1)
 *
 * "bs" is the base-station side (the IKE initiator in the scenarios), "gw" the gateway side;
 * which of them runs segw and which strongSwan is up to the scenario.
 */
import type { Host, Lab } from '../../../src/lab/lab.js';

export interface Lan {
  net: string;
  addr: string;
  /** The host's address on it with the prefix length (for `ip addr add`). */
  cidr: string;
}

export const BS_LAN: Lan = { net: '192.0.2.0/25', addr: '192.0.2.1', cidr: '192.0.2.1/25' };
export const GW_LAN: Lan = { net: '192.0.2.128/25', addr: '192.0.2.129', cidr: '192.0.2.129/25' };
export const BS_LAN6: Lan = { net: '2001:db8:10::/64', addr: '2001:db8:10::1', cidr: '2001:db8:10::1/64' };
export const GW_LAN6: Lan = { net: '2001:db8:20::/64', addr: '2001:db8:20::1', cidr: '2001:db8:20::1/64' };

export interface Topology {
  lab: Lab;
  bs: Host;
  gw: Host;
  nat?: Host;
  /** The base station's own address and the gateway's. */
  bsAddr: string;
  gwAddr: string;
  /** The address the gateway sees the base station's packets come from (the NAT's, behind one). */
  bsSeenAs: string;
  /** The gateway's interface towards the base station (captures run here). */
  gwIf: string;
  /** The protected LANs behind each end. */
  bsLan: Lan;
  gwLan: Lan;
}

export async function buildTopology(lab: Lab, opts: { nat?: boolean; v6?: boolean } = {}): Promise<Topology> {
  const bs = await lab.host('bs');
  const gw = await lab.host('gw');
  const [bsLan, gwLan] = opts.v6 ? [BS_LAN6, GW_LAN6] : [BS_LAN, GW_LAN];
  await lab.lan(bs, bsLan.cidr);
  await lab.lan(gw, gwLan.cidr);
  if (opts.v6) {
    if (opts.nat) throw new Error('the lab NAT is IPv4 only');
    await lab.link(bs, gw, { aIf: 'eth0', bIf: 'eth0', a: '2001:db8:1::1/64', b: '2001:db8:1::2/64' });
    return { lab, bs, gw, bsAddr: '2001:db8:1::1', gwAddr: '2001:db8:1::2', bsSeenAs: '2001:db8:1::1', gwIf: 'eth0', bsLan, gwLan };
  }
  if (!opts.nat) {
    await lab.link(bs, gw, { aIf: 'eth0', bIf: 'eth0', a: '198.51.100.1/24', b: '198.51.100.2/24' });
    return { lab, bs, gw, bsAddr: '198.51.100.1', gwAddr: '198.51.100.2', bsSeenAs: '198.51.100.1', gwIf: 'eth0', bsLan, gwLan };
  }
  const nat = await lab.host('nat');
  await lab.link(bs, nat, { aIf: 'eth0', bIf: 'eth0', a: '198.51.100.1/24', b: '198.51.100.254/24' });
  await lab.link(nat, gw, { aIf: 'eth1', bIf: 'eth0', a: '203.0.113.254/24', b: '203.0.113.2/24' });
  await nat.enableForwarding();
  await nat.masquerade('eth1');
  await bs.addRoute('203.0.113.0/24', { via: '198.51.100.254' });
  return { lab, bs, gw, nat, bsAddr: '198.51.100.1', gwAddr: '203.0.113.2', bsSeenAs: '203.0.113.254', gwIf: 'eth0', bsLan, gwLan };
}

/** Echo replies received for `count` pings from `src` (an address of `host`) to `dst`. */
export async function pingCount(host: Host, src: string, dst: string, count = 3): Promise<number> {
  const r = await host.exec('ping', ['-c', String(count), '-i', '0.2', '-W', '2', '-I', src, dst], { allowFail: true, timeoutMs: 30_000 });
  return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
}
