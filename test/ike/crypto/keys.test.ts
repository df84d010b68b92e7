/**
 * Key derivation formulas of RFC 7296 beyond IKE_SA_INIT (which kat.test.ts checks on real
 * strongSwan traffic): IKE SA rekey (§2.18) and child SA KEYMAT with and without PFS (§2.17),
 * computed here independently with plain HMAC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { DhGroup, EncrId, IntegId, PrfId } from '../../../src/ike/constants.js';
import { computeRekeySkeyseed, createPrf, deriveChildKeys, deriveRekeyedIkeKeys, type IkeSuite } from '../../../src/ike/crypto/index.js';

const hmac = (hash: string, key: Buffer, ...data: Buffer[]) => createHmac(hash, key).update(Buffer.concat(data)).digest();
function prfPlus(hash: string, key: Buffer, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let n = 1; Buffer.concat(out).length < length; n++) {
    t = hmac(hash, key, t, seed, Buffer.from([n]));
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, length);
}

test('IKE SA rekey: SKEYSEED = prf(SK_d(old), g^ir(new) | Ni | Nr) with the OLD PRF; SK_* use the new suite and SPIs', () => {
  const oldSkD = randomBytes(48);
  const gir = randomBytes(32);
  const ni = randomBytes(32);
  const nr = randomBytes(32);
  const spiI = randomBytes(8);
  const spiR = randomBytes(8);
  // Old SA used PRF_HMAC_SHA2_384; the new one negotiates SHA2-256 and AES-CBC-128/HMAC-SHA2-256-128.
  const skeyseed = computeRekeySkeyseed(createPrf(PrfId.PRF_HMAC_SHA2_384), oldSkD, gir, ni, nr);
  assert.deepEqual(skeyseed, hmac('sha384', oldSkD, gir, ni, nr));
  const suite: IkeSuite = { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 128, integ: IntegId.AUTH_HMAC_SHA2_256_128, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 };
  const k = deriveRekeyedIkeKeys(suite, { oldPrf: PrfId.PRF_HMAC_SHA2_384, oldSkD, sharedSecret: gir, ni, nr, spiI, spiR });
  const km = prfPlus('sha256', skeyseed, Buffer.concat([ni, nr, spiI, spiR]), 32 + 2 * 32 + 2 * 16 + 2 * 32);
  assert.deepEqual(Buffer.concat([k.skD, k.skAi, k.skAr, k.skEi, k.skEr, k.skPi, k.skPr]), km);
  assert.deepEqual([k.skD.length, k.skAi.length, k.skEi.length, k.skPi.length], [32, 32, 16, 32]);
});

test('child KEYMAT: initiator->responder keys first, encryption before integrity; PFS puts g^ir first in the seed', () => {
  const prf = createPrf(PrfId.PRF_HMAC_SHA2_256);
  const skD = randomBytes(32);
  const ni = randomBytes(32);
  const nr = randomBytes(32);
  const cbc = { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 256, integ: IntegId.AUTH_HMAC_SHA2_256_128 };
  const k = deriveChildKeys(prf, cbc, { skD, ni, nr });
  const km = prfPlus('sha256', skD, Buffer.concat([ni, nr]), 2 * (32 + 32));
  assert.deepEqual([k.encrI, k.integI, k.encrR, k.integR], [km.subarray(0, 32), km.subarray(32, 64), km.subarray(64, 96), km.subarray(96, 128)]);

  const gir = randomBytes(32);
  const gcm = { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 256, integ: IntegId.NONE };
  const p = deriveChildKeys(prf, gcm, { skD, ni, nr, sharedSecret: gir });
  const kmPfs = prfPlus('sha256', skD, Buffer.concat([gir, ni, nr]), 2 * 36);
  assert.deepEqual([p.encrI, p.encrR], [kmPfs.subarray(0, 36), kmPfs.subarray(36, 72)], 'AES-GCM: 32-octet key + 4-octet salt each');
  assert.equal(p.integI.length + p.integR.length, 0);
  assert.throws(() => deriveChildKeys(prf, { ...gcm, integ: IntegId.AUTH_HMAC_SHA2_256_128 }, { skD, ni, nr }), RangeError);
});
