/**
 * KernelNet on rtnetlink: the cluster VIP (addresses with scope and IFA_F_NODAD /
 * IFA_F_NOPREFIXROUTE) and routes with segw's protocol number, table, metric, gateway or device.
 * Requests go through one NetlinkSocket (bounded in flight, batched), so thousands of route
 * changes may be issued at once. Interface names are resolved to indexes once and cached; an
 * ENODEV drops the cache entry and the request is retried once with a fresh lookup.
 *
 * `watch()` opens a separate listener for link and address changes (RTNLGRP_LINK,
 * RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR).
 */
import { logger } from '../../log/index.js';
import { familyOfAf } from '../../netlink/addr.js';
import { bytesToIp, type Family } from '../../net/ip.js';
import { decodeAttrs } from '../../netlink/attr.js';
import { NETLINK } from '../../netlink/constants.js';
import { NetlinkError } from '../../netlink/errors.js';
import { NetlinkListener } from '../../netlink/listener.js';
import type { NlMessage } from '../../netlink/message.js';
import { IFA, IFF, IFLA, RTA, RTM, RTM_F, RTNLGRP, ifaddrmsg, ifinfomsg, rtmsg } from '../../netlink/rtnetlink.js';
import { NetlinkSocket, type NetlinkStats } from '../../netlink/socket.js';
import type { AddressParams, IpFamily, KernelNet, LinkDescription, MacvlanParams, RouteParams } from '../types.js';
import { readFile, writeFile } from 'node:fs/promises';
import * as msg from './messages.js';
import { ensureRouteProtoName } from './rt-protos.js';

const log = logger('kernel', { backend: 'netlink' });

export interface NetlinkNetOptions {
  /** Program another network namespace (a path such as /run/netns/NAME). */
  netns?: string;
  /** Unacknowledged requests at most (default 256). */
  maxInFlight?: number;
  /** Name segw's route protocol for iproute2 if no rt_protos file does (default true). */
  nameRouteProtocol?: boolean;
}

export interface LinkEvent {
  event: 'new' | 'del';
  index: number;
  name: string;
  up: boolean;
  running: boolean;
}

export interface AddressEvent {
  event: 'new' | 'del';
  /** "203.0.113.10/24" */
  address: string;
  index: number;
  family: Family;
}

export interface NetWatchHandlers {
  onLink?(e: LinkEvent): void;
  onAddress?(e: AddressEvent): void;
  /** Notifications were lost: re-read the state. */
  onOverrun?(): void;
}

export class NetlinkKernelNet implements KernelNet {
  readonly name = 'netlink' as const;
  private readonly links = new Map<string, number>();

  private constructor(
    private readonly nl: NetlinkSocket,
    private readonly opts: NetlinkNetOptions,
  ) {}

  static open(opts: NetlinkNetOptions = {}): NetlinkKernelNet {
    const nl = NetlinkSocket.open({
      protocol: NETLINK.NETLINK_ROUTE,
      typeNames: RTM,
      netns: opts.netns,
      maxInFlight: opts.maxInFlight,
      strictCheck: true,
    });
    if (opts.nameRouteProtocol !== false) ensureRouteProtoName();
    return new NetlinkKernelNet(nl, opts);
  }

  stats(): NetlinkStats {
    return this.nl.stats();
  }

  private send(r: msg.RtRequest): Promise<NlMessage[]> {
    return this.nl.request(r.type, r.flags, r.payload, { detail: r.detail });
  }

  /** The index of interface `name` (cached). */
  async linkIndex(name: string): Promise<number> {
    const cached = this.links.get(name);
    if (cached !== undefined) return cached;
    const replies = await this.send(msg.getLink(name));
    const link = replies.find((m) => m.type === RTM.RTM_NEWLINK);
    if (!link) throw new NetlinkError({ errno: 19, operation: 'RTM_GETLINK', detail: `look up link ${name}` });
    const index = ifinfomsg.decode(link.payload, 0, ifinfomsg.size).ifi_index;
    this.links.set(name, index);
    return index;
  }

  /** Runs `build(index)` and, if the cached index went stale (ENODEV), once more with a fresh one. */
  private async withLink(dev: string | undefined, build: (index: number | undefined) => msg.RtRequest): Promise<void> {
    const index = dev === undefined ? undefined : (this.links.get(dev) ?? (await this.linkIndex(dev)));
    try {
      await this.send(build(index));
    } catch (err) {
      if (!(dev !== undefined && err instanceof NetlinkError && err.errno === 'ENODEV')) throw err;
      this.links.delete(dev);
      await this.send(build(await this.linkIndex(dev)));
    }
  }

