/**
 * RFC 7383 fragmentation: split and reassemble in and out of order, duplicates, changed
 * Total Fragments, forged fragments, limits, sizes against the PMTU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CodecErrorCode,
  datagramOverhead,
  decodeMessage,
  encodeMessage,
  fragmentCapacity,
  fragmentMessage,
  FragmentReassembler,
  type Decoded,
  type FragmentResult,
} from '../../../src/ike/codec/index.js';
import { createSkTransform } from '../../../src/ike/crypto/index.js';
import { CertEncoding, DhGroup, EncrId, ExchangeType, HeaderFlag, IntegId, NotifyError, PayloadType, PrfId } from '../../../src/ike/constants.js';
import type { Payload, SkfPayload } from '../../../src/ike/codec/types.js';
import { everyPayload, header } from './samples.js';
import { SkDouble } from './sk-double.js';

const H = header(ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1);
/** An IKE_AUTH big enough to need fragments: a certificate chain and the rest. */
const BIG: Payload[] = [
  ...everyPayload().slice(3, 5),
  { type: PayloadType.CERT, encoding: CertEncoding.X509_CERT_SIGNATURE, data: Buffer.alloc(1800, 0x31) },
  { type: PayloadType.CERT, encoding: CertEncoding.X509_CERT_SIGNATURE, data: Buffer.alloc(1500, 0x32) },
  ...everyPayload().slice(7, 17),
];

function dec(b: Buffer): Decoded {
  const r = decodeMessage(b);
  assert.ok(r.ok, !r.ok ? r.error.detail : '');
  return r;
}

function skfOf(b: Buffer): SkfPayload {
  return dec(b).message.payloads[0] as SkfPayload;
}

function complete(r: FragmentResult): Payload[] {
  assert.ok(r.ok && r.complete, !r.ok ? `${r.error.code}: ${r.error.detail}` : 'not complete');
  assert.equal(r.message.protected, true);
  return r.message.payloads;
}

function pending(r: FragmentResult, duplicate = false): void {
  assert.ok(r.ok && !r.complete, !r.ok ? `${r.error.code}: ${r.error.detail}` : 'complete too early');
  assert.equal(r.duplicate, duplicate);
}

test('fragments fit the PMTU with IP/UDP/non-ESP-marker overhead, number 1..n, and only the first names the inner payload', () => {
  const sk = createSkTransform(
    { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 256, integ: IntegId.AUTH_HMAC_SHA2_256_128, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.MODP_2048 },
    Buffer.alloc(32, 1),
    Buffer.alloc(32, 2),
  );
  for (const [mtu, opts] of [
    [576, {}],
    [576, { nonEspMarker: true }],
    [1280, { ipVersion: 6 as const }],
    [1280, { ipVersion: 6 as const, nonEspMarker: true }],
  ] as const) {
    const frags = fragmentMessage(H, BIG, sk, mtu, opts);
    const overhead = datagramOverhead(opts);
    assert.ok(frags.length > 1);
    for (const [i, f] of frags.entries()) {
      assert.ok(f.length + overhead <= mtu, `fragment ${i + 1}: ${f.length} + ${overhead} > ${mtu}`);
      const d = dec(f);
      assert.deepEqual(d.message.header, H, 'every fragment carries the original header and Message ID');
      const skf = d.message.payloads[0] as SkfPayload;
      assert.equal(skf.type, PayloadType.SKF);
      assert.equal(skf.fragmentNumber, i + 1);
      assert.equal(skf.totalFragments, frags.length);
      assert.equal(skf.firstInner, i === 0 ? PayloadType.IDi : 0);
      assert.equal(encodeMessage(d.message).toString('hex'), f.toString('hex'));
    }
    // All but the last are full: the capacity is used.
    assert.ok(frags[0].length + overhead > mtu - 16, `first fragment ${frags[0].length} leaves more than a block unused`);
    const re = new FragmentReassembler();
    let last: FragmentResult | undefined;
    for (const f of frags) last = re.add(dec(f), sk);
    assert.deepEqual(complete(last!), BIG);
  }
  assert.throws(() => fragmentMessage(H, BIG, sk, 60), /no room/);
  assert.equal(fragmentCapacity(sk, 576), 576 - 28 - 28 - 8 - 16 - 16 - 1 - ((576 - 28 - 28 - 8 - 16 - 16) % 16));
});

test('out of order and duplicated fragments reassemble once', () => {
  const sk = new SkDouble({ blockSize: 16 });
  const frags = fragmentMessage(H, BIG, sk, 576);
  assert.ok(frags.length >= 5);
  const order = [...frags.keys()].reverse();
  const re = new FragmentReassembler();
  for (const [k, i] of order.entries()) {
    if (k === order.length - 1) break;
    pending(re.add(dec(frags[i]), sk));
    pending(re.add(dec(frags[i]), sk), true); // the duplicate is ignored, not decrypted again
  }
  assert.equal(re.pending?.received, frags.length - 1);
  assert.deepEqual(complete(re.add(dec(frags[order.at(-1)!]), sk)), BIG);
  assert.equal(re.pending, null, 'reset after completion');
});

test('a single-fragment message and an empty one reassemble', () => {
  const sk = new SkDouble();
  const small = fragmentMessage(H, everyPayload().slice(3, 4), sk, 1280);
  assert.equal(small.length, 1);
  assert.deepEqual(complete(new FragmentReassembler().add(dec(small[0]), sk)), everyPayload().slice(3, 4));
  const empty = fragmentMessage(header(ExchangeType.INFORMATIONAL), [], sk, 576);
  assert.deepEqual(complete(new FragmentReassembler().add(dec(empty[0]), sk)), []);
});

