import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, EventuallyTimeout } from '../support/eventually.js';

test('eventually resolves with the first truthy value of the probe', async () => {
  let n = 0;
  const v = await eventually(() => (++n >= 3 ? { n } : undefined), { intervalMs: 1 });
  assert.deepEqual(v, { n: 3 });
});

test('eventually treats a throwing probe as not yet, and names the last error at the deadline', async () => {
  let calls = 0;
  await assert.rejects(
    eventually(() => {
      calls++;
      throw new Error('peer not up');
    }, { what: 'the peer', timeoutMs: 30, intervalMs: 5 }),
    (err: unknown) =>
      err instanceof EventuallyTimeout && /the peer/.test(err.message) && /peer not up/.test(err.message),
  );
  assert.ok(calls >= 2, `probe called ${calls} times`);
});

test('eventually awaits async probes', async () => {
  let n = 0;
  assert.equal(await eventually(async () => (++n === 2 ? 'up' : ''), { intervalMs: 1 }), 'up');
});
