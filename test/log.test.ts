import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureLog } from './support/log-capture.js';
import { logger, setRootLogger, RateLimitedLog } from '../src/log/index.js';

function capture(level = 'info') {
  const { log: root, lines } = captureLog(level, { redact: ['*.key', 'psk'] });
  return { root, lines };
}

test('module-level loggers follow the root set later, with subsystem and level on each line', () => {
  const early = logger('ike'); // as a module does at import
  const { root, lines } = capture('warn');
  setRootLogger(root);
  early.info('not shown at warn');
  early.warn({ spi: 'ab' }, 'shown');
  assert.deepEqual(lines.map((l) => [l.sub, l.level, l.msg, l.spi]), [['ike', 'warn', 'shown', 'ab']]);
});

test('key material in a logged object is redacted', () => {
  const { root, lines } = capture();
  setRootLogger(root);
  logger('esp').info({ sa: { key: 'deadbeef' }, psk: 'secret' }, 'sa added');
  assert.equal(JSON.stringify(lines).includes('deadbeef'), false);
  assert.equal(JSON.stringify(lines).includes('secret'), false);
});

test('rate-limited per-packet faults: a burst per window, then a count of the suppressed', () => {
  const { root, lines } = capture();
  const rl = new RateLimitedLog(root, 3, 1000);
  for (let i = 0; i < 10; i++) rl.warn('icv', { i }, 'ICV failure', 5000);
  assert.equal(lines.length, 3);
  rl.warn('icv', {}, 'ICV failure', 6001);
  assert.equal(lines.length, 4);
  assert.equal(lines[3].suppressed, 7);
});