  async addAddress(addr: AddressParams): Promise<void> {
    await this.withLink(addr.dev, (i) => msg.addAddress(addr, i ?? 0));
  }

  async deleteAddress(addr: AddressParams): Promise<void> {
    await this.withLink(addr.dev, (i) => msg.deleteAddress(addr, i ?? 0));
  }

  async addRoute(route: RouteParams): Promise<void> {
    await this.withLink(route.dev, (i) => msg.addRoute(route, i));
  }

  async deleteRoute(route: RouteParams): Promise<void> {
    await this.withLink(route.dev, (i) => msg.deleteRoute(route, i));
  }

  async addMacvlan(m: MacvlanParams): Promise<void> {
    await this.withLink(m.parent, (i) => msg.addMacvlan(m, i ?? 0));
  }

  async describeLink(name: string): Promise<LinkDescription | undefined> {
    let replies: NlMessage[];
    try {
      replies = await this.send(msg.getLink(name));
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === 'ENODEV') return undefined;
      throw err;
    }
    const link = replies.find((m) => m.type === RTM.RTM_NEWLINK);
    if (!link) return undefined;
    const index = ifinfomsg.decode(link.payload, 0, ifinfomsg.size).ifi_index;
    const a = decodeAttrs(IFLA, link.payload, ifinfomsg.size);
    this.links.set(name, index);
    return {
      index,
      kind: a.IFLA_LINKINFO?.IFLA_INFO_KIND,
      parentIndex: a.IFLA_LINK,
      address: a.IFLA_ADDRESS ? [...a.IFLA_ADDRESS].map((b) => b.toString(16).padStart(2, '0')).join(':') : undefined,
    };
  }

  async deleteLink(name: string): Promise<boolean> {
    let index: number;
    try {
      index = await this.linkIndex(name);
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === 'ENODEV') return false;
      throw err;
    }
    this.links.delete(name);
    try {
      await this.send(msg.deleteLink(name, index));
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === 'ENODEV') return false;
      throw err;
    }
    return true;
  }

  async setLinkUp(name: string, up: boolean): Promise<void> {
    await this.withLink(name, (i) => msg.setLinkUp(name, i ?? 0, up));
  }

  /** /proc/sys of this process's namespace: refused when the socket programs another one. */
  async setIpv4Conf(dev: string, key: string, value: number): Promise<number> {
    if (this.opts.netns) throw new TypeError(`setIpv4Conf: ${dev} is in ${this.opts.netns}, whose sysctls this process cannot write`);
    if (!/^[\w.-]+$/.test(dev) || !/^\w+$/.test(key)) throw new TypeError(`setIpv4Conf: bad name ${dev}/${key}`);
    const path = `/proc/sys/net/ipv4/conf/${dev}/${key}`;
    const before = Number((await readFile(path, 'utf8')).trim());
    if (before !== value) await writeFile(path, `${value}\n`);
    return before;
  }

  /** Routes matching the filter (cloned cache entries excluded), with device names resolved. */
  async listRoutes(filter: { protocol?: number; table?: number; family?: IpFamily }): Promise<RouteParams[]> {
    const r = msg.dumpRoutes(filter);
    const parts = await this.nl.dump(r.type, r.payload, { detail: r.detail });
    const names = await this.linkNames();
    const out: RouteParams[] = [];
    for (const m of parts) {
      if (m.type !== RTM.RTM_NEWROUTE) continue;
      const route = parseRoute(m, names);
      if (!route) continue;
      if (filter.protocol !== undefined && route.protocol !== filter.protocol) continue;
      if (filter.table !== undefined && route.table !== filter.table) continue;
      if (filter.family !== undefined && (route.dst.includes(':') ? 6 : 4) !== filter.family) continue;
      out.push(route);
    }
    return out;
  }

  /** index -> name for every link (and a refreshed name cache). */
  async linkNames(): Promise<Map<number, string>> {
    const r = msg.dumpLinks();
    const names = new Map<number, string>();
    for (const m of await this.nl.dump(r.type, r.payload, { detail: r.detail })) {
      if (m.type !== RTM.RTM_NEWLINK) continue;
      const l = parseLink(m);
      names.set(l.index, l.name);
      this.links.set(l.name, l.index);
    }
    return names;
  }

  /** Addresses as "a/len" per interface name. */
  async listAddresses(family?: Family): Promise<{ dev: string; address: string; flags: number; scope: number }[]> {
    const r = msg.dumpAddresses(family);
    const names = await this.linkNames();
    return (await this.nl.dump(r.type, r.payload, { detail: r.detail }))
      .filter((m) => m.type === RTM.RTM_NEWADDR)
      .map((m) => {
        const a = parseAddress(m);
        return { dev: names.get(a.index) ?? String(a.index), address: a.address, flags: a.flags, scope: a.scope };
      });
  }

  /** Link and address notifications of this namespace, until the returned listener is closed. */
  watch(handlers: NetWatchHandlers): NetlinkListener {
    return NetlinkListener.open({
      protocol: NETLINK.NETLINK_ROUTE,
      netns: this.opts.netns,
      groups: [RTNLGRP.RTNLGRP_LINK, RTNLGRP.RTNLGRP_IPV4_IFADDR, RTNLGRP.RTNLGRP_IPV6_IFADDR],
      onOverrun: () => handlers.onOverrun?.(),
      onMessage: (m) => {
        if (m.type === RTM.RTM_NEWLINK || m.type === RTM.RTM_DELLINK) {
          const l = parseLink(m);
          if (m.type === RTM.RTM_DELLINK) this.links.delete(l.name);
          handlers.onLink?.({ event: m.type === RTM.RTM_NEWLINK ? 'new' : 'del', ...l });
        } else if (m.type === RTM.RTM_NEWADDR || m.type === RTM.RTM_DELADDR) {
          const a = parseAddress(m);
          handlers.onAddress?.({ event: m.type === RTM.RTM_NEWADDR ? 'new' : 'del', address: a.address, index: a.index, family: a.family });
        }
      },
    });
  }

  async close(): Promise<void> {
    await this.nl.close();
    log.debug('rtnetlink socket closed');
  }
}

