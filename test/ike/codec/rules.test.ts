/** Allowed payloads per exchange: the captured exchanges fit, and each RFC shape is told apart. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkPayloads,
  CodecErrorCode,
  decodeMessage,
  decodeProtected,
  firstErrorNotify,
  isResponse,
  type PayloadCheck,
} from '../../../src/ike/codec/index.js';
import { createSkTransform } from '../../../src/ike/crypto/index.js';
import { DhGroup, EncrId, ExchangeType, IntegId, NotifyError, NotifyStatus, PayloadType, PrfId, ProtocolId } from '../../../src/ike/constants.js';
import type { NotifyPayload, Payload, SaPayload } from '../../../src/ike/codec/types.js';
import { captureKeys, ikeMessages } from './captures.js';
import { everyPayload } from './samples.js';

const { IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL } = ExchangeType;
const all = everyPayload();
const SA_IKE = all[0];
const SA_ESP: Payload = { type: PayloadType.SA, proposals: [(all[0] as SaPayload).proposals[1]] };
const [, KE, NONCE, IDI, IDR, CERT, CERTREQ, AUTH] = all;
const TSI = all[13];
const TSR: Payload = { ...all[13], type: PayloadType.TSr } as Payload;
const DEL = all[11];
const CP = all[15];
const EAP = all[16];
const UNKNOWN = all[17];
const V = all[12];
const n = (notifyType: number, data = Buffer.alloc(0)): NotifyPayload => ({ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType, data });

function shape(r: PayloadCheck): string {
  assert.ok(r.ok, !r.ok ? `${r.error.code}: ${r.error.detail}` : '');
  return r.shape;
}
function refused(r: PayloadCheck, code: string, answered: boolean): void {
  assert.ok(!r.ok, 'expected a refusal');
  assert.equal(r.error.code, code, r.error.detail);
  assert.equal(r.error.notify?.notifyType, answered ? NotifyError.INVALID_SYNTAX : undefined);
}

test('every captured exchange fits its rules (inner payloads for the protected ones)', () => {
  const suites = {
    'psk-aesgcm128-ecp256': { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 128, integ: IntegId.NONE, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 },
    'psk-aescbc256-sha256-x25519': { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 256, integ: IntegId.AUTH_HMAC_SHA2_256_128, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.CURVE25519 },
  };
  for (const [capture, suite] of Object.entries(suites)) {
    const k = captureKeys(capture);
    const none = Buffer.alloc(0);
    const fromI = createSkTransform(suite, k.get('Sk_ei')!, k.get('Sk_ai') ?? none);
    const fromR = createSkTransform(suite, k.get('Sk_er')!, k.get('Sk_ar') ?? none);
    const shapes: string[] = [];
    for (const m of ikeMessages(capture)) {
      const d = decodeMessage(m.bytes);
      assert.ok(d.ok);
      const h = d.message.header;
      let payloads = d.message.payloads;
      if (h.exchangeType !== IKE_SA_INIT) {
        const p = decodeProtected(d, h.flags & 0x08 ? fromI : fromR);
        assert.ok(p.ok);
        payloads = p.message.payloads;
      }
      shapes.push(shape(checkPayloads(h.exchangeType, isResponse(h), payloads)));
    }
    assert.deepEqual(shapes.slice(0, 4), ['init', 'init', 'auth', 'auth'], capture);
    assert.ok(shapes.slice(4).every((s) => s === 'info'));
  }
});

// IKE_SA_INIT: HDR, SAi1, KEi, Ni -->  <-- HDR, SAr1, KEr, Nr, [CERTREQ] | N(COOKIE) | N(INVALID_KE_PAYLOAD) | N(REDIRECT)
test('IKE_SA_INIT: the full response, or a response of notifies only (cookie, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, REDIRECT)', () => {
  assert.equal(shape(checkPayloads(IKE_SA_INIT, false, [n(NotifyStatus.COOKIE, Buffer.alloc(8)), SA_IKE, KE, NONCE, V, UNKNOWN])), 'init');
  assert.equal(shape(checkPayloads(IKE_SA_INIT, true, [SA_IKE, KE, NONCE, CERTREQ, n(NotifyStatus.NAT_DETECTION_SOURCE_IP)])), 'init');
  for (const only of [n(NotifyStatus.COOKIE), n(NotifyError.INVALID_KE_PAYLOAD, Buffer.from([0, 19])), n(NotifyError.NO_PROPOSAL_CHOSEN), n(NotifyStatus.REDIRECT)]) {
    assert.equal(shape(checkPayloads(IKE_SA_INIT, true, [only])), 'error');
  }
  // A lone status notify that is neither COOKIE nor REDIRECT is not a valid response.
  refused(checkPayloads(IKE_SA_INIT, true, [n(NotifyStatus.NAT_DETECTION_SOURCE_IP)]), CodecErrorCode.MISSING_PAYLOAD, false);
  // Unprotected: mismatches are dropped, never answered with INVALID_SYNTAX (§3.10.1).
  refused(checkPayloads(IKE_SA_INIT, false, [SA_IKE, NONCE]), CodecErrorCode.MISSING_PAYLOAD, false);
  refused(checkPayloads(IKE_SA_INIT, false, [SA_IKE, KE, KE, NONCE]), CodecErrorCode.REPEATED_PAYLOAD, false);
  refused(checkPayloads(IKE_SA_INIT, false, [SA_IKE, KE, NONCE, AUTH]), CodecErrorCode.UNEXPECTED_PAYLOAD, false);
  refused(checkPayloads(IKE_SA_INIT, true, [n(NotifyStatus.COOKIE), SA_IKE]), CodecErrorCode.MISSING_PAYLOAD, false);
});

// IKE_AUTH: HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, SAi2, TSi, TSr} -->  <-- HDR, SK {IDr, [CERT,] AUTH, SAr2, TSi, TSr}
test('IKE_AUTH: with and without a child SA, EAP shapes, error-only responses; mismatches answered INVALID_SYNTAX', () => {
  assert.equal(shape(checkPayloads(IKE_AUTH, false, [IDI, CERT, CERT, CERTREQ, IDR, AUTH, CP, SA_ESP, TSI, TSR, n(NotifyStatus.INITIAL_CONTACT)])), 'auth');
  assert.equal(shape(checkPayloads(IKE_AUTH, true, [IDR, CERT, AUTH, SA_ESP, TSI, TSR])), 'auth');
  // §1.2: the child failed, the IKE SA stands: IDr, AUTH, N(TS_UNACCEPTABLE)
  assert.equal(shape(checkPayloads(IKE_AUTH, true, [IDR, AUTH, n(NotifyError.TS_UNACCEPTABLE)])), 'auth');
  assert.equal(shape(checkPayloads(IKE_AUTH, true, [n(NotifyError.AUTHENTICATION_FAILED)])), 'error');
  assert.equal(shape(checkPayloads(IKE_AUTH, false, [IDI, SA_ESP, TSI, TSR])), 'eap-start');
  assert.equal(shape(checkPayloads(IKE_AUTH, true, [IDR, AUTH, EAP])), 'eap');
  assert.equal(shape(checkPayloads(IKE_AUTH, false, [EAP])), 'eap');
  assert.equal(shape(checkPayloads(IKE_AUTH, false, [AUTH])), 'eap-auth');

  refused(checkPayloads(IKE_AUTH, true, [IDR, SA_ESP, TSI, TSR]), CodecErrorCode.MISSING_PAYLOAD, true);
  refused(checkPayloads(IKE_AUTH, false, [IDI, AUTH, SA_ESP, TSI]), CodecErrorCode.MISSING_PAYLOAD, true);
  refused(checkPayloads(IKE_AUTH, false, [IDI, AUTH, AUTH, SA_ESP, TSI, TSR]), CodecErrorCode.REPEATED_PAYLOAD, true);
  refused(checkPayloads(IKE_AUTH, false, [IDI, AUTH, DEL]), CodecErrorCode.UNEXPECTED_PAYLOAD, true);
  refused(checkPayloads(IKE_AUTH, true, [n(NotifyStatus.INITIAL_CONTACT)]), CodecErrorCode.MISSING_PAYLOAD, true);
});

// CREATE_CHILD_SA: {SA, Ni, [KEi,] TSi, TSr} | {N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr} | {SA, Ni, KEi}
test('CREATE_CHILD_SA: new child, child rekey and IKE SA rekey are told apart by REKEY_SA and the SA protocol', () => {
  const rekeySa: NotifyPayload = { ...n(NotifyStatus.REKEY_SA), protocol: ProtocolId.ESP, spi: Buffer.from('c0ffee01', 'hex') };
  assert.equal(shape(checkPayloads(CREATE_CHILD_SA, false, [SA_ESP, NONCE, TSI, TSR])), 'new-child');
  assert.equal(shape(checkPayloads(CREATE_CHILD_SA, false, [SA_ESP, NONCE, KE, TSI, TSR])), 'new-child');
  assert.equal(shape(checkPayloads(CREATE_CHILD_SA, false, [rekeySa, SA_ESP, NONCE, TSI, TSR])), 'rekey-child');
  assert.equal(shape(checkPayloads(CREATE_CHILD_SA, false, [SA_IKE, NONCE, KE])), 'rekey-ike');
  assert.equal(shape(checkPayloads(CREATE_CHILD_SA, true, [SA_ESP, NONCE, TSI, TSR])), 'child');
  assert.equal(shape(checkPayloads(CREATE_CHILD_SA, true, [SA_IKE, NONCE, KE])), 'rekey-ike');
  assert.equal(shape(checkPayloads(CREATE_CHILD_SA, true, [n(NotifyError.NO_ADDITIONAL_SAS)])), 'error');
  assert.equal(shape(checkPayloads(CREATE_CHILD_SA, true, [n(NotifyError.INVALID_KE_PAYLOAD, Buffer.from([0, 31]))])), 'error');

  refused(checkPayloads(CREATE_CHILD_SA, false, [SA_IKE, NONCE]), CodecErrorCode.MISSING_PAYLOAD, true); // IKE rekey needs KE
  refused(checkPayloads(CREATE_CHILD_SA, false, [SA_ESP, NONCE]), CodecErrorCode.MISSING_PAYLOAD, true); // child needs TS
  refused(checkPayloads(CREATE_CHILD_SA, false, [SA_IKE, NONCE, KE, TSI, TSR]), CodecErrorCode.UNEXPECTED_PAYLOAD, true);
  refused(checkPayloads(CREATE_CHILD_SA, false, [SA_ESP, NONCE, TSI, TSR, AUTH]), CodecErrorCode.UNEXPECTED_PAYLOAD, true);
});

// INFORMATIONAL: HDR, SK {[N,] [D,] [CP,] ...}
test('INFORMATIONAL: empty (liveness), deletes, notifies; unknown exchanges have no rules', () => {
  assert.equal(shape(checkPayloads(INFORMATIONAL, false, [])), 'info');
  assert.equal(shape(checkPayloads(INFORMATIONAL, true, [])), 'info');
  assert.equal(shape(checkPayloads(INFORMATIONAL, false, [DEL, DEL, n(NotifyStatus.UPDATE_SA_ADDRESSES)])), 'info');
  refused(checkPayloads(INFORMATIONAL, false, [SA_ESP]), CodecErrorCode.UNEXPECTED_PAYLOAD, true);
  const r = checkPayloads(99, false, []);
  assert.ok(!r.ok && r.error.code === CodecErrorCode.UNKNOWN_EXCHANGE && !r.error.notify);
  assert.equal(firstErrorNotify([n(NotifyStatus.COOKIE), n(NotifyError.TS_UNACCEPTABLE)])?.notifyType, NotifyError.TS_UNACCEPTABLE);
});
