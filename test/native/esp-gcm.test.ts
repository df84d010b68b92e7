// The engine's opt-in AES-GCM (native/src/esp/gcm.h, VAES + VPCLMULQDQ) against OpenSSL's EVP and
// Node's crypto: the test vectors of McGrew & Viega's GCM specification, random keys, nonces,
// AAD and lengths (every length a packet path can see up to 1600 bytes, both key sizes), and
// tags that do not verify. Skipped where the CPU lacks the instructions (the engine then uses
// EVP, which esp-kat.test.ts covers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { loadEsp } from '../../src/kernel/userspace/native.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
interface GcmAddon {
  espGcmVectorSupported: boolean;
  espGcmSelect(impl?: 'vaes' | 'openssl'): 'vaes' | 'openssl';
  espCryptoBench(o: { size: number; count: number; threads: number }): { implementation: string };
  espGcm(o: { impl: 'vaes' | 'openssl'; key: Buffer; nonce: Buffer; aad: Buffer; data: Buffer; tag?: Buffer }): { ok: boolean; data: Buffer; tag?: Buffer };
}
const addon = loadEsp() as unknown as GcmAddon;
const skip = addon.espGcmVectorSupported ? false : 'no VAES/VPCLMULQDQ/AVX-512 on this CPU: the engine can only use OpenSSL';

test('SAs use OpenSSL EVP unless the vector code is selected; the selection applies to SAs added after it', () => {
  assert.equal(addon.espGcmSelect(), process.env.SEGW_ESP_GCM === 'vaes' && addon.espGcmVectorSupported ? 'vaes' : 'openssl');
  const before = addon.espGcmSelect();
  try {
    assert.equal(addon.espGcmSelect('openssl'), 'openssl');
    assert.equal(addon.espCryptoBench({ size: 100, count: 10, threads: 1 }).implementation, 'openssl');
    if (addon.espGcmVectorSupported) {
      assert.equal(addon.espGcmSelect('vaes'), 'vaes');
      assert.equal(addon.espCryptoBench({ size: 100, count: 10, threads: 1 }).implementation, 'vaes');
    } else {
      assert.throws(() => addon.espGcmSelect('vaes'), /lacks VAES/);
      assert.equal(addon.espGcmSelect(), 'openssl', 'a refused selection changes nothing');
    }
    assert.throws(() => addon.espGcmSelect('aesni' as 'vaes'), TypeError);
  } finally {
    addon.espGcmSelect(before);
  }
});

