/**
 * When an initiator tries again after losing a connection or failing to make one: exponential
 * back-off with full jitter. Attempt n (0-based) waits a uniformly random time in
 * [0, min(max, initial * 2^n)), so many base stations that lost the same gateway at the same
 * moment spread their new IKE_SA_INITs over the whole window instead of arriving together
 * (the "full jitter" variant: the largest spread for the same ceiling).
 *
 * Pure: the random source is handed in, and the caller owns the clock (it schedules the delay
 * on its own timer), so a test gets the same delays every run. Used by `segw basestation`
 * (ConnectionKeeper) and meant for the load generator and disaster recovery.
 *
 *   const b = new Backoff({ initialMs: 1000, maxMs: 60_000 });
 *   schedule(b.next());   // 0..1 s, then 0..2 s, 0..4 s, ... capped at 0..60 s
 *   b.reset();            // once the connection is up again
 */
import { SegwError } from '../errors.js';

import { DEFAULT_RECONNECT, type ReconnectBounds } from '../config/basestation.js';

export { DEFAULT_RECONNECT, type ReconnectBounds };

/** A uniform random number in [0, 1), as Math.random. */
export type RandomSource = () => number;

/** Bounds no schedule can come from (the config layer reports them with their path first). */
export class ReconnectPolicyError extends SegwError {
  constructor(message: string) {
    super('SEGW_RECONNECT', message);
  }
}

/** Throws ReconnectPolicyError for bounds that make no schedule. */
export function checkBounds(b: ReconnectBounds): ReconnectBounds {
  if (!Number.isFinite(b.initialMs) || b.initialMs <= 0) throw new ReconnectPolicyError(`reconnect initial must be a positive time, got ${b.initialMs} ms`);
  if (!Number.isFinite(b.maxMs) || b.maxMs < b.initialMs) {
    throw new ReconnectPolicyError(`reconnect max (${b.maxMs} ms) must be at least initial (${b.initialMs} ms)`);
  }
  return b;
}

/** The ceiling of attempt `attempt` (0-based): initial * 2^attempt, at most max. */
export function reconnectCeiling(attempt: number, b: ReconnectBounds): number {
  // 2^attempt overflows to Infinity for huge attempts; min() still yields max.
  return Math.min(b.maxMs, b.initialMs * Math.pow(2, Math.max(0, attempt)));
}

/** The delay before attempt `attempt`: full jitter over [0, ceiling), whole milliseconds. */
export function reconnectDelay(attempt: number, b: ReconnectBounds, random: RandomSource): number {
  const r = random();
  const u = r >= 0 && r < 1 ? r : 0; // a broken source must not make a negative or endless wait
  return Math.floor(u * reconnectCeiling(attempt, b));
}

/** The attempt counter of one connection around reconnectDelay. */
export class Backoff {
  private n = 0;

  constructor(
    readonly bounds: ReconnectBounds = DEFAULT_RECONNECT,
    private readonly random: RandomSource = Math.random,
  ) {
    checkBounds(bounds);
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.n;
  }

  /** The delay before the next attempt; counts the attempt. */
  next(): number {
    return reconnectDelay(this.n++, this.bounds, this.random);
  }

  /** The connection is up: the next loss starts again from `initial`. */
  reset(): void {
    this.n = 0;
  }
}
