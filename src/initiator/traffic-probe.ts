/**
 * Traffic of the simulator's traffic base stations: each sends a UDP probe every `intervalMs`
 * from its inner address to a UDP echo service (RFC 862) behind the gateways, while it is up, and
 * counts what comes back. A reply counts only if it is the echo of a probe this process sent from
 * that base station and still waits for (same index, sequence number and per-run token), so a
 * stray or duplicated datagram never counts as traffic passing.
 *
 *   probe (16 octets, network order):
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                      token (per run, random)                  |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                 base-station index                            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                 sequence number (per base station, from 1)    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                 magic 0x53475450 ("SGTP")                     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A probe not answered within `replyTimeoutMs` is lost. A base station is "passing" when a
 * reply came within the last PASSING_INTERVALS intervals. Each tunnel a base station sends over
 * (its IKE SA: a new one after a fail-over or a fail-back) is counted, and whether traffic
 * passed on it, so a run shows traffic on every tunnel, not only in total.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/index.js';

const PROBE_LENGTH = 16;
const PROBE_MAGIC = 0x53475450;

interface Probe {
  token: number;
  index: number;
  seq: number;
}

/** The probe's wire format: the one place it is written and read. */
export const probeCodec = {
  encode(p: Probe): Buffer {
    const b = Buffer.alloc(PROBE_LENGTH);
    b.writeUInt32BE(p.token >>> 0, 0);
    b.writeUInt32BE(p.index >>> 0, 4);
    b.writeUInt32BE(p.seq >>> 0, 8);
    b.writeUInt32BE(PROBE_MAGIC, 12);
    return b;
  },
  /** The probe, or undefined for anything that is not one. */
  decode(b: Buffer): Probe | undefined {
    if (b.length !== PROBE_LENGTH || b.readUInt32BE(12) !== PROBE_MAGIC) return undefined;
    return { token: b.readUInt32BE(0), index: b.readUInt32BE(4), seq: b.readUInt32BE(8) };
  },
};

/** A reply within this many intervals makes a base station "passing". */
export const PASSING_INTERVALS = 3;

export interface TrafficMember {
  /** Base-station index. */
  index: number;
  /** Its inner address (on the TUN device): probes are sent from it. */
  address: string;
}

export interface TrafficProbesOptions {
  members: readonly TrafficMember[];
  /** The echo service (RFC 862) behind the gateways. */
  target: { address: string; port: number };
  intervalMs: number;
  /** Default: the interval. */
  replyTimeoutMs?: number;
  log: Logger;
}

/** One traffic base station's counts. */
export interface TrafficCounts {
  index: number;
  address: string;
  /** Probes sent (only while the base station was up). */
  sent: number;
  /** Echoes of those probes received. */
  received: number;
  /** Probes unanswered after the reply timeout. */
  lost: number;
  /** Probes the local stack refused to send (no route, socket error). */
  sendErrors: number;
  /** Round-trip time of the last reply (ms), null before the first. */
  lastRttMs: number | null;
  /** Whether a reply came within the last PASSING_INTERVALS intervals. */
  passing: boolean;
  /** Tunnels (IKE SAs) it sent probes over, and on how many of them a probe was answered. */
  tunnels: number;
  tunnelsPassed: number;
  /** Probes answered on the tunnel it is on now (or was on last). */
  receivedOnTunnel: number;
}

export interface TrafficSummary {
  baseStations: number;
  passing: number;
  sent: number;
  received: number;
  lost: number;
}

class Member {
  sent = 0;
  received = 0;
  lost = 0;
  sendErrors = 0;
  seq = 0;
  lastReplyAt = -Infinity;
  lastRttMs: number | null = null;
  tunnel: unknown;
  tunnels = 0;
  tunnelsPassed = 0;
  receivedOnTunnel = 0;
  /** Sequence number -> when sent, of probes waiting for their echo. */
  readonly waiting = new Map<number, number>();
  socket: Socket | undefined;
  constructor(readonly index: number, readonly address: string) {}
}