const P64 = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
const AAD = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';
// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases with a 96-bit IV.
const VECTORS = [
  { name: '1', key: '00'.repeat(16), iv: '00'.repeat(12), aad: '', p: '', c: '', t: '58e2fccefa7e3061367f1d57a4e7455a' },
  { name: '2', key: '00'.repeat(16), iv: '00'.repeat(12), aad: '', p: '00'.repeat(16), c: '0388dace60b6a392f328c2b971b2fe78', t: 'ab6e47d42cec13bdf53a67b21257bddf' },
  { name: '3', key: 'feffe9928665731c6d6a8f9467308308', iv: 'cafebabefacedbaddecaf888', aad: '', p: P64,
    c: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985', t: '4d5c2af327cd64a62cf35abd2ba6fab4' },
  { name: '4', key: 'feffe9928665731c6d6a8f9467308308', iv: 'cafebabefacedbaddecaf888', aad: AAD, p: P64.slice(0, 120),
    c: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091', t: '5bc94fbc3221a5db94fae95ae7121a47' },
  { name: '13', key: '00'.repeat(32), iv: '00'.repeat(12), aad: '', p: '', c: '', t: '530f8afbc74536b9a963b4f1c4cb738b' },
  { name: '14', key: '00'.repeat(32), iv: '00'.repeat(12), aad: '', p: '00'.repeat(16), c: 'cea7403d4d606b6e074ec5d3baf39d18', t: 'd0d1c8a799996bf0265b98b5d48ab919' },
  { name: '16', key: 'feffe9928665731c6d6a8f9467308308'.repeat(2), iv: 'cafebabefacedbaddecaf888', aad: AAD, p: P64.slice(0, 120),
    c: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662', t: '76fc6ece0f4e1768cddf8853bb2d551b' },
];

function nodeGcm(key: Buffer, nonce: Buffer, aad: Buffer, data: Buffer): { data: Buffer; tag: Buffer } {
  const c = createCipheriv(key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm', key, nonce);
  c.setAAD(aad);
  const out = Buffer.concat([c.update(data), c.final()]);
  return { data: out, tag: c.getAuthTag() };
}

test('GCM specification test cases 1-4, 13, 14, 16 through both implementations', { skip }, () => {
  for (const v of VECTORS) {
    for (const impl of ['vaes', 'openssl'] as const) {
      const sealed = addon.espGcm({ impl, key: hex(v.key), nonce: hex(v.iv), aad: hex(v.aad), data: hex(v.p) });
      assert.equal(sealed.data.toString('hex'), v.c, `case ${v.name} ${impl} ciphertext`);
      assert.equal(sealed.tag!.toString('hex'), v.t, `case ${v.name} ${impl} tag`);
      const opened = addon.espGcm({ impl, key: hex(v.key), nonce: hex(v.iv), aad: hex(v.aad), data: hex(v.c), tag: hex(v.t) });
      assert.ok(opened.ok);
      assert.equal(opened.data.toString('hex'), v.p);
    }
  }
});

test('every length 0..1600 and AAD 0..40, 128- and 256-bit keys: the same bytes and tags as OpenSSL and Node', { skip }, () => {
  for (let len = 0; len <= 1600; len++) {
    const key = randomBytes(len % 2 ? 32 : 16), nonce = randomBytes(12), aad = randomBytes(len % 41), data = randomBytes(len);
    const ours = addon.espGcm({ impl: 'vaes', key, nonce, aad, data });
    const evp = addon.espGcm({ impl: 'openssl', key, nonce, aad, data });
    const ref = nodeGcm(key, nonce, aad, data);
    assert.ok(ours.data.equals(ref.data) && ours.tag!.equals(ref.tag), `length ${len}, AAD ${aad.length}: matches Node`);
    assert.ok(evp.data.equals(ref.data) && evp.tag!.equals(ref.tag), `length ${len}: EVP path matches Node`);
    const back = addon.espGcm({ impl: 'vaes', key, nonce, aad, data: ours.data, tag: ours.tag });
    assert.ok(back.ok && back.data.equals(data), `length ${len}: opens`);
  }
  // Jumbo sizes (TSO segments are at most the MTU, but SAs may carry up to 64 KB).
  for (const len of [4095, 4096, 9000, 65_000]) {
    const key = randomBytes(16), nonce = randomBytes(12), aad = randomBytes(12), data = randomBytes(len);
    const ours = addon.espGcm({ impl: 'vaes', key, nonce, aad, data });
    const ref = nodeGcm(key, nonce, aad, data);
    assert.ok(ours.data.equals(ref.data) && ours.tag!.equals(ref.tag), `length ${len}`);
  }
});

test('a flipped bit anywhere (AAD, ciphertext, tag), a wrong nonce or key fails the tag', { skip }, () => {
  const key = randomBytes(16), nonce = randomBytes(12), aad = randomBytes(12), data = randomBytes(300);
  const s = addon.espGcm({ impl: 'vaes', key, nonce, aad, data });
  const flip = (b: Buffer, i: number) => {
    const c = Buffer.from(b);
    c[i >> 3] ^= 1 << (i & 7);
    return c;
  };
  for (let i = 0; i < aad.length * 8; i += 7) {
    assert.equal(addon.espGcm({ impl: 'vaes', key, nonce, aad: flip(aad, i), data: s.data, tag: s.tag }).ok, false, `AAD bit ${i}`);
  }
  for (let i = 0; i < s.data.length * 8; i += 13) {
    assert.equal(addon.espGcm({ impl: 'vaes', key, nonce, aad, data: flip(s.data, i), tag: s.tag }).ok, false, `ciphertext bit ${i}`);
  }
  for (let i = 0; i < 128; i++) {
    assert.equal(addon.espGcm({ impl: 'vaes', key, nonce, aad, data: s.data, tag: flip(s.tag!, i) }).ok, false, `tag bit ${i}`);
  }
  assert.equal(addon.espGcm({ impl: 'vaes', key, nonce: flip(nonce, 5), aad, data: s.data, tag: s.tag }).ok, false);
  assert.equal(addon.espGcm({ impl: 'vaes', key: flip(key, 9), nonce, aad, data: s.data, tag: s.tag }).ok, false);
});
