/**
 * A netlink request socket: every request carries NLM_F_REQUEST|NLM_F_ACK and a sequence number,
 * and completes on its acknowledgement (NLMSG_ERROR with error 0, or NLMSG_DONE for a dump);
 * replies that arrive before it (a GET's answer, an ALLOCSPI's new state, dump parts flagged
 * NLM_F_MULTI) are collected for the caller. A negative acknowledgement rejects with a
 * NetlinkError naming the operation, the errno and the kernel's extended-ack message.
 *
 * Flow control, the part that decides whether 10,000 routes survive: at most `maxInFlight`
 * requests are unacknowledged at any time; the rest wait in a queue in memory. Requests made in
 * the same turn of the event loop go out together, concatenated into one sendmsg (the kernel
 * processes every message of a datagram in order and acknowledges each), and the receive
 * buffer (SO_RCVBUFFORCE, default 8 MiB) holds far more than maxInFlight acknowledgements, so the
 * kernel never has to drop one. If it does anyway (ENOBUFS), the requests in flight fail with
 * ENOBUFS: their outcome is unknown and the caller reconciles. Dumps run alone: one at a time,
 * with nothing else in flight, so a dump cannot be answered EBUSY or interleave with ACKs.
 *
 * Only datagrams from the kernel (source port 0) addressed to this socket's port id are
 * accepted. Notifications are a separate socket (./listener.ts): a socket that both requests
 * and listens cannot tell the echo of its own request from the reply.
 */
import { logger, RateLimitedLog } from '../log/index.js';
import { NETLINK_OPT, NLM_F, NLMSG, SO, SOCK, SOL, AF, nameOf } from './constants.js';
import { NetlinkError, errnoName } from './errors.js';
import { doneError, encodeMessage, parseAck, setSeq, splitMessages, type NlMessage } from './message.js';
import { openSocket, parseSockaddrNl, sockaddrNl, type NativeSocket, type SocketOptions } from './native.js';

const log = logger('netlink');

export interface NetlinkSocketOptions extends Pick<SocketOptions, 'netns' | 'freshNetns'> {
  /** NETLINK_ROUTE, NETLINK_XFRM, ... */
  protocol: number;
  /** Message type names of this protocol, for errors and logs (RTM, XFRM_MSG). */
  typeNames?: Readonly<Record<string, number>>;
  /** Unacknowledged requests at most (default 256). */
  maxInFlight?: number;
  /** Receive buffer in bytes, forced past rmem_max with CAP_NET_ADMIN (default 8 MiB). */
  rcvbuf?: number;
  /** A request with no answer after this fails with ETIMEDOUT (default 30 s). */
  timeoutMs?: number;
  /** NETLINK_GET_STRICT_CHK: the kernel filters dumps by the request's header (rtnetlink). */
  strictCheck?: boolean;
}

export interface RequestOptions {
  /** What was asked, in words, for errors ('add route 192.0.2.0/25'). */
  detail?: string;
}

interface Pending {
  seq: number;
  type: number;
  msg: Buffer;
  dump: boolean;
  detail?: string;
  parts: NlMessage[];
  interrupted: boolean;
  sentAt: number;
  resolve(parts: NlMessage[]): void;
  reject(err: Error): void;
}

/** Octets per sendmsg: well under the default netlink send buffer (sk_sndbuf - 32). */
const MAX_BATCH_BYTES = 64 * 1024;
/** The kernel's address: port id 0. */
const KERNEL = sockaddrNl(0, 0);
const ECANCELED = 125;
const ETIMEDOUT = 110;
const ENOBUFS = 105;

export interface NetlinkStats {
  inFlight: number;
  queued: number;
  /** Highest number of unacknowledged requests seen: never above maxInFlight. */
  maxInFlightSeen: number;
  requests: number;
  datagramsSent: number;
  overruns: number;
}

export class NetlinkSocket {
  readonly portId: number;
  private readonly sock: NativeSocket;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private readonly typeNames: Readonly<Record<string, number>>;
  private readonly pending = new Map<number, Pending>();
  private queue: Pending[] = [];
  private queueHead = 0;
  private seq = 0;
  private dumpActive = false;
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private refd = false;
  private congested = false;
  private readonly rl = new RateLimitedLog(log);
  private readonly counters = { maxInFlightSeen: 0, requests: 0, datagramsSent: 0, overruns: 0 };

  private constructor(sock: NativeSocket, opts: NetlinkSocketOptions) {
    this.sock = sock;
    this.maxInFlight = opts.maxInFlight ?? 256;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.typeNames = opts.typeNames ?? {};
    this.portId = parseSockaddrNl(sock.getsockname()).pid;
    // Start sequence numbers anywhere: a stale reply to an earlier socket is then unlikely to match.
    this.seq = (Date.now() & 0x7fffffff) >>> 0;
  }

