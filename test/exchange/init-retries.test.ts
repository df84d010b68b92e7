/**
 * IKE_SA_INIT retries: INVALID_KE_PAYLOAD with the group the responder wants (§1.2, §1.3), and
 * cookies once half-open SAs exceed the threshold (§2.6), with secret rotation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureLog } from '../support/log-capture.js';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';

test('INVALID_KE_PAYLOAD: the initiator retries with the requested group', async () => {
  // The base station prefers X25519 first but also offers ECP-256; the gateway only ECP-256.
  const p = new Pair({ bs: { ikeProposals: ['aes128gcm16-prfsha256-x25519-ecp256'] }, gw: { ikeProposals: ['aes128gcm16-prfsha256-ecp256'] } });
  await p.start();
  const bsSa = await p.initiate();
  // IKE_SA_INIT { SA, KE(x25519), Ni, ... } -->
  await p.next();
  // <-- IKE_SA_INIT { N(INVALID_KE_PAYLOAD) }  (stateless: nothing kept at the gateway)
  assert.equal(describe(p.wire.queue[0]!), 'IKE_SA_INIT response #0 { N(INVALID_KE_PAYLOAD) }');
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  await p.next();
  // IKE_SA_INIT { SA, KE(ecp256), Ni, ... } -->  message ID 0 again
  assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT request #0 \{ SA, KE,/);
  await p.run();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.equal(bsSa.suite!.dh, 19);
  await p.stop();
});

test('NO_PROPOSAL_CHOSEN at IKE_SA_INIT ends the attempt', async () => {
  const p = new Pair({ bs: { ikeProposals: ['aes128-sha256-modp2048'] } });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  assert.equal(describe(p.wire.queue[0]!), 'IKE_SA_INIT response #0 { N(NO_PROPOSAL_CHOSEN) }');
  await p.run();
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  await p.stop();
});

test('cookies: above the threshold the gateway answers N(COOKIE) statelessly; the retry gets in', async () => {
  const p = new Pair({ gwDaemon: { settings: { cookieThreshold: 0 } } });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  // <-- IKE_SA_INIT { N(COOKIE) }
  assert.equal(describe(p.wire.queue[0]!), 'IKE_SA_INIT response #0 { N(COOKIE) }');
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0, 'no state for a cookie answer');
  await p.next();
  // IKE_SA_INIT { N(COOKIE), SA, KE, Ni, ... } -->
  assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT request #0 \{ N\(COOKIE\), SA, KE, NONCE,/);
  await p.run();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.equal(p.gw.daemon.counters.cookie_sent, 1);
  await p.stop();
});

test('cookies: a forged cookie is refused; one from the previous secret still works', async () => {
  const p = new Pair({ gwDaemon: { settings: { cookieThreshold: 0 } } });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next(); // cookie learned; the retry is queued
  p.gw.daemon.manager.cookies.rotate(); // one rotation: the cookie is from the previous secret
  await p.run();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);

  const q = new Pair({ gwDaemon: { settings: { cookieThreshold: 0 } } });
  await q.start();
  await q.initiate();
  await q.next();
  const cookieAnswer = q.wire.queue[0]!;
  // Flip a bit of the cookie the initiator will echo.
  cookieAnswer.data[cookieAnswer.data.length - 1]! ^= 1;
  await q.next();
  await q.next();
  assert.equal(q.gw.daemon.counters.cookie_invalid, 1);
  assert.equal(q.gw.daemon.manager.ikeSaCount, 0);
  await p.stop();
  await q.stop();
});

test('refused IKE_SA_INIT requests (not authenticated) are logged at a bounded rate; their half-open SAs end at debug', async () => {
  const { log, lines } = captureLog();
  const p = new Pair({ bs: { ikeProposals: ['aes128-sha256-modp2048'] }, gwDaemon: { log } });
  await p.start();
  const attempts = 25;
  const sas = [];
  for (let i = 0; i < attempts; i++) sas.push(await p.initiate());
  await p.run(1000);
  assert.ok(sas.every((sa) => sa.state === IkeState.DESTROYED), 'every attempt was refused (NO_PROPOSAL_CHOSEN)');
  const refusals = lines.filter((l) => l.msg === 'no acceptable IKE proposal');
  assert.equal(refusals.length, 10, 'the burst of the rate limiter, not one line per request');
  assert.equal(refusals[0]!.peer, '192.0.2.7');
  assert.equal(lines.filter((l) => l.msg === 'IKE SA destroyed').length, 0, 'no info line per half-open SA');
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  await p.stop();
});
