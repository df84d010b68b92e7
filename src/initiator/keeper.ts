/**
 * ConnectionKeeper: keeps an initiator's connections up. It initiates each connection at start
 * and again, after a back-off (reconnect.ts: exponential, full jitter), whenever the
 * connection's IKE SA is lost (DPD or retransmissions gave up, the gateway deleted it) or an
 * attempt failed (no answer, refused with AUTHENTICATION_FAILED, TEMPORARY_FAILURE, ...). A
 * connection that comes up resets its back-off. Every loss and failure is logged at warn with
 * the reason, the notify the gateway refused with, and when the next attempt is. An SA deleted
 * on our own request (IkeDaemon.terminate: the operator's `terminate-ike`) is not brought back:
 * the connection stays down until initiated again, as strongSwan's close_action leaves a
 * locally closed SA alone.
 *
 *   const keeper = new ConnectionKeeper({ connections: ['tun'], bounds, log });
 *   const daemon = new IkeDaemon({ ..., events: keeper.events });
 *   keeper.start(daemon);    // initiates now; keeps them up until stop()
 *
 * Disaster recovery (recovery.ts): a connection given a RecoveryPolicy names its cluster
 * addresses, primary first. Every attempt goes to the cluster it is on (its address, whichever
 * member the cluster then redirects to); a loss or failure the policy counts as the cluster
 * being unreachable moves it to the next one (logged at warn with why), after the same back-off, so a site of thousands does not land on the backup at once.
 * While it is up on a backup and fail-back has a hold time, the primary is probed every
 * probeMs (IkeDaemon.probe: an IKE_SA_INIT abandoned after the answer, the working tunnel
 * untouched); once it answered for the hold time, the connection deletes its SA on the backup
 * and initiates on the primary (break before make: the gateways never hold two SAs with the
 * same selectors for one base station); if that fails, the policy moves it on again.
 *
 * It works from the daemon's events (ikeUp / ikeDown / ikeFailed) and times its retries on the
 * daemon's scheduler, so a test on a manual clock steps it deterministically; the random source
 * of the jitter is handed in for the same reason. An attempt is only made when the connection
 * has no live IKE SA at that moment: a followed redirect, a rekey's new SA or an attempt still
 * in flight stand for the connection, and no duplicate is started beside them.
 */
import type { Logger } from '../log/index.js';
import { NotifyType, nameOf } from '../ike/constants.js';
import type { IkeDaemon } from '../ike/daemon.js';
import type { IkeEventSink } from '../ike/sa/context.js';
import { IkeState, type IkeSa } from '../ike/sa/ike-sa.js';
import type { TimerEntry, TimerTarget } from '../ike/scheduler.js';
import { Backoff, DEFAULT_RECONNECT, type RandomSource, type ReconnectBounds } from './reconnect.js';
import { ClusterCursor, type RecoveryPolicy } from './recovery.js';

const TIMER_RETRY = 0;
const TIMER_PROBE = 1;

export interface ConnectionKeeperOptions {
  /** Names of the daemon's connections to keep up. */
  connections: readonly string[];
  bounds?: ReconnectBounds;
  /** Jitter source (default Math.random); tests hand in a fixed sequence. */
  random?: RandomSource;
  /** Disaster recovery per connection name (connections without one stay on remote.addrs); a function for many connections sharing one. */
  recovery?: ReadonlyMap<string, RecoveryPolicy> | ((name: string) => RecoveryPolicy | undefined);
  log: Logger;
}

/** One kept connection: its back-off and its pending retry (a scheduler timer). */
class Kept implements TimerTarget {
  timer: TimerEntry | undefined;
  probeTimer: TimerEntry | undefined;
  /** When the pending retry fires (scheduler time), for status. */
  retryAt = 0;
  /** Losses and failures since the keeper started. */
  failures = 0;
  /** A fail-back is deleting the SA on the backup: its loss is ours, not a failure. */
  switching = false;
  constructor(
    readonly name: string,
    readonly backoff: Backoff,
    private readonly keeper: ConnectionKeeper,
    readonly cursor: ClusterCursor | undefined,
  ) {}
  onTimer(kind: number): void {
    if (kind === TIMER_PROBE) {
      this.probeTimer = undefined;
      this.keeper.probe(this);
      return;
    }
    this.timer = undefined;
    this.keeper.attempt(this);
  }
}

