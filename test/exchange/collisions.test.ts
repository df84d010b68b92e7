/**
 * RFC 7296 §2.8.1 / §2.8.2 simultaneous rekeying, and §2.25 rekey vs delete: both ends start
 * at once; the requests cross on the wire; afterwards exactly one new SA survives on both ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { ChildState } from '../../src/ike/sa/child-sa.js';

test('simultaneous child rekey: one new child survives, the same on both ends', async () => {
  for (let round = 0; round < 6; round++) {
    const p = new Pair();
    await p.start();
    const { bsSa, gwSa } = await p.connect();
    const oldBs = bsSa.children[0]!;
    await p.bs.daemon.rekeyChild(oldBs);
    await p.gw.daemon.rekeyChild(gwSa.children[0]!);
    // CREATE_CHILD_SA {N(REKEY_SA), ...} --> and <-- cross on the wire.
    assert.equal(p.wire.queue.length, 2);
    await p.run();
    assert.equal(bsSa.children.length, 1, `round ${round}: one child at the base station`);
    assert.equal(gwSa.children.length, 1, `round ${round}: one child at the gateway`);
    const b = bsSa.children[0]!;
    const g = gwSa.children[0]!;
    assert.equal(b.spiIn, g.spiOut);
    assert.equal(b.spiOut, g.spiIn);
    assert.notEqual(b.spiIn, oldBs.spiIn);
    assert.equal(oldBs.state, ChildState.DELETED);
    for (const s of [p.bs, p.gw]) {
      assert.equal(s.kernel.sas.size, 2, `round ${round}: no redundant SA left`);
      assert.equal(s.kernel.policies.size, 3);
    }
    await p.stop();
  }
});

test('simultaneous IKE SA rekey: one new IKE SA survives with the children', async () => {
  for (let round = 0; round < 6; round++) {
    const p = new Pair();
    await p.start();
    const { bsSa, gwSa } = await p.connect();
    await p.bs.daemon.rekeyIke(bsSa);
    await p.gw.daemon.rekeyIke(gwSa);
    await p.run();
    await p.advance(11_000); // delete waits
    await p.run();
    const bsLive = p.bs.daemon.manager.ikeSaList().filter((s) => !s.isDead && s.state === IkeState.ESTABLISHED);
    const gwLive = p.gw.daemon.manager.ikeSaList().filter((s) => !s.isDead && s.state === IkeState.ESTABLISHED);
    assert.equal(bsLive.length, 1, `round ${round}: one IKE SA at the base station`);
    assert.equal(gwLive.length, 1, `round ${round}: one IKE SA at the gateway`);
    assert.ok(bsLive[0]!.spiI.equals(gwLive[0]!.spiI) && bsLive[0]!.spiR.equals(gwLive[0]!.spiR));
    assert.equal(bsLive[0]!.children.length, 1);
    assert.equal(gwLive[0]!.children.length, 1);
    assert.equal(p.bs.kernel.sas.size, 2);
    assert.equal(p.gw.kernel.sas.size, 2);
    await p.stop();
  }
});

test('rekey vs delete: the peer deletes the child we are rekeying; nothing is left over', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.bs.daemon.rekeyChild(bsSa.children[0]!);
  await p.gw.daemon.terminateChild(gwSa.children[0]!);
  await p.run();
  for (const s of [p.bs, p.gw]) {
    assert.equal(s.kernel.sas.size, 0, 'old child deleted; the rekeyed one too (or never made)');
    assert.equal(s.kernel.policies.size, 0);
  }
  assert.equal(bsSa.children.length, 0);
  assert.equal(gwSa.children.length, 0);
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  await p.stop();
});

test('rekey request for a child being deleted is answered TEMPORARY_FAILURE (§2.25)', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.gw.daemon.terminateChild(gwSa.children[0]!);
  await p.bs.daemon.rekeyChild(bsSa.children[0]!);
  // Deliver the base station's rekey to the gateway first (the gateway's delete is in flight).
  const q = p.wire.queue;
  const rekey = q.findIndex((d) => d.from.address === p.bs.addr);
  q.unshift(...q.splice(rekey, 1));
  await p.run();
  assert.equal(p.gw.kernel.sas.size, 0);
  assert.equal(p.bs.kernel.sas.size, 0);
  await p.stop();
});
