import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SaLog } from '../../../src/ike/sa/sa-log.js';

test('SaLog: the SA\'s fields go into written lines only; a dropped level computes nothing', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
  const parent = pino({ level: 'info' }, sink);
  let computed = 0;
  const log = new SaLog(parent, { logBindings: () => (computed++, { ike: 'aaaa_bbbb' }) });
  assert.equal(log.enabled('debug'), false);
  assert.equal(log.enabled('info'), true);
  log.debug({ x: 1 }, 'dropped');
  assert.equal(computed, 0);
  log.info({ x: 2 }, 'kept');
  log.warn('text only');
  assert.equal(computed, 2);
  assert.deepEqual(lines.map((l) => [l.msg, l.ike, l.x]), [['kept', 'aaaa_bbbb', 2], ['text only', 'aaaa_bbbb', undefined]]);
  assert.equal(new SaLog(pino({ level: 'silent' }), { logBindings: () => ({}) }).enabled('fatal'), false);
});
