/**
 * rtnetlink requests for addresses and routes, built from the KernelNet parameters as pure
 * functions (type, flags beyond NLM_F_REQUEST|NLM_F_ACK, payload, words for errors). They follow
 * what iproute2 sends for the same `ip route` / `ip addr` command, attribute order included
 * (test/kernel/net/iproute2-bytes.test.ts compares them):
 *
 * - add route: NLM_F_CREATE|NLM_F_EXCL (a duplicate is EEXIST), RTN_UNICAST, IPv4 scope universe
 *   with a gateway and link without one (IPv6: universe), table in rtm_table up to 255 and in
 *   RTA_TABLE above;
 *   attributes RTA_DST, RTA_PREFSRC, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE, RTA_OIF.
 * - delete route: IPv4 scope RT_SCOPE_NOWHERE and type RTN_UNSPEC (wildcards); the protocol is set,
 *   so segw never deletes a route another daemon installed for the same prefix.
 * - addresses: IFA_LOCAL, IFA_FLAGS (only when a flag does not fit the 8-bit ifa_flags),
 *   IFA_ADDRESS.
 * - macvlan: NLM_F_CREATE|NLM_F_EXCL, IFLA_ADDRESS, IFLA_LINK (the parent's index), IFLA_IFNAME,
 *   IFLA_LINKINFO { IFLA_INFO_KIND "macvlan", IFLA_INFO_DATA { IFLA_MACVLAN_MODE } }, as
 *   `ip link add link eth0 name vrrp.51 address 00:00:5e:00:01:33 type macvlan mode bridge`;
 *   delete: RTM_DELLINK with ifi_index only; up/down: RTM_NEWLINK with IFF_UP in ifi_change.
 */
import { afOf } from '../../netlink/addr.js';
import { familyOf, parseCidr, type Family } from '../../net/ip.js';
import { encodeAttrs } from '../../netlink/attr.js';
import { NLM_F_NEW } from '../../netlink/constants.js';
import { IFA, IFA_F, IFF, IFLA, IFLA_MACVLAN, MACVLAN_MODE, RTA, RTM, RTN, RT_SCOPE, RT_TABLE, ifaddrmsg, ifinfomsg, rtmsg } from '../../netlink/rtnetlink.js';
import { macToBytes } from '../raw/announce.js';
import { ROUTE_PROTO_SEGW, type AddressParams, type MacvlanParams, type RouteParams } from '../types.js';

export interface RtRequest {
  type: number;
  flags: number;
  payload: Buffer;
  detail: string;
}

const CREATE_EXCL = NLM_F_NEW.NLM_F_CREATE | NLM_F_NEW.NLM_F_EXCL;

const SCOPES = { global: RT_SCOPE.RT_SCOPE_UNIVERSE, link: RT_SCOPE.RT_SCOPE_LINK, host: RT_SCOPE.RT_SCOPE_HOST } as const;

