/**
 * The membership table: every member's newest load report, kept by every member (not only the
 * VRRP master), so whichever member becomes master balances at once. Pure: the inputs are a
 * received datagram (or this member's own report) and the time; the outputs are values
 * (accepted with an event, or rejected with a reason, counted by reason). Sockets and timers
 * live in ./member.ts.
 *
 * Replay rule. A report carries (epoch, sequence). The epoch is the sender's start time in
 * microseconds since 1970, made strictly larger than any earlier epoch of the same process
 * (./member.ts nextEpoch); the sequence counts 1, 2, 3, ... within an epoch. For each member
 * the table remembers the (epoch, sequence) of the newest report it accepted, and accepts only
 * a report that is newer in that order:
 *   - same epoch, larger sequence: the member's next report (gaps are lost datagrams);
 *   - same epoch, sequence not larger: 'replay', a copy of an accepted report or an older one;
 *   - larger epoch: the member restarted, its sequence started over, so it is not compared;
 *   - smaller epoch: 'old-epoch', a report from before the member's last restart. It may have
 *     been recorded by an attacker; accepting it would give a restarted member its old load, and
 *     once the new epoch's sequence passed the old one, let recorded reports back in for good.
 * A restarted member forgets its sequence; its epoch must still exceed its previous life's
 * without a state file, and the wall clock at start does that unless the clock steps back
 * across the restart by more than the downtime. Then the others reject it as 'old-epoch'
 * (counted, and logged naming the member) until its clock passes the old epoch or they restart.
 * Not covered: a receiver that just started knows no member, so it takes the first authentic
 * report from each as it comes; someone who recorded reports can feed it recorded reports in
 * increasing order, each at most once, and the member's own next report supersedes them. The
 * MAC keeps everyone without the cluster key out; this rule keeps anything older than the
 * newest accepted report out.
 *
 * Liveness. A member whose reports stop for K of its own report intervals (K = staleAfter; the
 * interval is the one it announces) is stale: listed, but excluded from the candidates for new
 * base stations. A member that stops gracefully says so in its last report (LEAVING) and is
 * stale at once. Any later accepted report makes it live again (re-admitted).
 */
import type { ClusterKey } from './key.js';
import { decodeReport, type LoadReport, type ReportDefect } from './report.js';

export type RejectReason = ReportDefect | 'unknown-peer' | 'own-id' | 'replay' | 'old-epoch';
export const REJECT_REASONS: readonly RejectReason[] = [
  'truncated',
  'bad-magic',
  'bad-version',
  'bad-length',
  'bad-mac',
  'malformed',
  'unknown-peer',
  'own-id',
  'replay',
  'old-epoch',
];

/** What an accepted report did to its member's entry. */
export type AcceptEvent = 'admitted' | 'updated' | 'restarted' | 'readmitted' | 'left';

export type ReceiveResult = { accepted: true; member: string; event: AcceptEvent } | { accepted: false; reason: RejectReason; member?: string };

export interface MemberEntry {
  report: LoadReport;
  /** The address the newest report came from (undefined for this member's own entry). */
  from: string | undefined;
  /** When the newest report was accepted (ms, the table's clock). */
  lastAt: number;
  stale: boolean;
  self: boolean;
}

export interface Weights {
  tunnels: number;
  bandwidth: number;
  cpu: number;
}

/**
 * Silence after which a member is stale: K report intervals, plus half an interval for delivery
 * and timer jitter, so a report that is merely late is not counted as missing.
 */
export function staleAfterMs(k: number, intervalMs: number): number {
  return (k + 0.5) * intervalMs;
}

/**
 * A member's utilization, 0..1 (more when over capacity): the weighted mean of its tunnels
 * (plus `extraTunnels` not in the report yet) against maxTunnels, its bit rate against its
 * bandwidth, and its CPU. Plain arithmetic: a cluster master computes it for every member on
 * every new base station (bench/redirect).
 */
export function utilization(r: LoadReport, w: Weights, extraTunnels = 0): number {
  const total = w.tunnels + w.bandwidth + w.cpu;
  if (!(total > 0)) return 0;
  const tunnels = r.capacity.maxTunnels > 0 ? (r.load.tunnels + extraTunnels) / r.capacity.maxTunnels : 1;
  const bandwidth = r.capacity.bandwidthBps > 0 ? (r.load.bytesPerSec * 8) / r.capacity.bandwidthBps : 1;
  return (w.tunnels * tunnels + w.bandwidth * bandwidth + w.cpu * r.load.cpu) / total;
}

