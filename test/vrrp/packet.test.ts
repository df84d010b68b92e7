/** The VRRPv3 codec on raw bytes (RFC 9568 §5.2) and the §7.1 receive checks, each drop a reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAdvert, computeChecksum, decodeHeader, encodeAdvert, matchingForm, type ReceivedPacket } from '../../src/vrrp/packet.js';
import type { ChecksumForm } from '../../src/vrrp/constants.js';

const ENDS4 = { family: 4 as const, src: '203.0.113.1', dst: '224.0.0.18' };
const ENDS6 = { family: 6 as const, src: 'fe80::1', dst: 'ff02::12' };
const ADVERT = { vrid: 51, priority: 150, maxAdvertInterval: 100, addresses: ['203.0.113.10'] };
const ALL: ChecksumForm[] = ['rfc9568', 'pseudo-header', 'pseudo-header-group'];

// Version 3 | Type 1, VRID 51, Priority 150, Count 1 | rsvd 0, Max Adver Int 100 cs, Checksum | 203.0.113.10
// RFC 9568 checksum over the message alone, summed by hand:
// 0x3133 + 0x9601 + 0x0064 + 0xcb00 + 0x710a = 0x203a2 -> 0x03a4 -> ~ = 0xfc5b
const WIRE_V4 = Buffer.from('31339601' + '0064fc5b' + 'cb00710a', 'hex');

const rx = (data: Buffer, over: Partial<ReceivedPacket> = {}): ReceivedPacket => ({ ...ENDS4, ttl: 255, data, ...over });

test('IPv4 advert encodes to the RFC 9568 octets (checksum over the message alone)', () => {
  assert.deepEqual(encodeAdvert(ADVERT, ENDS4, 'rfc9568'), WIRE_V4);
});

test('IPv4 pseudo-header forms differ from RFC 9568 and from each other only for unicast', () => {
  const sum = (form: ChecksumForm, dst: string) => computeChecksum(WIRE_V4, { ...ENDS4, dst }, form);
  // By hand: pseudo-header adds src cb00+7101, dst e000+0012, 0x0070 (protocol), 0x000c (length).
  const extra = 0xcb00 + 0x7101 + 0xe000 + 0x0012 + 0x0070 + 0x000c;
  let s = 0x203a2 + extra;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  assert.equal(sum('pseudo-header', '224.0.0.18'), ~s & 0xffff);
  assert.equal(sum('pseudo-header-group', '224.0.0.18'), sum('pseudo-header', '224.0.0.18'));
  assert.notEqual(sum('pseudo-header', '203.0.113.2'), sum('pseudo-header-group', '203.0.113.2'));
  assert.equal(sum('pseudo-header-group', '203.0.113.2'), sum('pseudo-header', '224.0.0.18'));
  assert.notEqual(sum('rfc9568', '224.0.0.18'), sum('pseudo-header', '224.0.0.18'));
});

test('decodes the header fields by their RFC names', () => {
  assert.deepEqual(decodeHeader(WIRE_V4), {
    version: 3, type: 1, vrid: 51, priority: 150, count: 1, reserved: 0, maxAdvertInterval: 100, checksum: 0xfc5b,
  });
  const r = checkAdvert(rx(WIRE_V4), { vrid: 51, acceptChecksums: ['rfc9568'] });
  assert.ok(r.ok);
  assert.deepEqual(r.advert, ADVERT);
  assert.equal(r.checksumForm, 'rfc9568');
});

test('IPv6 advert: pseudo-header of RFC 8200 §8.1, addresses round-trip', () => {
  const a = { vrid: 7, priority: 200, maxAdvertInterval: 10, addresses: ['2001:db8::10', '2001:db8::11'] };
  const b = encodeAdvert(a, ENDS6, 'rfc9568');
  assert.equal(b.length, 8 + 32);
  // By hand: the pseudo-header sums src fe80+0001, dst ff02+0012, length 40, next header 112.
  const msg = Buffer.from(b);
  msg.writeUInt16BE(0, 6);
  let s = 0xfe80 + 0x0001 + 0xff02 + 0x0012 + 40 + 112;
  for (let i = 0; i < msg.length; i += 2) s += msg.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  assert.equal(b.readUInt16BE(6), ~s & 0xffff);
  const r = checkAdvert({ ...ENDS6, ttl: 255, data: b }, { vrid: 7, acceptChecksums: ['rfc9568'] });
  assert.ok(r.ok);
  assert.deepEqual(r.advert, a);
});

test('accepts a legacy checksum form only where configured, and names the form seen', () => {
  const legacy = encodeAdvert(ADVERT, ENDS4, 'pseudo-header');
  const strict = checkAdvert(rx(legacy), { vrid: 51, acceptChecksums: ['rfc9568'] });
  assert.equal(strict.ok, false);
  assert.ok(!strict.ok && strict.reason === 'checksum' && strict.seenForm === 'pseudo-header');
  const lenient = checkAdvert(rx(legacy), { vrid: 51, acceptChecksums: ['rfc9568', 'pseudo-header'] });
  assert.ok(lenient.ok && lenient.checksumForm === 'pseudo-header');
  // Old keepalived's unicast form: group address in the pseudo-header of a unicast advert.
  const uni = { ...ENDS4, dst: '203.0.113.2' };
  const old = encodeAdvert(ADVERT, uni, 'pseudo-header-group');
  assert.equal(matchingForm({ ...uni, data: old }, old.readUInt16BE(6)), 'pseudo-header-group');
  const r = checkAdvert({ ...uni, ttl: 255, data: old }, { vrid: 51, acceptChecksums: ['rfc9568', 'pseudo-header'] });
  assert.ok(!r.ok && r.reason === 'checksum' && r.seenForm === 'pseudo-header-group');
  assert.ok(checkAdvert({ ...uni, ttl: 255, data: old }, { vrid: 51, acceptChecksums: ['pseudo-header-group'] }).ok);
});

/** Each bad packet is dropped with its reason (RFC 9568 §7.1). */
const badCases: { name: string; p: ReceivedPacket; reason: string }[] = [
  { name: 'TTL 64 (not from the link)', p: rx(WIRE_V4, { ttl: 64 }), reason: 'ttl' },
  { name: 'TTL 254', p: rx(WIRE_V4, { ttl: 254 }), reason: 'ttl' },
  { name: 'empty', p: rx(Buffer.alloc(0)), reason: 'length' },
  { name: 'truncated header', p: rx(WIRE_V4.subarray(0, 7)), reason: 'length' },
  { name: 'truncated address', p: rx(WIRE_V4.subarray(0, 10)), reason: 'length' },
  { name: 'version 2', p: rx(patch(WIRE_V4, 0, 0x21)), reason: 'version' },
  { name: 'type 2', p: rx(patch(WIRE_V4, 0, 0x32)), reason: 'type' },
  { name: 'another VRID', p: rx(encodeAdvert({ ...ADVERT, vrid: 52 }, ENDS4, 'rfc9568')), reason: 'vrid' },
  { name: 'count 2, one address', p: rx(patch(WIRE_V4, 3, 2)), reason: 'address-count' },
  { name: 'count 0, one address', p: rx(patch(WIRE_V4, 3, 0)), reason: 'address-count' },
  { name: 'bad checksum', p: rx(patch(WIRE_V4, 7, 0x5c)), reason: 'checksum' },
  { name: 'zero interval', p: rx(encodeAdvert({ ...ADVERT, maxAdvertInterval: 0 }, ENDS4, 'rfc9568')), reason: 'interval' },
  { name: 'IPv4-sized address on IPv6', p: { ...ENDS6, ttl: 255, data: WIRE_V4 }, reason: 'length' },
];
for (const c of badCases) {
  test(`drops ${c.name}: reason ${c.reason}`, () => {
    const r = checkAdvert(c.p, { vrid: 51, acceptChecksums: ALL });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, c.reason);
    assert.ok(!r.ok && r.detail.length > 0);
  });
}

