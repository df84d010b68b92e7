/** The new master's announcements on raw bytes: gratuitous ARP (RFC 5227 §3) and unsolicited NA (RFC 4861 §4.4). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gratuitousArp, unsolicitedNa } from '../../../src/kernel/raw/announce.js';

test('gratuitous ARP: a broadcast request whose sender and target are the VIP', () => {
  const hex = [
    'ffffffffffff', '020000000001', '0806', // Ethernet: broadcast, from the MAC, ARP
    '0001', '0800', '06', '04', '0001', // Ethernet/IPv4, request
    '020000000001', 'cb00710a', // sender MAC, sender = VIP
    '000000000000', 'cb00710a', // target MAC unknown, target = VIP
    '00'.repeat(18), // padding to 60 octets
  ].join('');
  assert.equal(gratuitousArp('203.0.113.10', '02:00:00:00:00:01').toString('hex'), hex);
});

test('unsolicited Neighbor Advertisement: R and O set, S clear, the target link-layer option', () => {
  const hex = [
    '88', '00', '0000', // type 136, code 0, checksum (the kernel fills it)
    'a0000000', // R=1 S=0 O=1
    '20010db8000000000000000000000010', // target 2001:db8::10
    '02', '01', '020000000001', // option 2, 8 octets, the MAC
  ].join('');
  assert.equal(unsolicitedNa('2001:db8::10', '02:00:00:00:00:01').toString('hex'), hex);
});

test('a malformed MAC is refused', () => {
  assert.throws(() => gratuitousArp('203.0.113.10', '02:00:00'), /not a MAC/);
});
