/**
 * Protected messages: the captured IKE_AUTH and INFORMATIONAL messages open with the real
 * SkTransform (src/ike/crypto) and the logged SK_e and SK_a keys; SK encode/decode round-trips through
 * a test double; ICV, length, padding and inner-syntax failures come back as the right values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CodecErrorCode,
  decodeMessage,
  decodeProtected,
  encodeMessage,
  encodeProtected,
  findNotify,
  firstOf,
  fromInitiator,
  payloadsOf,
  type Decoded,
} from '../../../src/ike/codec/index.js';
import { paddedPlaintext, sealMessage } from '../../../src/ike/codec/protected.js';
import { Writer } from '../../../src/ike/codec/struct.js';
import { createSkTransform } from '../../../src/ike/crypto/index.js';
import type { IkeSuite, SkTransform } from '../../../src/ike/crypto/types.js';
import { DhGroup, EncrId, ExchangeType, HeaderFlag, IntegId, NotifyError, NotifyStatus, PayloadType, PrfId, ProtocolId } from '../../../src/ike/constants.js';
import type { Payload } from '../../../src/ike/codec/types.js';
import { captureKeys, ikeMessages } from './captures.js';
import { everyPayload, header } from './samples.js';
import { SkDouble } from './sk-double.js';

const SUITES: Record<string, IkeSuite> = {
  'psk-aesgcm128-ecp256': { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 128, integ: IntegId.NONE, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 },
  'psk-aescbc256-sha256-x25519': { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 256, integ: IntegId.AUTH_HMAC_SHA2_256_128, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.CURVE25519 },
};

/** The logged keys of a capture as the two directions' transforms. */
function captureTransforms(capture: string): { fromI: SkTransform; fromR: SkTransform } {
  const k = captureKeys(capture);
  const none = Buffer.alloc(0);
  return {
    fromI: createSkTransform(SUITES[capture], k.get('Sk_ei')!, k.get('Sk_ai') ?? none),
    fromR: createSkTransform(SUITES[capture], k.get('Sk_er')!, k.get('Sk_ar') ?? none),
  };
}

function decoded(bytes: Buffer): Decoded {
  const r = decodeMessage(bytes);
  assert.ok(r.ok, !r.ok ? r.error.detail : '');
  return r;
}

const CHILD_SPIS: Record<string, [string, string]> = {
  // keys.txt: "CHILD_SA bs{1} established with SPIs <inbound>_i <outbound>_o" (initiator's view)
  'psk-aesgcm128-ecp256': ['dc4b1064', 'd90d6e9d'],
  'psk-aescbc256-sha256-x25519': ['bd025321', '6d0fd473'],
};

