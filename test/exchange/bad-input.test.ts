/**
 * Bad input to a responder (RFC 7296 §2.21, §2.5, §2.21.4): truncated, oversized,
 * wrong-length, garbage, bit-flipped and replayed datagrams. Each is dropped or answered as
 * the RFC says and counted; the process never throws; the established SA is unharmed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import type { WireDatagram } from '../../src/ike/transport/memory.js';
import { decodeMessage } from '../../src/ike/codec/index.js';

function from(p: Pair, data: Buffer, port = 500): WireDatagram {
  return { from: { address: p.bs.addr, port }, to: { address: p.gw.addr, port }, data, natT: port === 4500 };
}

test('truncated, oversized, wrong-length and garbage datagrams are dropped and counted', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  const init = p.wire.log[0]!.data;
  const c0 = { ...p.gw.daemon.counters };
  const inputs: Buffer[] = [
    Buffer.alloc(0),
    Buffer.from([1, 2, 3]),
    init.subarray(0, 27), // shorter than a header
    init.subarray(0, init.length - 5), // header Length says more
    Buffer.concat([init, Buffer.alloc(9)]), // header Length says less
    Buffer.alloc(70_000, 0x41), // oversized
  ];
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 300; i++) inputs.push(Buffer.from(Array.from({ length: 1 + (i * 37) % 900 }, rnd)));
  inputs.push(randomBytes(64));
  for (const data of inputs) assert.doesNotThrow(() => p.wire.deliver(from(p, data)));
  await p.settle();
  const c = p.gw.daemon.counters;
  const dropped = Object.entries(c).reduce((n, [k, v]) => n + v - (c0[k] ?? 0), 0);
  assert.ok(dropped >= inputs.length - 5, `every bad datagram counted (${dropped} of ${inputs.length})`);
  assert.ok((c.truncated ?? 0) - (c0.truncated ?? 0) >= 5);
  // Only what the RFC answers unauthenticated (a higher major version in IKE_SA_INIT, §2.5).
  for (const d of p.wire.queue) assert.match(describe(d), /INVALID_MAJOR_VERSION/);
  assert.equal(gwSa.state, IkeState.ESTABLISHED);
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  await p.stop();
});

test('a bit flipped anywhere in a protected request: ICV fails, dropped, counted, SA unharmed', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.bs.daemon.dpd(bsSa);
  const dpd = p.wire.dropAll()[0]!;
  const dropped = () => ['integrity', 'malformed', 'truncated', 'invalid_message_id', 'unknown_spi'].reduce((n, k) => n + (p.gw.daemon.counters[k] ?? 0), 0);
  const before = dropped();
  for (let i = 28; i < dpd.data.length; i++) {
    const bad = Buffer.from(dpd.data);
    bad[i]! ^= 0x10;
    p.wire.deliver({ ...dpd, data: bad });
    if (i % 8 === 0) await p.settle(); // below the per-SA queue bound (a burst beyond it counts as busy)
  }
  await p.settle();
  assert.equal(p.wire.queue.length, 0, 'nothing answered');
  assert.equal(dropped() - before, dpd.data.length - 28, 'every flipped copy counted');
  assert.ok((p.gw.daemon.counters.integrity ?? 0) >= dpd.data.length - 28 - 4, 'most of them by the ICV');
  // The genuine request still works afterwards.
  p.wire.deliver(dpd);
  await p.settle();
  await p.run();
  assert.equal(bsSa.tm.busy, false);
  assert.equal(gwSa.state, IkeState.ESTABLISHED);
  await p.stop();
});

test('unknown SPI: a request gets an unprotected INVALID_IKE_SPI, a response nothing (§2.21.4)', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa } = await p.connect();
  await p.bs.daemon.dpd(bsSa);
  const dpd = p.wire.dropAll()[0]!;
  const forged = Buffer.from(dpd.data);
  forged.fill(0x5a, 8, 16); // SPIr nobody has
  p.wire.deliver({ ...dpd, data: forged });
  await p.settle();
  assert.equal(p.wire.queue.length, 1);
  assert.equal(describe(p.wire.queue[0]!), 'INFORMATIONAL response #2 { N(INVALID_IKE_SPI) }');
  const answer = decodeMessage(p.wire.queue[0]!.data);
  assert.ok(answer.ok && answer.message.header.spiR.equals(forged.subarray(8, 16)), 'SPIs copied');
  p.wire.dropAll();
  const resp = Buffer.from(forged);
  resp[19] = 0x20; // RESPONSE flag, not INITIATOR
  p.wire.deliver({ ...dpd, data: resp });
  await p.settle();
  assert.equal(p.wire.queue.length, 0);
  assert.equal(p.gw.daemon.counters.unknown_spi, 2);
  await p.stop();
});

test('IKE_SA_INIT with major version 3 is answered INVALID_MAJOR_VERSION; IKEv1 dropped', async () => {
  const p = new Pair();
  await p.start();
  await p.bs.daemon.initiate('bs');
  await p.settle();
  const init = p.wire.dropAll()[0]!;
  const v3 = Buffer.from(init.data);
  v3[17] = 0x30;
  p.wire.deliver({ ...init, data: v3 });
  await p.settle();
  assert.equal(describe(p.wire.queue[0]!), 'IKE_SA_INIT response #0 { N(INVALID_MAJOR_VERSION) }');
  p.wire.dropAll();
  const v1 = Buffer.from(init.data);
  v1[17] = 0x10;
  p.wire.deliver({ ...init, data: v1 });
  await p.settle();
  assert.equal(p.wire.queue.length, 0);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  await p.stop();
});

test('IKE_SA_INIT without a KE payload is dropped silently (unprotected, §2.21.1)', async () => {
  const p = new Pair();
  await p.start();
  await p.bs.daemon.initiate('bs');
  await p.settle();
  const init = p.wire.dropAll()[0]!;
  const dec = decodeMessage(init.data);
  assert.ok(dec.ok);
  const { encodeMessage } = await import('../../src/ike/codec/index.js');
  const noKe = encodeMessage({ ...dec.message, payloads: dec.message.payloads.filter((x) => x.type !== 34) });
  p.wire.deliver({ ...init, data: noKe });
  await p.settle();
  assert.equal(p.wire.queue.length, 0);
  assert.equal(p.gw.daemon.counters.invalid_syntax, 1);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  await p.stop();
});

test('a flood of IKE_SA_INIT from one address stops at the half-open limit per peer', async () => {
  const p = new Pair({ gwDaemon: { settings: { halfOpenPerPeer: 5, cookieThreshold: 1000 } } });
  await p.start();
  for (let i = 0; i < 8; i++) await p.bs.daemon.initiate('bs');
  await p.settle();
  for (const d of p.wire.dropAll()) p.wire.deliver(d);
  await p.settle();
  assert.equal(p.gw.daemon.manager.halfOpenCount, 5);
  assert.equal(p.gw.daemon.counters.half_open_limit, 3);
  await p.stop();
});

test('replayed IKE_SA_INIT after the SA is established: a new half-open SA, never a second copy of the old', async () => {
  const p = new Pair({ gwDaemon: { settings: { halfOpenTimeoutMs: 1000 } } });
  await p.start();
  const { gwSa } = await p.connect();
  p.wire.deliver(p.wire.log[0]!);
  await p.settle();
  p.wire.dropAll();
  await p.advance(1000);
  assert.equal(gwSa.state, IkeState.ESTABLISHED);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 1);
  assert.equal(p.gw.daemon.manager.halfOpenCount, 0);
  await p.stop();
});