  static open(opts: NetlinkSocketOptions): NetlinkSocket {
    const sock = openSocket(AF.AF_NETLINK, SOCK.SOCK_RAW, opts.protocol, {
      netns: opts.netns,
      freshNetns: opts.freshNetns,
      datagramSize: 64 * 1024,
      batch: 64,
      withSource: true,
    });
    try {
      setRcvbuf(sock, opts.rcvbuf ?? 8 * 1024 * 1024);
      sock.setsockopt(SOL.SOL_NETLINK, NETLINK_OPT.NETLINK_EXT_ACK, 1);
      sock.setsockopt(SOL.SOL_NETLINK, NETLINK_OPT.NETLINK_CAP_ACK, 1);
      if (opts.strictCheck) sock.setsockopt(SOL.SOL_NETLINK, NETLINK_OPT.NETLINK_GET_STRICT_CHK, 1);
      sock.bind(sockaddrNl(0, 0));
    } catch (err) {
      sock.close();
      throw err;
    }
    const s = new NetlinkSocket(sock, opts);
    sock.start((errno, datagrams, sources, drained) => s.onData(errno, datagrams, sources ?? [], drained));
    sock.setRef(false);
    return s;
  }

  /**
   * Sends one request (NLM_F_REQUEST|NLM_F_ACK added to `flags`) and resolves with the messages
   * that answered it before its acknowledgement (none for a plain NEW/DEL).
   */
  request(type: number, flags: number, payload: Buffer, opts: RequestOptions = {}): Promise<NlMessage[]> {
    return this.enqueue(type, NLM_F.NLM_F_REQUEST | NLM_F.NLM_F_ACK | flags, payload, false, opts);
  }

  /** A dump (NLM_F_DUMP): resolves with every part, retried up to 3 times if interrupted. */
  async dump(type: number, payload: Buffer, opts: RequestOptions = {}): Promise<NlMessage[]> {
    for (let attempt = 1; ; attempt++) {
      const parts = await this.enqueue(type, NLM_F.NLM_F_REQUEST | NLM_F.NLM_F_DUMP, payload, true, opts);
      const interrupted = (parts as NlMessage[] & { interrupted?: boolean }).interrupted;
      if (!interrupted || attempt === 3) {
        if (interrupted) log.warn({ op: this.opName(type) }, 'dump still inconsistent after 3 attempts (NLM_F_DUMP_INTR)');
        return parts;
      }
    }
  }

  stats(): NetlinkStats {
    return { inFlight: this.inFlight, queued: this.queue.length - this.queueHead, ...this.counters };
  }

  private get inFlight(): number {
    return this.pending.size;
  }

  private opName(type: number): string {
    return nameOf(this.typeNames, type).replace(/^UNKNOWN/, 'NLMSG_TYPE');
  }

