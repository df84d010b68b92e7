/**
 * Reflection amplification (RFC 7296 §2.1, §2.6 spirit): a retransmitted request is answered
 * from the cache only when it is the very datagram answered before. A source that only knows
 * (or guesses) the SPIs and message ID, possibly spoofing the real initiator's address, gets
 * nothing back: no more bytes than it sent, beyond one IKE_SA_INIT response per real request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair } from './harness.js';
import { ExchangeType, HeaderFlag } from '../../src/ike/constants.js';
import { decodeMessage, encodeMessage } from '../../src/ike/codec/index.js';
import type { WireDatagram } from '../../src/ike/transport/memory.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';

/** A bare 28-octet IKE header (no payloads) with the SPIs, exchange and message ID of `real`. */
function headerOnly(real: Buffer): Buffer {
  const r = decodeMessage(real);
  assert.ok(r.ok);
  const out = encodeMessage({ header: r.message.header, payloads: [] });
  assert.equal(out.length, 28);
  return out;
}

/** The real datagram with one octet changed at `at` (from the end when negative). */
function altered(real: Buffer, at: number): Buffer {
  const b = Buffer.from(real);
  const i = at < 0 ? b.length + at : at;
  b[i] = b[i]! ^ 0x01;
  return b;
}

/** Delivers datagrams "from" the base station's address and returns the bytes sent back to it. */
async function reflect(p: Pair, to: WireDatagram, datagrams: Buffer[]): Promise<number> {
  p.wire.dropAll();
  for (const data of datagrams) {
    p.wire.deliver({ from: to.from, to: to.to, data, natT: to.natT });
    await p.settle();
  }
  const back = p.wire.dropAll().filter((d) => d.to.address === to.from.address);
  return back.reduce((n, d) => n + d.data.length, 0);
}

test('half-open: IKE_SA_INIT look-alikes with the real SPIi get no cached response; the real retransmission does', async () => {
  const p = new Pair();
  await p.start();
  try {
    const bsSa = await p.initiate();
    const req = await p.next(); // IKE_SA_INIT request -->  (the gateway is half-open now)
    const resp = p.wire.queue[0]!.data;
    assert.ok(resp.length > 200, 'the cached response is the big one');
    const fakes: Buffer[] = [];
    for (let i = 0; i < 20; i++) fakes.push(headerOnly(req.data));
    fakes.push(altered(req.data, -1), altered(req.data, -9)); // decodable, one octet of notify data changed
    const sent = fakes.reduce((n, f) => n + f.length, 0);
    const back = await reflect(p, req, fakes);
    assert.equal(back, 0, `no bytes reflected for ${sent} sent`);
    assert.equal(p.gw.daemon.counters.retransmit_mismatch, fakes.length, 'each counted as not the request that was answered');
    assert.equal(p.gw.daemon.counters.retransmit_answered ?? 0, 0);
    // The initiator's own retransmission (the same datagram) is still answered, once per copy.
    assert.equal(await reflect(p, req, [req.data]), resp.length);
    assert.equal(p.gw.daemon.counters.retransmit_answered, 1);
    // And the exchange completes.
    await p.advance(1000);
    await p.run();
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
  } finally {
    await p.stop();
  }
});

test('protected exchanges: a header with the previous message ID, or an altered copy, draws no cached response', async () => {
  const p = new Pair();
  await p.start();
  try {
    await p.connect();
    const auth = p.wire.log.find((d) => {
      const r = decodeMessage(d.data);
      return r.ok && r.message.header.exchangeType === ExchangeType.IKE_AUTH && !(r.message.header.flags & HeaderFlag.RESPONSE);
    })!;
    const fakes = [headerOnly(auth.data), altered(auth.data, -1), altered(auth.data, -40)]; // ICV, ciphertext
    assert.equal(await reflect(p, auth, fakes), 0);
    assert.equal(p.gw.daemon.counters.retransmit_mismatch, fakes.length);
    // The genuine retransmission is answered with the cached IKE_AUTH response.
    assert.ok((await reflect(p, auth, [auth.data])) > 0);
    assert.equal(p.gw.daemon.counters.retransmit_answered, 1);
  } finally {
    await p.stop();
  }
});

test('unknown SPIs: a bare header draws no INVALID_IKE_SPI (it would be larger); a protected request still does', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa } = await p.connect();
    const auth = p.wire.log.find((d) => {
      const r = decodeMessage(d.data);
      return r.ok && r.message.header.exchangeType === ExchangeType.IKE_AUTH && !(r.message.header.flags & HeaderFlag.RESPONSE);
    })!;
    // The same datagrams with SPIs the gateway does not know (as after a gateway restart).
    const unknown = (b: Buffer) => {
      const c = Buffer.from(b);
      c.fill(0x5a, 8, 16); // SPIr
      return c;
    };
    const bare = Array.from({ length: 10 }, () => unknown(headerOnly(auth.data)));
    assert.equal(await reflect(p, auth, bare), 0);
    assert.ok((await reflect(p, auth, [unknown(auth.data)])) > 0, 'INVALID_IKE_SPI for a protected request (§2.21.4)');
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
  } finally {
    await p.stop();
  }
});

test('unprotected answers are never larger than the request: a bare IKE_SA_INIT header with version 3 gets no INVALID_MAJOR_VERSION', async () => {
  const p = new Pair();
  await p.start();
  try {
    await p.bs.daemon.initiate('bs');
    await p.settle();
    const init = p.wire.dropAll()[0]!;
    const bare = headerOnly(init.data);
    bare[17] = 0x30; // major version 3
    const sent = 20 * bare.length;
    assert.equal(await reflect(p, init, Array.from({ length: 20 }, () => bare)), 0, `nothing back for ${sent} octets`);
    assert.equal(p.gw.daemon.counters.answer_larger_than_request, 20);
    // The whole request with version 3 is still answered (RFC 7296 §2.5), with fewer octets.
    const v3 = Buffer.from(init.data);
    v3[17] = 0x30;
    const back = await reflect(p, init, [v3]);
    assert.ok(back > 0 && back <= v3.length);
  } finally {
    await p.stop();
  }
});
