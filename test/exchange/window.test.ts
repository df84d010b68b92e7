/**
 * RFC 7296 §2.3: without SET_WINDOW_SIZE the window is 1: an endpoint keeps at most one request
 * of its own outstanding. Actions asked for while one is on the wire queue behind it and leave
 * one by one, each after the previous response, with the next message ID (§2.2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';

test('window 1 (§2.3): a DPD and a child rekey asked at once go one request at a time, each after the previous response', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    const dpd = await p.bs.daemon.dpd(bsSa);
    const rekey = await p.bs.daemon.rekeyChild(bsSa.children[0]!);
    await p.settle();
    // INFORMATIONAL SK { } -->   and nothing else from the base station yet
    assert.deepEqual(p.wire.queue.map((d) => describe(d, gwSa)), ['INFORMATIONAL request #2 {  }']);
    await p.next();
    // <-- INFORMATIONAL SK { }   (the rekey still waits for it)
    assert.deepEqual(p.wire.queue.map((d) => describe(d, bsSa)), ['INFORMATIONAL response #2 {  }']);
    await p.next();
    // CREATE_CHILD_SA SK { N(REKEY_SA), SA, Ni, TSi, TSr } -->   only now, with message ID 3
    assert.equal(p.wire.queue.length, 1);
    assert.match(describe(p.wire.queue[0]!, gwSa), /^CREATE_CHILD_SA request #3 \{ N\(REKEY_SA\)/);
    await p.next();
    assert.equal(p.wire.queue.length, 1);
    assert.match(describe(p.wire.queue[0]!, bsSa), /^CREATE_CHILD_SA response #3/);
    await p.run();
    assert.deepEqual(await dpd.outcome, { ok: true, value: undefined });
    assert.ok((await rekey.outcome).ok);
  } finally {
    await p.stop();
  }
});
