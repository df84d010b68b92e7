import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, Scheduler, type TimerTarget } from '../../src/ike/scheduler.js';

test('timers fire in deadline order; cancel and reschedule work; one host timer', () => {
  const clock = new ManualClock(0);
  const s = new Scheduler(clock);
  const fired: string[] = [];
  const t = (name: string): TimerTarget => ({ onTimer: (k) => fired.push(`${name}${k}`) });
  const a = s.schedule(300, t('a'), 1);
  s.schedule(100, t('b'), 2);
  const c = s.schedule(200, t('c'), 3);
  s.schedule(100, t('d'), 4);
  s.cancel(c);
  s.reschedule(a, 50, t('a'), 5);
  assert.equal(s.size, 3);
  s.advance(99);
  assert.deepEqual(fired, ['a5']);
  s.advance(1);
  assert.deepEqual(fired, ['a5', 'b2', 'd4'], 'equal deadlines in scheduling order');
  assert.equal(s.size, 0);
  assert.equal(clock.now(), 100);
});

test('many timers: heap order holds under random cancels', () => {
  const clock = new ManualClock(0);
  const s = new Scheduler(clock);
  const out: number[] = [];
  const target: TimerTarget = { onTimer: (k) => out.push(k) };
  const entries = [];
  for (let i = 0; i < 2000; i++) entries.push(s.schedule((i * 7919) % 1000, target, (i * 7919) % 1000));
  for (let i = 0; i < 2000; i += 3) s.cancel(entries[i]);
  s.advance(1000);
  for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]! <= out[i]!);
  assert.equal(out.length, 2000 - Math.ceil(2000 / 3));
});

test('a throwing target does not stop the others', () => {
  const clock = new ManualClock(0);
  const s = new Scheduler(clock);
  const errors: unknown[] = [];
  s.onError = (e) => errors.push(e);
  let ok = 0;
  s.schedule(1, { onTimer: () => { throw new Error('bug'); } }, 0);
  s.schedule(1, { onTimer: () => ok++ }, 0);
  s.advance(1);
  assert.equal(ok, 1);
  assert.equal(errors.length, 1);
});
