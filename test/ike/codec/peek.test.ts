// peekInitRequest: the header, Ni and a leading COOKIE of an IKE_SA_INIT request read without
// decoding (RFC 7296 §2.6), on raw bytes; everything else is left to the full decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, peekInitRequest } from '../../../src/ike/codec/index.js';
import { ExchangeType, HeaderFlag, NotifyStatus, PayloadType } from '../../../src/ike/constants.js';
import type { Payload } from '../../../src/ike/codec/types.js';
import { header } from './samples.js';

const NI = Buffer.alloc(32, 0x4e);
const ke: Payload = { type: PayloadType.KE, group: 19, data: Buffer.alloc(64, 0x4b) };
const nonce: Payload = { type: PayloadType.NONCE, data: NI };
const cookie = (data: Buffer): Payload => ({ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyStatus.COOKIE, data });
const init = (payloads: Payload[], h = header()) => encodeMessage({ header: h, payloads });

test('an IKE_SA_INIT request: Ni found past other payloads, a leading COOKIE read', () => {
  const p = peekInitRequest(init([ke, nonce]));
  assert.ok(p);
  assert.deepEqual(p.nonce, NI);
  assert.equal(p.cookie, undefined);
  assert.deepEqual(p.header.spiI, header().spiI);
  const c = Buffer.alloc(36, 0xc0);
  assert.deepEqual(peekInitRequest(init([cookie(c), ke, nonce]))?.cookie, c);
  // A COOKIE that is not the first payload is not one (§2.6: it MUST come first).
  assert.equal(peekInitRequest(init([ke, cookie(c), nonce]))?.cookie, undefined);
});

test('not an IKE_SA_INIT request, or malformed: left to the decoder', () => {
  const good = init([ke, nonce]);
  assert.equal(peekInitRequest(init([ke])), undefined, 'no Ni');
  assert.equal(peekInitRequest(init([ke, nonce], header(ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE))), undefined, 'a response');
  assert.equal(peekInitRequest(init([ke, nonce], header(ExchangeType.IKE_AUTH))), undefined, 'another exchange');
  assert.equal(peekInitRequest(init([ke, nonce], { ...header(), messageId: 1 })), undefined, 'message ID 1');
  assert.equal(peekInitRequest(init([ke, nonce], { ...header(), spiR: Buffer.alloc(8, 1) })), undefined, 'SPIr set');
  assert.equal(peekInitRequest(good.subarray(0, good.length - 1)), undefined, 'truncated');
  const badLen = Buffer.from(good);
  badLen.writeUInt16BE(0xffff, 28 + 2); // first payload's length runs past the datagram
  assert.equal(peekInitRequest(badLen), undefined);
  const v3 = Buffer.from(good);
  v3[17] = 0x30;
  assert.equal(peekInitRequest(v3), undefined, 'major version 3: the decoder answers INVALID_MAJOR_VERSION');
  assert.equal(peekInitRequest(Buffer.alloc(10)), undefined);
});
