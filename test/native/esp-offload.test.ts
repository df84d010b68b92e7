// Receive-side TCP coalescing (native/src/esp/offload.cc, the userspace counterpart of GRO):
// decrypted segments of one flow are merged into one super-packet whose checksum the kernel
// completes (CHECKSUM_PARTIAL), so a segment may only join after its own checksum verified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { espTest } from '../support/esp-fixtures.js';

const VNET_NEEDS_CSUM = 1, VNET_DATA_VALID = 2, GSO_TCPV4 = 1;

function sum16(b: Buffer, s = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length % 2) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** An IPv4 TCP segment (ACK) of 192.0.2.129:5001 -> 192.0.2.1:443 with complete checksums. */
function tcpSegment(seq: number, payload: Buffer): Buffer {
  const tcp = Buffer.alloc(20 + payload.length);
  tcp.writeUInt16BE(5001, 0);
  tcp.writeUInt16BE(443, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(1, 8);
  tcp[12] = 5 << 4;
  tcp[13] = 0x10; // ACK
  tcp.writeUInt16BE(65535, 14);
  payload.copy(tcp, 20);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcp.length, 2);
  ip[6] = 0x40; // DF
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from([192, 0, 2, 129]).copy(ip, 12);
  Buffer.from([192, 0, 2, 1]).copy(ip, 16);
  ip.writeUInt16BE(~sum16(ip) & 0xffff, 10);
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 6, tcp.length >> 8, tcp.length & 0xff])]);
  tcp.writeUInt16BE(~sum16(tcp, sum16(pseudo)) & 0xffff, 16);
  return Buffer.concat([ip, tcp]);
}

const MSS = 1000;
const flow = (n: number) => Array.from({ length: n }, (_, i) => tcpSegment(1000 + i * MSS, Buffer.alloc(MSS, 0x61 + i)));

test('in-order segments of one flow with valid checksums become one super-packet', () => {
  const writes = espTest().coalesce(flow(3));
  assert.equal(writes.length, 1);
  assert.equal(writes[0].merged, 3);
  assert.equal(writes[0].flags, VNET_NEEDS_CSUM);
  assert.equal(writes[0].gsoType, GSO_TCPV4);
  assert.equal(writes[0].gsoSize, MSS);
  assert.equal(writes[0].packet.length, 40 + 3 * MSS);
});

test('a segment corrupted at its origin is not merged: it is written alone with its bad checksum', () => {
  const segs = flow(3);
  const bad = Buffer.from(segs[1]);
  bad[40 + 100] ^= 0x01; // one payload bit flipped before encryption: the ICV still verifies
  const writes = espTest().coalesce([segs[0], bad, segs[2]]);
  // No write may carry the corrupted bytes under a checksum the kernel will take as valid.
  const carrying = writes.filter((w) => w.packet.includes(bad.subarray(40, 40 + MSS)));
  assert.equal(carrying.length, 1, 'the corrupted payload is written exactly once');
  const w = carrying[0];
  assert.equal(w.merged, 1, 'not coalesced with its neighbours');
  assert.equal(w.flags & (VNET_DATA_VALID | VNET_NEEDS_CSUM), 0, 'neither marked valid nor given a fresh checksum');
  assert.deepEqual(w.packet, bad, 'delivered byte for byte, its bad checksum intact, for the TCP stack to drop');
  assert.deepEqual(writes.map((x) => x.merged), [1, 1, 1]);
  assert.equal(writes[0].flags, VNET_DATA_VALID, 'a good segment alone is still marked verified');
});

test('a segment with a corrupted checksum field is not merged either', () => {
  const segs = flow(2);
  const bad = Buffer.from(segs[1]);
  bad.writeUInt16BE(bad.readUInt16BE(36) ^ 0x0100, 36);
  const writes = espTest().coalesce([segs[0], bad]);
  assert.deepEqual(writes.map((x) => x.merged), [1, 1]);
  assert.deepEqual(writes[1].packet, bad);
  assert.equal(writes[1].flags, 0);
});

// The send side: a TUN read of a TCP super-packet (TSO) is cut into segments below the MSS the
// virtio-net header names. The header comes from the kernel, but the engine must not trust its
// layout: a csum_start inside the IP header, or a GSO type naming the other IP version, made
// the segmenter read past the segment (test/fuzz/findings/esp_outbound-vnet-csum-start-inside-ip-header.bin).
const GSO_TCPV6 = 4;

function vnetRead(gsoType: number, gsoSize: number, csumStart: number, pkt: Buffer): Buffer {
  const h = Buffer.alloc(10);
  h[0] = VNET_NEEDS_CSUM;
  h[1] = gsoType;
  h.writeUInt16LE(40, 2);
  h.writeUInt16LE(gsoSize, 4);
  h.writeUInt16LE(csumStart, 6);
  h.writeUInt16LE(16, 8);
  return Buffer.concat([h, pkt]);
}

test('a TSO super-packet is cut into MSS-sized segments, each with complete IP and TCP checksums', () => {
  const superPacket = tcpSegment(5000, Buffer.alloc(3 * MSS - 10, 0x7a));
  const { headerLen, packets } = espTest().segment(vnetRead(GSO_TCPV4, MSS, 20, superPacket));
  assert.equal(headerLen, 40);
  assert.deepEqual(packets.map((p) => p.length), [40 + MSS, 40 + MSS, 40 + MSS - 10]);
  packets.forEach((p, i) => {
    assert.equal(p.readUInt16BE(2), p.length, 'IPv4 total length');
    assert.equal(sum16(p.subarray(0, 20)), 0xffff, 'IPv4 header checksum');
    assert.equal(p.readUInt32BE(24), 5000 + i * MSS, 'TCP sequence number');
    const pseudo = Buffer.concat([p.subarray(12, 20), Buffer.from([0, 6, (p.length - 20) >> 8, (p.length - 20) & 0xff])]);
    assert.equal(sum16(p.subarray(20), sum16(pseudo)), 0xffff, 'TCP checksum');
  });
});

test('a virtio-net header whose layout does not fit the packet is refused, not trusted', () => {
  const superPacket = tcpSegment(5000, Buffer.alloc(3 * MSS, 0x7a));
  const refused = (read: Buffer, why: string) => assert.deepEqual(espTest().segment(read), { headerLen: 0, packets: [] }, why);
  refused(vnetRead(GSO_TCPV4, MSS, 7, superPacket), 'csum_start inside the IPv4 header');
  refused(vnetRead(GSO_TCPV4, MSS, 19, superPacket), 'csum_start one byte short of the IPv4 header');
  refused(vnetRead(GSO_TCPV6, MSS, 20, superPacket), 'GSO type TCPv6 on an IPv4 packet');
  refused(vnetRead(GSO_TCPV4, 0, 20, superPacket), 'GSO size 0');
  const noTcpHeaderLength = Buffer.from(superPacket);
  noTcpHeaderLength[32] = 0x10; // data offset 1 word: shorter than a TCP header
  refused(vnetRead(GSO_TCPV4, MSS, 20, noTcpHeaderLength), 'TCP data offset below 5 words');
  // The fuzzer's finding: GSO TCPv4 with csum_start 7 on an IPv6 packet.
  const finding = readFileSync(new URL('../fuzz/findings/esp_outbound-vnet-csum-start-inside-ip-header.bin', import.meta.url));
  refused(finding.subarray(1), 'the fuzzer finding (byte 0 is the target\'s SA choice)');
});