export class TrafficProbes {
  private readonly members: Member[];
  private readonly token = randomBytes(4).readUInt32BE(0);
  private timer: NodeJS.Timeout | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly o: TrafficProbesOptions) {
    if (!(o.intervalMs > 0)) throw new RangeError(`intervalMs must be > 0 (got ${o.intervalMs})`);
    this.members = o.members.map((m) => new Member(m.index, m.address));
    this.timeoutMs = o.replyTimeoutMs ?? o.intervalMs;
  }

  /** Binds one socket per member (its inner address must exist by now). */
  async open(): Promise<void> {
    await Promise.all(this.members.map((m) => this.bind(m)));
  }

  private bind(m: Member): Promise<void> {
    const s = createSocket({ type: isIPv6(m.address) ? 'udp6' : 'udp4' });
    m.socket = s;
    s.on('message', (msg, from) => this.onReply(m, msg, from));
    // An ICMP error reported on the socket is a lost probe, counted by its timeout.
    s.on('error', (err) => this.o.log.debug({ bs: m.index, err }, 'traffic probe socket error'));
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, m.address, () => {
        s.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Sends a probe every interval from every member that is up, until stop(): `tunnelOf(index)`
   * is the tunnel (any object, e.g. its IKE SA) the base station is up on, undefined when down.
   */
  start(tunnelOf: (index: number) => unknown): void {
    this.timer = setInterval(() => this.tick(tunnelOf), this.o.intervalMs);
    this.tick(tunnelOf);
  }

  private tick(tunnelOf: (index: number) => unknown): void {
    const now = performance.now();
    for (const m of this.members) {
      this.expire(m, now);
      const tunnel = tunnelOf(m.index);
      if (tunnel === undefined || !m.socket) continue;
      if (tunnel !== m.tunnel) {
        m.tunnel = tunnel;
        m.tunnels++;
        m.receivedOnTunnel = 0;
      }
      const seq = ++m.seq;
      m.waiting.set(seq, now);
      m.sent++;
      m.socket.send(probeCodec.encode({ token: this.token, index: m.index, seq }), this.o.target.port, this.o.target.address, (err) => {
        if (!err) return;
        // Not sent: neither a loss of the tunnel nor an answer to wait for.
        if (m.waiting.delete(seq)) m.sendErrors++;
      });
    }
  }

  private expire(m: Member, now: number): void {
    for (const [seq, at] of m.waiting) {
      if (now - at < this.timeoutMs) break; // insertion order is sending order
      m.waiting.delete(seq);
      m.lost++;
    }
  }

  private onReply(m: Member, msg: Buffer, from: { address: string; port: number }): void {
    if (from.port !== this.o.target.port || from.address !== this.o.target.address) return;
    const p = probeCodec.decode(msg);
    if (!p || p.token !== this.token || p.index !== m.index) return;
    const at = m.waiting.get(p.seq);
    if (at === undefined) return; // a duplicate, or late after its timeout (counted lost)
    m.waiting.delete(p.seq);
    const now = performance.now();
    m.received++;
    if (m.receivedOnTunnel++ === 0) m.tunnelsPassed++;
    m.lastReplyAt = now;
    m.lastRttMs = Math.round((now - at) * 10) / 10;
  }

  /** Counts per traffic base station, in index order. */
  counts(): TrafficCounts[] {
    const now = performance.now();
    return this.members.map((m) => {
      this.expire(m, now);
      return {
        index: m.index,
        address: m.address,
        sent: m.sent,
        received: m.received,
        lost: m.lost,
        sendErrors: m.sendErrors,
        lastRttMs: m.lastRttMs,
        passing: now - m.lastReplyAt <= PASSING_INTERVALS * this.o.intervalMs,
        tunnels: m.tunnels,
        tunnelsPassed: m.tunnelsPassed,
        receivedOnTunnel: m.receivedOnTunnel,
      };
    });
  }

  summary(): TrafficSummary {
    const s: TrafficSummary = { baseStations: this.members.length, passing: 0, sent: 0, received: 0, lost: 0 };
    for (const c of this.counts()) {
      if (c.passing) s.passing++;
      s.sent += c.sent;
      s.received += c.received;
      s.lost += c.lost;
    }
    return s;
  }

  /** Stops sending; waits up to one reply timeout for the probes in flight, then closes. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = performance.now() + this.timeoutMs;
    while (this.members.some((m) => m.waiting.size > 0) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(50, this.timeoutMs)));
    }
    const now = performance.now() + this.timeoutMs; // everything still waiting is lost
    for (const m of this.members) this.expire(m, now);
    await Promise.all(this.members.map((m) => new Promise<void>((r) => (m.socket ? m.socket.close(() => r()) : r()))));
    for (const m of this.members) m.socket = undefined;
  }
}
