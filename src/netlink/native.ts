/**
 * Typed face of the addon's socket component (native/src/sock.cc): a socket of any family
 * (netlink here; raw IP for VRRP, AF_PACKET later), opened in the current network namespace, in
 * a named one (`netns: '/run/netns/<name>'`) or in a fresh anonymous one (`freshNetns`) that lives
 * as long as the socket. Failures throw Errors with `code` = errno name; send() returns -errno for
 * the transient EAGAIN/ENOBUFS/EINTR.
 */
import { loadAddon } from '../native/addon.js';
import { NativeAddonError } from '../errors.js';
import { AF, SOL } from './constants.js';
import { struct, u16, u32 } from './struct.js';

export interface SocketOptions {
  /** Path of a network namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`). */
  netns?: string;
  /** Open the socket in a new, empty network namespace (probes that must not touch the host). */
  freshNetns?: boolean;
  /** Largest datagram received without truncation (default 64 KiB). */
  datagramSize?: number;
  /** Datagrams read per wakeup (recvmmsg batch, default 32). */
  batch?: number;
  /**
   * Datagrams that waited longer than this in the kernel's receive queue (SO_TIMESTAMPNS) are
   * dropped in native code, never handed over, and counted (`stale`). Default 0: no limit.
   */
  maxAgeMs?: number;
  /** Deliver each datagram's source address (sockaddr bytes). */
  withSource?: boolean;
}

/**
 * Receive callback: errno 0 or a socket error (ENOBUFS: overrun; EMSGSIZE: truncated datagram);
 * `drained`: the kernel's receive queue was empty when reading stopped.
 */
/** `stale`: datagrams dropped since the last call for having waited longer than `maxAgeMs` in the kernel's queue. */
export type ReceiveHandler = (errno: number, datagrams: Buffer[], sources: Buffer[] | undefined, drained: boolean, stale: number) => void;

export interface NativeSocket {
  readonly fd: number;
  setsockopt(level: number, name: number, value: number | Buffer): void;
  getsockopt(level: number, name: number, length?: number): Buffer;
  bind(addr: Buffer): void;
  connect(addr: Buffer): void;
  getsockname(): Buffer;
  send(data: Buffer, to?: Buffer): number;
  /** sendmmsg: one call for the list; per datagram the bytes sent or -errno (nothing thrown for I/O). */
  sendMany(datagrams: Buffer[], destinations: Buffer[]): Int32Array;
  start(onData: ReceiveHandler): void;
  stop(): void;
  setRef(ref: boolean): void;
  close(): void;
}

interface SockComponent {
  Socket: new (domain: number, type: number, protocol: number, opts?: SocketOptions) => NativeSocket;
  setsockoptFd(fd: number, level: number, name: number, value: number | Buffer): void;
}

function component(): SockComponent {
  const addon = loadAddon();
  const sock = addon.sock as SockComponent | undefined;
  if (!sock) throw new NativeAddonError('the native addon has no "sock" component: run `npm run build:native`');
  return sock;
}

export function openSocket(domain: number, type: number, protocol: number, opts: SocketOptions = {}): NativeSocket {
  return new (component().Socket)(domain, type, protocol, opts);
}

/** setsockopt on a socket opened elsewhere (e.g. the IKE UDP socket's fd). */
export function setsockoptFd(fd: number, level: number, name: number, value: number | Buffer): void {
  component().setsockoptFd(fd, level, name, value);
}

/** UDP_ENCAP (linux/udp.h): makes a UDP socket hand ESP-in-UDP (RFC 3948) to the kernel's XFRM. */
export const UDP_ENCAP = 100;
export const UDP_ENCAP_ESPINUDP = 2;

/**
 * For the IKE daemon when the kernel does ESP: the port-4500 socket must carry
 * UDP_ENCAP_ESPINUDP, or the kernel delivers ESP-in-UDP packets to IKE instead of XFRM.
 */
export function enableEspInUdp(fd: number): void {
  setsockoptFd(fd, SOL.SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP);
}

/** struct sockaddr_nl (linux/netlink.h). */
export const sockaddr_nl = struct('sockaddr_nl', { nl_family: u16, nl_pad: u16, nl_pid: u32, nl_groups: u32 });

export function sockaddrNl(pid = 0, groups = 0): Buffer {
  return sockaddr_nl.encode({ nl_family: AF.AF_NETLINK, nl_pid: pid >>> 0, nl_groups: groups >>> 0 });
}

export function parseSockaddrNl(b: Buffer): { family: number; pid: number; groups: number } {
  const a = sockaddr_nl.decode(Buffer.concat([b, Buffer.alloc(Math.max(0, sockaddr_nl.size - b.length))]));
  return { family: a.nl_family, pid: a.nl_pid, groups: a.nl_groups };
}
