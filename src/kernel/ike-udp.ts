/**
 * IkeDatagramSocket on the addon's batched socket (native/src/sock.cc): the gateway's IKE ports
 * (500, and 4500 when the kernel does ESP). Compared with node:dgram it
 *   - reads with recvmmsg, up to `batch` datagrams per wakeup, handed to JavaScript in one
 *     callback (one crossing per batch, not per datagram), so a flood of IKE_SA_INIT costs the
 *     event loop one turn per batch;
 *   - sizes the receive buffer (default 16 MiB, as the engine's port-4500 socket) with
 *     SO_RCVBUFFORCE, falling back to SO_RCVBUF (capped by net.core.rmem_max) without
 *     CAP_NET_ADMIN, so bursts queue in the kernel instead of being dropped there.
 *   - drops, unread, datagrams that waited longer than IKE_MAX_QUEUE_AGE_MS in that buffer, so
 *     that a sustained flood the gateway cannot keep up with does not delay fresh requests by
 *     the seconds the buffer can hold;
 *   - answers the receiver sends while it handles one batch (N(COOKIE) under a flood: synchronous)
 *     leave in one sendmmsg at the end of the batch instead of one sendto each; a datagram the
 *     kernel refuses there is counted and reported like a failed sendto, the others still go;
 * On a NAT-T port, datagrams without the RFC 3948 non-ESP marker (ESP without a kernel to take
 * it, NAT-keepalives) are counted and dropped, as in transport/udp.ts.
 */
import { isIPv6 } from 'node:net';
import { getSystemErrorName } from 'node:util';
import {
  IKE_NATT_PORT,
  NON_ESP_MARKER,
  type Endpoint,
  type IkeDatagramSocket,
  type IkeReceiver,
  type SendErrorHandler,
} from '../net/endpoint.js';
import { bytesToIp, ipToBytes } from '../net/ip.js';
import { AF, SO, SOCK, SOL } from '../netlink/constants.js';
import { openSocket, type NativeSocket } from '../netlink/native.js';

/** Default receive buffer: room for ~40k IKE_SA_INIT requests of ~400 bytes (with overhead). */
export const IKE_RECV_BUFFER = 16 << 20;
/** Datagrams read per wakeup (recvmmsg vlen). */
export const IKE_RECV_BATCH = 64;
/**
 * Requests that waited longer than this in the receive queue are dropped unread (counted as
 * `stale`). Under a flood the gateway reads fewer datagrams than arrive, and the 16 MiB queue
 * then holds seconds of them: answering a request that old is wasted work (its initiator has
 * retransmitted or given up) and it makes every fresh request, a real base station's too, wait
 * behind it. Dropping them costs a copy in native code, not a decode; fresh requests are read
 * within this time of arriving. Under a sustained overload every request waits about this
 * long, so it must stay below the initiators' first retransmission timeout (strongSwan and segw:
 * 4 s; bench/flood's simulator: 1 s, where 1000 ms left 89 % of base stations up and 500 ms is
 * measured in bench/flood/README.md); a GC pause or a burst of DH work longer than this sheds
 * requests, which their initiators retransmit.
 */
export const IKE_MAX_QUEUE_AGE_MS = 500;
/** Largest IKE datagram read whole: RFC 7296 §2 lets messages reach 64 KiB without fragmentation. */
const DATAGRAM_SIZE = 65536;
const IPV6_V6ONLY = 26; // linux/in6.h
const EMSGSIZE = 90;

export interface NativeUdpOptions {
  address: string;
  port: number;
  /** Default: port === 4500. */
  natT?: boolean;
  /** Receive buffer in bytes (default IKE_RECV_BUFFER). */
  recvBufferSize?: number;
  /** Datagrams per wakeup (default IKE_RECV_BATCH, at most 1024). */
  batch?: number;
  /** Network namespace path (/run/netns/NAME) to open the socket in. */
  netns?: string;
  /** Drop datagrams older than this in the receive queue (default IKE_MAX_QUEUE_AGE_MS; 0: keep all). */
  maxQueueAgeMs?: number;
}

