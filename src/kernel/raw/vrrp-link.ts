/**
 * VrrpLink over the addon's raw sockets (native/src/raw.cc): one raw IP socket for protocol 112
 * bound to the interface (sending from a fixed source, so the checksum's pseudo-header is known),
 * member of the VRRP group in multicast mode; gratuitous ARP through an AF_PACKET socket, and
 * unsolicited Neighbor Advertisements through a raw ICMPv6 socket (hop limit 255, RFC 4861 §7.1.2).
 */
import { networkInterfaces } from 'node:os';
import { SegwError } from '../../errors.js';
import { logger, RateLimitedLog } from '../../log/index.js';
import { loadAddon } from '../../native/addon.js';
import type { IpFamily, VrrpLink, VrrpPacket } from '../types.js';
import { gratuitousArp, unsolicitedNa } from './announce.js';

const log = logger('kernel', { backend: 'raw' });
const limited = new RateLimitedLog(log);

/** RFC 9568 §5.1.1.4 / §5.1.2.3. */
const IPPROTO_VRRP = 112;
const IPPROTO_ICMPV6 = 58;
/** RFC 4291 §2.7.1: all-nodes, where unsolicited NAs go (RFC 4861 §7.2.6). */
const ALL_NODES = 'ff02::1';

interface NativeRawSocket {
  readonly ifindex: number;
  setSource(addr: string): void;
  joinGroup(group: string): void;
  send(data: Buffer, dst: string): number;
  start(cb: (errno: number, packets: { data: Buffer; src: string; dst: string; ttl: number; ifindex: number }[]) => void): void;
  setRef(ref: boolean): void;
  close(): void;
}
interface NativePacketSocket {
  send(frame: Buffer): number;
  close(): void;
}
interface RawAddon {
  RawSocket: new (family: IpFamily, protocol: number, opts: { ifname: string }) => NativeRawSocket;
  PacketSocket: new (ifname: string) => NativePacketSocket;
}

/** Opening the VRRP link failed; the message says what to check. */
export class VrrpLinkError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_VRRP_LINK', message, options);
  }
}

export interface VrrpLinkOptions {
  interface: string;
  family: IpFamily;
  /** Join this group (multicast mode); absent in unicast mode. */
  group?: string;
  /** Advert source; default the interface's first IPv4 address, or its IPv6 link-local one. */
  source?: string;
  /** How long to wait for the source address to exist (IPv6 link-local after DAD), ms. */
  waitMs?: number;
}