/** Which cluster a connection is on, and its last move (with recovery). */
export interface ClusterStatus {
  /** The cluster address attempts go to now. */
  address: string;
  /** "primary" or "backup N". */
  role: string;
  moves: number;
  lastMove?: { from: string; to: string; why: string; agoMs: number };
  /** On a backup with fail-back: how long the primary has answered every probe. */
  primaryAnsweredMs?: number;
}

export interface KeptStatus {
  name: string;
  up: boolean;
  /** Attempts since the connection was last up. */
  attempt: number;
  failures: number;
  /** Milliseconds until the pending retry, if one is pending. */
  retryInMs?: number;
  cluster?: ClusterStatus;
}

export class ConnectionKeeper {
  /** Hand these to the IkeDaemon (merged with any other sink). */
  readonly events: IkeEventSink;
  private readonly kept = new Map<string, Kept>();
  private daemon: IkeDaemon | undefined;
  private stopped = false;
  /** Fail-back probe SAs: not the connection's, never kept up. */
  private readonly probes = new WeakSet<IkeSa>();

  constructor(private readonly o: ConnectionKeeperOptions) {
    const rec = o.recovery;
    const policyOf = typeof rec === 'function' ? rec : (name: string) => rec?.get(name);
    for (const name of o.connections) {
      const policy = policyOf(name);
      this.kept.set(name, new Kept(name, new Backoff(o.bounds ?? DEFAULT_RECONNECT, o.random), this, policy && new ClusterCursor(policy)));
    }
    if (rec && typeof rec !== 'function') {
      for (const name of rec.keys()) if (!this.kept.has(name)) throw new Error(`recovery for "${name}", which is not a kept connection`);
    }
    this.events = {
      ikeUp: (sa) => this.up(sa),
      ikeDown: (sa, reason) => this.lost(sa, reason, true),
      ikeFailed: (sa, reason) => this.lost(sa, reason, false),
    };
  }

  /**
   * Initiates every kept connection now, or (initiate: false) none: the caller paces the first
   * attempts with initiateNow() (the simulator's arrival rate); from then on they are kept up.
   */
  start(daemon: IkeDaemon, opts: { initiate?: boolean } = {}): void {
    if (this.daemon) throw new Error('ConnectionKeeper started twice');
    this.daemon = daemon;
    if (opts.initiate ?? true) for (const k of this.kept.values()) this.attempt(k);
  }

  /** A kept connection's first attempt (after start with initiate: false). */
  initiateNow(name: string): void {
    const k = this.kept.get(name);
    if (!k) throw new Error(`"${name}" is not a kept connection`);
    this.attempt(k);
  }

  /** No more attempts (call before stopping the daemon, whose teardown reports every SA down). */
  stop(): void {
    this.stopped = true;
    for (const k of this.kept.values()) {
      k.timer = this.daemon?.scheduler.cancel(k.timer);
      k.probeTimer = this.daemon?.scheduler.cancel(k.probeTimer);
    }
  }

  status(): KeptStatus[] {
    const now = this.daemon?.scheduler.now() ?? 0;
    return [...this.kept.values()].map((k) => ({
      name: k.name,
      up: this.liveSas(k.name).some((s) => s.state === IkeState.ESTABLISHED),
      attempt: k.backoff.attempt,
      failures: k.failures,
      ...(k.timer?.pending ? { retryInMs: Math.max(0, k.retryAt - now) } : {}),
      ...(k.cursor ? { cluster: clusterStatus(k.cursor, now) } : {}),
    }));
  }

