/**
 * Published vectors for the primitives under IKE: HMAC PRFs (RFC 4231, RFC 2202), prf+
 * (RFC 7296 §2.13), ECDH (RFC 5903 §8), X25519 (RFC 7748 §6.1), plus the peer-value checks a
 * responder relies on (RFC 7296 §3.4, RFC 8031 §2.4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { DhGroup, PrfId } from '../../../src/ike/constants.js';
import { createKeyExchange, createPrf, DH_ALGORITHMS, respondKeyExchange } from '../../../src/ike/crypto/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('PRF_HMAC_SHA2_* reproduce RFC 4231 test cases 1, 2 and 6', () => {
  const cases: [Buffer, Buffer, Record<number, string>][] = [
    [Buffer.alloc(20, 0x0b), Buffer.from('Hi There'), {
      [PrfId.PRF_HMAC_SHA2_256]: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
      [PrfId.PRF_HMAC_SHA2_384]: 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6',
      [PrfId.PRF_HMAC_SHA2_512]: '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854',
    }],
    [Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), {
      [PrfId.PRF_HMAC_SHA2_256]: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      [PrfId.PRF_HMAC_SHA2_384]: 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
      [PrfId.PRF_HMAC_SHA2_512]: '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
    }],
    // Test case 6: a key longer than the hash block is hashed first.
    [Buffer.alloc(131, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), {
      [PrfId.PRF_HMAC_SHA2_256]: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    }],
  ];
  for (const [key, data, want] of cases) {
    for (const [id, out] of Object.entries(want)) {
      const prf = createPrf(Number(id));
      assert.equal(prf.compute(key, data).toString('hex'), out, `PRF ${id}`);
      assert.equal(prf.outputLength, out.length / 2);
    }
  }
});

test('PRF_HMAC_SHA1 reproduces RFC 2202 test cases 1 and 2', () => {
  const prf = createPrf(PrfId.PRF_HMAC_SHA1);
  assert.equal(prf.compute(Buffer.alloc(20, 0x0b), Buffer.from('Hi There')).toString('hex'), 'b617318655057264e28bc0b6fb378c8ef146be00');
  assert.equal(prf.compute(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')).toString('hex'),
    'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
});

test('prf+ is T1 | T2 | ... with T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n)', () => {
  const prf = createPrf(PrfId.PRF_HMAC_SHA2_256);
  const key = Buffer.from('key');
  const seed = Buffer.from('seed');
  const h = (...parts: Buffer[]) => createHmac('sha256', key).update(Buffer.concat(parts)).digest();
  const t1 = h(seed, Buffer.from([1]));
  const t2 = h(t1, seed, Buffer.from([2]));
  const t3 = h(t2, seed, Buffer.from([3]));
  assert.deepEqual(prf.plus(key, seed, 80), Buffer.concat([t1, t2, t3]).subarray(0, 80));
  assert.deepEqual(prf.plus(key, seed, 32), t1);
  assert.equal(prf.plus(key, seed, 255 * 32).length, 255 * 32);
  assert.throws(() => prf.plus(key, seed, 255 * 32 + 1), RangeError, 'the counter octet allows 255 blocks');
});

test('the PRFs equal node:crypto createHmac for every key length around the block size and long inputs', () => {
  const hashes: Record<number, string> = {
    [PrfId.PRF_HMAC_SHA1]: 'sha1', [PrfId.PRF_HMAC_SHA2_256]: 'sha256', [PrfId.PRF_HMAC_SHA2_384]: 'sha384', [PrfId.PRF_HMAC_SHA2_512]: 'sha512',
  };
  const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 255));
  for (const [id, hash] of Object.entries(hashes)) {
    const prf = createPrf(Number(id));
    for (const keyLen of [0, 1, 20, 32, 63, 64, 65, 127, 128, 129, 300]) {
      for (const dataLen of [0, 1, 55, 64, 200, 5000]) {
        const key = bytes(keyLen, keyLen);
        const data = bytes(dataLen, dataLen + 1);
        const want = createHmac(hash, key).update(data).digest();
        assert.deepEqual(prf.compute(key, data), want, `${hash} key ${keyLen} data ${dataLen}`);
        assert.deepEqual(key, bytes(keyLen, keyLen), 'the key is not touched');
      }
      // prf+ against its definition with createHmac
      const key = bytes(keyLen, 3);
      const seed = bytes(100, 4);
      let prev = Buffer.alloc(0);
      const blocks: Buffer[] = [];
      for (let n = 1; n <= 5; n++) {
        prev = createHmac(hash, key).update(prev).update(seed).update(Buffer.from([n])).digest();
        blocks.push(prev);
      }
      const want = Buffer.concat(blocks);
      assert.deepEqual(prf.plus(key, seed, want.length - 3), want.subarray(0, want.length - 3), `${hash} prf+ key ${keyLen}`);
    }
  }
});

test('respondKeyExchange: the responder\'s key and secret in one step agree with the initiator\'s, a new key every time', () => {
  for (const group of [DhGroup.ECP_256, DhGroup.CURVE25519, DhGroup.ECP_384, DhGroup.MODP_2048]) {
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const init = createKeyExchange(group);
      const { exchange, secret } = respondKeyExchange(group, init.publicValue);
      assert.equal(exchange.group, group);
      assert.ok(secret, `group ${group}`);
      assert.deepEqual(init.computeSecret(exchange.publicValue), secret, `group ${group}`);
      assert.equal(exchange.computeSecret(init.publicValue), null, 'the answered exchange keeps no private key');
      seen.add(exchange.publicValue.toString('hex'));
    }
    assert.equal(seen.size, 3, 'a fresh ephemeral key per answer');
    const bad = Buffer.alloc(createKeyExchange(group).publicValue.length); // zero: invalid in every group
    assert.equal(respondKeyExchange(group, bad).secret, null, `group ${group}: an invalid peer value gives no secret`);
  }
});

test('an unknown PRF or DH group is a RangeError (proposal selection must filter first)', () => {
  assert.throws(() => createPrf(PrfId.PRF_AES128_XCBC), RangeError);
  assert.throws(() => createKeyExchange(DhGroup.MODP_1024), RangeError);
});

const RFC5903 = [
  {
    group: DhGroup.ECP_256,
    i: 'C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433',
    gi: 'DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180 5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3',
    r: 'C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53',
    gr: 'D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63 56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB',
    girx: 'D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE',
  },
  {
    group: DhGroup.ECP_384,
    i: '099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194',
    gi: '667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA' +
      '9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C',
    r: '41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC',
    gr: 'E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571' +
      'DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C',
    girx: '11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746',
  },
  {
    group: DhGroup.ECP_521,
    i: '0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A095AA85A30FE1C2952C6771D937BA9777F5957B2639BAB072462F68C27A57382D4A52',
    r: '0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E9C677D600B343757A3BDBF2A3163E4C2F869CCA7458AA4A4EFFC311F5CB151685EB9',
    girx: '01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04D1427E73CA4BAA240A34786859810C06B3C715A3A8CC3151F2BEE417996D19F3DDEA',
  },
];

for (const v of RFC5903) {
  const name = DH_ALGORITHMS.get(v.group)!.name;
  test(`${name}: RFC 5903 §8 vector (KE data x || y, shared secret x)`, () => {
    const ki = createKeyExchange(v.group, hex(v.i));
    const kr = createKeyExchange(v.group, hex(v.r));
    if (v.gi) assert.equal(ki.publicValue.toString('hex'), hex(v.gi).toString('hex'));
    if (v.gr) assert.equal(kr.publicValue.toString('hex'), hex(v.gr).toString('hex'));
    assert.equal(ki.publicValue.length, DH_ALGORITHMS.get(v.group)!.publicLength);
    assert.equal(ki.computeSecret(kr.publicValue)!.toString('hex'), hex(v.girx).toString('hex'));
    assert.equal(kr.computeSecret(ki.publicValue)!.toString('hex'), hex(v.girx).toString('hex'));
  });
}

test('CURVE25519: RFC 7748 §6.1 Alice and Bob', () => {
  const alice = createKeyExchange(DhGroup.CURVE25519, hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
  const bob = createKeyExchange(DhGroup.CURVE25519, hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
  assert.equal(alice.publicValue.toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(bob.publicValue.toString('hex'), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  assert.equal(alice.computeSecret(bob.publicValue)!.toString('hex'), shared);
  assert.equal(bob.computeSecret(alice.publicValue)!.toString('hex'), shared);
});

for (const [group, alg] of DH_ALGORITHMS) {
  test(`${alg.name}: two fresh keys agree, each call makes a new key, wrong lengths are refused`, () => {
    const a = createKeyExchange(group);
    const b = createKeyExchange(group);
    assert.notDeepEqual(a.publicValue, b.publicValue);
    assert.equal(a.publicValue.length, alg.publicLength);
    const s = a.computeSecret(b.publicValue);
    assert.ok(s);
    assert.equal(s.length, alg.secretLength);
    assert.deepEqual(b.computeSecret(a.publicValue), s);
    assert.equal(a.computeSecret(b.publicValue.subarray(1)), null);
    assert.equal(a.computeSecret(Buffer.concat([b.publicValue, Buffer.alloc(1)])), null);
    assert.equal(a.computeSecret(Buffer.alloc(0)), null);
  });
}

test('MODP: peer values outside 1 < y < p-1 are refused (RFC 7296 §3.4, NIST SP 800-56A)', () => {
  for (const group of [DhGroup.MODP_2048, DhGroup.MODP_3072, DhGroup.MODP_4096]) {
    const len = DH_ALGORITHMS.get(group)!.publicLength;
    const ke = createKeyExchange(group);
    const small = (n: number) => { const b = Buffer.alloc(len); b[len - 1] = n; return b; };
    assert.equal(ke.computeSecret(small(0)), null, 'y = 0');
    assert.equal(ke.computeSecret(small(1)), null, 'y = 1');
    assert.ok(ke.computeSecret(small(2)), 'y = 2 is in range');
    const other = createKeyExchange(group);
    // p - 1 and p: p = 2^n - 2^(n-64) - 1 + 2^64 * (...) ends in 64 one bits (RFC 3526).
    const pMinus1 = Buffer.alloc(len, 0xff);
    pMinus1[len - 1] = 0xfe;
    const high = Buffer.alloc(len, 0xff);
    assert.equal(ke.computeSecret(pMinus1), null, 'y = p - 1');
    assert.equal(ke.computeSecret(high), null, 'y > p');
    assert.ok(ke.computeSecret(other.publicValue));
  }
});

test('ECP: a point that is not on the curve is refused, without an exception', () => {
  for (const group of [DhGroup.ECP_256, DhGroup.ECP_384, DhGroup.ECP_521]) {
    const a = createKeyExchange(group);
    const bad = Buffer.from(createKeyExchange(group).publicValue);
    bad[bad.length - 1] ^= 1; // y changed: not on the curve
    assert.equal(a.computeSecret(bad), null);
    assert.equal(a.computeSecret(Buffer.alloc(bad.length)), null, '(0, 0)');
  }
});

test('CURVE25519: small-order peer values giving an all-zero secret are refused (RFC 8031 §2.4)', () => {
  const a = createKeyExchange(DhGroup.CURVE25519);
  assert.equal(a.computeSecret(Buffer.alloc(32)), null, 'u = 0');
  const one = Buffer.alloc(32);
  one[0] = 1;
  assert.equal(a.computeSecret(one), null, 'u = 1');
});
