import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesToIp,
  ipToBytes,
  parseCidr,
  portRangeToMasks,
  prefixRange,
  rangeToPrefixes,
  addrToBigInt,
  bigIntToAddr,
  formatIPv4,
  parseIPv4,
  writeIp,
} from '../../src/net/ip.js';
import { isIPv4 } from 'node:net';

test('addresses: text <-> octets, IPv6 printed per RFC 5952', () => {
  assert.deepEqual([...ipToBytes('192.0.2.1')], [192, 0, 2, 1]);
  assert.equal(ipToBytes('2001:db8::1').toString('hex'), '20010db8000000000000000000000001');
  assert.equal(ipToBytes('::ffff:192.0.2.1').toString('hex'), '00000000000000000000ffffc0000201');
  // RFC 5952 §4: lower case, the longest run compressed, the first of equal runs, no single-group "::"
  assert.equal(bytesToIp(ipToBytes('2001:DB8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
  assert.equal(bytesToIp(ipToBytes('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1');
  assert.equal(bytesToIp(ipToBytes('::')), '::');
  assert.equal(bytesToIp(ipToBytes('198.51.100.200')), '198.51.100.200');
  assert.equal(bigIntToAddr(addrToBigInt('2001:db8::ff'), 6), '2001:db8::ff');
  assert.throws(() => ipToBytes('192.0.2.300'), TypeError);
});

test('ranges become the fewest aligned prefixes that cover them exactly', () => {
  const f = (a: string, b: string) => rangeToPrefixes(a, b).map((p) => `${p.addr}/${p.len}`);
  assert.deepEqual(f('192.0.2.0', '192.0.2.255'), ['192.0.2.0/24']);
  assert.deepEqual(f('192.0.2.1', '192.0.2.6'), ['192.0.2.1/32', '192.0.2.2/31', '192.0.2.4/31', '192.0.2.6/32']);
  assert.deepEqual(f('0.0.0.0', '255.255.255.255'), ['0.0.0.0/0']);
  assert.deepEqual(f('2001:db8::', '2001:db8::ffff:ffff:ffff:ffff'), ['2001:db8::/64']);
  assert.deepEqual(f('2001:db8::1', '2001:db8::2'), ['2001:db8::1/128', '2001:db8::2/128']);
  assert.throws(() => rangeToPrefixes('192.0.2.9', '192.0.2.1'), RangeError);
  assert.throws(() => rangeToPrefixes('192.0.2.1', '2001:db8::1'), RangeError);
});

test('prefixes: host bits cleared, first and last address', () => {
  assert.deepEqual(parseCidr('192.0.2.77/25'), { family: 4, addr: '192.0.2.0', len: 25 });
  assert.deepEqual(parseCidr('2001:db8::77/64'), { family: 6, addr: '2001:db8::', len: 64 });
  assert.deepEqual(prefixRange(parseCidr('192.0.2.128/25')), { start: '192.0.2.128', end: '192.0.2.255' });
  assert.throws(() => parseCidr('192.0.2.0/33'), RangeError);
});

test('port ranges become XFRM port/mask pairs', () => {
  assert.deepEqual(portRangeToMasks(0, 65535), [{ port: 0, mask: 0 }]);
  assert.deepEqual(portRangeToMasks(80, 80), [{ port: 80, mask: 0xffff }]);
  assert.deepEqual(portRangeToMasks(1024, 2047), [{ port: 1024, mask: 0xfc00 }]);
});

test('IPv4 text <-> number: exactly the dotted quads node:net accepts, without split or regex', () => {
  assert.equal(parseIPv4('192.0.2.1'), 0xc0000201);
  assert.equal(parseIPv4('255.255.255.255'), 2 ** 32 - 1);
  assert.equal(parseIPv4('0.0.0.0'), 0);
  assert.equal(formatIPv4(0xc6336401), '198.51.100.1');
  const tricky = ['1.2.3.4', '01.2.3.4', '1.2.3.04', '1.2.3.0', '1.2.3', '1.2.3.4.', '.1.2.3', '1..2.3', '256.1.1.1',
    '1.2.3.255', '1.2.3.256', '1.2.3.4 ', ' 1.2.3.4', '1e2.2.3.4', '1.2.3.+4', '2001:db8::1', '', '1.2.3.4/24', '00.0.0.0'];
  for (const t of tricky) assert.equal(parseIPv4(t) >= 0, isIPv4(t), t);
  for (let i = 0; i < 2000; i++) {
    const t = [0, 1, 2, 3].map(() => String(Math.floor(Math.random() * 300))).join('.');
    assert.equal(parseIPv4(t) >= 0, isIPv4(t), t);
    if (isIPv4(t)) assert.equal(formatIPv4(parseIPv4(t)), t);
  }
  const out = Buffer.alloc(20);
  assert.equal(writeIp('192.0.2.1', out, 0), 4);
  assert.equal(writeIp('2001:db8::1', out, 4), 16);
  assert.equal(out.toString('hex'), 'c000020120010db8000000000000000000000001');
});
