// Malformed and hostile ESP packets: each is dropped with its reason and counted on its SA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { bareEngine, gcmSa, icmpEcho, pair, ts, udp6 } from '../support/esp-fixtures.js';

const KEY = Buffer.alloc(20, 9);

/** A GCM ESP packet with an arbitrary (possibly invalid) plaintext trailer, sealed by node:crypto. */
function forge(spi: number, seq: number, plain: Buffer): Buffer {
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32BE(spi, 0);
  hdr.writeUInt32BE(seq, 4);
  hdr.writeUInt32BE(seq, 12);
  const c = createCipheriv('aes-128-gcm', KEY.subarray(0, 16), Buffer.concat([KEY.subarray(16), hdr.subarray(8)]));
  c.setAAD(hdr.subarray(0, 8));
  return Buffer.concat([hdr, c.update(plain), c.final(), c.getAuthTag()]);
}

test('truncated, bad ICV, bad padding, bad next header, bad inner packet, outside the selectors, dummy', () => {
  const e = bareEngine();
  try {
    const spi = 0x2001;
    const p = pair(e, gcmSa({ spi, encryptionKey: KEY, localTs: [ts('192.0.2.0/25')], remoteTs: [ts('192.0.2.128/25')] }));
    const inner = icmpEcho('192.0.2.1', '192.0.2.129');
    const good = e.espSeal(p.out, inner, 4).packet!;
    const trailer = (pad: number[], nh: number) => Buffer.from([...pad, pad.length, nh]);
    const cases: [string, Buffer][] = [
      ['truncated', good.subarray(0, 20)],
      ['integrity', Buffer.concat([good.subarray(0, 30), Buffer.from([good[30] ^ 1]), good.subarray(31)])],
      ['bad-padding', forge(spi, 10, Buffer.concat([inner, trailer([1, 3], 4)]))],
      ['bad-padding', forge(spi, 11, Buffer.concat([Buffer.alloc(2), Buffer.from([9, 4])]))],
      ['bad-next-header', forge(spi, 12, Buffer.concat([inner, trailer([1, 2], 17)]))],
      ['bad-inner', forge(spi, 13, Buffer.concat([inner, trailer([1, 2], 41)]))],
      ['bad-inner', forge(spi, 14, Buffer.concat([inner.subarray(0, 10), trailer([], 4)]))],
      ['policy-mismatch', forge(spi, 15, Buffer.concat([icmpEcho('203.0.113.1', '192.0.2.129'), trailer([1, 2], 4)]))],
      ['dummy', forge(spi, 16, Buffer.concat([Buffer.alloc(6), trailer([], 59)]))],
    ];
    for (const [want, pkt] of cases) assert.equal(e.decapsulate(pkt).verdict, want, want);
    // TFC padding after the inner packet (RFC 4303 §2.4) is trimmed, the packet passes.
    const tfc = e.decapsulate(forge(spi, 17, Buffer.concat([inner, Buffer.alloc(30), trailer([1, 2], 4)])));
    assert.equal(tfc.verdict, 'ok');
    assert.deepEqual(tfc.inner, inner);
    assert.equal(e.decapsulate(good).verdict, 'ok');
    const c = e.readCounters(Uint32Array.from([p.in]));
    assert.deepEqual([c[0], c[2], c[3], c[4]], [2n, 0n, 1n, 7n], 'packets, replay, integrity, errors');
    const s = e.stats();
    assert.equal(s.in.dummy, 1);
    assert.equal(s.in['bad-padding'], 2);
    assert.equal(e.decapsulate(Buffer.from('0000beef00000001', 'hex')).verdict, 'no-sa');
  } finally {
    e.close();
  }
});

test('outbound: policy lookup by inner destination, newest SA of a reqid sends (make-before-break)', () => {
  const e = bareEngine();
  try {
    const sel = (c: string) => ts(c);
    const base = { encryptionKey: KEY, localTs: [sel('192.0.2.0/25')], remoteTs: [sel('192.0.2.128/25')] };
    const old = pair(e, gcmSa({ spi: 0x3001, reqid: 7, ...base }));
    const prefixes = [{ address: '192.0.2.128', length: 25 }];
    e.addPolicy({ src: sel('192.0.2.0/25'), dst: sel('192.0.2.128/25'), priority: 100, reqid: 7, prefixes });
    const pkt = icmpEcho('192.0.2.1', '192.0.2.130');
    assert.equal(e.encapsulate(pkt).sa, old.out);
    assert.equal(e.encapsulate(icmpEcho('192.0.2.1', '198.51.100.9')).verdict, 'no-policy');
    // Rekey: the new pair is added, outbound switches at once, the old inbound SA still decrypts.
    const fresh = pair(e, gcmSa({ spi: 0x3002, reqid: 7, ...base }));
    const inFlight = e.espSeal(old.out, pkt, 4).packet!;
    const r = e.encapsulate(pkt);
    assert.equal(r.sa, fresh.out);
    assert.equal(e.decapsulate(r.packet!).sa, fresh.in);
    assert.equal(e.decapsulate(inFlight).verdict, 'ok');
    e.removeSa(old.out);
    e.removeSa(old.in);
    assert.equal(e.decapsulate(inFlight).verdict, 'no-sa');
    assert.equal(e.encapsulate(pkt).sa, fresh.out);
    e.removeSa(fresh.out);
    assert.equal(e.encapsulate(pkt).verdict, 'no-policy', 'no SA left for the reqid');
  } finally {
    e.close();
  }
});

test('100k SAs and 100k policies: added, found by SPI and by policy, removed', () => {
  const e = bareEngine();
  try {
    const n = 100_000;
    const net = (i: number) => `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::`;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(e.addSa(gcmSa({ spi: 0x10000 + i, direction: 'in', encryptionKey: KEY })));
      e.addPolicy({ src: ts('2001:db8:ffff::/48'), dst: ts(`${net(i)}/64`), priority: 10, reqid: 1000 + i,
        prefixes: [{ address: net(i), length: 64 }] });
      if (i % 2 === 0) e.addSa(gcmSa({ spi: 0x10000 + i, direction: 'out', reqid: 1000 + i, encryptionKey: KEY }));
    }
    assert.equal(e.stats().sas, n + n / 2);
    const r = e.encapsulate(udp6('2001:db8:ffff::1', `${net(77776)}9`));
    assert.equal(r.verdict, 'ok');
    assert.equal(e.encapsulate(udp6('2001:db8:ffff::1', `${net(77777)}9`)).verdict, 'no-policy', 'odd i has no SA');
    assert.equal(e.encapsulate(udp6('2001:db8:ffff::1', '2001:db8:fff0::9')).verdict, 'no-policy');
    const back = () => e.decapsulate(e.espSeal(r.sa!, udp6(`${net(77776)}9`, '2001:db8:ffff::1'), 41).packet!);
    assert.equal(back().sa, ids[77776], 'the inbound SA with the same SPI, found by SPI among 100k');
    for (const id of ids) assert.ok(e.removeSa(id));
    assert.equal(back().verdict, 'no-sa');
  } finally {
    e.close();
  }
});
