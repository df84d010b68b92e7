// Known-answer tests of the ESP transforms, run through the engine's own seal/open stages:
// AES-GCM ESP packets of draft-mcgrew-gcm-test-01 §4 (the RFC 4106 test cases), AES-CBC ESP
// packets of RFC 3602 §4 (cases 5-8), HMAC-SHA2 truncations of RFC 4868 §2.7.2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { loadEsp } from '../../src/kernel/userspace/native.js';
import { bareEngine, gcmSa, pair } from '../support/esp-fixtures.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Case 4 is left out: its SPI is 0, which RFC 4303 §2.1 reserves and the engine refuses.
// key, nonce = salt || IV, AAD = SPI || seq (|| with ESN: SPI || seq hi || seq lo), plaintext
// (payload, padding, pad length, next header), ciphertext, tag: draft-mcgrew-gcm-test-01 §4.
const GCM_CASES = [
  { name: 'case 1 (AES-128, ESN)', key: '4c80cdefbb5d10da906ac73c3613a634', nonce: '2e443b684956ed7e3b244cfe', aad: '000043218765432100000000',
    pt: '45000048699a000080114db7c0a80102c0a801010a9bf15638d301000001000000000000045f736970045f756470037369700963796265726369747902646b000021000101020201',
    ct: 'fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732', tag: '459018148f6cbe722fd04796562dfdb4' },
  { name: 'case 2 (AES-128)', key: 'feffe9928665731c6d6a8f9467308308', nonce: 'cafebabefacedbaddecaf888', aad: '0000a5f80000000a',
    pt: '4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d001000001000000000000037369700963796265726369747902646b00000100010001',
    ct: 'deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1', tag: '83b70d3aa8bc6ee4c309e9d85a41ad4a' },
  { name: 'case 3 (AES-256)', key: 'abbccddef00112233445566778899aababbccddef00112233445566778899aab', nonce: '112233440102030405060708', aad: '4a2cbfe300000002',
    pt: '4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000020405b40101040201020201',
    ct: 'ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99def842d8e', tag: 'b335f4eecfdbf831824b4c4915956c96' },
  { name: 'case 6 (AES-128)', key: '3de09874b388e6491988d0c3607eae1f', nonce: '57690e434e280000a2fca1a3', aad: '42f67e3f1010101010101010',
    pt: '4500001c42a200008001441f406793b6e00000020a00f5ff01020201',
    ct: 'fba2ca845e5df9f0f22c3e6e86dd831e1fc65792cd1af9130e1379ed', tag: '369f071f35e034be95f112e4e7d05d35' },
  { name: 'case 8 (AES-256, ESN)', key: 'abbccddef00112233445566778899aababbccddef00112233445566778899aab', nonce: '73616c74616e640169766563', aad: '17405e67156f3126dd0db99b',
    pt: '45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb71260250101f646d540001',
    ct: 'f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e', tag: '451626c2415771e3b7eebca614c89b35' },
  { name: 'case 12 (AES-128, empty payload)', key: '7d773d00c144c525ac619d18c84a3f47', nonce: 'd966426743457e9182443bc6', aad: '335467aeffffffff',
    pt: '01020201', ct: '437f866b', tag: 'cb3f699fe9b0822bac961c4504bef270' },
];

for (const c of GCM_CASES) {
  test(`AES-GCM ESP ${c.name}: the engine opens the draft's packet and reseals it byte for byte`, () => {
    const e = bareEngine();
    try {
      const aad = hex(c.aad);
      const esn = aad.length === 12;
      const spi = aad.readUInt32BE(0);
      const seq = esn ? (BigInt(aad.readUInt32BE(4)) << 32n) | BigInt(aad.readUInt32BE(8)) : BigInt(aad.readUInt32BE(4));
      const nonce = hex(c.nonce);
      const pt = hex(c.pt);
      const packet = Buffer.concat([aad.subarray(0, 4), aad.subarray(esn ? 8 : 4), nonce.subarray(4), hex(c.ct), hex(c.tag)]);
      const key = Buffer.concat([hex(c.key), nonce.subarray(0, 4)]);
      // The window's top just below the packet, so ESN inference (RFC 4303 App. A2.2) yields its high half.
      const id = e.addSa(gcmSa({ spi, direction: 'in', encryptionKey: key, esn, seq: seq - 1n }));
      const r = e.espOpen(id, packet);
      assert.equal(r.verdict, 'ok');
      assert.equal(r.seq, seq);
      const padLen = pt[pt.length - 2];
      assert.equal(r.nextHeader, pt[pt.length - 1]);
      assert.deepEqual(r.payload, pt.subarray(0, pt.length - 2 - padLen));
      // Resealing with the same sequence number: the engine's IV is the 64-bit sequence number,
      // so compare the ciphertext it produces with a reference AES-GCM over the same nonce.
      const out = e.addSa(gcmSa({ spi, direction: 'out', encryptionKey: key, esn, seq: seq - 1n }));
      const sealed = e.espSeal(out, r.payload!, r.nextHeader!);
      assert.equal(sealed.verdict, 'ok');
      const iv = sealed.packet!.subarray(8, 16);
      assert.equal(iv.readBigUInt64BE(0), seq);
      const ref = createCipheriv(`aes-${c.key.length * 4}-gcm` as 'aes-128-gcm', hex(c.key), Buffer.concat([nonce.subarray(0, 4), iv]));
      ref.setAAD(aad);
      const refCt = Buffer.concat([ref.update(pt), ref.final(), ref.getAuthTag()]);
      assert.deepEqual(sealed.packet!.subarray(16), refCt);
    } finally {
      e.close();
    }
  });
}

