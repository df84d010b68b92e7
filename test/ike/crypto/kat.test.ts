/**
 * Known answers from real strongSwan 5.9.8 traffic (../shared/captures): from the logged DH
 * secret and the nonces/SPIs of IKE_SA_INIT, derive SKEYSEED, every SK_* and the child SA's
 * ESP keys, and compare with what strongSwan logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EncrId, IntegId } from '../../../src/ike/constants.js';
import { computeSkeyseed, createPrf, deriveChildKeys, deriveIkeKeys } from '../../../src/ike/crypto/index.js';
import { CAPTURE_SUITES, loadCapture, saInit } from './captures.js';

/** ESP:AES_GCM_16_128/NO_EXT_SEQ in both captures. */
const ESP_SUITE = { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 128, integ: IntegId.NONE };

for (const [name, suite] of Object.entries(CAPTURE_SUITES)) {
  test(`${name}: SKEYSEED and every SK_* match strongSwan's log`, () => {
    const c = loadCapture(name);
    const { ni, nr, spiI, spiR } = saInit(c);
    const gir = c.keys.get('shared Diffie Hellman')!;
    assert.ok(gir, 'DH secret in the keys file');

    const skeyseed = computeSkeyseed(createPrf(suite.prf), gir, ni, nr);
    assert.equal(skeyseed.toString('hex'), c.keys.get('SKEYSEED')!.toString('hex'));

    const k = deriveIkeKeys(suite, { sharedSecret: gir, ni, nr, spiI, spiR });
    const expect = (label: string, got: Buffer) => {
      const want = c.keys.get(label);
      if (want) assert.equal(got.toString('hex'), want.toString('hex'), label);
      else assert.equal(got.length, 0, `${label} is absent from the log, so it must be empty`);
    };
    expect('Sk_d', k.skD);
    expect('Sk_ai', k.skAi);
    expect('Sk_ar', k.skAr);
    expect('Sk_ei', k.skEi);
    expect('Sk_er', k.skEr);
    expect('Sk_pi', k.skPi);
    expect('Sk_pr', k.skPr);
  });

  test(`${name}: the IKE_AUTH child SA's ESP keys match strongSwan's log`, () => {
    const c = loadCapture(name);
    const { ni, nr, spiI, spiR } = saInit(c);
    const k = deriveIkeKeys(suite, { sharedSecret: c.keys.get('shared Diffie Hellman')!, ni, nr, spiI, spiR });
    // RFC 7296 §2.17: the child SA made in IKE_AUTH uses the IKE_SA_INIT nonces and no new DH.
    const child = deriveChildKeys(createPrf(suite.prf), ESP_SUITE, { skD: k.skD, ni, nr });
    assert.equal(child.encrI.toString('hex'), c.keys.get('encryption initiator key')!.toString('hex'));
    assert.equal(child.encrR.toString('hex'), c.keys.get('encryption responder key')!.toString('hex'));
    assert.equal(child.integI.length, 0);
    assert.equal(child.integR.length, 0);
  });
}
