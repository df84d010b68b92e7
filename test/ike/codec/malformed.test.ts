/**
 * Bad input never throws and comes back as the right error value: truncated, oversized,
 * wrong-length, garbage and bit-flipped messages (bounded loops over mutations of the real
 * captured messages), unknown payloads, other major versions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodecErrorCode, decodeMessage, encodeMessage, type DecodeResult } from '../../../src/ike/codec/index.js';
import { ExchangeType, NotifyError, PayloadType } from '../../../src/ike/constants.js';
import type { Payload } from '../../../src/ike/codec/types.js';
import { CAPTURES, ikeMessages } from './captures.js';
import { everyPayload, header } from './samples.js';

const CODES = new Set<string>(Object.values(CodecErrorCode));
/** §2.5 / §3.10.1: outside a verified SK payload only these are ever answered. */
const ANSWERED = new Set<string>([CodecErrorCode.INVALID_MAJOR_VERSION, CodecErrorCode.UNSUPPORTED_CRITICAL_PAYLOAD]);

/** Decodes, asserting the result is well-formed whatever the input. */
function decode(buf: Buffer): DecodeResult {
  const r = decodeMessage(buf);
  if (r.ok) {
    // Whatever decoded must encode, and the encoding must decode to the same message.
    const again = decodeMessage(encodeMessage(r.message));
    assert.ok(again.ok);
    assert.deepEqual(again.message, r.message);
  } else {
    assert.ok(CODES.has(r.error.code), r.error.code);
    assert.equal(typeof r.error.detail, 'string');
    assert.equal(r.error.notify !== undefined, ANSWERED.has(r.error.code), `${r.error.code}: notify only where the RFC answers`);
  }
  return r;
}

function expectError(buf: Buffer, code: string, detail?: RegExp): void {
  const r = decode(buf);
  assert.ok(!r.ok, `expected ${code}`);
  assert.equal(r.error.code, code, r.error.detail);
  if (detail) assert.match(r.error.detail, detail);
}

const real = CAPTURES.flatMap((c) => ikeMessages(c));
const initRequest = real[0].bytes;

test('every truncation of every captured message is dropped: TRUNCATED below the header, LENGTH_MISMATCH above', () => {
  for (const m of real) {
    for (let len = 0; len < m.bytes.length; len++) {
      expectError(m.bytes.subarray(0, len), len < 28 ? CodecErrorCode.TRUNCATED : CodecErrorCode.LENGTH_MISMATCH);
    }
  }
});

test('datagram longer than the header Length, and messages over the size limit, are dropped', () => {
  expectError(Buffer.concat([initRequest, Buffer.alloc(1)]), CodecErrorCode.LENGTH_MISMATCH);
  const r = decodeMessage(initRequest, { maxMessageSize: initRequest.length - 1 });
  assert.ok(!r.ok && r.error.code === CodecErrorCode.TOO_LARGE && r.error.notify === undefined);
  const half: Payload = { type: PayloadType.VENDOR_ID, data: Buffer.alloc(33000) };
  const big = encodeMessage({ header: header(), payloads: [half, half] });
  expectError(big, CodecErrorCode.TOO_LARGE);
});

test('header Length smaller than the datagram, or below 28, is dropped', () => {
  for (const len of [0, 27, 28, initRequest.length - 1]) {
    const b = Buffer.from(initRequest);
    b.writeUInt32BE(len, 24);
    expectError(b, CodecErrorCode.LENGTH_MISMATCH);
  }
});

/** Encodes payloads into an IKE_SA_INIT request and lets `mutate` damage the octets. */
function damaged(payloads: Payload[], mutate: (b: Buffer) => void): Buffer {
  const b = Buffer.from(encodeMessage({ header: header(), payloads }));
  mutate(b);
  return b;
}

test('generic payload lengths below 4 or past the message are dropped', () => {
  const payloads = everyPayload().slice(1, 3); // KE, Nonce
  for (const len of [0, 1, 3]) expectError(damaged(payloads, (b) => b.writeUInt16BE(len, 30)), CodecErrorCode.BAD_PAYLOAD_LENGTH);
  expectError(damaged(payloads, (b) => b.writeUInt16BE(b.length, 30)), CodecErrorCode.BAD_PAYLOAD_LENGTH);
  // Shorter than the body's fixed part (KE needs 4 octets after the generic header).
  expectError(damaged(payloads, (b) => b.writeUInt16BE(6, 30)), CodecErrorCode.MALFORMED_PAYLOAD, /KE/);
  // A chain that says more follows but the message ends.
  expectError(damaged(payloads.slice(1), (b) => (b[28] = PayloadType.NOTIFY)), CodecErrorCode.TRUNCATED);
  // A chain that ends before the message does.
  expectError(damaged(payloads, (b) => (b[28] = PayloadType.NONE)), CodecErrorCode.TRAILING_DATA);
});

