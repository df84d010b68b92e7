/**
 * An in-memory IKE wire for tests and benchmarks: sockets attached to a `MemoryWire` that
 * queues every datagram instead of delivering it, so a test can step the exchange message by
 * message, drop, duplicate, reorder or rewrite datagrams, and read them as the RFC does.
 */
import type { Endpoint, IkeDatagramSocket, IkeReceiver } from '../../net/endpoint.js';

export interface WireDatagram {
  from: Endpoint;
  to: Endpoint;
  /** The IKE message (no non-ESP marker). */
  data: Buffer;
  /** Whether it travels on a NAT-T port (4500 semantics). */
  natT: boolean;
}

const key = (e: Endpoint) => `${e.address}|${e.port}`;

export class MemoryWire {
  private readonly sockets = new Map<string, MemorySocket>();
  readonly queue: WireDatagram[] = [];
  /** Every datagram ever sent (tests read captures from it); empty with `keepLog: false`. */
  readonly log: WireDatagram[] = [];
  private readonly keepLog: boolean;
  /** When set, sent datagrams are delivered at once instead of queued. */
  autoDeliver = false;
  /** Rewrites the source of datagrams as a NAT would: return the translated source. */
  nat: ((d: WireDatagram) => Endpoint) | undefined;
  private delivering = false;
  /**
   * The next this many sends fail as the native engine's socket fails them (sendmsg: no route,
   * EPERM): the socket throws, nothing travels. Tests of send-failure handling set it.
   */
  failSends = 0;

  /** keepLog: false for long runs (benchmarks), where a log of every datagram would only grow. */
  constructor(opts: { keepLog?: boolean } = {}) {
    this.keepLog = opts.keepLog ?? true;
  }

  socket(local: Endpoint, natT = local.port === 4500): MemorySocket {
    const s = new MemorySocket(this, local, natT);
    this.sockets.set(key(local), s);
    return s;
  }

  detach(s: MemorySocket): void {
    if (this.sockets.get(key(s.local)) === s) this.sockets.delete(key(s.local));
  }

  /** @internal */
  enqueue(d: WireDatagram): void {
    if (this.nat) d = { ...d, from: this.nat(d) };
    if (this.keepLog) this.log.push(d);
    this.queue.push(d);
    if (this.autoDeliver && !this.delivering) this.flush();
  }

  /** Delivers (or, with `drop`, discards) the oldest queued datagram; returns it. */
  deliverNext(drop = false): WireDatagram | undefined {
    const d = this.queue.shift();
    if (d && !drop) this.deliver(d);
    return d;
  }

  /** Delivers a datagram (again, or crafted by the test). Returns false if nobody listens. */
  deliver(d: WireDatagram): boolean {
    const s = this.sockets.get(key(d.to));
    if (!s) return false;
    s.receive(d.data, d.from);
    return true;
  }

  /** Delivers everything queued, including what the deliveries cause, up to `limit` datagrams. */
  flush(limit = 10_000): number {
    this.delivering = true;
    let n = 0;
    try {
      while (this.queue.length > 0 && n < limit) {
        this.deliverNext();
        n++;
      }
    } finally {
      this.delivering = false;
    }
    return n;
  }

  /** Discards everything queued. */
  dropAll(): WireDatagram[] {
    return this.queue.splice(0);
  }
}

export class MemorySocket implements IkeDatagramSocket {
  private receiver: IkeReceiver | undefined;
  closed = false;
  /** NAT-keepalives sent (they are not IKE messages, so they do not travel on the wire). */
  keepalives = 0;
  constructor(
    private readonly wire: MemoryWire,
    readonly local: Endpoint,
    readonly natT: boolean,
  ) {}

  send(data: Buffer, remote: Endpoint): void {
    if (this.closed) return;
    if (this.wire.failSends > 0) {
      this.wire.failSends--;
      throw new Error('sendmsg: No route to host');
    }
    this.wire.enqueue({ from: this.local, to: remote, data: Buffer.from(data), natT: this.natT });
  }

  setReceiver(receiver: IkeReceiver): void {
    this.receiver = receiver;
  }

  sendKeepalive(_remote: Endpoint): void {
    if (!this.closed) this.keepalives++;
  }

  /** @internal */
  receive(data: Buffer, from: Endpoint): void {
    if (!this.closed) this.receiver?.(data, from, this.local);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wire.detach(this);
  }
}
