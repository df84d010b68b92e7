// The engine's JavaScript face: production methods only on EspEngine (test entry points live in
// the module object espTest, STYLE habit 11), and per-SA counters read by the names the addon
// declares (espSaCounterFields), so the binding and the backend cannot disagree on positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, loadEsp, readSaCounters, SA_COUNTER_FIELDS } from '../../src/kernel/userspace/native.js';
import { bareEngine, espTest, gcmSa, icmpEcho, pair } from '../support/esp-fixtures.js';

test('EspEngine carries no test entry points; espTest has them', () => {
  const e = createEngine();
  try {
    for (const m of ['setSeq', 'espSeal', 'espOpen', 'decapsulate', 'encapsulate']) {
      assert.equal((e as unknown as Record<string, unknown>)[m], undefined, `${m} is not on the production class`);
    }
    for (const m of ['setSeq', 'seal', 'open', 'decapsulate', 'encapsulate', 'coalesce'] as const) {
      assert.equal(typeof espTest()[m], 'function', m);
    }
    assert.throws(() => espTest().setSeq({} as never, 1, 1n), /EspEngine/);
  } finally {
    e.close();
  }
  assert.throws(() => espTest().setSeq(e, 1, 1n), /closed/);
});

test('the addon declares the per-SA counter fields, and readSaCounters reads them by name', () => {
  assert.deepEqual([...loadEsp().espSaCounterFields].sort(), [...SA_COUNTER_FIELDS].sort());
  const e = bareEngine();
  try {
    const p = pair(e, gcmSa({ spi: 0x2001, encryptionKey: Buffer.alloc(20, 3) }));
    const inner = icmpEcho('192.0.2.1', '192.0.2.129');
    const good = e.espSeal(p.out, inner, 4).packet!;
    const forged = Buffer.from(e.espSeal(p.out, inner, 4).packet!);
    forged[forged.length - 1] ^= 1;
    assert.equal(e.espOpen(p.in, good).verdict, 'ok');
    assert.equal(e.espOpen(p.in, good).verdict, 'replay');
    assert.equal(e.espOpen(p.in, forged).verdict, 'integrity');
    assert.equal(e.espOpen(p.in, forged).verdict, 'integrity');
    assert.equal(e.espOpen(p.in, good.subarray(0, 12)).verdict, 'truncated');
    const [inC, outC, none] = readSaCounters(e, [p.in, p.out, 9999]);
    assert.equal(none, undefined);
    assert.equal(inC!.packets, 1n);
    assert.equal(inC!.bytes, BigInt(inner.length));
    assert.equal(inC!.replayDrops, 1n);
    assert.equal(inC!.integrityFailures, 2n);
    assert.equal(inC!.errors, 1n);
    assert.ok(inC!.lastUsedMs > 0n);
    assert.equal(outC!.packets, 2n);
  } finally {
    e.close();
  }
});

test('restarting an inbound window (espTest.setSeq) keeps its size: numbers below the new top are checked against it', () => {
  const e = bareEngine();
  try {
    const p = pair(e, gcmSa({ spi: 0x2002, encryptionKey: Buffer.alloc(20, 4), replayWindow: 64 }));
    const inner = icmpEcho('192.0.2.1', '192.0.2.129');
    const at = (seq: bigint) => (e.setSeq(p.out, seq - 1n), e.espSeal(p.out, inner, 4).packet!);
    const [p10, p1000, p950, p900] = [at(10n), at(1000n), at(950n), at(900n)];
    assert.equal(e.espOpen(p.in, p10).verdict, 'ok');
    assert.ok(e.setSeq(p.in, 999n));
    assert.equal(e.espOpen(p.in, p10).verdict, 'replay', 'far below the new top');
    assert.equal(e.espOpen(p.in, p950).verdict, 'ok', 'inside the 64-packet window, not seen since the restart');
    assert.equal(e.espOpen(p.in, p900).verdict, 'replay', 'left of a 64-packet window');
    assert.equal(e.espOpen(p.in, p1000).verdict, 'ok');
    assert.equal(e.espOpen(p.in, p1000).verdict, 'replay');
  } finally {
    e.close();
  }
});
