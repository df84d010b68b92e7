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

export interface ConnectionKeeperOptions {
  /** Names of the daemon's connections to keep up. */
  connections: readonly string[];
  bounds?: ReconnectBounds;
  /** Jitter source (default Math.random); tests hand in a fixed sequence. */
  random?: RandomSource;
  log: Logger;
}

/** One kept connection: its back-off and its pending retry (a scheduler timer). */
class Kept implements TimerTarget {
  timer: TimerEntry | undefined;
  /** When the pending retry fires (scheduler time), for status. */
  retryAt = 0;
  /** Losses and failures since the keeper started. */
  failures = 0;
  constructor(
    readonly name: string,
    readonly backoff: Backoff,
    private readonly keeper: ConnectionKeeper,
  ) {}
  onTimer(): void {
    this.timer = undefined;
    this.keeper.attempt(this);
  }
}

export interface KeptStatus {
  name: string;
  up: boolean;
  /** Attempts since the connection was last up. */
  attempt: number;
  failures: number;
  /** Milliseconds until the pending retry, if one is pending. */
  retryInMs?: number;
}

export class ConnectionKeeper {
  /** Hand these to the IkeDaemon (merged with any other sink). */
  readonly events: IkeEventSink;
  private readonly kept = new Map<string, Kept>();
  private daemon: IkeDaemon | undefined;
  private stopped = false;

  constructor(private readonly o: ConnectionKeeperOptions) {
    for (const name of o.connections) this.kept.set(name, new Kept(name, new Backoff(o.bounds ?? DEFAULT_RECONNECT, o.random), this));
    this.events = {
      ikeUp: (sa) => this.up(sa),
      ikeDown: (sa, reason) => this.lost(sa, reason, 'IKE SA lost'),
      ikeFailed: (sa, reason) => this.lost(sa, reason, 'IKE SA not established'),
    };
  }

  /** Initiates every kept connection now. */
  start(daemon: IkeDaemon): void {
    if (this.daemon) throw new Error('ConnectionKeeper started twice');
    this.daemon = daemon;
    for (const k of this.kept.values()) this.attempt(k);
  }

  /** No more attempts (call before stopping the daemon, whose teardown reports every SA down). */
  stop(): void {
    this.stopped = true;
    for (const k of this.kept.values()) k.timer = this.daemon?.scheduler.cancel(k.timer);
  }

  status(): KeptStatus[] {
    const now = this.daemon?.scheduler.now() ?? 0;
    return [...this.kept.values()].map((k) => ({
      name: k.name,
      up: this.liveSas(k.name).some((s) => s.state === IkeState.ESTABLISHED),
      attempt: k.backoff.attempt,
      failures: k.failures,
      ...(k.timer?.pending ? { retryInMs: Math.max(0, k.retryAt - now) } : {}),
    }));
  }

  /** Called by the retry timer and at start: initiates unless the connection has a live SA. */
  attempt(k: Kept): void {
    const d = this.daemon;
    if (this.stopped || !d) return;
    if (this.liveSas(k.name).length > 0) return;
    d.initiate(k.name).catch((err: unknown) => {
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
    if (attempts > 0) this.o.log.info({ conn: k.name, ike: sa.name, attempts }, 'connection up again');
  }

  private lost(sa: IkeSa, reason: string, what: string): void {
    const k = this.keptOf(sa);
    if (!k || this.stopped) return;
    // Another SA stands for the connection (a rekey's successor, a followed redirect).
    if (this.liveSas(k.name).some((s) => s !== sa)) return;
    // Deleted on our own request (the operator's terminate): it stays down until initiated again.
    if (sa.closeRequested) {
      this.o.log.info({ conn: k.name, ike: sa.name, reason }, 'IKE SA closed on request; not initiating again');
      return;
    }
    k.failures++;
    const notify = sa.refusedWith === undefined ? {} : { notify: nameOf(NotifyType, sa.refusedWith) };
    this.retry(k, { ike: sa.name, reason, ...notify, peer: sa.remote.address }, what);
  }

  /** Schedules the next attempt (one pending per connection) and says so at warn. */
  private retry(k: Kept, fields: Record<string, unknown>, what: string): void {
    const d = this.daemon;
    if (this.stopped || !d) return;
    if (k.timer?.pending) return;
    const delay = k.backoff.next();
    k.retryAt = d.scheduler.now() + delay;
    k.timer = d.scheduler.schedule(delay, k, 0);
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
    return d.manager.ikeSaList().filter((s) => s.conn?.name === name && !s.isDead && s.state !== IkeState.REKEYED && s.state !== IkeState.DELETING);
  }
}
