/**
 * The load report's wire format on raw octets: fields at their declared offsets, the MAC over
 * everything before it, and every defect (truncated, wrong magic, version, length, MAC, body)
 * answered with a reason rather than an exception.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ClusterKey } from '../../src/cluster/key.js';
import { decodeReport, encodeReport, MIN_REPORT_OCTETS } from '../../src/cluster/report.js';
import { sample } from './fixtures.js';

const KEY = new ClusterKey(Buffer.alloc(32, 0x5a));
const OTHER_KEY = new ClusterKey(Buffer.alloc(32, 0xa5));


test('a report round-trips; the fields sit at the declared offsets; the MAC is HMAC-SHA256 over the rest', () => {
  const r = sample({ draining: true, leaving: true, role: 'master', address: 'gw2.segw.example' });
  const b = encodeReport(r, KEY);
  assert.equal(b.length, 59 + 1 + 3 + 1 + 16 + 32);
  assert.equal(b.toString('ascii', 0, 4), 'SGLR');
  assert.equal(b[4], 1); // version
  assert.equal(b[5], 0x03); // DRAINING | LEAVING
  assert.equal(b.readUInt16BE(6), b.length);
  assert.equal(b.readBigUInt64BE(8), r.epoch);
  assert.equal(b.readBigUInt64BE(16), 7n);
  assert.equal(b.readUInt32BE(24), 1000);
  assert.equal(b[28], 3); // master
  assert.equal(b.readUInt32BE(29), 1234);
  assert.equal(b.readUInt32BE(33), 2468);
  assert.equal(b.readBigUInt64BE(37), 12_500_000n);
  assert.equal(b.readUInt16BE(45), 375);
  assert.equal(b.readUInt32BE(47), 20000);
  assert.equal(b.readBigUInt64BE(51), 2_000_000_000n);
  assert.equal(b[59], 3);
  assert.equal(b.toString('ascii', 60, 63), 'gw2');
  assert.equal(b[63], 16);
  assert.equal(b.toString('ascii', 64, 80), 'gw2.segw.example');
  const mac = createHmac('sha256', Buffer.alloc(32, 0x5a)).update(b.subarray(0, 80)).digest();
  assert.deepEqual(b.subarray(80), mac);
  assert.deepEqual(decodeReport(b, KEY), { ok: true, report: r });
});

test('IPv6 and FQDN redirect targets, and an idle member, decode as sent', () => {
  for (const r of [sample({ address: '2001:db8::12' }), sample({ address: 'gw-2.example.', load: { tunnels: 0, childSas: 0, bytesPerSec: 0, cpu: 0 } })]) {
    assert.deepEqual(decodeReport(encodeReport(r, KEY), KEY), { ok: true, report: r });
  }
});

/** Re-signs a modified datagram, as a member with the key (a buggy or newer one) would. */
function resign(b: Buffer): Buffer {
  const body = b.subarray(0, b.length - 32);
  return Buffer.concat([body, KEY.mac(body)]);
}

test('every defect is a reason, never an exception', () => {
  const good = encodeReport(sample(), KEY);
  const set = (off: number, v: number) => {
    const c = Buffer.from(good);
    c[off] = v;
    return c;
  };
  const cases: [string, Buffer, string][] = [
    ['empty', Buffer.alloc(0), 'truncated'],
    ['one octet short of the minimum', good.subarray(0, MIN_REPORT_OCTETS - 1), 'truncated'],
    ['cut before the MAC ends', good.subarray(0, good.length - 1), 'truncated'],
    ['header only', good.subarray(0, 8), 'truncated'],
    ['wrong magic', set(0, 0x00), 'bad-magic'],
    ['version 2', set(4, 2), 'bad-version'],
    ['trailing octet', Buffer.concat([good, Buffer.from([0])]), 'bad-length'],
    ['Length larger than the datagram', (() => { const c = Buffer.from(good); c.writeUInt16BE(good.length + 4, 6); return c; })(), 'truncated'],
    ['forged: load changed, MAC kept', (() => { const c = Buffer.from(good); c.writeUInt32BE(1, 29); return c; })(), 'bad-mac'],
    ['forged: draining flag set, MAC kept', set(5, 0x01), 'bad-mac'],
    ['MAC flipped', set(good.length - 1, good[good.length - 1]! ^ 1), 'bad-mac'],
    ['wrong key', encodeReport(sample(), OTHER_KEY), 'bad-mac'],
    ['unknown role', resign(set(28, 9)), 'malformed'],
    ['CPU over 1000 per mille', resign((() => { const c = Buffer.from(good); c.writeUInt16BE(1001, 45); return c; })()), 'malformed'],
    ['sequence 0', resign((() => { const c = Buffer.from(good); c.writeBigUInt64BE(0n, 16); return c; })()), 'malformed'],
    ['node id length past the end', resign(set(59, 200)), 'malformed'],
    ['node id with a space', resign(set(61, 0x20)), 'malformed'],
  ];
  for (const [what, buf, reason] of cases) {
    assert.deepEqual(decodeReport(buf, KEY), { ok: false, reason }, what);
  }
});

test('random octets and every truncation of a report are rejected without throwing', () => {
  const good = encodeReport(sample(), KEY);
  for (let n = 0; n < good.length; n++) assert.equal(decodeReport(good.subarray(0, n), KEY).ok, false, `${n} octets`);
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 500; i++) {
    const b = Buffer.from(good);
    for (let j = 0; j < 3; j++) b[rnd() % b.length] = rnd();
    const d = decodeReport(b, KEY);
    if (!b.equals(good)) assert.equal(d.ok, false);
  }
});