for (const capture of Object.keys(SUITES)) {
  // IKE_AUTH { IDi, N(INITIAL_CONTACT), IDr, AUTH, SA, TSi, TSr, N(...) } -->
  // <-- IKE_AUTH { IDr, AUTH, SA, TSi, TSr, N(...) }
  test(`${capture}: IKE_AUTH opens with the logged SK_e*/SK_a*, with strongSwan's payloads inside`, () => {
    const { fromI, fromR } = captureTransforms(capture);
    const [req, resp] = ikeMessages(capture).filter((m) => decoded(m.bytes).message.header.exchangeType === ExchangeType.IKE_AUTH);
    const wrongKeys = decodeProtected(decoded(req.bytes), fromR);
    assert.ok(!wrongKeys.ok && wrongKeys.error.code === CodecErrorCode.ICV_FAILED && !wrongKeys.error.notify);

    const r1 = decodeProtected(decoded(req.bytes), fromI);
    assert.ok(r1.ok, !r1.ok ? r1.error.detail : '');
    assert.equal(r1.message.protected, true);
    const { IDi, IDr, AUTH, SA, TSi, TSr, NOTIFY } = PayloadType;
    assert.deepEqual(r1.message.payloads.map((p) => p.type), [IDi, NOTIFY, IDr, AUTH, SA, TSi, TSr, NOTIFY, NOTIFY, NOTIFY, NOTIFY, NOTIFY]);
    assert.equal(firstOf(r1.message.payloads, IDi)?.data.toString(), 'a.example');
    assert.equal(firstOf(r1.message.payloads, IDr)?.data.toString(), 'b.example');
    assert.ok(findNotify(r1.message.payloads, NotifyStatus.INITIAL_CONTACT));
    const sa = firstOf(r1.message.payloads, SA)!;
    assert.equal(sa.proposals[0].protocol, ProtocolId.ESP);
    assert.equal(sa.proposals[0].spi.toString('hex'), CHILD_SPIS[capture][0]);
    const [tsi] = payloadsOf(r1.message.payloads, TSi);
    assert.deepEqual([...tsi.selectors[0].startAddr, ...tsi.selectors[0].endAddr], [192, 0, 2, 0, 192, 0, 2, 127]);

    const r2 = decodeProtected(decoded(resp.bytes), fromR);
    assert.ok(r2.ok, !r2.ok ? r2.error.detail : '');
    assert.deepEqual(r2.message.payloads.slice(0, 5).map((p) => p.type), [IDr, AUTH, SA, TSi, TSr]);
    assert.equal(firstOf(r2.message.payloads, SA)!.proposals[0].spi.toString('hex'), CHILD_SPIS[capture][1]);
    const [tsr] = payloadsOf(r2.message.payloads, TSr);
    assert.deepEqual([...tsr.selectors[0].startAddr, ...tsr.selectors[0].endAddr], [192, 0, 2, 128, 192, 0, 2, 255]);
  });

  // INFORMATIONAL { D } -->  <-- INFORMATIONAL { }
  test(`${capture}: INFORMATIONAL delete and the empty responses open`, () => {
    const { fromI, fromR } = captureTransforms(capture);
    const infos = ikeMessages(capture).map((m) => decoded(m.bytes)).filter((d) => d.message.header.exchangeType === ExchangeType.INFORMATIONAL);
    for (const d of infos) {
      const r = decodeProtected(d, fromInitiator(d.message.header) ? fromI : fromR);
      assert.ok(r.ok, !r.ok ? r.error.detail : '');
      const isDelete = (d.message.payloads[0] as { firstInner: number }).firstInner === PayloadType.DELETE;
      if (isDelete) assert.deepEqual(r.message.payloads, [{ type: PayloadType.DELETE, protocol: ProtocolId.IKE, spis: [] }]);
      if (d.message.header.flags & HeaderFlag.RESPONSE) assert.deepEqual(r.message.payloads, []);
    }
  });

  test(`${capture}: payloads re-sealed with encodeProtected open to the same payloads; every flipped bit fails the ICV`, () => {
    const { fromI } = captureTransforms(capture);
    const req = ikeMessages(capture).map((m) => decoded(m.bytes)).find((d) => d.message.header.exchangeType === ExchangeType.IKE_AUTH)!;
    const inner = decodeProtected(req, fromI);
    assert.ok(inner.ok);
    const bytes = encodeProtected(req.message.header, inner.message.payloads, fromI);
    assert.equal(bytes.length, req.raw.length, 'same padding and lengths as strongSwan');
    const again = decodeProtected(decoded(bytes), fromI);
    assert.ok(again.ok);
    assert.deepEqual(again.message, inner.message);
    for (let bit = 0; bit < bytes.length * 8; bit += 7) {
      const b = Buffer.from(bytes);
      b[bit >> 3] ^= 0x80 >> (bit & 7);
      const d = decodeMessage(b);
      if (!d.ok) continue; // the outer structure broke: dropped before any crypto
      const r = decodeProtected(d, fromI);
      assert.ok(!r.ok, `bit ${bit}`);
      assert.equal(r.error.notify, undefined, `bit ${bit}: ${r.error.code} must be dropped silently`);
    }
  });
}

test('encodeProtected pads to the block size, authenticates header..SK header, and the outer structure re-encodes identically', () => {
  for (const blockSize of [1, 16]) {
    const sk = new SkDouble({ blockSize, ivLength: 16, icvLength: 12 });
    const h = header(ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1);
    const payloads = everyPayload();
    const bytes = encodeProtected(h, payloads, sk);
    const d = decoded(bytes);
    const [skp] = d.message.payloads;
    assert.ok(skp.type === PayloadType.SK && 'firstInner' in skp);
    assert.equal(skp.firstInner, PayloadType.SA);
    assert.equal((skp.body.length - 16 - 12) % blockSize, 0);
    assert.deepEqual(sk.sealedAad, [bytes.subarray(0, 32)], 'aad = IKE header + SK payload header with final lengths');
    assert.equal(encodeMessage(d.message).toString('hex'), bytes.toString('hex'));
    const r = decodeProtected(d, sk);
    assert.ok(r.ok, !r.ok ? r.error.detail : '');
    assert.deepEqual(r.message, { header: h, payloads, protected: true });
  }
  const empty = encodeProtected(header(ExchangeType.INFORMATIONAL), [], new SkDouble({ blockSize: 16 }));
  const r = decodeProtected(decoded(empty), new SkDouble({ blockSize: 16 }));
  assert.ok(r.ok && r.message.payloads.length === 0, 'an empty INFORMATIONAL (liveness check)');
});

/** A protected message whose plaintext (padding and Pad Length included) the test chooses. */
function sealRaw(plaintext: Buffer, firstInner: number, sk: SkTransform): Decoded {
  return decoded(sealMessage(header(ExchangeType.INFORMATIONAL, HeaderFlag.INITIATOR, 2), firstInner, plaintext, sk, null));
}