  private enqueue(type: number, flags: number, payload: Buffer, dump: boolean, opts: RequestOptions): Promise<NlMessage[]> {
    if (this.closed) {
      return Promise.reject(new NetlinkError({ errno: ECANCELED, operation: this.opName(type), detail: opts.detail ?? 'socket closed' }));
    }
    return new Promise((resolve, reject) => {
      const msg = encodeMessage({ type, flags, pid: 0 }, payload);
      this.queue.push({ seq: 0, type, msg, dump, detail: opts.detail, parts: [], interrupted: false, sentAt: 0, resolve, reject });
      this.counters.requests++;
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.retryTimer) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends queued requests while the window allows, several per datagram. */
  private flush(): void {
    while (!this.closed && !this.dumpActive && !this.congested && this.queueHead < this.queue.length) {
      const batch: Pending[] = [];
      let bytes = 0;
      while (this.queueHead < this.queue.length && this.inFlight + batch.length < this.maxInFlight) {
        const p = this.queue[this.queueHead];
        if (p.dump && (batch.length > 0 || this.inFlight > 0)) break;
        if (batch.length > 0 && bytes + p.msg.length > MAX_BATCH_BYTES) break;
        batch.push(p);
        bytes += p.msg.length;
        this.queueHead++;
        if (p.dump) break;
      }
      if (batch.length === 0) break;
      if (!this.send(batch)) return;
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private send(batch: Pending[]): boolean {
    const now = Date.now();
    for (const p of batch) {
      p.seq = this.seq = (this.seq + 1) >>> 0 || 1;
      setSeq(p.msg, p.seq);
      p.sentAt = now;
    }
    const data = batch.length === 1 ? batch[0].msg : Buffer.concat(batch.map((p) => p.msg));
    let n: number;
    try {
      n = this.sock.send(data, KERNEL);
    } catch (err) {
      const e = err as { errno?: number };
      for (const p of batch) p.reject(new NetlinkError({ errno: e.errno ?? 5, operation: this.opName(p.type), detail: p.detail, cause: err }));
      return true;
    }
    if (n < 0) {
      // EAGAIN/ENOBUFS on send: the kernel is short of memory; put the batch back and retry.
      this.queueHead -= batch.length;
      this.rl.warn('send', { errno: errnoName(n) }, 'netlink send deferred');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.flush();
      }, 5);
      return false;
    }
    for (const p of batch) {
      this.pending.set(p.seq, p);
      if (p.dump) this.dumpActive = true;
    }
    this.holdLoop(true);
    this.counters.datagramsSent++;
    this.counters.maxInFlightSeen = Math.max(this.counters.maxInFlightSeen, this.inFlight);
    this.armSweep();
    return true;
  }

  private onData(errno: number, datagrams: Buffer[], sources: Buffer[], drained: boolean): void {
    try {
      datagrams.forEach((d, i) => this.onDatagram(d, sources[i]));
      if (errno) {
        this.counters.overruns++;
        this.congested = true;
        log.error({ errno: errnoName(errno), inFlight: this.inFlight }, 'netlink receive buffer overrun: acknowledgements lost');
      }
      // The kernel answered every request it was sent before we read (netlink requests are
      // processed inside sendmsg), so once the queue is empty after an overrun, a request still
      // waiting lost its answer. Until then the kernel drops everything sent to this socket
      // (NETLINK_S_CONGESTED), so nothing new is sent.
      if (this.congested && drained) {
        this.congested = false;
        this.failInFlight(errno || ENOBUFS);
      }
    } catch (err) {
      log.error({ err }, 'netlink receive handler failed');
    }
    this.scheduleFlush();
  }

  private onDatagram(d: Buffer, source: Buffer | undefined): void {
    if (source && parseSockaddrNl(source).pid !== 0) {
      this.rl.warn('foreign', { from: parseSockaddrNl(source).pid }, 'netlink datagram not from the kernel: dropped');
      return;
    }
    const { messages, malformed } = splitMessages(d);
    if (malformed) this.rl.warn('malformed', { malformed }, 'malformed netlink datagram');
    for (const m of messages) this.onMessage(m);
  }

  private onMessage(m: NlMessage): void {
    const p = this.pending.get(m.seq);
    if (!p || m.pid !== this.portId) {
      if (m.type !== NLMSG.NLMSG_NOOP) this.rl.warn('stray', { type: m.type, seq: m.seq, pid: m.pid }, 'netlink message for no request: dropped');
      return;
    }
    if (m.flags & NLM_F.NLM_F_DUMP_INTR) p.interrupted = true;
    if (m.type === NLMSG.NLMSG_ERROR) {
      const ack = parseAck(m);
      if (ack.error === 0) this.finish(p);
      else this.finish(p, new NetlinkError({ errno: ack.error, operation: this.opName(p.type), detail: p.detail, extAck: ack.extAck }));
    } else if (m.type === NLMSG.NLMSG_DONE && p.dump) {
      const e = doneError(m);
      this.finish(p, e < 0 ? new NetlinkError({ errno: e, operation: this.opName(p.type), detail: p.detail }) : undefined);
    } else if (m.type >= NLMSG.NLMSG_MIN_TYPE) {
      p.parts.push(m);
    }
  }

  private finish(p: Pending, err?: Error): void {
    this.pending.delete(p.seq);
    if (p.dump) this.dumpActive = false;
    if (this.inFlight === 0) this.holdLoop(false);
    if (err) p.reject(err);
    else p.resolve(Object.assign(p.parts, p.interrupted ? { interrupted: true } : {}));
  }

  /** The socket keeps the process alive only while a request waits for its answer. */
  private holdLoop(on: boolean): void {
    if (on === this.refd || this.closed) return;
    this.refd = on;
    this.sock.setRef(on);
  }

  /** ENOBUFS: acknowledgements were dropped, so nobody knows what happened to these requests. */
  private failInFlight(errno: number): void {
    for (const p of [...this.pending.values()]) {
      this.finish(p, new NetlinkError({ errno, operation: this.opName(p.type), detail: p.detail }));
    }
  }

  /** One timer for all requests: fails those unanswered after timeoutMs. */
  private armSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      const limit = Date.now() - this.timeoutMs;
      for (const p of [...this.pending.values()]) {
        if (p.sentAt <= limit) this.finish(p, new NetlinkError({ errno: ETIMEDOUT, operation: this.opName(p.type), detail: p.detail }));
      }
      if (this.inFlight > 0) this.armSweep();
      this.scheduleFlush();
    }, Math.min(1000, this.timeoutMs));
    this.sweepTimer.unref();
  }

  /** Closes the socket; requests not yet answered fail with ECANCELED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.sweepTimer);
    this.sock.close();
    const cancel = (p: Pending) =>
      p.reject(new NetlinkError({ errno: ECANCELED, operation: this.opName(p.type), detail: p.detail ?? 'socket closed' }));
    for (const p of this.pending.values()) cancel(p);
    for (let i = this.queueHead; i < this.queue.length; i++) cancel(this.queue[i]);
    this.pending.clear();
    this.queue = [];
    this.queueHead = 0;
  }
}

/** SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it SO_RCVBUF gives what rmem_max allows. */
export function setRcvbuf(sock: NativeSocket, bytes: number): void {
  try {
    sock.setsockopt(SOL.SOL_SOCKET, SO.SO_RCVBUFFORCE, bytes);
  } catch {
    sock.setsockopt(SOL.SOL_SOCKET, SO.SO_RCVBUF, bytes);
  }
}