test('SA substructure lengths, counts and Last Substruc markers are validated', () => {
  const sa = [everyPayload()[0]];
  // Layout: SA header at 28, proposal 1 at 32 (length at 34, SPI size at 38, count at 39),
  // its first transform at 40 (length at 42), that transform's KEY_LENGTH at 48.
  const cases: [string, (b: Buffer) => void, RegExp][] = [
    ['proposal length too small', (b) => b.writeUInt16BE(7, 34), /Proposal #1/],
    ['proposal length past the SA', (b) => b.writeUInt16BE(500, 34), /Proposal #1/],
    ['one transform too many', (b) => (b[39] += 1), /Proposal #1/],
    ['one transform too few', (b) => (b[39] -= 1), /Transform #4: says more but is last/],
    ['SPI size past the proposal', (b) => (b[38] = 200), /spi/],
    ['transform length below 8', (b) => b.writeUInt16BE(4, 42), /Transform #1/],
    ['transform length past the proposal', (b) => b.writeUInt16BE(400, 42), /Transform #1/],
    ['transform marked last but is not', (b) => (b[40] = 0), /last/],
    ['proposal marker neither 0 nor 2', (b) => (b[32] = 1), /Last|last-substructure/],
    ['last proposal marked more', (b) => (b[b.readUInt16BE(34) + 32] = 2), /Proposal #2/],
    ['TLV attribute length past the transform', (b) => b.writeUInt16BE(0x400e, 48), /attribute/],
  ];
  for (const [what, mutate, detail] of cases) {
    const r = decode(damaged(sa, mutate));
    assert.ok(!r.ok, what);
    assert.equal(r.error.code, CodecErrorCode.MALFORMED_PAYLOAD, `${what}: ${r.error.detail}`);
    assert.match(r.error.detail, detail, what);
  }
  expectError(encodeMessage({ header: header(), payloads: [{ type: PayloadType.SA, proposals: [] }] }), CodecErrorCode.MALFORMED_PAYLOAD, /no proposal/);
});

test('payload-level syntax rules: nonce size, Delete SPI sizes, TS lengths, notify SPI size, CP lengths', () => {
  const nonce = (n: number): Payload[] => [{ type: PayloadType.NONCE, data: Buffer.alloc(n) }];
  expectError(encodeMessage({ header: header(), payloads: nonce(15) }), CodecErrorCode.MALFORMED_PAYLOAD, /§2.10/);
  expectError(encodeMessage({ header: header(), payloads: nonce(257) }), CodecErrorCode.MALFORMED_PAYLOAD, /§2.10/);
  assert.ok(decode(encodeMessage({ header: header(), payloads: nonce(16) })).ok);
  assert.ok(decode(encodeMessage({ header: header(), payloads: nonce(256) })).ok);

  const del: Payload[] = [{ type: PayloadType.DELETE, protocol: 3, spis: [Buffer.alloc(8)] }];
  expectError(encodeMessage({ header: header(), payloads: del }), CodecErrorCode.MALFORMED_PAYLOAD, /§3.11/);
  const delIke: Payload[] = [{ type: PayloadType.DELETE, protocol: 1, spis: [Buffer.alloc(4)] }];
  expectError(encodeMessage({ header: header(), payloads: delIke }), CodecErrorCode.MALFORMED_PAYLOAD, /§3.11/);
  const esp = everyPayload()[11]; // Delete ESP with two SPIs: count at 34
  expectError(damaged([esp], (b) => b.writeUInt16BE(3, 34)), CodecErrorCode.MALFORMED_PAYLOAD);

  const tsi = everyPayload()[13]; // TS payload at 28: count at 32, selector at 36 (length at 38)
  expectError(damaged([tsi], (b) => b.writeUInt16BE(20, 38)), CodecErrorCode.MALFORMED_PAYLOAD, /Traffic selector/);
  expectError(damaged([tsi], (b) => b.writeUInt16BE(12, 38)), CodecErrorCode.MALFORMED_PAYLOAD, /Traffic selector/);
  expectError(damaged([tsi], (b) => (b[36] = 8)), CodecErrorCode.MALFORMED_PAYLOAD, /Traffic selector/); // IPv6 type, IPv4 length
  expectError(damaged([tsi], (b) => (b[32] = 2)), CodecErrorCode.MALFORMED_PAYLOAD);
  expectError(damaged([tsi], (b) => (b[32] = 0)), CodecErrorCode.MALFORMED_PAYLOAD, /left over/);

  const n = everyPayload()[9]; // Notify: SPI size at 33
  expectError(damaged([n], (b) => (b[33] = 100)), CodecErrorCode.MALFORMED_PAYLOAD, /spi/);
  const cp = everyPayload()[15]; // CP at 28: attributes from 36, second attribute length at 42
  expectError(damaged([cp], (b) => b.writeUInt16BE(5, 42)), CodecErrorCode.MALFORMED_PAYLOAD, /Configuration attribute/);
});

// IKE_SA_INIT { SA, KEi, Ni, <unknown 200> } -->
test('an unknown non-critical payload is skipped and kept; a critical one is refused with UNSUPPORTED_CRITICAL_PAYLOAD', () => {
  const payloads = everyPayload().slice(0, 3);
  const unknown: Payload = { type: 200, unknown: true, body: Buffer.from('x') };
  const ok = decode(encodeMessage({ header: header(), payloads: [...payloads, unknown] }));
  assert.ok(ok.ok);
  assert.deepEqual(ok.message.payloads.at(-1), unknown);

  const bad = decode(encodeMessage({ header: header(), payloads: [...payloads, { ...unknown, critical: true }] }));
  assert.ok(!bad.ok);
  assert.equal(bad.error.code, CodecErrorCode.UNSUPPORTED_CRITICAL_PAYLOAD);
  assert.deepEqual(bad.error.notify, { notifyType: NotifyError.UNSUPPORTED_CRITICAL_PAYLOAD, data: Buffer.from([200]) });
  assert.deepEqual(bad.error.header, header(), 'the header is there to build the answer');

  // A known payload with the critical bit set is simply understood (§2.5).
  assert.ok(decode(encodeMessage({ header: header(), payloads: [{ ...payloads[1], critical: true }] })).ok);
  // In a protected message the decision waits for the ICV (decodeProtected reports it).
  const sk: Payload = { type: PayloadType.SK, firstInner: 0, body: Buffer.alloc(32) };
  assert.ok(decode(encodeMessage({ header: header(ExchangeType.IKE_AUTH), payloads: [{ ...unknown, critical: true }, sk] })).ok);
});

test('major version 3 is answered with INVALID_MAJOR_VERSION, whatever follows; version 1 is dropped; minor versions are accepted', () => {
  for (const tail of [initRequest.subarray(28), Buffer.alloc(0), Buffer.from('garbage')]) {
    const b = Buffer.concat([initRequest.subarray(0, 28), tail]);
    b[17] = 0x30;
    const r = decode(b);
    assert.ok(!r.ok);
    assert.equal(r.error.code, CodecErrorCode.INVALID_MAJOR_VERSION);
    assert.equal(r.error.notify?.notifyType, NotifyError.INVALID_MAJOR_VERSION);
    assert.equal(r.error.header?.majorVersion, 3);
    assert.equal(r.error.header?.spiI.toString('hex'), initRequest.subarray(0, 8).toString('hex'));
  }
  const v1 = Buffer.from(initRequest);
  v1[17] = 0x10;
  expectError(v1, CodecErrorCode.UNSUPPORTED_VERSION);
  const minor = Buffer.from(initRequest);
  minor[17] = 0x21;
  const r = decode(minor);
  assert.ok(r.ok && r.message.header.minorVersion === 1);
});

test('SK not last, and more payloads than the limit, are dropped', () => {
  const sk: Payload = { type: PayloadType.SK, firstInner: 0, body: Buffer.alloc(32) };
  const b = Buffer.from(encodeMessage({ header: header(ExchangeType.IKE_AUTH), payloads: [sk] }));
  const withTail = Buffer.concat([b, encodeMessage({ header: header(), payloads: [everyPayload()[12]] }).subarray(28)]);
  withTail.writeUInt32BE(withTail.length, 24);
  expectError(withTail, CodecErrorCode.MISPLACED_ENCRYPTED, /§3.14/);

  const many: Payload[] = Array.from({ length: 300 }, () => ({ type: PayloadType.VENDOR_ID, data: Buffer.alloc(0) }));
  expectError(encodeMessage({ header: header(), payloads: many }), CodecErrorCode.TOO_MANY_PAYLOADS);
  const r = decodeMessage(encodeMessage({ header: header(), payloads: many }), { maxPayloads: 300 });
  assert.ok(r.ok);
});

/** A small deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test('every single-bit flip of every captured message (bounded) decodes to a value, never a throw', () => {
  let decoded = 0;
  let refused = 0;
  for (const m of real) {
    const bits = m.bytes.length * 8;
    for (let bit = 0; bit < Math.min(bits, 4000); bit++) {
      const b = Buffer.from(m.bytes);
      b[bit >> 3] ^= 0x80 >> (bit & 7);
      if (decode(b).ok) decoded++;
      else refused++;
    }
  }
  assert.ok(decoded > 0 && refused > 0, `${decoded} decoded, ${refused} refused`);
});

test('random mutations (overwrite, insert, delete, splice of real messages) and random garbage never throw', () => {
  const rand = rng(0x5e9e);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  for (let i = 0; i < 3000; i++) {
    let b = Buffer.from(pick(real).bytes);
    const ops = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < ops; k++) {
      const at = Math.floor(rand() * b.length);
      switch (Math.floor(rand() * 5)) {
        case 0:
          b[at] = Math.floor(rand() * 256);
          break;
        case 1:
          b = Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), b.subarray(at)]);
          break;
        case 2:
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
          break;
        case 3:
          b = Buffer.concat([b.subarray(0, at), pick(real).bytes.subarray(at)]);
          break;
        default:
          if (b.length >= 28) b.writeUInt32BE(b.length, 24); // keep the header Length consistent
      }
    }
    decode(b);
  }
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(Math.floor(rand() * 200));
    for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
    if (b.length >= 28 && i % 2 === 0) {
      b[17] = 0x20; // a plausible IKEv2 header, so the payload chain is exercised
      b.writeUInt32BE(b.length, 24);
    }
    decode(b);
  }
});