test('failures before the ICV verified are dropped; after it, answered with INVALID_SYNTAX or UNSUPPORTED_CRITICAL_PAYLOAD', () => {
  const sk = new SkDouble({ blockSize: 16, ivLength: 16, icvLength: 16 });
  const good = decoded(encodeProtected(header(ExchangeType.INFORMATIONAL), [everyPayload()[10]], sk));
  const expect = (r: ReturnType<typeof decodeProtected>, code: string, notify?: number) => {
    assert.ok(!r.ok, `expected ${code}`);
    assert.equal(r.error.code, code, r.error.detail);
    assert.equal(r.error.notify?.notifyType, notify);
  };
  // Not protected at all.
  expect(decodeProtected(decoded(encodeMessage({ header: header(), payloads: [] })), sk), CodecErrorCode.NOT_PROTECTED);
  // Body not IV + whole blocks + ICV.
  const skp = good.message.payloads[0] as { type: 46; firstInner: number; body: Buffer };
  for (const len of [0, 16, 31, 32, 33, skp.body.length - 1]) {
    const bytes = encodeMessage({ header: good.message.header, payloads: [{ ...skp, body: skp.body.subarray(0, len) }] });
    expect(decodeProtected(decoded(bytes), sk), CodecErrorCode.BAD_ENCRYPTED_LENGTH);
  }
  // Another key: the ICV fails.
  expect(decodeProtected(good, new SkDouble({ blockSize: 16, ivLength: 16, icvLength: 16, key: 'other' })), CodecErrorCode.ICV_FAILED);
  // The transform throws.
  const throwing: SkTransform = { ivLength: 16, blockSize: 16, icvLength: 16, seal: () => Buffer.alloc(0), open: () => { throw new Error('boom'); } };
  expect(decodeProtected(good, throwing), CodecErrorCode.CRYPTO_ERROR);

  // After the ICV: Pad Length beyond the plaintext.
  const block = Buffer.alloc(16);
  block[15] = 16;
  expect(decodeProtected(sealRaw(block, 0, sk), sk), CodecErrorCode.BAD_PADDING, NotifyError.INVALID_SYNTAX);
  // Inner payload chain broken (Next Payload says Nonce, content is 3 octets).
  const w = new Writer(16);
  w.raw(Buffer.from([0, 0, 9]));
  expect(decodeProtected(sealRaw(paddedPlaintext(w, 16), PayloadType.NONCE, sk), sk), CodecErrorCode.TRUNCATED, NotifyError.INVALID_SYNTAX);
  // A malformed inner payload (nonce too short) is INVALID_SYNTAX too.
  const shortNonce: Payload[] = [{ type: PayloadType.NONCE, data: Buffer.alloc(4) }];
  expect(decodeProtected(decoded(encodeProtected(header(ExchangeType.INFORMATIONAL), shortNonce, sk)), sk), CodecErrorCode.MALFORMED_PAYLOAD, NotifyError.INVALID_SYNTAX);
  // An unknown critical payload inside: UNSUPPORTED_CRITICAL_PAYLOAD with its type.
  const critical: Payload[] = [{ type: 222, unknown: true, critical: true, body: Buffer.alloc(2) }];
  const rc = decodeProtected(decoded(encodeProtected(header(ExchangeType.INFORMATIONAL), critical, sk)), sk);
  expect(rc, CodecErrorCode.UNSUPPORTED_CRITICAL_PAYLOAD, NotifyError.UNSUPPORTED_CRITICAL_PAYLOAD);
  assert.ok(!rc.ok && rc.error.notify?.data.equals(Buffer.from([222])));
  // ... and one outside SK, authenticated by the same ICV, likewise (only once it verified).
  const placeholder = { type: PayloadType.SK, firstInner: 0, body: Buffer.alloc(16 + 16 + 16) } as const;
  const msg = Buffer.from(encodeMessage({ header: good.message.header, payloads: [critical[0], placeholder] }));
  const aad = msg.subarray(0, msg.length - placeholder.body.length);
  sk.seal(aad, paddedPlaintext(new Writer(16), 16)).copy(msg, aad.length);
  const withOuter = decoded(msg);
  assert.equal(withOuter.message.payloads[0].critical, true);
  expect(decodeProtected(withOuter, new SkDouble({ blockSize: 16, ivLength: 16, icvLength: 16, key: 'other' })), CodecErrorCode.ICV_FAILED);
  expect(decodeProtected(withOuter, sk), CodecErrorCode.UNSUPPORTED_CRITICAL_PAYLOAD, NotifyError.UNSUPPORTED_CRITICAL_PAYLOAD);
  // A nested SK inside SK.
  const nested: Payload[] = [{ type: PayloadType.SK, firstInner: 0, body: Buffer.alloc(40) }];
  const wn = new Writer(64);
  wn.raw(encodeMessage({ header: header(), payloads: nested }).subarray(28));
  expect(decodeProtected(sealRaw(paddedPlaintext(wn, 16), PayloadType.SK, sk), sk), CodecErrorCode.MISPLACED_ENCRYPTED, NotifyError.INVALID_SYNTAX);
});
