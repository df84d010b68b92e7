/**
 * Remote disaster recovery of a base station's connection: which cluster address (a cluster's
 * VIP) the connection is on, when it moves to the next one, and when it fails back to the
 * primary. Pure: the keeper (keeper.ts) feeds it what happened and the time, and acts on the
 * answer.
 *
 *   clusters:  [primary, backup 1, backup 2, ...]   in order; after the last, the primary again
 *
 * When a connection moves (the policy, documented in README "Disaster recovery"):
 *   - no answer from the cluster address: IKE_SA_INIT or IKE_AUTH retransmissions gave up, or
 *     DPD on the established IKE SA did (both end as 'retransmit give-up'), or a half-open SA
 *     timed out;
 *   - no answer from a member the cluster redirected it to, MEMBER_MISSES_TO_MOVE times in a row
 *     (no success in between). One member that died says nothing about the cluster: its master
 *     redirects the next attempt to a live member, so the connection first tries its cluster
 *     address again. The count bounds the case of a master that answers but keeps sending the
 *     base station to members it cannot reach;
 *   - a refusal with a notify in `moveOn` (default AUTHENTICATION_FAILED and TEMPORARY_FAILURE:
 *     a cluster that lost its credentials or is short of resources; the next cluster may not be).
 * It stays (and retries the same cluster after the back-off) when the gateway deleted the SA
 * (a drain or a restart: the cluster is alive and says so), when it refused with any other
 * notify (NO_PROPOSAL_CHOSEN and the like are configuration errors the next cluster shares),
 * and when nothing could be sent.
 *
 * Fail-back (`failback`): `never` stays on the cluster that works, until that one is lost. With a
 * hold time, the keeper probes the primary every `probeMs` while the connection is on a backup
 * (Daemon.probe: one IKE_SA_INIT, abandoned after the answer); once the primary has answered
 * every probe for `holdMs`, the connection goes back to it. One unanswered probe restarts the
 * hold.
 */
import { NotifyError, NotifyType, nameOf } from '../ike/constants.js';
import { ipToBytes } from '../net/ip.js';

export type Failback = { mode: 'never' } | { mode: 'hold'; holdMs: number; probeMs: number };

export interface RecoveryPolicy {
  /** Cluster addresses, primary first, then the backups in order. */
  clusters: readonly string[];
  failback: Failback;
  /** Error notifies (RFC 7296 §3.10.1) that make the connection move to the next cluster. */
  moveOn: readonly number[];
}

export const DEFAULT_MOVE_ON: readonly number[] = [NotifyError.AUTHENTICATION_FAILED, NotifyError.TEMPORARY_FAILURE];

/** Loss reasons (IkeSa.destroy) that mean the peer did not answer. */
const UNANSWERED = new Set(['retransmit give-up', 'half-open timeout']);

/** Unanswered losses on members (not the cluster address) in a row that move the connection. */
export const MEMBER_MISSES_TO_MOVE = 3;

/**
 * Why the connection should leave its cluster after an SA was lost or not made, or undefined
 * to stay. `reason` is the SA's end (ikeDown/ikeFailed), `refusedWith` the peer's error notify,
 * `memberMisses` the unanswered losses in a row on members the cluster redirected to, this one
 * included (0 when the SA was with the cluster address itself).
 */
export function moveCause(reason: string, refusedWith: number | undefined, policy: RecoveryPolicy, wasUp: boolean, memberMisses = 0): string | undefined {
  if (refusedWith !== undefined) return policy.moveOn.includes(refusedWith) ? `refused with ${nameOf(NotifyType, refusedWith)}` : undefined;
  if (!UNANSWERED.has(reason)) return undefined;
  if (memberMisses > 0) {
    return memberMisses >= MEMBER_MISSES_TO_MOVE ? `no answer from the members the cluster redirected to (${memberMisses} in a row)` : undefined;
  }
  return wasUp ? 'no answer to DPD or a request (retransmissions gave up)' : `no answer to the setup (${reason})`;
}

/** The same address, whatever the text form (IPv6 zeros, case); names compare as text. */
export function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return ipToBytes(a).equals(ipToBytes(b));
  } catch {
    return false;
  }
}

/** The move the keeper last made, for status. */
export interface Move {
  from: string;
  to: string;
  why: string;
  /** Scheduler time of the move. */
  at: number;
}

/** Where one connection is among its clusters, and the fail-back hold of the primary. */
export class ClusterCursor {
  private i = 0;
  /** Scheduler time since when every probe of the primary was answered (hold running). */
  private answeredSince: number | undefined;
  /** Unanswered losses in a row on members of the current cluster (see moveCause). */
  private memberMisses = 0;
  lastMove: Move | undefined;
  moves = 0;

  constructor(readonly policy: RecoveryPolicy) {
    if (policy.clusters.length === 0) throw new Error('a recovery policy needs at least one cluster address');
  }

  get index(): number {
    return this.i;
  }

  get current(): string {
    return this.policy.clusters[this.i]!;
  }

  get primary(): string {
    return this.policy.clusters[0]!;
  }

  get onBackup(): boolean {
    return this.i > 0;
  }

  /** "primary" or "backup N" (1-based), for logs and status. */
  get role(): string {
    return this.i === 0 ? 'primary' : `backup ${this.i}`;
  }

  /**
   * Why the connection leaves this cluster after an SA with `peer` ended (moveCause), or
   * undefined to stay; counts the unanswered losses on members.
   */
  lost(peer: string, reason: string, refusedWith: number | undefined, wasUp: boolean): string | undefined {
    const onMember = UNANSWERED.has(reason) && refusedWith === undefined && !sameAddress(peer, this.current);
    this.memberMisses = onMember ? this.memberMisses + 1 : 0;
    return moveCause(reason, refusedWith, this.policy, wasUp, this.memberMisses);
  }

  /** The connection came up: members answer again. */
  up(): void {
    this.memberMisses = 0;
  }

  /** Moves to the next cluster (after the last: the primary). False if there is only one. */
  next(why: string, now: number): boolean {
    if (this.policy.clusters.length < 2) return false;
    this.go((this.i + 1) % this.policy.clusters.length, why, now);
    return true;
  }

  /** A probe of the primary was answered (true) or not; true when the hold time is over. */
  probed(answered: boolean, now: number): boolean {
    const f = this.policy.failback;
    if (f.mode !== 'hold' || !answered) {
      this.answeredSince = undefined;
      return false;
    }
    this.answeredSince ??= now;
    return now - this.answeredSince >= f.holdMs;
  }

  /** How long the primary has answered every probe (0 if it has not). */
  heldMs(now: number): number {
    return this.answeredSince === undefined ? 0 : now - this.answeredSince;
  }

  /** Back to the primary (fail-back). */
  failBack(now: number): void {
    const f = this.policy.failback;
    const why = f.mode === 'hold' ? `fail-back: the primary answered every probe for ${f.holdMs / 1000} s` : 'fail-back';
    this.go(0, why, now);
  }

  private go(i: number, why: string, now: number): void {
    this.lastMove = { from: this.current, to: this.policy.clusters[i]!, why, at: now };
    this.i = i;
    this.moves++;
    this.answeredSince = undefined;
    this.memberMisses = 0;
  }
}
