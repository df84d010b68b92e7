/**
 * Signature AUTH methods (RFC 7296 §3.8, RFC 4754, RFC 7427): every method signs and verifies,
 * the scheme chosen follows the peer's SIGNATURE_HASH_ALGORITHMS the way strongSwan does, and
 * anything wrong in a peer's AUTH data is a refusal value, never an exception.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuthMethod, HashAlgorithm } from '../../../src/ike/constants.js';
import {
  chooseSignature,
  encodeSignatureHashAlgorithms,
  parseSignatureHashAlgorithms,
  SIGNATURE_HASHES,
  SIGNATURE_SCHEMES,
  signAuth,
  verifyAuth,
} from '../../../src/ike/crypto/index.js';
import { TestPki } from './pki.js';

const octets = randomBytes(300); // stands in for RFC 7296 §2.15 signed octets
const ALL = SIGNATURE_HASHES;

test('SIGNATURE_HASH_ALGORITHMS: we announce SHA2-256/384/512 and IDENTITY like strongSwan; odd data is refused', () => {
  assert.equal(encodeSignatureHashAlgorithms().toString('hex'), '0002000300040005');
  assert.deepEqual(parseSignatureHashAlgorithms(Buffer.from('00020001000400ff', 'hex')), [2, 1, 4, 255]);
  assert.deepEqual(parseSignatureHashAlgorithms(Buffer.alloc(0)), []);
  assert.equal(parseSignatureHashAlgorithms(Buffer.from('000203', 'hex')), null);
});

test('RFC 7427 Appendix A AlgorithmIdentifier encodings', () => {
  const S = SIGNATURE_SCHEMES;
  assert.equal(S.RSA_PKCS1_SHA256.algorithmId.toString('hex'), '300d06092a864886f70d01010b0500');
  assert.equal(S.RSA_PKCS1_SHA384.algorithmId.toString('hex'), '300d06092a864886f70d01010c0500');
  assert.equal(S.RSA_PKCS1_SHA512.algorithmId.toString('hex'), '300d06092a864886f70d01010d0500');
  assert.equal(S.ECDSA_SHA256.algorithmId.toString('hex'), '300a06082a8648ce3d040302');
  assert.equal(S.ECDSA_SHA384.algorithmId.toString('hex'), '300a06082a8648ce3d040303');
  assert.equal(S.ECDSA_SHA512.algorithmId.toString('hex'), '300a06082a8648ce3d040304');
  assert.equal(S.ED25519.algorithmId.toString('hex'), '300506032b6570');
  // RFC 4055 RSASSA-PSS-params: SHA-256, MGF1-SHA-256, salt 32 (as strongSwan writes them).
  assert.equal(S.RSA_PSS_SHA256.algorithmId.toString('hex'),
    '304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120');
});

describe('sign and verify every AUTH method', () => {
  const pki = new TestPki();
  let rsa3072: KeyObject;
  let rsa4096: KeyObject;
  before(() => {
    rsa3072 = createPrivateKey(readFileSync(pki.key('rsa', 3072)));
    rsa4096 = createPrivateKey(readFileSync(pki.key('rsa', 4096)));
  });
  after(() => pki.cleanup());
  const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).privateKey;

  function roundTrip(key: KeyObject, peerHashes: readonly number[] | null, rsaPss = false) {
    const s = signAuth(key, octets, { peerHashes, rsaPss });
    assert.ok(s.ok, s.ok ? '' : s.reason);
    const pub = createPublicKey(key);
    const v = verifyAuth(pub, s.method, s.data, octets);
    assert.ok(v.ok, v.ok ? '' : v.reason);
    const tampered = Buffer.from(octets);
    tampered[10] ^= 1;
    assert.equal(verifyAuth(pub, s.method, s.data, tampered).ok, false, 'other signed octets');
    return { method: s.method, data: s.data, scheme: v.scheme };
  }

  test('RSA: RSA_SIG (PKCS#1 v1.5 SHA-1) without RFC 7427; sha256WithRSAEncryption with it (strongSwan default)', () => {
    assert.equal(roundTrip(rsa3072, null).method, AuthMethod.RSA_SIG);
    const d = roundTrip(rsa3072, ALL);
    assert.equal(d.method, AuthMethod.DIGITAL_SIGNATURE);
    assert.equal(d.scheme, 'sha256WithRSAEncryption');
    assert.equal(d.data[0], 15, 'length-prefixed AlgorithmIdentifier');
    assert.equal(d.data.length, 1 + 15 + 384);
  });

  test('RSA hash choice: a key over 3072 bits starts at SHA-384; the peer\'s list is honoured', () => {
    assert.equal(roundTrip(rsa4096, ALL).scheme, 'sha384WithRSAEncryption');
    assert.equal(roundTrip(rsa3072, [HashAlgorithm.SHA2_512]).scheme, 'sha512WithRSAEncryption');
    // No common hash: fall back to RSA_SIG, which needs no negotiation.
    assert.equal(roundTrip(rsa3072, [HashAlgorithm.SHA1]).method, AuthMethod.RSA_SIG);
  });

  test('RSASSA-PSS when configured (RFC 7427 only)', () => {
    const d = roundTrip(rsa3072, ALL, true);
    assert.equal(d.scheme, 'RSASSA-PSS-SHA256');
    assert.equal(roundTrip(rsa3072, null, true).method, AuthMethod.RSA_SIG);
  });

  test('ECDSA: RFC 4754 methods 9/10/11 (r || s) without RFC 7427, ecdsa-with-SHA* (DER) with it', () => {
    for (const [curve, method, size, scheme] of [
      ['P-256', AuthMethod.ECDSA_SHA256_P256, 64, 'ecdsa-with-SHA256'],
      ['P-384', AuthMethod.ECDSA_SHA384_P384, 96, 'ecdsa-with-SHA384'],
      ['P-521', AuthMethod.ECDSA_SHA512_P521, 132, 'ecdsa-with-SHA512'],
    ] as const) {
      const key = ec(curve);
      const c = roundTrip(key, null);
      assert.equal(c.method, method, curve);
      assert.equal(c.data.length, size, `${curve} r || s`);
      const d = roundTrip(key, ALL);
      assert.equal(d.scheme, scheme);
      assert.equal(d.data[1 + d.data[0]], 0x30, 'DER Ecdsa-Sig-Value');
    }
    // P-256 with a peer that only does SHA-384: ecdsa-with-SHA384.
    assert.equal(roundTrip(ec('P-256'), [HashAlgorithm.SHA2_384]).scheme, 'ecdsa-with-SHA384');
  });

  test('Ed25519 needs RFC 7427 with IDENTITY; without it there is no method', () => {
    const key = generateKeyPairSync('ed25519').privateKey;
    assert.equal(roundTrip(key, ALL).scheme, 'Ed25519');
    assert.equal(chooseSignature(key, { peerHashes: null }), null);
    const s = signAuth(key, octets, { peerHashes: [HashAlgorithm.SHA2_256] });
    assert.ok(!s.ok && /RFC 7427/.test(s.reason));
  });

  test('a peer\'s bad AUTH data is refused with a reason, never thrown', () => {
    const ecKey = ec('P-256');
    const ecPub = createPublicKey(ecKey);
    const rsaPub = createPublicKey(rsa3072);
    const good = signAuth(ecKey, octets, { peerHashes: ALL });
    assert.ok(good.ok);
    const cases: [KeyObject, number, Buffer][] = [
      [ecPub, AuthMethod.DIGITAL_SIGNATURE, Buffer.alloc(0)],
      [ecPub, AuthMethod.DIGITAL_SIGNATURE, Buffer.from([200, 1, 2])], // length past the end
      [ecPub, AuthMethod.DIGITAL_SIGNATURE, Buffer.concat([Buffer.from([3]), Buffer.from('300100', 'hex'), randomBytes(8)])],
      [ecPub, AuthMethod.DIGITAL_SIGNATURE, good.data.subarray(0, good.data.length - 3)], // truncated signature
      [rsaPub, AuthMethod.DIGITAL_SIGNATURE, good.data], // ECDSA scheme, RSA key
      [ecPub, AuthMethod.ECDSA_SHA256_P256, randomBytes(63)], // wrong r || s length
      [ecPub, AuthMethod.ECDSA_SHA384_P384, randomBytes(96)], // method for another curve
      [ecPub, AuthMethod.RSA_SIG, randomBytes(384)],
      [rsaPub, AuthMethod.RSA_SIG, randomBytes(3)],
      [ecPub, AuthMethod.SHARED_KEY_MIC, randomBytes(32)],
      [ecPub, 201, randomBytes(32)],
    ];
    for (const [key, method, data] of cases) {
      const r = verifyAuth(key, method, data, octets);
      assert.equal(r.ok, false, `method ${method} data ${data.toString('hex').slice(0, 20)}`);
      assert.ok(!r.ok && r.reason.length > 0);
    }
  });

  test('RFC 7427 with SHA-1 or an unannounced hash is refused; PSS with a different MGF1 hash too', () => {
    const sha1Rsa = Buffer.from('300d06092a864886f70d0101050500', 'hex'); // sha1WithRSAEncryption
    const r = verifyAuth(createPublicKey(rsa3072), AuthMethod.DIGITAL_SIGNATURE,
      Buffer.concat([Buffer.from([sha1Rsa.length]), sha1Rsa, randomBytes(384)]), octets);
    assert.ok(!r.ok);
    const s = signAuth(rsa3072, octets, { peerHashes: [HashAlgorithm.SHA2_512] });
    assert.ok(s.ok);
    const v = verifyAuth(createPublicKey(rsa3072), s.method, s.data, octets, [HashAlgorithm.SHA2_256]);
    assert.ok(!v.ok && /announced/.test(v.reason));
    // PSS params: hash SHA-256, MGF1 with SHA-1 (the default when [1] is absent).
    const pssMixed = Buffer.from('3023' + '06092a864886f70d01010a' + '3016' + 'a00f300d06096086480165030402010500' + 'a203020120', 'hex');
    const m = verifyAuth(createPublicKey(rsa3072), AuthMethod.DIGITAL_SIGNATURE,
      Buffer.concat([Buffer.from([pssMixed.length]), pssMixed, randomBytes(384)]), octets);
    assert.ok(!m.ok && /MGF1/.test(m.reason), m.ok ? '' : m.reason);
  });
});