  /** Whether `sa` is a fail-back probe of this keeper (not an attempt of its connection). */
  isProbe(sa: IkeSa): boolean {
    return this.probes.has(sa);
  }

  /** Cluster moves made (all connections), for reports. */
  moves(): number {
    let n = 0;
    for (const k of this.kept.values()) n += k.cursor?.moves ?? 0;
    return n;
  }

  /** For the control socket: `status` gets `connections`, `list-sas` a `cluster` per IKE SA with recovery. */
  annotations(): { status(): Record<string, unknown>; ikeSa(sa: IkeSa): Record<string, unknown> | undefined } {
    return {
      status: () => ({ connections: this.status() }),
      ikeSa: (sa) => {
        const cluster = this.clusterOf(sa);
        return cluster ? { cluster } : undefined;
      },
    };
  }

  /** The cluster an IKE SA of a kept connection belongs to (list-sas), if it has recovery. */
  clusterOf(sa: IkeSa): ClusterStatus | undefined {
    const k = this.keptOf(sa);
    if (!k?.cursor || this.probes.has(sa)) return undefined;
    return clusterStatus(k.cursor, this.daemon?.scheduler.now() ?? 0);
  }

  /** Called by the retry timer and at start: initiates unless the connection has a live SA. */
  attempt(k: Kept): void {
    const d = this.daemon;
    if (this.stopped || !d) return;
    if (this.liveSas(k.name).length > 0) return;
    const remote = k.cursor?.current;
    d.initiate(k.name, remote === undefined ? {} : { remote }).catch((err: unknown) => {
      // No SA was made (no socket for the address, unresolvable peer): no event will come.
      k.failures++;
      this.retry(k, { err }, 'cannot initiate');
    });
  }

  private up(sa: IkeSa): void {
    const k = this.keptOf(sa);
    if (!k) return;
    const attempts = k.backoff.attempt;
    k.backoff.reset();
    k.cursor?.up();
    const cluster = k.cursor ? { cluster: k.cursor.current, role: k.cursor.role } : {};
    if (attempts > 0) this.o.log.info({ conn: k.name, ike: sa.name, attempts, ...cluster }, 'connection up again');
    const d = this.daemon;
    if (d && k.cursor?.onBackup && k.cursor.policy.failback.mode === 'hold' && !k.probeTimer?.pending) {
      k.probeTimer = d.scheduler.schedule(k.cursor.policy.failback.probeMs, k, TIMER_PROBE);
    }
  }

  /** Probe timer: asks whether the primary answers; fails back once it did for the hold time. */
  probe(k: Kept): void {
    const d = this.daemon;
    const c = k.cursor;
    if (this.stopped || !d || !c?.onBackup || c.policy.failback.mode !== 'hold') return;
    const probeMs = c.policy.failback.probeMs;
    const again = () => {
      if (!this.stopped && c.onBackup && !k.switching) k.probeTimer = d.scheduler.reschedule(k.probeTimer, probeMs, k, TIMER_PROBE);
    };
    const primary = c.primary;
    d.probe(k.name, primary)
      .then(async ({ sa, outcome }) => {
        this.probes.add(sa);
        const o = await outcome;
        if (this.stopped || !c.onBackup || c.primary !== primary) return;
        const done = c.probed(o.ok, d.scheduler.now());
        this.o.log.debug({ conn: k.name, primary, answered: o.ok, ...(o.ok ? {} : { reason: o.reason }), heldMs: c.heldMs(d.scheduler.now()) }, 'probe of the primary');
        if (done) await this.failBack(k);
        else again();
      })
      .catch((err: unknown) => {
        this.o.log.warn({ conn: k.name, primary, err }, 'cannot probe the primary');
        again();
      });
  }

