/** Every payload type round-trips from hand-built values, and the octets are the RFC's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMessage,
  decodeStruct,
  encodeMessage,
  encodeStruct,
  findNotify,
  INVALID_KE_DATA,
  REDIRECT_DATA,
  REDIRECTED_FROM_DATA,
  SIGNATURE_HASH_ALGORITHMS_DATA,
} from '../../../src/ike/codec/index.js';
import { PROPOSAL, TRANSFORM, TRAFFIC_SELECTOR, NOTIFY_BODY } from '../../../src/ike/codec/formats/index.js';
import { EncrId, ExchangeType, GatewayIdType, HashAlgorithm, HeaderFlag, NotifyStatus, PayloadType, ProtocolId, TransformType, TsType } from '../../../src/ike/constants.js';
import { ikeMessages } from './captures.js';
import type { Payload, SkfPayload, SkPayload } from '../../../src/ike/codec/types.js';
import { everyPayload, header } from './samples.js';

test('a message with every payload type encodes and decodes back to the same values', () => {
  const payloads = everyPayload();
  const bytes = encodeMessage({ header: header(), payloads });
  const r = decodeMessage(bytes);
  assert.ok(r.ok, !r.ok ? `${r.error.code}: ${r.error.detail}` : '');
  assert.deepEqual(r.message.header, header());
  assert.deepEqual(r.message.payloads, payloads);
  assert.equal(encodeMessage(r.message).toString('hex'), bytes.toString('hex'));
});

test('each payload type alone round-trips, and the Next Payload chain and lengths are filled in', () => {
  for (const p of everyPayload()) {
    const bytes = encodeMessage({ header: header(), payloads: [p] });
    assert.equal(bytes.readUInt32BE(24), bytes.length, 'header Length');
    assert.equal(bytes[16], p.type, 'header Next Payload');
    assert.equal(bytes[28], 0, 'the last payload says NONE');
    assert.equal(bytes.readUInt16BE(30), bytes.length - 28, 'Payload Length');
    const r = decodeMessage(bytes);
    assert.ok(r.ok, !r.ok ? `type ${p.type}: ${r.error.code} ${r.error.detail}` : '');
    assert.deepEqual(r.message.payloads, [p]);
  }
});

test('SK and SKF keep their first inner payload type and opaque body, and must come last', () => {
  const sk: SkPayload = { type: PayloadType.SK, firstInner: PayloadType.IDi, body: Buffer.alloc(40, 7) };
  const skf: SkfPayload = { type: PayloadType.SKF, firstInner: 0, fragmentNumber: 2, totalFragments: 3, body: Buffer.alloc(33, 9) };
  for (const p of [sk, skf]) {
    const bytes = encodeMessage({ header: header(ExchangeType.IKE_AUTH), payloads: [p] });
    assert.equal(bytes[28], p.firstInner, 'the SK/SKF Next Payload is the first inner type');
    const r = decodeMessage(bytes);
    assert.ok(r.ok);
    assert.deepEqual(r.message.payloads, [p]);
  }
  assert.throws(() => encodeMessage({ header: header(), payloads: [sk, everyPayload()[1]] }), /last/);
});

test('the wire octets are the RFC layouts (transform with TV KEY_LENGTH, proposal, TS, notify)', () => {
  // §3.3.2 + §3.3.5: last, RESERVED, length 12, ENCR, RESERVED, ID 20, AF|14, 128
  const t = { type: TransformType.ENCR, id: EncrId.ENCR_AES_GCM_16, keyLength: 128 };
  assert.equal(encodeStruct(TRANSFORM, t).toString('hex'), '0000000c01000014800e0080');
  // §3.3.1: last, RESERVED, length, num 1, ESP, SPI size 4, 1 transform, SPI, transform
  const p = { num: 1, protocol: ProtocolId.ESP, spi: Buffer.from('c0ffee01', 'hex'), transforms: [t] };
  assert.equal(encodeStruct(PROPOSAL, p).toString('hex'), '0000001801030401c0ffee01' + '0000000c01000014800e0080');
  // §3.13.1: TS_IPV4_ADDR_RANGE, any protocol, length 16, ports 0-65535, 192.0.2.0-192.0.2.127
  const s = { tsType: TsType.TS_IPV4_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 65535, startAddr: Buffer.from([192, 0, 2, 0]), endAddr: Buffer.from([192, 0, 2, 127]) };
  assert.equal(encodeStruct(TRAFFIC_SELECTOR, s).toString('hex'), '070000100000ffffc0000200c000027f');
  // §3.10: protocol 0, SPI size 0, COOKIE, data
  const n = { protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyStatus.COOKIE, data: Buffer.from('00ff', 'hex') };
  assert.equal(encodeStruct(NOTIFY_BODY, n).toString('hex'), '0000400600ff');
  for (const [spec, value] of [[TRANSFORM, t], [PROPOSAL, p], [TRAFFIC_SELECTOR, s], [NOTIFY_BODY, n]] as const) {
    const back = decodeStruct(spec as typeof TRANSFORM, encodeStruct(spec as typeof TRANSFORM, value as typeof t));
    assert.ok(back.ok);
    assert.deepEqual(back.value, value);
  }
});

test('proposals and transforms carry Last Substruc 2/3 except on the last one', () => {
  const sa = everyPayload()[0];
  const bytes = encodeMessage({ header: header(), payloads: [sa] });
  assert.equal(bytes[32], 2, 'first proposal: more follow');
  assert.equal(bytes[40], 3, 'first transform: more follow');
  const r = decodeMessage(bytes);
  assert.ok(r.ok);
});

test('the critical bit and the header flags are kept as received', () => {
  const p: Payload = { type: PayloadType.VENDOR_ID, data: Buffer.from('x'), critical: true };
  const h = { ...header(ExchangeType.INFORMATIONAL, HeaderFlag.RESPONSE | HeaderFlag.VERSION | 0x01, 7), minorVersion: 1 };
  const bytes = encodeMessage({ header: h, payloads: [p] });
  assert.equal(bytes[29], 0x80);
  const r = decodeMessage(bytes);
  assert.ok(r.ok);
  assert.deepEqual(r.message, { header: h, payloads: [p] });
});

test('an empty message (INFORMATIONAL liveness outside SK) is a bare header', () => {
  const bytes = encodeMessage({ header: header(ExchangeType.INFORMATIONAL), payloads: [] });
  assert.equal(bytes.length, 28);
  const r = decodeMessage(bytes);
  assert.ok(r.ok);
  assert.deepEqual(r.message.payloads, []);
});

test('notification data formats: REDIRECT, REDIRECTED_FROM, INVALID_KE_PAYLOAD, SIGNATURE_HASH_ALGORITHMS', () => {
  const init = ikeMessages('psk-aesgcm128-ecp256')[0];
  const d = decodeMessage(init.bytes);
  assert.ok(d.ok);
  const sha = findNotify(d.message.payloads, NotifyStatus.SIGNATURE_HASH_ALGORITHMS)!;
  const algs = decodeStruct(SIGNATURE_HASH_ALGORITHMS_DATA, sha.data);
  assert.ok(algs.ok);
  assert.deepEqual(algs.value.algorithms.map((a) => a.id), [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.IDENTITY]);
  assert.deepEqual(encodeStruct(SIGNATURE_HASH_ALGORITHMS_DATA, algs.value), sha.data);

  // RFC 5685 §3: REDIRECT in IKE_SA_INIT carries the initiator's nonce after the gateway.
  const v4 = { gwIdentType: GatewayIdType.IPV4, gwIdent: Buffer.from([198, 51, 100, 3]), nonce: Buffer.alloc(32, 1) };
  assert.equal(encodeStruct(REDIRECT_DATA, v4).toString('hex'), '0104c6336403' + '01'.repeat(32));
  const fqdn = { gwIdentType: GatewayIdType.FQDN, gwIdent: Buffer.from('gw2.example'), nonce: Buffer.alloc(0) };
  for (const v of [v4, fqdn]) {
    const back = decodeStruct(REDIRECT_DATA, encodeStruct(REDIRECT_DATA, v));
    assert.ok(back.ok);
    assert.deepEqual(back.value, v);
  }
  const from = { gwIdentType: GatewayIdType.IPV6, gwIdent: Buffer.alloc(16, 0x20) };
  const fromBack = decodeStruct(REDIRECTED_FROM_DATA, encodeStruct(REDIRECTED_FROM_DATA, from));
  assert.ok(fromBack.ok && fromBack.value.gwIdent.equals(from.gwIdent));
  assert.ok(!decodeStruct(REDIRECT_DATA, Buffer.from('0105c633640301', 'hex')).ok, 'IPv4 identity of 5 octets');
  assert.ok(!decodeStruct(REDIRECT_DATA, Buffer.from('0110c6', 'hex')).ok, 'identity length past the data');
  assert.ok(!decodeStruct(REDIRECTED_FROM_DATA, Buffer.from('0104c633640300', 'hex')).ok, 'trailing octets');
  const ke = decodeStruct(INVALID_KE_DATA, Buffer.from([0, 19]));
  assert.ok(ke.ok && ke.value.group === 19);
  assert.ok(!decodeStruct(INVALID_KE_DATA, Buffer.from([0])).ok);
});