test('every mutation of a good advert is either accepted intact or dropped with a reason, never thrown', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(WIRE_V4);
    const cut = rand() < 0.2 ? Math.floor(rand() * b.length) : b.length;
    const m = b.subarray(0, cut);
    for (let k = 0; k < 1 + Math.floor(rand() * 3) && m.length; k++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
    const r = checkAdvert(rx(Buffer.from(m), { ttl: rand() < 0.1 ? 1 : 255 }), { vrid: 51, acceptChecksums: ALL });
    if (r.ok) assert.equal(computeChecksum(m, ENDS4, r.checksumForm), decodeHeader(m)!.checksum);
  }
});

function patch(b: Buffer, off: number, v: number): Buffer {
  const c = Buffer.from(b);
  c[off] = v;
  return c;
}

test('keepalived 2.2.7 adverts captured in a namespace: pseudo-header form, decoded field by field', async () => {
  const { readFrames } = await import('../support/pcap.js');
  const frames = readFrames(new URL('../fixtures/vrrp/keepalived-2.2.7-v3-ipv4.pcap', import.meta.url).pathname);
  assert.ok(frames.length >= 3);
  const packets = frames.map(({ data }) => {
    assert.equal(data.readUInt16BE(12), 0x0800);
    const ip = data.subarray(14);
    const ihl = (ip[0] & 0x0f) * 4;
    assert.equal(ip[9], 112);
    return { family: 4 as const, ttl: ip[8], src: `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`, dst: `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`, data: ip.subarray(ihl, ip.readUInt16BE(2)) };
  });
  for (const p of packets) {
    // keepalived's default is the RFC 5798 reading: refused as RFC 9568, accepted as pseudo-header.
    const strict = checkAdvert(p, { vrid: 51, acceptChecksums: ['rfc9568'] });
    assert.ok(!strict.ok && strict.reason === 'checksum' && strict.seenForm === 'pseudo-header');
    const r = checkAdvert(p, { vrid: 51, acceptChecksums: ['pseudo-header'] });
    assert.ok(r.ok);
    assert.equal(p.src, '203.0.113.1');
    assert.deepEqual(r.advert.addresses, ['203.0.113.10']);
    assert.equal(r.advert.maxAdvertInterval, 100);
    // Re-encoding the decoded advert in the same form gives keepalived's octets back.
    assert.deepEqual(encodeAdvert(r.advert, p, 'pseudo-header'), p.data);
  }
  assert.deepEqual(packets.map((p) => p.data[2]), [...Array(packets.length - 1).fill(150), 0], 'adverts at 150, then the resignation');
});