  /** Deletes the connection's SA on the backup and initiates on the primary. */
  private async failBack(k: Kept): Promise<void> {
    const d = this.daemon!;
    const c = k.cursor!;
    const from = c.current;
    c.failBack(d.scheduler.now());
    this.o.log.warn({ conn: k.name, from, to: c.current, why: c.lastMove!.why }, 'failing back to the primary cluster');
    k.switching = true;
    try {
      for (const sa of this.liveSas(k.name)) await (await d.terminate(sa)).outcome;
    } finally {
      k.switching = false;
    }
    k.backoff.reset();
    this.attempt(k);
  }

  private lost(sa: IkeSa, reason: string, wasUp: boolean): void {
    const k = this.keptOf(sa);
    if (!k || this.stopped || this.probes.has(sa)) return;
    const what = wasUp ? 'IKE SA lost' : 'IKE SA not established';
    // Another SA stands for the connection (a rekey's successor, a followed redirect).
    if (this.liveSas(k.name).some((s) => s !== sa)) return;
    // Deleted by a fail-back, which initiates on the primary itself.
    if (k.switching && sa.closeRequested) return;
    k.probeTimer = this.daemon?.scheduler.cancel(k.probeTimer);
    // Deleted on our own request (the operator's terminate): it stays down until initiated again.
    if (sa.closeRequested) {
      this.o.log.info({ conn: k.name, ike: sa.name, reason }, 'IKE SA closed on request; not initiating again');
      return;
    }
    k.failures++;
    const notify = sa.refusedWith === undefined ? {} : { notify: nameOf(NotifyType, sa.refusedWith) };
    this.moveIfUnreachable(k, sa, reason, wasUp);
    const cluster = k.cursor ? { cluster: k.cursor.current } : {};
    this.retry(k, { ike: sa.name, reason, ...notify, peer: sa.remote.address, ...cluster }, what);
  }

  /** With recovery: moves the connection to the next cluster when the policy says so. */
  private moveIfUnreachable(k: Kept, sa: IkeSa, reason: string, wasUp: boolean): void {
    const c = k.cursor;
    const d = this.daemon;
    if (!c || !d) return;
    const why = c.lost(sa.remote.address, reason, sa.refusedWith, wasUp);
    if (why === undefined) return;
    const from = c.current;
    if (c.next(why, d.scheduler.now())) this.o.log.warn({ conn: k.name, from, to: c.current, role: c.role, why }, 'cluster unreachable; moving to the next cluster');
  }

  /** Schedules the next attempt (one pending per connection) and says so at warn. */
  private retry(k: Kept, fields: Record<string, unknown>, what: string): void {
    const d = this.daemon;
    if (this.stopped || !d) return;
    if (k.timer?.pending) return;
    const delay = k.backoff.next();
    k.retryAt = d.scheduler.now() + delay;
    k.timer = d.scheduler.schedule(delay, k, TIMER_RETRY);
    this.o.log.warn({ conn: k.name, ...fields, attempt: k.backoff.attempt, retryInMs: delay }, `${what}; initiating again`);
  }

  private keptOf(sa: IkeSa): Kept | undefined {
    const name = sa.conn?.name;
    return name === undefined ? undefined : this.kept.get(name);
  }

  /** The connection's IKE SAs that are connecting or up (not replaced by a rekey, not dead). */
  private liveSas(name: string): IkeSa[] {
    const d = this.daemon;
    if (!d) return [];
    // The manager's per-connection index: O(this connection's SAs), not of every SA the daemon holds.
    return d.manager.ikeSasOfConnection(name).filter((s) => !this.probes.has(s) && !s.isDead && s.state !== IkeState.REKEYED && s.state !== IkeState.DELETING);
  }
}

function clusterStatus(c: ClusterCursor, now: number): ClusterStatus {
  const m = c.lastMove;
  return {
    address: c.current,
    role: c.role,
    moves: c.moves,
    ...(m ? { lastMove: { from: m.from, to: m.to, why: m.why, agoMs: now - m.at } } : {}),
    ...(c.onBackup && c.policy.failback.mode === 'hold' ? { primaryAnsweredMs: c.heldMs(now) } : {}),
  };
}