function parseLink(m: NlMessage): Omit<LinkEvent, 'event'> {
  const h = ifinfomsg.decode(m.payload, 0, ifinfomsg.size);
  const a = decodeAttrs(IFLA, m.payload, ifinfomsg.size);
  return {
    index: h.ifi_index,
    name: a.IFLA_IFNAME ?? '',
    up: (h.ifi_flags & IFF.IFF_UP) !== 0,
    running: (h.ifi_flags & IFF.IFF_RUNNING) !== 0,
  };
}

function parseAddress(m: NlMessage): { address: string; index: number; family: Family; flags: number; scope: number } {
  const h = ifaddrmsg.decode(m.payload, 0, ifaddrmsg.size);
  const a = decodeAttrs(IFA, m.payload, ifaddrmsg.size);
  const family = familyOfAf(h.ifa_family);
  return {
    address: `${a.IFA_LOCAL ?? a.IFA_ADDRESS ?? ''}/${h.ifa_prefixlen}`,
    index: h.ifa_index,
    family,
    flags: a.IFA_FLAGS ?? h.ifa_flags,
    scope: h.ifa_scope,
  };
}

function parseRoute(m: NlMessage, names: Map<number, string>): RouteParams | undefined {
  const h = rtmsg.decode(m.payload, 0, rtmsg.size);
  if (h.rtm_flags & RTM_F.RTM_F_CLONED) return undefined;
  const a = decodeAttrs(RTA, m.payload, rtmsg.size);
  const family = familyOfAf(h.rtm_family);
  const dst = a.RTA_DST ?? (family === 4 ? '0.0.0.0' : bytesToIp(Buffer.alloc(16), 6));
  const route: RouteParams = { dst: `${dst}/${h.rtm_dst_len}`, table: a.RTA_TABLE ?? h.rtm_table, protocol: h.rtm_protocol };
  if (a.RTA_GATEWAY) route.via = a.RTA_GATEWAY;
  if (a.RTA_OIF !== undefined) route.dev = names.get(a.RTA_OIF) ?? String(a.RTA_OIF);
  if (a.RTA_PREFSRC) route.src = a.RTA_PREFSRC;
  if (a.RTA_PRIORITY !== undefined) route.metric = a.RTA_PRIORITY;
  return route;
}
