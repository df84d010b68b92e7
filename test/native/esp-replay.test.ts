// Anti-replay (RFC 4303 §3.4.3, RFC 6479 bitmap, window 1024) and ESN (App. A2.2), through the
// engine's stages: check before decryption, update after the ICV verified; every drop counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bareEngine, gcmSa, icmpEcho, pair, type TestEngine } from '../support/esp-fixtures.js';
import type { SaEventArrival } from '../../src/kernel/userspace/native.js';
import { eventually } from '../support/eventually.js';

const KEY = Buffer.alloc(20, 7);
const inner = icmpEcho('192.0.2.1', '192.0.2.129');

/** Seals packets with the given sequence numbers (setting the counter before each). */
function sealAt(e: TestEngine, out: number, seqs: bigint[]): Buffer[] {
  return seqs.map((s) => {
    e.setSeq(out, s - 1n);
    return e.espSeal(out, inner, 4).packet!;
  });
}

/**
 * The events the engine raised so far, in order. A marker SA raises one soft-lifetime event
 * after them; the engine delivers events in the order raised (one queue), so once the marker's
 * has arrived every earlier one has too, and nothing is left out by waiting too short.
 */
async function eventsBeforeMarker(e: TestEngine, events: SaEventArrival[], spi: number): Promise<SaEventArrival[]> {
  const lifetime = { softPackets: 1n, hardPackets: 0n, softBytes: 0n, hardBytes: 0n };
  const m = e.addSa({ ...gcmSa({ spi, encryptionKey: KEY, reqid: spi, lifetime }), direction: 'out' });
  e.espSeal(m, inner, 4);
  e.espSeal(m, inner, 4);
  await eventually(() => events.some((x) => x.sa === m), 'the marker SA\'s event');
  return events.slice(0, events.findIndex((x) => x.sa === m));
}

function counters(e: TestEngine, id: number) {
  const c = e.readCounters(Uint32Array.from([id]));
  return { packets: c[0], replay: c[2], integrity: c[3], errors: c[4] };
}

test('in order, out of order inside the window, duplicates and too-old packets (window 1024)', () => {
  const e = bareEngine();
  try {
    const p = pair(e, gcmSa({ spi: 0x1001, encryptionKey: KEY, replayWindow: 1024 }));
    const pk = sealAt(e, p.out, [1n, 2n, 3n, 2000n, 1500n, 977n, 976n, 2000n, 3n]);
    const v = pk.map((x) => e.espOpen(p.in, x).verdict);
    // 1,2,3 in order; 2000 jumps; 1500 and 977 are inside [977, 2000]; 976 is left of it;
    // 2000 and 3 again are a duplicate and a too-old packet.
    assert.deepEqual(v, ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'replay', 'replay', 'replay']);
    assert.deepEqual(counters(e, p.in), { packets: 6n, replay: 3n, integrity: 0n, errors: 0n });
  } finally {
    e.close();
  }
});

test('a forged packet does not move the window (update only after the ICV verified)', () => {
  const e = bareEngine();
  try {
    const p = pair(e, gcmSa({ spi: 0x1002, encryptionKey: KEY }));
    const [far] = sealAt(e, p.out, [100000n]);
    const forged = Buffer.from(far);
    forged[forged.length - 1] ^= 0x80;
    assert.equal(e.espOpen(p.in, forged).verdict, 'integrity');
    // Had the forgery advanced the window, sequence 5 would now be too old.
    const [five] = sealAt(e, p.out, [5n]);
    assert.equal(e.espOpen(p.in, five).verdict, 'ok');
    assert.equal(e.espOpen(p.in, far).verdict, 'ok');
    assert.deepEqual(counters(e, p.in), { packets: 2n, replay: 0n, integrity: 1n, errors: 0n });
  } finally {
    e.close();
  }
});

test('ESN: the high half is inferred across the 2^32 boundary, in and out of order', () => {
  const e = bareEngine();
  try {
    const p = pair(e, gcmSa({ spi: 0x1003, encryptionKey: KEY, esn: true, replayWindow: 1024 }));
    const base = 0xffffff00n;
    e.setSeq(p.in, base);
    const seqs = [base + 1n, 0x100000005n, base + 200n, 0x100000001n, 0x100000200n, base + 2n];
    const pk = sealAt(e, p.out, seqs);
    for (const [i, x] of pk.entries()) {
      const r = e.espOpen(p.in, x);
      assert.equal(r.verdict, 'ok', `seq ${seqs[i].toString(16)}`);
      assert.equal(r.seq, seqs[i], 'full 64-bit sequence number recovered');
    }
    assert.equal(e.espOpen(p.in, pk[1]).verdict, 'replay');
  } finally {
    e.close();
  }
});

test('without ESN the counter must not cycle: a hard "sequence" expiry, then drops (RFC 4303 §3.3.3)', async () => {
  const events: SaEventArrival[] = [];
  const e = bareEngine({ onEvents: (b) => events.push(...b) });
  try {
    const p = pair(e, gcmSa({ spi: 0x1004, encryptionKey: KEY }));
    e.setSeq(p.out, 0xfffffffen);
    assert.equal(e.espSeal(p.out, inner, 4).verdict, 'ok'); // 0xffffffff, the last one
    assert.equal(e.espSeal(p.out, inner, 4).verdict, 'seq-overflow');
    assert.deepEqual(await eventsBeforeMarker(e, events, 0x1904), [
      { sa: p.out, kind: 'soft', reason: 'sequence' },
      { sa: p.out, kind: 'hard', reason: 'sequence' },
    ]);
  } finally {
    e.close();
  }
});

test('soft and hard packet and byte lifetimes raise one event each; a hard limit stops the SA', async () => {
  const events: SaEventArrival[] = [];
  const e = bareEngine({ onEvents: (b) => events.push(...b) });
  try {
    const lifetime = { softPackets: 3n, hardPackets: 5n, softBytes: 0n, hardBytes: 0n };
    const p = pair(e, gcmSa({ spi: 0x1005, encryptionKey: KEY, lifetime }));
    const verdicts = Array.from({ length: 7 }, () => e.espSeal(p.out, inner, 4).verdict);
    assert.deepEqual(verdicts, ['ok', 'ok', 'ok', 'ok', 'ok', 'sa-dead', 'sa-dead']);
    assert.deepEqual((await eventsBeforeMarker(e, events, 0x1905)).filter((x) => x.sa === p.out), [
      { sa: p.out, kind: 'soft', reason: 'packets' },
      { sa: p.out, kind: 'hard', reason: 'packets' },
    ]);
    const q = pair(e, gcmSa({ spi: 0x1006, encryptionKey: KEY, reqid: 2, lifetime: { softBytes: 200n, hardBytes: 10000n, softPackets: 0n, hardPackets: 0n } }));
    for (let i = 0; i < 3; i++) e.espSeal(q.out, inner, 4);
    assert.deepEqual((await eventsBeforeMarker(e, events, 0x1906)).filter((x) => x.sa === q.out), [{ sa: q.out, kind: 'soft', reason: 'bytes' }]);
  } finally {
    e.close();
  }
});