/** What the socket has seen, for status and tests. */
export interface IkeUdpStats {
  datagrams: number;
  /** Wakeups that delivered datagrams: datagrams / batches is the batching achieved. */
  batches: number;
  largestBatch: number;
  /** NAT-T port: datagrams without the non-ESP marker. */
  nonIke: number;
  /** Datagrams longer than 64 KiB, dropped. */
  truncated: number;
  /** Datagrams dropped unread for having waited longer than maxQueueAgeMs in the receive queue. */
  stale: number;
  /** Datagrams handed to the kernel, and the system calls that carried them (sendto or sendmmsg). */
  sent: number;
  sendCalls: number;
  sendErrors: number;
}

/** struct sockaddr_in / sockaddr_in6 for an address as segw writes it (dotted quad, or with ':'). */
function sockaddr(address: string, port: number): Buffer {
  const v6 = address.includes(':');
  const b = Buffer.alloc(v6 ? 28 : 16);
  b.writeUInt16LE(v6 ? AF.AF_INET6 : AF.AF_INET, 0); // sa_family_t, host order (little-endian)
  b.writeUInt16BE(port, 2); // sin_port / sin6_port, network order
  if (v6) ipToBytes(address).copy(b, 8);
  else writeDottedQuad(address, b, 4);
  return b;
}

/** The per-answer path: no regular expression or temporary buffer for an IPv4 address. */
function writeDottedQuad(a: string, out: Buffer, at: number): void {
  let octet = 0, n = 0, digits = 0;
  for (let i = 0; i <= a.length; i++) {
    const c = i < a.length ? a.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || octet > 255 || n > 3) throw new RangeError(`not an IPv4 address: ${a}`);
      out[at + n++] = octet;
      octet = digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else {
      throw new RangeError(`not an IPv4 address: ${a}`);
    }
  }
  if (n !== 4) throw new RangeError(`not an IPv4 address: ${a}`);
}

function endpointOf(sa: Buffer): Endpoint {
  const family = sa.readUInt16LE(0);
  const port = sa.readUInt16BE(2);
  if (family === AF.AF_INET) return { address: `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}`, port };
  return { address: bytesToIp(sa.subarray(8, 24), 6), port };
}

export class NativeUdpIkeSocket implements IkeDatagramSocket {
  readonly natT: boolean;
  readonly stats: IkeUdpStats = { datagrams: 0, batches: 0, largestBatch: 0, nonIke: 0, truncated: 0, stale: 0, sent: 0, sendCalls: 0, sendErrors: 0 };
  private receiver: IkeReceiver | undefined;
  private onSendError: SendErrorHandler | undefined;
  private closed = false;
  /** While a received batch is handled: what the receiver sends, flushed with one sendmmsg after it. */
  private pending: { data: Buffer[]; to: Buffer[]; remotes: Endpoint[] } | undefined;

  private constructor(
    private readonly sock: NativeSocket,
    readonly local: Endpoint,
    natT: boolean,
    /** The receive buffer the kernel granted (SO_RCVBUF as read back: twice the request). */
    readonly recvBufferSize: number,
  ) {
    this.natT = natT;
  }

  /** Opens, sizes and binds the socket, and starts reading (port 0 picks a free port). */
  static bind(o: NativeUdpOptions): NativeUdpIkeSocket {
    const v6 = isIPv6(o.address);
    const sock = openSocket(v6 ? AF.AF_INET6 : AF.AF_INET, SOCK.SOCK_DGRAM, 0, {
      netns: o.netns,
      datagramSize: DATAGRAM_SIZE,
      batch: o.batch ?? IKE_RECV_BATCH,
      withSource: true,
      maxAgeMs: o.maxQueueAgeMs ?? IKE_MAX_QUEUE_AGE_MS,
    });
    try {
      if (v6) sock.setsockopt(SOL.SOL_IPV6, IPV6_V6ONLY, 1);
      const want = o.recvBufferSize ?? IKE_RECV_BUFFER;
      try {
        sock.setsockopt(SOL.SOL_SOCKET, SO.SO_RCVBUFFORCE, want);
      } catch {
        sock.setsockopt(SOL.SOL_SOCKET, SO.SO_RCVBUF, want); // capped at net.core.rmem_max
      }
      const granted = sock.getsockopt(SOL.SOL_SOCKET, SO.SO_RCVBUF, 4).readInt32LE(0);
      sock.bind(sockaddr(o.address, o.port));
      const bound = endpointOf(sock.getsockname());
      const s = new NativeUdpIkeSocket(sock, { address: o.address, port: bound.port }, o.natT ?? o.port === IKE_NATT_PORT, granted);
      sock.start((errno, datagrams, sources, _drained, stale) => s.onBatch(errno, datagrams, sources!, stale));
      return s;
    } catch (err) {
      sock.close();
      throw err;
    }
  }