export function routeDetail(verb: string, r: RouteParams): string {
  const parts = [`${verb} route ${r.dst}`];
  if (r.via) parts.push(`via ${r.via}`);
  if (r.dev) parts.push(`dev ${r.dev}`);
  parts.push(`table ${r.table ?? RT_TABLE.RT_TABLE_MAIN}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  parts.push(`proto ${r.protocol ?? ROUTE_PROTO_SEGW}`);
  return parts.join(' ');
}

/** IPv6 routes have no scope (always universe); IPv4: link without a gateway, any (NOWHERE) to delete. */
function routeScope(family: Family, gateway: boolean, del: boolean): number {
  if (family === 6) return RT_SCOPE.RT_SCOPE_UNIVERSE;
  if (del) return RT_SCOPE.RT_SCOPE_NOWHERE;
  return gateway ? RT_SCOPE.RT_SCOPE_UNIVERSE : RT_SCOPE.RT_SCOPE_LINK;
}

/** rtmsg + attributes shared by add and delete. `oif` is the resolved index of `dev`. */
function routePayload(r: RouteParams, oif: number | undefined, del: boolean): Buffer {
  const p = parseCidr(r.dst);
  if (r.via && familyOf(r.via) !== p.family) throw new TypeError(`route ${r.dst} via ${r.via}: families differ`);
  const table = r.table ?? RT_TABLE.RT_TABLE_MAIN;
  const header = rtmsg.encode({
    rtm_family: afOf(p.family),
    rtm_dst_len: p.len,
    rtm_table: table < 256 ? table : RT_TABLE.RT_TABLE_UNSPEC,
    rtm_protocol: r.protocol ?? ROUTE_PROTO_SEGW,
    rtm_scope: routeScope(p.family, !!r.via, del),
    rtm_type: del ? RTN.RTN_UNSPEC : RTN.RTN_UNICAST,
  });
  const attrs = encodeAttrs(RTA, {
    RTA_DST: p.len > 0 ? p.addr : undefined,
    RTA_PREFSRC: r.src,
    RTA_GATEWAY: r.via,
    RTA_PRIORITY: r.metric,
    RTA_TABLE: table >= 256 ? table : undefined,
    RTA_OIF: oif,
  });
  return Buffer.concat([header, attrs]);
}

export function addRoute(r: RouteParams, oif?: number): RtRequest {
  return { type: RTM.RTM_NEWROUTE, flags: CREATE_EXCL, payload: routePayload(r, oif, false), detail: routeDetail('add', r) };
}

export function deleteRoute(r: RouteParams, oif?: number): RtRequest {
  return { type: RTM.RTM_DELROUTE, flags: 0, payload: routePayload(r, oif, true), detail: routeDetail('delete', r) };
}

/** RTM_GETROUTE dump; with NETLINK_GET_STRICT_CHK the kernel filters by table and protocol. */
export function dumpRoutes(filter: { family?: Family; table?: number; protocol?: number }): RtRequest {
  const table = filter.table;
  const header = rtmsg.encode({
    rtm_family: filter.family ? afOf(filter.family) : 0,
    rtm_table: table !== undefined && table < 256 ? table : 0,
    rtm_protocol: filter.protocol ?? 0,
  });
  const attrs = encodeAttrs(RTA, { RTA_TABLE: table !== undefined && table >= 256 ? table : undefined });
  return { type: RTM.RTM_GETROUTE, flags: 0, payload: Buffer.concat([header, attrs]), detail: 'list routes' };
}

function addressPayload(a: AddressParams, index: number, del: boolean): Buffer {
  const p = parseCidrKeepHost(a.address);
  let flags = 0;
  if (!del && a.noDad) flags |= IFA_F.IFA_F_NODAD;
  if (!del && a.noPrefixRoute) flags |= IFA_F.IFA_F_NOPREFIXROUTE;
  const header = ifaddrmsg.encode({
    ifa_family: afOf(p.family),
    ifa_prefixlen: p.len,
    ifa_flags: flags <= 0xff ? flags : 0,
    ifa_scope: del ? 0 : SCOPES[a.scope ?? 'global'],
    ifa_index: index,
  });
  const attrs = encodeAttrs(IFA, { IFA_LOCAL: p.addr, IFA_FLAGS: flags > 0xff ? flags : undefined, IFA_ADDRESS: p.addr });
  return Buffer.concat([header, attrs]);
}

/** "203.0.113.10/24": the address keeps its host bits (it is an address, not a network). */
function parseCidrKeepHost(cidr: string): { addr: string; len: number; family: Family } {
  const [addr] = cidr.split('/');
  const { len, family } = parseCidr(cidr);
  return { addr, len, family };
}

export function addAddress(a: AddressParams, index: number): RtRequest {
  return { type: RTM.RTM_NEWADDR, flags: CREATE_EXCL, payload: addressPayload(a, index, false), detail: `add address ${a.address} dev ${a.dev}` };
}

export function deleteAddress(a: AddressParams, index: number): RtRequest {
  return { type: RTM.RTM_DELADDR, flags: 0, payload: addressPayload(a, index, true), detail: `delete address ${a.address} dev ${a.dev}` };
}

/** RTM_GETLINK for one interface by name (the reply carries its index). */
export function getLink(name: string): RtRequest {
  const header = ifinfomsg.encode({});
  return { type: RTM.RTM_GETLINK, flags: 0, payload: Buffer.concat([header, encodeAttrs(IFLA, { IFLA_IFNAME: name })]), detail: `look up link ${name}` };
}

export function dumpLinks(): RtRequest {
  return { type: RTM.RTM_GETLINK, flags: 0, payload: ifinfomsg.encode({}), detail: 'list links' };
}

export function dumpAddresses(family?: Family): RtRequest {
  return { type: RTM.RTM_GETADDR, flags: 0, payload: ifaddrmsg.encode({ ifa_family: family ? afOf(family) : 0 }), detail: 'list addresses' };
}

const MACVLAN_MODES = { private: MACVLAN_MODE.MACVLAN_MODE_PRIVATE, vepa: MACVLAN_MODE.MACVLAN_MODE_VEPA, bridge: MACVLAN_MODE.MACVLAN_MODE_BRIDGE } as const;

/** RTM_NEWLINK creating a macvlan on the link whose index is `parent`. */
export function addMacvlan(m: MacvlanParams, parent: number): RtRequest {
  const data = encodeAttrs(IFLA_MACVLAN, { IFLA_MACVLAN_MODE: MACVLAN_MODES[m.mode] });
  const attrs = encodeAttrs(IFLA, {
    IFLA_ADDRESS: macToBytes(m.address),
    IFLA_LINK: parent,
    IFLA_IFNAME: m.name,
    IFLA_LINKINFO: { IFLA_INFO_KIND: 'macvlan', IFLA_INFO_DATA: data },
  });
  return {
    type: RTM.RTM_NEWLINK,
    flags: CREATE_EXCL,
    payload: Buffer.concat([ifinfomsg.encode({}), attrs]),
    detail: `add link ${m.name} (macvlan ${m.mode} on ${m.parent}, address ${m.address})`,
  };
}

/** RTM_DELLINK of the link with index `index` (`name` for errors). */
export function deleteLink(name: string, index: number): RtRequest {
  return { type: RTM.RTM_DELLINK, flags: 0, payload: ifinfomsg.encode({ ifi_index: index }), detail: `delete link ${name}` };
}

/** RTM_NEWLINK setting IFF_UP on or off (`ip link set dev NAME up|down`). */
export function setLinkUp(name: string, index: number, up: boolean): RtRequest {
  const header = ifinfomsg.encode({ ifi_index: index, ifi_flags: up ? IFF.IFF_UP : 0, ifi_change: IFF.IFF_UP });
  return { type: RTM.RTM_NEWLINK, flags: 0, payload: header, detail: `set link ${name} ${up ? 'up' : 'down'}` };
}
