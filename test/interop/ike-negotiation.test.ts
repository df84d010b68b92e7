/**
 * Negotiation outcomes with strongSwan 5.9.8 other than "first try works": the KE group the
 * responder wants is not the one guessed (INVALID_KE_PAYLOAD and the retry, RFC 7296 §1.2),
 * each side once as the one asking; no common proposal (NO_PROPOSAL_CHOSEN); a wrong PSK
 * (AUTHENTICATION_FAILED). Each outcome is visible on both ends, and segw's answers decode
 * cleanly in tshark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { ExchangeType, NotifyError } from '../../src/ike/constants.js';
import { Scenario } from './support/scenario.js';
import { segwView } from './support/sas.js';

test('INVALID_KE_PAYLOAD: strongSwan guesses ECP-256, the segw gateway asks for Curve25519, the retry succeeds', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('negke', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, {
      segwRole: 'gateway',
      spec: { ike: 'aes128gcm16-prfsha256-x25519', esp: 'aes128gcm16', swan: { ike: 'aes128gcm16-prfsha256-ecp256-x25519' } },
    });
    const t = await sc.up();
    await sc.waitSwanLog(/peer didn't accept DH group ECP_256, it requested CURVE_25519/);
    assert.equal((t.swan.raw as Record<string, string>)['dh-group'], 'CURVE_25519');
    assert.equal(t.segwSa.proposal?.dhGroup, 'CURVE25519');
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    const initAnswers = wire.fromSegw.filter((f) => f.exchange === ExchangeType.IKE_SA_INIT && f.response);
    assert.deepEqual(initAnswers.map((f) => f.notifies.includes(NotifyError.INVALID_KE_PAYLOAD)), [true, false]);
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

test('INVALID_KE_PAYLOAD: the segw base station guesses ECP-256, strongSwan asks for Curve25519, segw retries', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('negkebs', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, {
      segwRole: 'basestation',
      spec: { ike: 'aes128gcm16-prfsha256-x25519', esp: 'aes128gcm16', segw: { ike: ['aes128gcm16-prfsha256-ecp256-x25519'] } },
    });
    const t = await sc.up();
    await sc.waitSwanLog(/DH group ECP_256 unacceptable, requesting CURVE_25519/);
    assert.equal(t.segwSa.proposal?.dhGroup, 'CURVE25519');
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    assert.deepEqual(wire.segwCounters, {});
    assert.equal(wire.fromSegw.filter((f) => f.exchange === ExchangeType.IKE_SA_INIT && !f.response).length, 2, 'segw asked twice');
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

test('NO_PROPOSAL_CHOSEN: strongSwan offers only what the segw gateway does not take; nothing stays up', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('negprop', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, {
      segwRole: 'gateway',
      spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', swan: { ike: 'aes256-sha512-modp4096' } },
    });
    const r = await sc.ss.swanctl(['--initiate', '--child', 'net', '--ike', 'tun', '--timeout', '10'], { allowFail: true, timeoutMs: 20_000 });
    assert.notEqual(r.code, 0);
    await sc.waitSwanLog(/received NO_PROPOSAL_CHOSEN notify error/);
    assert.deepEqual(await segwView(sc.segw), []);
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    const answers = wire.fromSegw.filter((f) => f.exchange === ExchangeType.IKE_SA_INIT && f.response);
    assert.ok(answers.length >= 1 && answers.every((f) => f.notifies.includes(NotifyError.NO_PROPOSAL_CHOSEN)));
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

test('AUTHENTICATION_FAILED: strongSwan proves the wrong PSK; the segw gateway refuses it and keeps no SA', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('negauth', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, {
      segwRole: 'gateway',
      spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', swan: { psk: 'not-the-psk-segw-knows-0123456' } },
    });
    const r = await sc.ss.swanctl(['--initiate', '--child', 'net', '--ike', 'tun', '--timeout', '10'], { allowFail: true, timeoutMs: 20_000 });
    assert.notEqual(r.code, 0);
    await sc.waitSwanLog(/received AUTHENTICATION_FAILED notify error/);
    assert.deepEqual(await segwView(sc.segw), []);
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    const authAnswer = wire.fromSegw.find((f) => f.exchange === ExchangeType.IKE_AUTH && f.response);
    assert.ok(authAnswer?.decrypted && authAnswer.notifies.includes(NotifyError.AUTHENTICATION_FAILED), JSON.stringify(authAnswer));
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