  /** The descriptor, for UDP_ENCAP when the kernel does ESP on this port. */
  get fd(): number {
    return this.sock.fd;
  }

  setReceiver(receiver: IkeReceiver): void {
    this.receiver = receiver;
  }

  setSendErrorHandler(handler: SendErrorHandler): void {
    this.onSendError = handler;
  }

  send(data: Buffer, remote: Endpoint): void {
    if (this.closed) return;
    const out = this.natT ? Buffer.concat([NON_ESP_MARKER, data]) : data;
    this.sendRaw(out, remote);
  }

  /** RFC 3948 §2.3 NAT-keepalive: one octet 0xFF, no marker. */
  sendKeepalive(remote: Endpoint): void {
    if (!this.closed) this.sendRaw(Buffer.from([0xff]), remote);
  }

  private sendRaw(b: Buffer, remote: Endpoint): void {
    let to: Buffer;
    try {
      to = sockaddr(remote.address, remote.port);
    } catch (err) {
      this.sendFailed(err as Error, remote);
      return;
    }
    const p = this.pending;
    if (p) {
      p.data.push(b);
      p.to.push(to);
      p.remotes.push(remote);
      return;
    }
    this.stats.sendCalls++;
    try {
      if (this.sock.send(b, to) < 0) this.sendFailed(new Error('sendmsg: the datagram was not sent'), remote);
      else this.stats.sent++;
    } catch (err) {
      // An unreachable destination and the like: a lost datagram to IKE, which retransmits.
      this.sendFailed(err as Error, remote);
    }
  }

  /** The answers of one received batch, in one sendmmsg (a single one in a plain sendto). */
  private flush(p: { data: Buffer[]; to: Buffer[]; remotes: Endpoint[] }): void {
    const n = p.data.length;
    if (n === 0 || this.closed) return;
    if (n === 1) return this.sendRaw(p.data[0]!, p.remotes[0]!);
    this.stats.sendCalls++;
    const results = this.sock.sendMany(p.data, p.to);
    for (let i = 0; i < n; i++) {
      const r = results[i]!;
      if (r >= 0) {
        this.stats.sent++;
        continue;
      }
      const err = Object.assign(new Error(`sendmmsg: ${getSystemErrorName(r)}`), { code: getSystemErrorName(r), errno: r, syscall: 'sendmmsg' });
      this.sendFailed(err, p.remotes[i]!);
    }
  }

  private sendFailed(err: Error, remote: Endpoint): void {
    this.stats.sendErrors++;
    this.onSendError?.(err, remote);
  }

  /** One wakeup's datagrams, delivered in order within this one callback. */
  private onBatch(errno: number, datagrams: Buffer[], sources: Buffer[], stale: number): void {
    if (errno === EMSGSIZE) this.stats.truncated++;
    this.stats.stale += stale;
    const n = datagrams.length;
    if (n === 0) return;
    this.stats.batches++;
    this.stats.datagrams += n;
    if (n > this.stats.largestBatch) this.stats.largestBatch = n;
    const pending = (this.pending = { data: [], to: [], remotes: [] });
    try {
      for (let i = 0; i < n && !this.closed; i++) {
        let data = datagrams[i]!;
        if (this.natT) {
          if (data.length < 4 || data.readUInt32BE(0) !== 0) {
            this.stats.nonIke++;
            continue;
          }
          data = data.subarray(4);
        }
        this.receiver?.(data, endpointOf(sources[i]!), this.local);
      }
    } finally {
      this.pending = undefined;
      this.flush(pending);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }
}
