/**
 * Waiting for an event without fixed sleeps: `eventually(probe)` calls the probe until it
 * returns a truthy value (which it resolves with) or the deadline passes. A probe that throws
 * counts as "not yet"; the last error or value is named in the timeout's message, so a failed
 * wait says what was seen instead of only that time ran out.
 *
 * This is the one waiting helper of the project: the lab's peers, the demo and every test use it
 * (tests import it through test/support/eventually.ts). The poll interval only bounds how soon an
 * event is noticed; no assertion depends on it.
 */
import { LabError } from '../errors.js';

export interface EventuallyOptions {
  /** What is awaited, for the timeout message ("strongSwan's IKE SA up"). */
  what?: string;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Time between probes (default 50 ms). */
  intervalMs?: number;
}

export class EventuallyTimeout extends LabError {
  constructor(what: string, timeoutMs: number, last: string) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last seen: ${last})` : ''}`);
  }
}

const describe = (v: unknown): string => {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  try {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 300 ? `${s.slice(0, 300)}...` : s;
  } catch {
    return String(v);
  }
};

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves with the probe's first truthy result; rejects with EventuallyTimeout at the deadline. */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  opts: EventuallyOptions | string = {},
): Promise<NonNullable<T>> {
  const o = typeof opts === 'string' ? { what: opts } : opts;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const intervalMs = o.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
      last = describe(v);
    } catch (err) {
      last = describe(err);
    }
    if (Date.now() >= deadline) throw new EventuallyTimeout(o.what ?? 'a condition', timeoutMs, last);
    await pause(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}