// RFC 3602 §4 cases 5-8: AES-CBC ESP packets (SPI, seq, IV, ciphertext; no integrity).
const CBC_CASES = [
  { n: 5, key: '90d382b410eeba7ad938c46cec1a82bf', nh: 1, payload: '08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
    packet: '0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6a9453e194e120849a4870b66cc6b9965330013b4898dc856a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874aa269add047ad2d5913ac19b7cfbad4a6' },
  { n: 6, key: '90d382b410eeba7ad938c46cec1a82bf', nh: 1, payload: '0800b5e8a80a0500a69c083d0b660e00777777777777777777777777',
    packet: '000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4488987ce742e8109689bb379d2d750c0d915dca346a89f75' },
  { n: 7, key: '0123456789abcdef0123456789abcdef', nh: 4, payload: '45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
    packet: '0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c449225e4f3ce5ed611b0c237ca96cf74a93013c1b0ea1a0cf70f8e4ecaec78ac53aad7a0f022b859243c647752e94a859352b8a4d4d2decd136e5c177f132ad3fbfb2201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d' },
  { n: 8, key: '0123456789abcdef0123456789abcdef', nh: 4, payload: '45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    packet: '000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8047232cc00f7048fe45318e11f8a0f62ede3c3fc61203bb50f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de435e7207ed971ef3d2726d9b5ef6affc6d17a0decbb13892' },
];

for (const c of CBC_CASES) {
  test(`AES-CBC ESP RFC 3602 case #${c.n}: the engine decrypts the RFC's packet`, () => {
    const e = bareEngine();
    try {
      const packet = hex(c.packet);
      const id = e.addSa(gcmSa({ spi: packet.readUInt32BE(0), direction: 'in', encryption: 'aes-cbc', encryptionKey: hex(c.key), integrity: 'none' }));
      const r = e.espOpen(id, packet);
      assert.equal(r.verdict, 'ok');
      assert.equal(r.seq, BigInt(packet.readUInt32BE(4)));
      assert.equal(r.nextHeader, c.nh);
      assert.deepEqual(r.payload, hex(c.payload));
    } finally {
      e.close();
    }
  });
}

test('HMAC-SHA-256-128 of the engine matches RFC 4868 §2.7.2.1 AUTH256 test cases', () => {
  const { espIntegrityKat } = loadEsp();
  const cases = [
    { key: Buffer.alloc(32, 0x0b), data: Buffer.from('Hi There'), icv: '198a607eb44bfbc69903a0f1cf2bbdc5' },
    { key: Buffer.from('JefeJefeJefeJefeJefeJefeJefeJefe'), data: Buffer.from('what do ya want for nothing?'), icv: '167f928588c5cc2eef8e3093caa0e87c' },
    { key: Buffer.alloc(32, 0xaa), data: Buffer.alloc(50, 0xdd), icv: 'cdcb1220d1ecccea91e53aba3092f962' },
    { key: Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1)), data: Buffer.alloc(50, 0xcd), icv: '372efcf9b40b35c2115b1346903d2ef4' },
  ];
  for (const c of cases) assert.equal(espIntegrityKat('hmac-sha2-256-128', c.key, c.data).toString('hex'), c.icv);
});

test('AES-CBC + HMAC-SHA-256-128: RFC 3602 case #7 packet with its RFC 4868 ICV opens, one flipped bit does not', () => {
  const e = bareEngine();
  try {
    const { espIntegrityKat } = loadEsp();
    const c = CBC_CASES[2];
    const integrityKey = Buffer.alloc(32, 0x0b);
    const body = hex(c.packet);
    const packet = Buffer.concat([body, espIntegrityKat('hmac-sha2-256-128', integrityKey, body)]);
    const sa = { spi: body.readUInt32BE(0), encryption: 'aes-cbc' as const, encryptionKey: hex(c.key), integrity: 'hmac-sha2-256-128' as const, integrityKey };
    const id = e.addSa(gcmSa({ ...sa, direction: 'in' }));
    const bad = Buffer.from(packet);
    bad[30] ^= 1;
    assert.equal(e.espOpen(id, bad).verdict, 'integrity');
    const r = e.espOpen(id, packet);
    assert.equal(r.verdict, 'ok');
    assert.deepEqual(r.payload, hex(c.payload));
    // And the engine's own CBC+HMAC packets (random IV per packet) round-trip through it.
    const p = pair(e, gcmSa({ ...sa, spi: 0x5000, direction: 'in' }));
    const s1 = e.espSeal(p.out, hex(c.payload), 4), s2 = e.espSeal(p.out, hex(c.payload), 4);
    assert.notDeepEqual(s1.packet!.subarray(8, 24), s2.packet!.subarray(8, 24), 'fresh IV per packet');
    assert.deepEqual(e.espOpen(p.in, s2.packet!).payload, hex(c.payload));
    assert.deepEqual(e.espOpen(p.in, s1.packet!).payload, hex(c.payload));
  } finally {
    e.close();
  }
});

test('SPIs 0..255 are reserved (RFC 4303 §2.1): the engine refuses them', () => {
  const e = bareEngine();
  try {
    assert.throws(() => e.addSa(gcmSa({ spi: 0, direction: 'in', encryptionKey: Buffer.alloc(20) })), /reserved/);
    assert.throws(() => e.addSa(gcmSa({ spi: 255, direction: 'in', encryptionKey: Buffer.alloc(20) })), /reserved/);
  } finally {
    e.close();
  }
});
