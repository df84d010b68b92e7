/** The reconnect policy: exponential back-off with full jitter, bounded, deterministic with a given random source. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, DEFAULT_RECONNECT, ReconnectPolicyError, checkBounds, reconnectCeiling, reconnectDelay } from '../../src/initiator/reconnect.js';

const B = { initialMs: 1000, maxMs: 30_000 };

test('ceiling: initial * 2^attempt, capped at max', () => {
  const table: [attempt: number, ceiling: number][] = [
    [0, 1000],
    [1, 2000],
    [2, 4000],
    [3, 8000],
    [4, 16_000],
    [5, 30_000],
    [6, 30_000],
    [1000, 30_000], // 2^1000 overflows to Infinity: still the cap
    [-1, 1000], // a negative attempt is treated as the first
  ];
  for (const [attempt, ceiling] of table) assert.equal(reconnectCeiling(attempt, B), ceiling, `attempt ${attempt}`);
});

test('delay: full jitter over [0, ceiling), whole milliseconds', () => {
  const table: [attempt: number, random: number, delay: number][] = [
    [0, 0, 0],
    [0, 0.5, 500],
    [0, 0.9999, 999],
    [2, 0.25, 1000],
    [3, 0.5, 4000],
    [9, 0.5, 15_000],
    [9, 0.999_999, 29_999],
    // A broken source (out of range, NaN) cannot make a negative or endless wait.
    [3, 1, 0],
    [3, -0.5, 0],
    [3, Number.NaN, 0],
  ];
  for (const [attempt, r, delay] of table) assert.equal(reconnectDelay(attempt, B, () => r), delay, `attempt ${attempt}, random ${r}`);
});

test('Backoff counts attempts, grows until max, starts over after reset', () => {
  const seq = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1];
  let i = 0;
  const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => seq[i++]!);
  assert.equal(b.attempt, 0);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [50, 100, 200, 400, 500, 500]);
  assert.equal(b.attempt, 6);
  b.reset();
  assert.equal(b.attempt, 0);
  assert.deepEqual([b.next(), b.next()], [50, 20]);
});

test('the same random sequence gives the same schedule; every delay within its ceiling', () => {
  const lcg = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const run = () => {
    const b = new Backoff(DEFAULT_RECONNECT, lcg(42));
    return Array.from({ length: 12 }, () => b.next());
  };
  const a = run();
  assert.deepEqual(run(), a);
  a.forEach((d, n) => assert.ok(d >= 0 && d < reconnectCeiling(n, DEFAULT_RECONNECT), `attempt ${n}: ${d}`));
  assert.ok(new Set(a).size > 6, 'jittered, not constant');
});

test('bounds that make no schedule are refused with a stable code', () => {
  const bad = [
    { initialMs: 0, maxMs: 1000 },
    { initialMs: -5, maxMs: 1000 },
    { initialMs: Number.NaN, maxMs: 1000 },
    { initialMs: 2000, maxMs: 1000 },
    { initialMs: 1000, maxMs: Number.POSITIVE_INFINITY },
  ];
  for (const b of bad) {
    assert.throws(() => checkBounds(b), (e: unknown) => e instanceof ReconnectPolicyError && e.code === 'SEGW_RECONNECT', JSON.stringify(b));
    assert.throws(() => new Backoff(b), ReconnectPolicyError);
  }
  assert.deepEqual(checkBounds({ initialMs: 1000, maxMs: 1000 }), { initialMs: 1000, maxMs: 1000 });
});
