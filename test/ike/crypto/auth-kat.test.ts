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
import { pskPadKey, verifyPskAuthWithPadKey } from '../../../src/ike/crypto/auth.js';
import type { AuthPayload, IdPayload } from '../../../src/ike/codec/types.js';
import { CAPTURE_PSK, CAPTURE_SUITES, findMessage, loadCapture, openSk, payloadOf, saInit } from './captures.js';

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
    assert.equal(openSk(req, fromR), null, 'the responder\'s keys do not open the initiator\'s message');
    const reqInner = openSk(req, fromI);
    assert.ok(reqInner, 'IKE_AUTH request decrypts and its ICV verifies');
    const idi = payloadOf<IdPayload>(reqInner, PayloadType.IDi);
    assert.equal(idi.idType, IdType.ID_FQDN);
    assert.equal(idi.data.toString(), 'a.example');
    const authI = payloadOf<AuthPayload>(reqInner, PayloadType.AUTH);
    assert.equal(authI.method, AuthMethod.SHARED_KEY_MIC);

    const octetsI = authSignedOctets({ message: init.req.bytes, peerNonce: init.nr, prf, skP: k.skPi, idType: idi.idType, idData: idi.data });
    assert.ok(verifyPskAuth(prf, CAPTURE_PSK, octetsI, authI.data), 'initiator AUTH verifies');
    assert.deepEqual(pskAuthData(prf, CAPTURE_PSK, octetsI), authI.data);
    assert.equal(verifyPskAuth(prf, Buffer.from('wrong-psk'), octetsI, authI.data), false);
    // The pad key a connection computes once gives the same answers.
    assert.ok(verifyPskAuthWithPadKey(prf, pskPadKey(prf, CAPTURE_PSK), octetsI, authI.data));
    assert.equal(verifyPskAuthWithPadKey(prf, pskPadKey(prf, Buffer.from('wrong-psk')), octetsI, authI.data), false);

    // <-- IKE_AUTH response: { IDr, AUTH, SA, TSi, TSr } sealed with SK_er/SK_ar
    const resp = findMessage(c, ExchangeType.IKE_AUTH, true);
    const respInner = openSk(resp, fromR);
    assert.ok(respInner, 'IKE_AUTH response decrypts and its ICV verifies');
    const idr = payloadOf<IdPayload>(respInner, PayloadType.IDr);
    assert.equal(idr.data.toString(), 'b.example');
    const authR = payloadOf<AuthPayload>(respInner, PayloadType.AUTH);
    const octetsR = authSignedOctets({ message: init.resp.bytes, peerNonce: init.ni, prf, skP: k.skPr, idType: idr.idType, idData: idr.data });
    assert.ok(verifyPskAuth(prf, CAPTURE_PSK, octetsR, authR.data), 'responder AUTH verifies');
    // Swapping the roles' inputs must fail: SK_pi is not SK_pr.
    const swapped = authSignedOctets({ message: init.resp.bytes, peerNonce: init.ni, prf, skP: k.skPi, idType: idr.idType, idData: idr.data });
    assert.equal(verifyPskAuth(prf, CAPTURE_PSK, swapped, authR.data), false);
  });
}
