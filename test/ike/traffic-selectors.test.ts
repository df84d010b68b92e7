import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTs, narrowTs, tsSubset, tsToString, tsFromWire, tsToWire, intersectTs } from '../../src/ike/traffic-selectors.js';
import { bytesToIp as bytesToAddr, ipToBytes as addrToBytes } from '../../src/net/ip.js';

test('config selectors parse to ranges, ports and protocols', () => {
  assert.deepEqual(parseTs('10.1.2.0/24'), { family: 4, protocol: 0, startAddr: '10.1.2.0', endAddr: '10.1.2.255', startPort: 0, endPort: 65535 });
  assert.deepEqual(parseTs('192.0.2.0/25[tcp/443]'), { family: 4, protocol: 6, startAddr: '192.0.2.0', endAddr: '192.0.2.127', startPort: 443, endPort: 443 });
  assert.equal(parseTs('2001:db8::/32').endAddr, '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff');
  assert.equal(parseTs('dynamic', '198.51.100.9').startAddr, '198.51.100.9');
  assert.throws(() => parseTs('10.0.0.0/33'));
  assert.equal(tsToString(parseTs('10.1.2.0/24')), '10.1.2.0/24');
});

test('addresses round-trip through bytes, IPv6 compressed per RFC 5952', () => {
  for (const a of ['192.0.2.1', '2001:db8::1', '::', '2001:db8:0:1:0:0:0:1', '::ffff:192.0.2.1']) {
    const back = bytesToAddr(addrToBytes(a));
    assert.ok(addrToBytes(back).equals(addrToBytes(a)), a);
  }
  assert.equal(bytesToAddr(addrToBytes('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
});

test('narrowing (RFC 7296 §2.9): the intersection in our configured order; empty when disjoint', () => {
  const ours = [parseTs('198.51.100.0/24'), parseTs('10.0.0.0/8')];
  const theirs = [parseTs('0.0.0.0/0')];
  assert.deepEqual(narrowTs(ours, theirs).map(tsToString), ['198.51.100.0/24', '10.0.0.0/8']);
  assert.deepEqual(narrowTs([parseTs('198.51.100.0/24')], [parseTs('198.51.100.128/25[udp]')]).map(tsToString), ['198.51.100.128/25[17]']);
  assert.deepEqual(narrowTs([parseTs('203.0.113.0/24')], [parseTs('198.51.100.0/24')]), []);
  assert.equal(intersectTs(parseTs('10.0.0.0/8'), parseTs('2001:db8::/32')), undefined);
  assert.ok(tsSubset([parseTs('198.51.100.0/25')], [parseTs('198.51.100.0/24')]));
  assert.ok(!tsSubset([parseTs('198.51.100.0/23')], [parseTs('198.51.100.0/24')]));
});

test('wire form round-trips; unknown TS types are skipped', () => {
  const ts = parseTs('2001:db8:1::/48[tcp/80-90]');
  assert.deepEqual(tsFromWire(tsToWire(ts)), ts);
  assert.equal(tsFromWire({ ...tsToWire(ts), tsType: 9 }), undefined);
  assert.equal(tsFromWire({ ...tsToWire(ts), startAddr: Buffer.alloc(4) }), undefined);
});
