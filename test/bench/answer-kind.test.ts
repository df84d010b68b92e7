import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerKind } from '../../bench/intake/answer-kind.js';
import { encodeMessage } from '../../src/ike/codec/index.js';
import type { IkeMessage, Payload } from '../../src/ike/codec/types.js';
import { ExchangeType, HeaderFlag, NotifyError, NotifyStatus, PayloadType } from '../../src/ike/constants.js';
import { encodeRedirect, gatewayIdFromString } from '../../src/ike/redirect/notify.js';

function response(payloads: Payload[]): Buffer {
  const m: IkeMessage = {
    header: { spiI: Buffer.alloc(8, 1), spiR: Buffer.alloc(8), majorVersion: 2, minorVersion: 0, exchangeType: ExchangeType.IKE_SA_INIT, flags: HeaderFlag.RESPONSE, messageId: 0 },
    payloads,
  };
  return encodeMessage(m);
}
const notify = (notifyType: number, data = Buffer.alloc(0)): Payload => ({ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType, data }) as Payload;

test('the answers to a flood request are told apart by their first payload', () => {
  // IKE_SA_INIT <-- { N(REDIRECT(gw, Ni)) }   RFC 5685 §4
  assert.equal(answerKind(response([notify(NotifyStatus.REDIRECT, Buffer.from(encodeRedirect(gatewayIdFromString('198.51.100.2'), Buffer.alloc(32, 7))))])), 'redirect');
  assert.equal(answerKind(response([notify(NotifyStatus.COOKIE, Buffer.alloc(20, 3))])), 'cookie');
  assert.equal(answerKind(response([notify(NotifyError.TEMPORARY_FAILURE)])), 'temporary-failure');
  assert.equal(answerKind(response([notify(NotifyError.NO_PROPOSAL_CHOSEN)])), 'other-notify');
  assert.equal(answerKind(response([{ type: PayloadType.NONCE, data: Buffer.alloc(32) } as Payload])), 'other');
  assert.equal(answerKind(Buffer.alloc(10)), 'other', 'shorter than a header');
});

test('a full IKE_SA_INIT response (SA first) is an init-response', () => {
  const buf = response([{ type: PayloadType.NONCE, data: Buffer.alloc(32) } as Payload]);
  buf[16] = PayloadType.SA; // only the header's Next Payload is read for it
  assert.equal(answerKind(buf), 'init-response');
});
