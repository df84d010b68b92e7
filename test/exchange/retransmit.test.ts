/**
 * RFC 7296 §2.1-§2.3: lost requests are retransmitted with back-off; lost responses make the
 * initiator retransmit and the responder answer from its cache (never processing twice);
 * duplicates and old message IDs are dropped; responses are never answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';

test('lost IKE_SA_INIT request: retransmitted after 1 s, the exchange completes', async () => {
  const p = new Pair();
  await p.start();
  const bsSa = await p.initiate();
  await p.next(true); // lost
  assert.equal(p.wire.queue.length, 0);
  await p.advance(999);
  assert.equal(p.wire.queue.length, 0);
  await p.advance(1);
  assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT request #0/);
  await p.run();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  await p.stop();
});

test('lost IKE_SA_INIT response: the retransmitted request is answered from the half-open SA', async () => {
  const p = new Pair();
  await p.start();
  const bsSa = await p.initiate();
  await p.next(); // request delivered
  const first = p.wire.queue[0]!.data;
  await p.next(true); // response lost
  await p.advance(1000); // retransmission
  await p.next();
  assert.ok(p.wire.queue[0]!.data.equals(first), 'the very same response');
  assert.equal(p.gw.daemon.manager.ikeSaCount, 1, 'no second half-open SA');
  await p.run();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  await p.stop();
});

test('lost IKE_AUTH response: answered from the cache, the child is installed once', async () => {
  const p = new Pair();
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next();
  await p.next(); // IKE_AUTH request processed by the gateway
  const cached = p.wire.queue[0]!.data;
  await p.next(true); // IKE_AUTH response lost
  await p.advance(1000);
  await p.next(); // retransmitted request
  assert.ok(p.wire.queue[0]!.data.equals(cached));
  await p.next();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.equal(p.gw.kernel.sas.size, 2, 'installed once');
  assert.equal(p.gw.daemon.counters.retransmit_answered, 1);
  await p.stop();
});

test('duplicates, stale message IDs and replayed responses are dropped and counted', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa } = await p.connect();
  const authRequest = p.wire.log[2]!;
  const authResponse = p.wire.log[3]!;
  await p.bs.daemon.dpd(bsSa);
  const dpdReq = p.wire.queue[0]!;
  await p.run();
  // The DPD request again (a retransmission): answered from the cache.
  p.wire.deliver(dpdReq);
  await p.settle();
  assert.equal(p.wire.queue.length, 1);
  p.wire.dropAll();
  // The old IKE_AUTH request (message ID 1, two behind): dropped.
  p.wire.deliver(authRequest);
  await p.settle();
  assert.equal(p.wire.queue.length, 0);
  assert.equal(p.gw.daemon.counters.invalid_message_id, 1);
  // A replayed response: never answered, counted.
  p.wire.deliver(authResponse);
  await p.settle();
  assert.equal(p.wire.queue.length, 0);
  assert.equal(p.bs.daemon.counters.unexpected_response, 1);
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  await p.stop();
});

test('give-up: an unanswered IKE_SA_INIT ends the half-made SA, nothing in the kernel', async () => {
  const p = new Pair();
  await p.start();
  const bsSa = await p.initiate();
  for (let i = 0; i < 4; i++) {
    p.wire.dropAll();
    await p.advance(1000 * 2 ** i);
  }
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(p.bs.daemon.manager.ikeSaCount, 0);
  await p.stop();
});

test('half-open responder SA times out when IKE_AUTH never comes', async () => {
  const p = new Pair({ gwDaemon: { settings: { halfOpenTimeoutMs: 5000 } } });
  await p.start();
  await p.initiate();
  await p.next();
  assert.equal(p.gw.daemon.manager.halfOpenCount, 1);
  p.wire.dropAll();
  await p.advance(5000);
  assert.equal(p.gw.daemon.manager.halfOpenCount, 0);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  await p.stop();
});