function interfaceInfo(name: string, family: IpFamily): { mac?: string; address?: string } {
  const list = networkInterfaces()[name];
  if (!list || list.length === 0) return {};
  const mac = list.find((a) => a.mac && a.mac !== '00:00:00:00:00:00')?.mac;
  const address =
    family === 4
      ? list.find((a) => a.family === 'IPv4')?.address
      : list.find((a) => a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:'))?.address;
  return { mac, address: address?.split('%')[0] };
}

export async function openVrrpLink(o: VrrpLinkOptions): Promise<VrrpLink> {
  const addon = loadAddon().raw as RawAddon | undefined;
  if (!addon) throw new VrrpLinkError('the native addon has no raw sockets: rebuild it (`npm run build:native`)');
  const deadline = Date.now() + (o.waitMs ?? 5000);
  let info = interfaceInfo(o.interface, o.family);
  // A fresh interface's IPv6 link-local address appears after DAD; an IPv4 one may be added late.
  while ((!info.mac || !(o.source ?? info.address)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    info = interfaceInfo(o.interface, o.family);
  }
  if (!info.mac) throw new VrrpLinkError(`interface ${o.interface} not found (or has no MAC): check cluster.vrrp.interface`);
  const source = o.source ?? info.address;
  if (!source) {
    throw new VrrpLinkError(
      o.family === 4
        ? `interface ${o.interface} has no IPv4 address to send VRRP adverts from: add one, or set unicastSource`
        : `interface ${o.interface} has no IPv6 link-local address (is IPv6 disabled on it?)`,
    );
  }
  let sock: NativeRawSocket;
  try {
    sock = new addon.RawSocket(o.family, IPPROTO_VRRP, { ifname: o.interface });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new VrrpLinkError(
      code === 'EPERM' ? 'raw sockets need CAP_NET_RAW (run as root)' : `cannot open the VRRP socket on ${o.interface}: ${String(err)}`,
      { cause: err },
    );
  }
  try {
    await setSourceWithRetry(sock, source, deadline);
    if (o.group) sock.joinGroup(o.group);
  } catch (err) {
    sock.close();
    throw new VrrpLinkError(`cannot send VRRP from ${source} on ${o.interface}: ${String(err)}`, { cause: err });
  }
  return new RawVrrpLink(addon, sock, o, source, info.mac);
}

async function setSourceWithRetry(sock: NativeRawSocket, source: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      sock.setSource(source);
      return;
    } catch (err) {
      // EADDRNOTAVAIL: an IPv6 address still tentative (DAD) or an address not yet added.
      if ((err as { code?: string }).code !== 'EADDRNOTAVAIL' || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface ViaSockets {
  interface: string;
  sock: NativeRawSocket;
  announcer?: NativePacketSocket;
}

class RawVrrpLink implements VrrpLink {
  readonly family: IpFamily;
  readonly interface: string;
  private receiver: ((p: VrrpPacket) => void) | undefined;
  private announcer: NativePacketSocket | NativeRawSocket | undefined;
  /** transmitVia's interface: its own socket for adverts and announcements, opened once per name. */
  private via: { hardwareAddress: string; out: ViaSockets } | undefined;
  private readonly viaSockets = new Map<string, ViaSockets>();
  private closed = false;

  constructor(
    private readonly addon: RawAddon,
    private readonly sock: NativeRawSocket,
    o: VrrpLinkOptions,
    readonly localAddress: string,
    readonly hardwareAddress: string,
  ) {
    this.family = o.family;
    this.interface = o.interface;
    sock.start((errno, packets) => {
      if (errno) limited.warn('recv', { errno, interface: this.interface }, 'VRRP socket receive error');
      for (const p of packets) this.receiver?.({ family: this.family, src: p.src, dst: p.dst, ttl: p.ttl, data: p.data });
    });
  }

  send(data: Buffer, dst: string): void {
    if (this.closed) return;
    const n = (this.via?.out.sock ?? this.sock).send(data, dst);
    if (n < 0) limited.warn('send', { errno: -n, dst, interface: this.interface }, 'VRRP advert not sent (kernel queue full)');
  }

  setReceiver(receiver: (p: VrrpPacket) => void): void {
    this.receiver = receiver;
  }

  async transmitVia(via: { interface: string; hardwareAddress: string } | undefined): Promise<void> {
    if (this.closed) return;
    if (!via) {
      this.via = undefined;
      return;
    }
    let out = this.viaSockets.get(via.interface);
    if (!out) {
      const sock = new this.addon.RawSocket(this.family, IPPROTO_VRRP, { ifname: via.interface });
      try {
        await setSourceWithRetry(sock, this.localAddress, Date.now() + 5000);
      } catch (err) {
        sock.close();
        throw new VrrpLinkError(`cannot send VRRP from ${this.localAddress} on ${via.interface}: ${String(err)}`, { cause: err });
      }
      // Bound to the macvlan it hears what reaches it too: read and dropped (the link's own socket
      // on the parent receives every advert, the macvlan being in bridge mode).
      sock.start(() => {});
      sock.setRef(false);
      out = { interface: via.interface, sock };
      this.viaSockets.set(via.interface, out);
    }
    this.via = { hardwareAddress: via.hardwareAddress, out };
  }

  announce(addresses: string[]): void {
    if (this.closed) return;
    if (this.via && this.family === 4) {
      const v = this.via;
      const s = (v.out.announcer ??= new this.addon.PacketSocket(v.out.interface));
      for (const a of addresses) s.send(gratuitousArp(a, v.hardwareAddress));
      return;
    }
    if (this.family === 4) {
      const s = (this.announcer ??= new this.addon.PacketSocket(this.interface)) as NativePacketSocket;
      for (const a of addresses) s.send(gratuitousArp(a, this.hardwareAddress));
    } else {
      const s = (this.announcer ??= new this.addon.RawSocket(6, IPPROTO_ICMPV6, { ifname: this.interface })) as NativeRawSocket;
      for (const a of addresses) s.send(unsolicitedNa(a, this.hardwareAddress), ALL_NODES);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.receiver = undefined;
    this.sock.close();
    this.announcer?.close();
    for (const v of this.viaSockets.values()) {
      v.sock.close();
      v.announcer?.close();
    }
    this.via = undefined;
  }
}
