/**
 * Known-answer tests on real strongSwan 5.9.8 traffic: every IKE message of both captures
 * decodes, says what tshark says, and re-encodes to the same octets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../../src/ike/codec/index.js';
import { DhGroup, EncrId, ExchangeType, IntegId, PayloadType, PrfId, ProtocolId, TransformType } from '../../../src/ike/constants.js';
import type { NotifyPayload, SaPayload, SkPayload } from '../../../src/ike/codec/types.js';
import { CAPTURES, EXPECTED, ikeMessages } from './captures.js';

for (const capture of CAPTURES) {
  test(`${capture}: every IKE message decodes with tshark's header fields and payload chain`, () => {
    const messages = ikeMessages(capture);
    assert.deepEqual(messages.map((m) => [m.frame, m.port]), EXPECTED[capture].map((e) => [e.frame, e.port]));
    for (const [i, m] of messages.entries()) {
      const want = EXPECTED[capture][i];
      const r = decodeMessage(m.bytes);
      assert.ok(r.ok, `frame ${m.frame}: ${!r.ok && r.error.code} ${!r.ok && r.error.detail}`);
      const { header, payloads } = r.message;
      assert.equal(m.bytes.length, want.length, `frame ${m.frame} length`);
      assert.equal(header.spiI.toString('hex'), want.spiI);
      assert.equal(header.spiR.toString('hex'), want.spiR);
      assert.equal(header.majorVersion, 2);
      assert.equal(header.minorVersion, 0);
      assert.equal(header.exchangeType, want.exchangeType);
      assert.equal(header.flags, want.flags);
      assert.equal(header.messageId, want.messageId);
      assert.deepEqual(payloads.map((p) => p.type), want.payloads, `frame ${m.frame} payload chain`);
      if (want.firstInner !== undefined) {
        const sk = payloads[0] as SkPayload;
        assert.equal(sk.firstInner, want.firstInner, `frame ${m.frame} first inner payload`);
      }
      if (want.notifies) {
        const types = payloads.filter((p) => p.type === PayloadType.NOTIFY).map((p) => (p as NotifyPayload).notifyType);
        assert.deepEqual(types, want.notifies);
      }
    }
  });

  test(`${capture}: every IKE message re-encodes byte-identically (SK bodies opaque)`, () => {
    for (const m of ikeMessages(capture)) {
      const r = decodeMessage(m.bytes);
      assert.ok(r.ok);
      assert.equal(r.raw, m.bytes);
      assert.equal(encodeMessage(r.message).toString('hex'), m.bytes.toString('hex'), `frame ${m.frame}`);
    }
  });
}

// IKE_SA_INIT { SA, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP), ... } -->
test('IKE_SA_INIT proposals are those strongSwan offered and chose', () => {
  const suites: Record<string, { transforms: [number, number, number?][]; group: number; keLength: number }> = {
    'psk-aesgcm128-ecp256': {
      transforms: [
        [TransformType.ENCR, EncrId.ENCR_AES_GCM_16, 128],
        [TransformType.PRF, PrfId.PRF_HMAC_SHA2_256],
        [TransformType.DH, DhGroup.ECP_256],
      ],
      group: DhGroup.ECP_256,
      keLength: 64, // RFC 5903 §7: x || y
    },
    'psk-aescbc256-sha256-x25519': {
      transforms: [
        [TransformType.ENCR, EncrId.ENCR_AES_CBC, 256],
        [TransformType.INTEG, IntegId.AUTH_HMAC_SHA2_256_128],
        [TransformType.PRF, PrfId.PRF_HMAC_SHA2_256],
        [TransformType.DH, DhGroup.CURVE25519],
      ],
      group: DhGroup.CURVE25519,
      keLength: 32, // RFC 8031
    },
  };
  for (const capture of CAPTURES) {
    const init = ikeMessages(capture).slice(0, 2);
    for (const m of init) {
      const r = decodeMessage(m.bytes);
      assert.ok(r.ok);
      assert.equal(r.message.header.exchangeType, ExchangeType.IKE_SA_INIT);
      const sa = r.message.payloads[0] as SaPayload;
      assert.equal(sa.proposals.length, 1);
      const [p] = sa.proposals;
      assert.equal(p.num, 1);
      assert.equal(p.protocol, ProtocolId.IKE);
      assert.equal(p.spi.length, 0);
      const want = suites[capture];
      assert.deepEqual(
        p.transforms.map((t) => [t.type, t.id, t.keyLength]),
        want.transforms.map(([type, id, len]) => [type, id, len]),
      );
      const ke = r.message.payloads[1];
      assert.ok(ke.type === PayloadType.KE && 'group' in ke);
      assert.equal(ke.group, want.group);
      assert.equal(ke.data.length, want.keLength);
      const nonce = r.message.payloads[2];
      assert.ok(nonce.type === PayloadType.NONCE && 'data' in nonce);
      assert.equal(nonce.data.length, 32);
      const natd = r.message.payloads.filter((x): x is NotifyPayload => x.type === PayloadType.NOTIFY).slice(0, 2);
      for (const n of natd) assert.equal(n.data.length, 20, 'NAT_DETECTION_* carries a SHA-1 hash (§2.23)');
    }
  }
});
