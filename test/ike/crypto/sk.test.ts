/**
 * SK payload protection (RFC 7296 §3.14, RFC 5282): what one end seals the other opens, and
 * anything altered in transit (ciphertext, ICV, IV, the header in the AAD) is refused with
 * null, never an exception. Known answers on real traffic are in auth-kat.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DhGroup, EncrId, IntegId, PrfId } from '../../../src/ike/constants.js';
import { createSkTransform, ENCR_ALGORITHMS, ikeKeyLengths, INTEG_ALGORITHMS, type IkeSuite } from '../../../src/ike/crypto/index.js';

function suites(): IkeSuite[] {
  const out: IkeSuite[] = [];
  for (const [encr, alg] of ENCR_ALGORITHMS) {
    for (const bits of alg.keyBits) {
      const integs = alg.mode === 'aead' ? [IntegId.NONE] : [...INTEG_ALGORITHMS.keys()];
      for (const integ of integs) out.push({ encr, encrKeyLength: bits, integ, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 });
    }
  }
  return out;
}

function pair(suite: IkeSuite) {
  const len = ikeKeyLengths(suite);
  const ek = randomBytes(len.skE);
  const ak = randomBytes(len.skA);
  return { tx: createSkTransform(suite, ek, ak), rx: createSkTransform(suite, ek, ak) };
}

const name = (s: IkeSuite) => `${ENCR_ALGORITHMS.get(s.encr)!.name}_${s.encrKeyLength}` +
  (s.integ ? `/${INTEG_ALGORITHMS.get(s.integ)!.name}` : '');

for (const suite of suites()) {
  test(`${name(suite)}: round trip, and every altered octet is refused`, () => {
    const { tx, rx } = pair(suite);
    const aad = randomBytes(32); // IKE header + SK payload header
    const plaintext = randomBytes(tx.blockSize * 4);
    const body = tx.seal(aad, plaintext);
    assert.equal(body.length, tx.ivLength + plaintext.length + tx.icvLength);
    assert.deepEqual(rx.open(aad, body), plaintext);

    for (const at of [0, tx.ivLength, body.length - tx.icvLength - 1, body.length - 1]) {
      const bad = Buffer.from(body);
      bad[at] ^= 0x01;
      assert.equal(rx.open(aad, bad), null, `flipped body octet ${at}`);
    }
    const badAad = Buffer.from(aad);
    badAad[3] ^= 0x80;
    assert.equal(rx.open(badAad, body), null, 'altered IKE header');
    assert.equal(rx.open(aad, body.subarray(0, body.length - 1)), null, 'truncated');
    assert.equal(rx.open(aad, body.subarray(0, tx.ivLength + tx.icvLength - 1)), null, 'shorter than IV + ICV');
    assert.equal(rx.open(aad, Buffer.alloc(0)), null, 'empty');
  });
}

test('AES-GCM: the 8-octet IV never repeats under one key; the transform reports RFC 5282 sizes', () => {
  const suite: IkeSuite = { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 256, integ: IntegId.NONE, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 };
  const { tx, rx } = pair(suite);
  assert.deepEqual([tx.ivLength, tx.icvLength, tx.blockSize], [8, 16, 1]);
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const body = tx.seal(Buffer.alloc(0), Buffer.from([i & 0xff]));
    seen.add(body.subarray(0, 8).toString('hex'));
    assert.deepEqual(rx.open(Buffer.alloc(0), body), Buffer.from([i & 0xff]));
  }
  assert.equal(seen.size, 1000);
});

test('AES-CBC: sizes per RFC 3602 / RFC 4868; unpadded plaintext is a caller bug', () => {
  const suite: IkeSuite = { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 128, integ: IntegId.AUTH_HMAC_SHA2_512_256, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 };
  const { tx, rx } = pair(suite);
  assert.deepEqual([tx.ivLength, tx.icvLength, tx.blockSize], [16, 32, 16]);
  assert.throws(() => tx.seal(Buffer.alloc(0), Buffer.alloc(15)), RangeError);
  // A body whose ciphertext is not a whole number of blocks is refused before any MAC work.
  assert.equal(rx.open(Buffer.alloc(0), Buffer.alloc(16 + 17 + 32)), null);
});

test('wrong key lengths and unsupported suites are RangeErrors (bugs, not peer input)', () => {
  const gcm: IkeSuite = { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 128, integ: IntegId.NONE, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 };
  assert.throws(() => createSkTransform(gcm, Buffer.alloc(16), Buffer.alloc(0)), RangeError, 'salt missing');
  assert.throws(() => createSkTransform({ ...gcm, integ: IntegId.AUTH_HMAC_SHA2_256_128 }, Buffer.alloc(20), Buffer.alloc(32)), RangeError);
  assert.throws(() => createSkTransform({ ...gcm, encrKeyLength: 64 }, Buffer.alloc(12), Buffer.alloc(0)), RangeError);
  assert.throws(() => createSkTransform({ ...gcm, encr: EncrId.ENCR_3DES }, Buffer.alloc(24), Buffer.alloc(0)), RangeError);
  const cbc: IkeSuite = { ...gcm, encr: EncrId.ENCR_AES_CBC, integ: IntegId.AUTH_HMAC_SHA2_256_128 };
  assert.throws(() => createSkTransform(cbc, Buffer.alloc(16), Buffer.alloc(16)), RangeError, 'short integrity key');
});

test('SK_* lengths per suite (RFC 7296 §2.14, RFC 5282 §7.1, RFC 4868 §2.1)', () => {
  const base = { prf: PrfId.PRF_HMAC_SHA2_384, dh: DhGroup.ECP_384 };
  assert.deepEqual(ikeKeyLengths({ ...base, encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 256, integ: IntegId.NONE }),
    { skD: 48, skP: 48, skA: 0, skE: 36 });
  assert.deepEqual(ikeKeyLengths({ ...base, encr: EncrId.ENCR_AES_CBC, encrKeyLength: 128, integ: IntegId.AUTH_HMAC_SHA2_512_256 }),
    { skD: 48, skP: 48, skA: 64, skE: 16 });
});

test('AES-GCM in memory its caller owns (an SA keeps both directions and its SPIs in one allocation): interoperates with a transform that keeps its own, state kept there; wrong sizes refused', async () => {
  const { skStateLength } = await import('../../../src/ike/crypto/index.js');
  const gcm: IkeSuite = { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 128, integ: IntegId.NONE, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 };
  const len = ikeKeyLengths(gcm);
  const ek = randomBytes(len.skE);
  // RFC 5282: 16-octet key + 4-octet salt, then the 8-octet nonce IV and the 8-octet counter.
  assert.equal(skStateLength(gcm), 16 + 4 + 8 + 8);
  const slab = Buffer.alloc(8 + 2 * skStateLength(gcm));
  const mine = slab.subarray(8, 8 + skStateLength(gcm));
  const tx = createSkTransform(gcm, ek, Buffer.alloc(0), mine);
  const rx = createSkTransform(gcm, ek, Buffer.alloc(0));
  assert.deepEqual(mine.subarray(0, len.skE), ek, 'key and salt live in the memory handed in');
  assert.ok(slab.subarray(0, 8).equals(Buffer.alloc(8)) && slab.subarray(8 + skStateLength(gcm)).equals(Buffer.alloc(skStateLength(gcm))), 'nothing written outside it');
  const aad = randomBytes(32);
  for (let i = 0; i < 3; i++) {
    const pt = randomBytes(64);
    assert.deepEqual(rx.open(aad, tx.seal(aad, pt)), pt);
    assert.deepEqual(tx.open(aad, rx.seal(aad, pt)), pt);
  }
  assert.throws(() => createSkTransform(gcm, ek, Buffer.alloc(0), Buffer.alloc(skStateLength(gcm) - 1)), RangeError);
  const cbc: IkeSuite = { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 128, integ: IntegId.AUTH_HMAC_SHA2_256_128, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 };
  assert.equal(skStateLength(cbc), 0);
  const c = ikeKeyLengths(cbc);
  assert.throws(() => createSkTransform(cbc, randomBytes(c.skE), randomBytes(c.skA), Buffer.alloc(8)), RangeError);
});
