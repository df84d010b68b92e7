/**
 * RFC 7296 §1.3: CREATE_CHILD_SA: a new child, a child rekey with N(REKEY_SA) (§1.3.3), an
 * IKE SA rekey that moves the children (§1.3.2, §2.18), PFS, lifetimes with jitter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { ChildState } from '../../src/ike/sa/child-sa.js';
import { saKey } from '../../src/kernel/stub/ipsec.js';

test('a second child: CREATE_CHILD_SA { SA, Ni, TSi, TSr } after IKE_AUTH', async () => {
  const p = new Pair({
    bs: {
      children: [
        { name: 'lte', localTs: ['198.51.100.0/24'], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16-esn'] },
        { name: 'oam', localTs: ['198.51.100.0/25'], remoteTs: ['203.0.113.128/25'], espProposals: ['aes128gcm16-ecp256-esn'] },
      ],
    },
    gw: {
      children: [{ name: 'lte', localTs: ['203.0.113.0/24'], remoteTs: ['198.51.100.0/24'], espProposals: ['aes128gcm16-esn', 'aes128gcm16-ecp256-esn'] }],
    },
  });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next();
  await p.next();
  await p.next(); // IKE_AUTH response
  // CREATE_CHILD_SA SK { SA, Ni, KEi, TSi, TSr } -->   (PFS with ECP-256)
  assert.equal(describe(p.wire.queue[0]!, p.peerOf(bsSa, p.gw)!), 'CREATE_CHILD_SA request #2 { SA, NONCE, KE, TSi, TSr }');
  await p.next();
  assert.equal(describe(p.wire.queue[0]!, bsSa), 'CREATE_CHILD_SA response #2 { SA, NONCE, KE, TSi, TSr }');
  await p.next();
  assert.equal(bsSa.children.length, 2);
  assert.equal(p.bs.kernel.sas.size, 4);
  assert.equal(p.gw.kernel.sas.size, 4);
  assert.equal(p.gw.kernel.policies.size, 6);
  await p.stop();
});

test('child SA install failure leaves nothing in the kernel and closes the IKE SA', async () => {
  const p = new Pair();
  await p.start();
  p.gw.kernel.failNext('addPolicy');
  const bsSa = await p.initiate();
  await p.run();
  // The gateway refused the child (NO_PROPOSAL_CHOSEN) and deleted the IKE SA.
  assert.equal(p.gw.kernel.sas.size, 0);
  assert.equal(p.gw.kernel.policies.size, 0);
  assert.equal(p.gw.kernel.larval.size, 0);
  assert.equal(p.bs.kernel.sas.size, 0);
  assert.equal(p.bs.kernel.larval.size, 0);
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  await p.stop();
});

test('initiator install failure: rolled back, IKE SA deleted with the peer', async () => {
  const p = new Pair();
  await p.start();
  p.bs.kernel.failNext('addSa');
  const bsSa = await p.initiate();
  await p.run();
  assert.equal(bsSa.state, IkeState.DESTROYED);
  for (const s of [p.bs, p.gw]) {
    assert.equal(s.kernel.sas.size, 0);
    assert.equal(s.kernel.policies.size, 0);
    assert.equal(s.kernel.larval.size, 0);
    assert.equal(s.daemon.manager.ikeSaCount, 0);
  }
  await p.stop();
});

test('child rekey: N(REKEY_SA), new pair installed before the old one is deleted, same reqid', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  const old = bsSa.children[0]!;
  const gwOld = gwSa.children[0]!;
  const reqid = old.reqid;
  const events: string[] = [];
  await p.bs.daemon.rekeyChild(old);
  // CREATE_CHILD_SA SK { N(REKEY_SA), SA, Ni, TSi, TSr } -->
  assert.equal(describe(p.wire.queue[0]!, gwSa), 'CREATE_CHILD_SA request #2 { N(REKEY_SA), SA, NONCE, TSi, TSr }');
  await p.next();
  // <-- CREATE_CHILD_SA SK { SA, Nr, TSi, TSr }; the gateway (responder) now holds the old pair
  // and the new inbound SA; its new outbound SA waits for the old child's delete (§2.8): the
  // base station cannot receive on the new SA before it has processed this response.
  const gwNew = gwSa.children.find((c) => c !== gwOld)!;
  assert.ok(gwNew.outboundDeferred, 'the responder defers its new outbound SA');
  assert.equal(p.gw.kernel.sas.size, 3);
  const gwSas = () => [...p.gw.kernel.sas.values()].map((x) => `${x.dst}/${x.spi}`);
  const ref = (r: { dst: string; spi: number }) => `${r.dst}/${r.spi}`;
  assert.ok(gwSas().includes(ref(gwNew.inRef)) && !gwSas().includes(ref(gwNew.outRef)), gwSas().join(' '));
  await p.next();
  // The base station (initiator) installed both new SAs on the response and sends on the new one.
  assert.equal(p.bs.kernel.sas.size, 4);
  // INFORMATIONAL SK { D(ESP) } -->  (the old child)
  assert.equal(describe(p.wire.queue[0]!, gwSa), 'INFORMATIONAL request #3 { D(ESP) }');
  p.gw.kernel.ops.length = 0;
  await p.run();
  // The gateway switched to the new outbound SA before it removed the old pair (make-before-break).
  const gwOps = p.gw.kernel.ops.filter((o) => o.op === 'addSa' || o.op === 'deleteSa');
  assert.deepEqual(gwOps, [
    { op: 'addSa', key: saKey(gwNew.outRef) },
    { op: 'deleteSa', key: saKey(gwOld.inRef) },
    { op: 'deleteSa', key: saKey(gwOld.outRef) },
  ]);
  assert.equal(gwNew.outboundDeferred, false);
  events.push(old.state);
  assert.deepEqual(events, [ChildState.DELETED]);
  for (const s of [p.bs, p.gw]) {
    assert.equal(s.kernel.sas.size, 2);
    assert.equal(s.kernel.policies.size, 3, 'policies kept across the rekey');
    assert.deepEqual(s.kernel.sasWithReqid(reqid).length, 2);
  }
  assert.equal(bsSa.children.length, 1);
  assert.notEqual(bsSa.children[0]!.spiIn, old.spiIn);
  await p.stop();
});

test('child rekey responder: the old child ends another way (hard expiry) and the deferred outbound SA takes over first', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  const gwOld = gwSa.children[0]!;
  await p.bs.daemon.rekeyChild(bsSa.children[0]!);
  await p.next(); // CREATE_CHILD_SA request
  await p.next(); // response
  const gwNew = gwSa.children.find((c) => c !== gwOld)!;
  assert.ok(gwNew.outboundDeferred);
  // The old inbound SA hits its hard lifetime before the base station's DELETE arrives.
  p.gw.kernel.ops.length = 0;
  p.gw.kernel.expire(gwOld.inRef, 'hard');
  await p.run();
  assert.equal(gwOld.state, ChildState.DELETED);
  assert.equal(gwNew.outboundDeferred, false);
  const ops = p.gw.kernel.ops.filter((o) => o.op === 'addSa' || o.op === 'deleteSa').map((o) => o.op);
  assert.equal(ops[0], 'addSa', `the new outbound SA before any old SA goes: ${ops.join(', ')}`);
  assert.deepEqual(gwSa.children, [gwNew]);
  const gwSas = [...p.gw.kernel.sas.values()].map((x) => `${x.dst}/${x.spi}`);
  assert.deepEqual(gwSas.sort(), [gwNew.inRef, gwNew.outRef].map((r) => `${r.dst}/${r.spi}`).sort());
  await p.stop();
});

test('child rekey by lifetime: the soft timer (with jitter) starts it, the hard one never fires', async () => {
  const life = { rekey: 600, jitter: 60, life: 700 };
  const p = new Pair({
    bs: { children: [{ name: 'lte', localTs: ['198.51.100.0/24'], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16-esn'], lifetime: life }] },
  });
  await p.start();
  const { bsSa } = await p.connect();
  const first = bsSa.children[0]!.spiIn;
  await p.advance(539_000);
  assert.equal(p.wire.queue.length, 0, 'not before rekey - jitter');
  await p.advance(61_000);
  assert.match(describe(p.wire.queue[0]!), /CREATE_CHILD_SA request/);
  await p.run();
  assert.notEqual(bsSa.children[0]!.spiIn, first);
  assert.equal(p.bs.kernel.sas.size, 2);
  await p.stop();
});

test('IKE SA rekey: new SPIs and keys, children move, the old IKE SA is deleted', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  const child = bsSa.children[0]!;
  await p.bs.daemon.rekeyIke(bsSa);
  // CREATE_CHILD_SA SK { SA(IKE, SPIi), Ni, KEi } -->
  assert.equal(describe(p.wire.queue[0]!, gwSa), 'CREATE_CHILD_SA request #2 { SA, NONCE, KE }');
  await p.next();
  await p.next();
  // INFORMATIONAL (old SA) SK { D(IKE) } -->
  assert.equal(describe(p.wire.queue[0]!, gwSa), 'INFORMATIONAL request #3 { D(IKE) }');
  await p.run();
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(gwSa.state, IkeState.DESTROYED);
  const newBs = p.bs.daemon.manager.ikeSaList().find((s) => !s.isDead)!;
  const newGw = p.peerOf(newBs, p.gw)!;
  assert.ok(newGw, 'both ends agree on the new SPIs');
  assert.equal(newBs.initiator, true);
  assert.equal(newGw.initiator, false);
  assert.equal(newBs.children[0], child, 'the child moved');
  assert.equal(child.ike, newBs);
  assert.equal(p.bs.kernel.sas.size, 2, 'children untouched in the kernel');
  // The new SA works: a DPD round trip on it.
  await p.bs.daemon.dpd(newBs);
  assert.equal(describe(p.wire.queue[0]!, newGw), 'INFORMATIONAL request #0 {  }');
  await p.run();
  assert.equal(newBs.tm.busy, false);
  // And the gateway initiates on it (it is the new SA's responder: I flag clear).
  await p.gw.daemon.dpd(newGw);
  await p.run();
  assert.equal(newGw.tm.busy, false);
  assert.equal(p.gw.daemon.counters.unexpected_response ?? 0, 0);
  await p.stop();
});

test('IKE SA rekey started by the responder (the gateway)', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.gw.daemon.rekeyIke(gwSa);
  await p.run();
  const newGw = p.gw.daemon.manager.ikeSaList().find((s) => !s.isDead)!;
  assert.equal(newGw.initiator, true, 'the rekey initiator is the new original initiator');
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(newGw.children.length, 1);
  await p.stop();
});
