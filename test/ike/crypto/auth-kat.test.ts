/**
 * Known answers on real strongSwan 5.9.8 traffic: IKE_AUTH decrypts with SK_ei / SK_er derived
 * from the logged DH secret, and both AUTH payloads verify with the PSK (RFC 7296 §2.15).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthMethod, ExchangeType, IdType, PayloadType } from '../../../src/ike/constants.js';
import {
  authSignedOctets,
  createPrf,
  createSkTransform,
  deriveIkeKeys,
  pskAuthData,
  verifyPskAuth,
} from '../../../src/ike/crypto/index.js';
import { CAPTURE_PSK, CAPTURE_SUITES, findMessage, loadCapture, openSk, saInit, type RawPayload } from './captures.js';

const inner = (payloads: RawPayload[], type: number) => {
  const p = payloads.find((x) => x.type === type);
  assert.ok(p, `payload ${type} inside SK`);
  return p.body;
};

for (const [name, suite] of Object.entries(CAPTURE_SUITES)) {
  test(`${name}: IKE_AUTH opens with SK_e*/SK_a* and both PSK AUTH payloads verify`, () => {
    const c = loadCapture(name);
    const init = saInit(c);
    const k = deriveIkeKeys(suite, { sharedSecret: c.keys.get('shared Diffie Hellman')!, ...init });
    const prf = createPrf(suite.prf);
    const fromI = createSkTransform(suite, k.skEi, k.skAi);
    const fromR = createSkTransform(suite, k.skEr, k.skAr);

    // IKE_AUTH request: { IDi, AUTH, SA, TSi, TSr, ... } --> sealed with SK_ei/SK_ai
    const req = findMessage(c, ExchangeType.IKE_AUTH, false);
    assert.equal(openSk(req, (a, b) => fromR.open(a, b)), null, 'the responder\'s keys do not open the initiator\'s message');
    const reqInner = openSk(req, (a, b) => fromI.open(a, b));
    assert.ok(reqInner, 'IKE_AUTH request decrypts and its ICV verifies');
    const idi = inner(reqInner.payloads, PayloadType.IDi);
    assert.equal(idi[0], IdType.ID_FQDN);
    assert.equal(idi.subarray(4).toString(), 'a.example');
    const authI = inner(reqInner.payloads, PayloadType.AUTH);
    assert.equal(authI[0], AuthMethod.SHARED_KEY_MIC);

    const octetsI = authSignedOctets({ message: init.req.bytes, peerNonce: init.nr, prf, skP: k.skPi, idType: idi[0], idData: idi.subarray(4) });
    assert.ok(verifyPskAuth(prf, CAPTURE_PSK, octetsI, authI.subarray(4)), 'initiator AUTH verifies');
    assert.deepEqual(pskAuthData(prf, CAPTURE_PSK, octetsI), authI.subarray(4));
    assert.equal(verifyPskAuth(prf, Buffer.from('wrong-psk'), octetsI, authI.subarray(4)), false);

    // <-- IKE_AUTH response: { IDr, AUTH, SA, TSi, TSr } sealed with SK_er/SK_ar
    const resp = findMessage(c, ExchangeType.IKE_AUTH, true);
    const respInner = openSk(resp, (a, b) => fromR.open(a, b));
    assert.ok(respInner, 'IKE_AUTH response decrypts and its ICV verifies');
    const idr = inner(respInner.payloads, PayloadType.IDr);
    assert.equal(idr.subarray(4).toString(), 'b.example');
    const authR = inner(respInner.payloads, PayloadType.AUTH);
    const octetsR = authSignedOctets({ message: init.resp.bytes, peerNonce: init.ni, prf, skP: k.skPr, idType: idr[0], idData: idr.subarray(4) });
    assert.ok(verifyPskAuth(prf, CAPTURE_PSK, octetsR, authR.subarray(4)), 'responder AUTH verifies');
    // Swapping the roles' inputs must fail: SK_pi is not SK_pr.
    const swapped = authSignedOctets({ message: init.resp.bytes, peerNonce: init.ni, prf, skP: k.skPi, idType: idr[0], idData: idr.subarray(4) });
    assert.equal(verifyPskAuth(prf, CAPTURE_PSK, swapped, authR.subarray(4)), false);

    // Re-sealing what we opened gives a body the peer's keys open to the same plaintext.
    const sk = req.payloads.find((p) => p.type === PayloadType.SK)!;
    const aad = req.bytes.subarray(0, sk.offset + 4);
    const resealed = fromI.seal(aad, reqInner.plaintext);
    assert.deepEqual(createSkTransform(suite, k.skEi, k.skAi).open(aad, resealed), reqInner.plaintext);
  });
}