test('RFC 7383 §2.6.2: a larger Total Fragments discards the set, a smaller one is ignored', () => {
  const sk = new SkDouble({ blockSize: 16 });
  const coarse = fragmentMessage(H, BIG, sk, 1280); // fewer, bigger fragments
  const fine = fragmentMessage(H, BIG, sk, 576); // the peer re-fragmented after a PMTU drop
  assert.ok(fine.length > coarse.length);
  const re = new FragmentReassembler();
  pending(re.add(dec(coarse[0]), sk));
  pending(re.add(dec(fine[1]), sk));
  assert.deepEqual(re.pending && [re.pending.total, re.pending.received], [fine.length, 1], 'restarted with the larger total');
  const smaller = re.add(dec(coarse[1]), sk);
  assert.ok(!smaller.ok && smaller.error.code === CodecErrorCode.BAD_FRAGMENT && !smaller.error.notify);
  let last: FragmentResult | undefined;
  for (const [i, f] of fine.entries()) if (i !== 1) last = re.add(dec(f), sk);
  assert.deepEqual(complete(last!), BIG);
});

test('a forged fragment neither joins nor disturbs the set; a new Message ID restarts it', () => {
  const sk = new SkDouble({ blockSize: 16 });
  const forger = new SkDouble({ blockSize: 16, key: 'not the key' });
  const frags = fragmentMessage(H, BIG, sk, 576);
  const re = new FragmentReassembler();
  pending(re.add(dec(frags[0]), sk));
  // Forged: a larger total (would discard the set) and another Message ID (would restart it).
  const forgedBig = fragmentMessage(H, BIG, forger, 400);
  const r1 = re.add(dec(forgedBig[0]), sk);
  assert.ok(!r1.ok && r1.error.code === CodecErrorCode.ICV_FAILED);
  const forgedNext = fragmentMessage({ ...H, messageId: 2 }, BIG, forger, 576);
  assert.ok(!re.add(dec(forgedNext[0]), sk).ok);
  assert.deepEqual(re.pending && [re.pending.messageId, re.pending.received], [1, 1], 'set untouched');
  // A genuine fragment of the next message: the old set is abandoned.
  const next = fragmentMessage({ ...H, messageId: 2 }, BIG.slice(0, 3), sk, 576);
  pending(re.add(dec(next[1]), sk));
  assert.equal(re.pending?.messageId, 2);
  re.reset();
  assert.equal(re.pending, null);
});

test('numbering errors, non-fragments and the limits are dropped silently', () => {
  const sk = new SkDouble({ blockSize: 16 });
  const frags = fragmentMessage(H, BIG, sk, 576);
  const re = new FragmentReassembler();
  const withFields = (b: Buffer, n: number, t: number): Decoded => {
    const d = dec(b);
    const skf = d.message.payloads[0] as SkfPayload;
    return { message: { ...d.message, payloads: [{ ...skf, fragmentNumber: n, totalFragments: t }] }, raw: d.raw };
  };
  for (const [n, t] of [[0, 3], [4, 3], [1, 0]]) {
    const r = re.add(withFields(frags[0], n, t), sk);
    assert.ok(!r.ok && r.error.code === CodecErrorCode.BAD_FRAGMENT && !r.error.notify, `${n}/${t}`);
  }
  const notFragment = re.add(dec(encodeMessage({ header: H, payloads: [] })), sk);
  assert.ok(!notFragment.ok && notFragment.error.code === CodecErrorCode.NOT_PROTECTED);

  const few = new FragmentReassembler({ maxFragments: frags.length - 1 });
  const r1 = few.add(dec(frags[0]), sk);
  assert.ok(!r1.ok && r1.error.code === CodecErrorCode.FRAGMENT_LIMIT);

  const small = new FragmentReassembler({ maxBytes: 1000 });
  let r2: FragmentResult | undefined;
  for (const f of frags) {
    r2 = small.add(dec(f), sk);
    if (!r2.ok) break;
  }
  assert.ok(r2 && !r2.ok && r2.error.code === CodecErrorCode.FRAGMENT_LIMIT);
  assert.equal(small.pending, null, 'the set is discarded');
});

test('a reassembled message with broken inner syntax is answered INVALID_SYNTAX', () => {
  const sk = new SkDouble({ blockSize: 16 });
  const frags = fragmentMessage(H, BIG, sk, 576);
  // Drop fragment 1's first-inner type: the reassembled octets no longer parse as a chain.
  const first = skfOf(frags[0]);
  const d = dec(frags[0]);
  const bytes = encodeMessage({ header: d.message.header, payloads: [{ ...first, firstInner: PayloadType.NONE }] });
  const re = new FragmentReassembler();
  // The changed Next Payload is inside the associated data: the forged fragment 1 fails its ICV.
  assert.ok(!re.add(dec(bytes), sk).ok);
  // Built properly with a bad content instead: every fragment verifies, the whole does not parse.
  const bad: Payload[] = [{ type: PayloadType.NONCE, data: Buffer.alloc(3000) }];
  const badFrags = fragmentMessage(H, bad, sk, 576);
  let last: FragmentResult | undefined;
  for (const f of badFrags) last = re.add(dec(f), sk);
  assert.ok(last && !last.ok && last.error.notify?.notifyType === NotifyError.INVALID_SYNTAX, 'nonce of 3000 octets');
});
