/**
 * Child SA errors in IKE_AUTH keep the IKE SA (RFC 7296 §1.2, §2.9); INITIAL_CONTACT (§2.4)
 * removes the older SAs of the same peer; kernel expiry events drive rekey and delete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { ChildState } from '../../src/ike/sa/child-sa.js';

test('TS_UNACCEPTABLE in IKE_AUTH: the IKE SA is up, no child, nothing in the kernel', async () => {
  const p = new Pair({ bs: { children: [{ name: 'lte', localTs: ['192.0.2.128/25'], remoteTs: ['10.9.0.0/16'], espProposals: ['aes128gcm16-esn'] }] } });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next();
  await p.next();
  // <-- IKE_AUTH { IDr, AUTH, N(TS_UNACCEPTABLE) }
  assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { IDr, AUTH, N(TS_UNACCEPTABLE) }');
  await p.run();
  const gwSa = p.peerOf(bsSa, p.gw)!;
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.equal(gwSa.state, IkeState.ESTABLISHED);
  for (const s of [p.bs, p.gw]) assert.equal(s.kernel.sas.size + s.kernel.larval.size, 0);
  await p.stop();
});

test('NO_PROPOSAL_CHOSEN for the child in IKE_AUTH keeps the IKE SA', async () => {
  const p = new Pair({ bs: { children: [{ name: 'lte', localTs: ['198.51.100.0/24'], remoteTs: ['203.0.113.0/24'], espProposals: ['aes256-sha512'] }] } });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next();
  await p.next();
  assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { IDr, AUTH, N(NO_PROPOSAL_CHOSEN) }');
  await p.run();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.equal(bsSa.children.length, 0);
  assert.equal(p.bs.kernel.larval.size, 0, 'the allocated SPI was released');
  await p.stop();
});

test('narrowing: the gateway answers the subset its policy allows', async () => {
  const p = new Pair({ bs: { children: [{ name: 'lte', localTs: ['198.51.100.0/24'], remoteTs: ['0.0.0.0/0'], espProposals: ['aes128gcm16-esn'] }] } });
  await p.start();
  const { bsSa } = await p.connect();
  const c = bsSa.children[0]!;
  assert.deepEqual(c.remoteTs.map((t) => `${t.startAddr}-${t.endAddr}`), ['203.0.113.0-203.0.113.255']);
  await p.stop();
});

test('INITIAL_CONTACT removes the older IKE SA of the same peer identity', async () => {
  const p = new Pair({ bs: { initialContact: true } });
  await p.start();
  const first = await p.connect();
  // The base station restarts (its state lost) and connects again.
  await first.bsSa.destroy('restart');
  const second = await p.connect();
  assert.equal(first.gwSa.state, IkeState.DESTROYED);
  assert.equal(second.gwSa.state, IkeState.ESTABLISHED);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 1);
  assert.equal(p.gw.kernel.sas.size, 2);
  await p.stop();
});

test('kernel expiry events: soft starts a rekey, hard deletes the child', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  const child = gwSa.children[0]!;
  p.gw.kernel.expire(child.inRef, 'soft', 'bytes');
  await p.settle();
  assert.match(describe(p.wire.queue[0]!, bsSa), /^CREATE_CHILD_SA request #0 \{ N\(REKEY_SA\)/);
  await p.run();
  assert.equal(child.state, ChildState.DELETED);
  const next = gwSa.children[0]!;
  p.gw.kernel.expire(next.outRef, 'hard', 'packets');
  await p.settle();
  await p.run();
  assert.equal(gwSa.children.length, 0);
  assert.equal(bsSa.children.length, 0);
  assert.equal(p.gw.kernel.sas.size + p.bs.kernel.sas.size, 0);
  await p.stop();
});

test('IKE SA hard lifetime without a successful rekey: the SA is deleted', async () => {
  const p = new Pair({ bs: { ikeLifetime: { rekey: 100, jitter: 0, life: 120 } } });
  await p.start();
  const { bsSa } = await p.connect();
  await p.advance(100_000);
  p.wire.dropAll(); // the rekey is lost ...
  await p.advance(7_000); // ... and its retransmissions give up: the SA goes
  p.wire.dropAll();
  await p.advance(20_000);
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(p.bs.kernel.sas.size, 0);
  await p.stop();
});