export interface MembershipTableOptions {
  selfId: string;
  /** Replaced by setKey() when the operator rotates the key. */
  key: ClusterKey;
  /** K: report intervals of silence after which a member is stale. */
  staleAfter: number;
  /** Addresses reports are accepted from (the configured peers). */
  peers: readonly string[];
}

export class MembershipTable {
  private readonly members = new Map<string, MemberEntry>();
  private readonly peers: ReadonlySet<string>;
  /** Reports accepted, and datagrams dropped by reason. */
  readonly counters = { accepted: 0, rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number> };

  constructor(private readonly opts: MembershipTableOptions) {
    this.peers = new Set(opts.peers);
  }

  get selfId(): string {
    return this.opts.selfId;
  }

  /** A new cluster key (a reload after key rotation): reports are checked with it from now on. */
  setKey(key: ClusterKey): void {
    this.opts.key = key;
  }

  /** This member's own entry, refreshed every interval from the local load source. */
  setSelf(report: LoadReport, now: number): void {
    this.members.set(report.nodeId, { report, from: undefined, lastAt: now, stale: false, self: true });
  }

  /** One datagram from `from`: checked, authenticated, and applied or dropped (counted either way). */
  receive(datagram: Buffer, from: string, now: number): ReceiveResult {
    let result: ReceiveResult;
    if (!this.peers.has(from)) result = { accepted: false, reason: 'unknown-peer' };
    else {
      const d = decodeReport(datagram, this.opts.key);
      result = d.ok ? this.apply(d.report, from, now) : { accepted: false, reason: d.reason };
    }
    if (result.accepted) this.counters.accepted++;
    else this.counters.rejected[result.reason]++;
    return result;
  }

  /** The replay rule and liveness (see the top of this file) for an authentic report. */
  private apply(r: LoadReport, from: string, now: number): ReceiveResult {
    const member = r.nodeId;
    if (member === this.opts.selfId) return { accepted: false, reason: 'own-id', member };
    const known = this.members.get(member);
    let event: AcceptEvent;
    if (!known) event = 'admitted';
    else {
      const k = known.report;
      if (r.epoch < k.epoch) return { accepted: false, reason: 'old-epoch', member };
      if (r.epoch === k.epoch && r.sequence <= k.sequence) return { accepted: false, reason: 'replay', member };
      if (known.stale || this.isStale(known, now)) event = 'readmitted';
      else event = r.epoch > k.epoch ? 'restarted' : 'updated';
    }
    this.members.set(member, { report: r, from, lastAt: now, stale: r.leaving, self: false });
    return { accepted: true, member, event: r.leaving ? 'left' : event };
  }

  private isStale(e: MemberEntry, now: number): boolean {
    return !e.self && now - e.lastAt > staleAfterMs(this.opts.staleAfter, e.report.intervalMs);
  }

  /** Marks members that fell silent; returns the ids that became stale now. */
  sweep(now: number): string[] {
    const out: string[] = [];
    for (const [id, e] of this.members) {
      if (!e.stale && this.isStale(e, now)) {
        e.stale = true;
        out.push(id);
      }
    }
    return out;
  }

  /** Every member (this one included), by id; `stale` as of `now`. */
  entries(now: number): MemberEntry[] {
    return [...this.members.values()]
      .map((e) => ({ ...e, stale: e.stale || this.isStale(e, now) }))
      .sort((a, b) => (a.report.nodeId < b.report.nodeId ? -1 : a.report.nodeId > b.report.nodeId ? 1 : 0));
  }

  /**
   * Members that may take new base stations: live, not draining, below the ceiling; least
   * utilized first (ties by id, so every member orders them alike).
   */
  candidates(now: number, weights: Weights, ceiling: number): MemberEntry[] {
    return this.entries(now)
      .filter((e) => !e.stale && !e.report.draining && utilization(e.report, weights) < ceiling)
      .sort((a, b) => utilization(a.report, weights) - utilization(b.report, weights));
  }
}
