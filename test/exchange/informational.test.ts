/**
 * RFC 7296 §1.4: INFORMATIONAL exchanges: liveness (§2.4), deleting a child, deleting the
 * IKE SA, from either side; and the retransmission give-up that tears a dead peer's SA down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';

test('DPD: an empty INFORMATIONAL request is answered with an empty response', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.bs.daemon.dpd(bsSa);
  // INFORMATIONAL SK { } -->
  assert.equal(describe(p.wire.queue[0]!, gwSa), 'INFORMATIONAL request #2 {  }');
  await p.next();
  // <-- INFORMATIONAL SK { }
  assert.equal(describe(p.wire.queue[0]!, bsSa), 'INFORMATIONAL response #2 {  }');
  await p.next();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.equal(bsSa.tm.busy, false);
  await p.stop();
});

test('DPD timer: an idle peer is probed; a dead one is torn down after retransmissions give up', async () => {
  const p = new Pair({ bs: { dpdDelay: 30 } });
  await p.start();
  const { bsSa } = await p.connect();
  await p.advance(30_000);
  assert.match(describe(p.wire.queue[0]!), /^INFORMATIONAL request #2/);
  await p.next(); // answered
  await p.next();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  // The gateway vanishes: probes go unanswered, retransmitted 1 s, 2 s, 4 s, then give up.
  await p.advance(30_000);
  for (let i = 0; i < 4; i++) {
    assert.equal(p.wire.queue.length, 1);
    p.wire.dropAll();
    await p.advance(1000 * 2 ** i);
  }
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(p.bs.kernel.sas.size, 0, 'children removed from the kernel');
  assert.equal(p.bs.kernel.policies.size, 0);
  await p.stop();
});

test('delete child SA: D(ESP) answered with the peer SPI; both kernels drop the pair', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.gw.daemon.terminateChild(gwSa.children[0]!);
  // INFORMATIONAL SK { D(ESP) } -->   (from the gateway, which is the responder of the IKE SA)
  assert.equal(describe(p.wire.queue[0]!, bsSa), 'INFORMATIONAL request #0 { D(ESP) }');
  await p.next();
  // <-- INFORMATIONAL SK { D(ESP) }
  assert.equal(describe(p.wire.queue[0]!, gwSa), 'INFORMATIONAL response #0 { D(ESP) }');
  await p.next();
  assert.equal(bsSa.children.length, 0);
  assert.equal(gwSa.children.length, 0);
  for (const s of [p.bs, p.gw]) {
    assert.equal(s.kernel.sas.size, 0);
    assert.equal(s.kernel.policies.size, 0);
  }
  assert.equal(bsSa.state, IkeState.ESTABLISHED, 'the IKE SA stays');
  await p.stop();
});

test('delete IKE SA from either side: D(IKE), empty response, both ends clean', async () => {
  for (const who of ['bs', 'gw'] as const) {
    const p = new Pair();
    await p.start();
    const { bsSa, gwSa } = await p.connect();
    await p[who].daemon.terminate(who === 'bs' ? bsSa : gwSa);
    assert.match(describe(p.wire.queue[0]!, who === 'bs' ? gwSa : bsSa), /^INFORMATIONAL request #\d \{ D\(IKE\) \}$/);
    await p.run();
    assert.equal(bsSa.state, IkeState.DESTROYED);
    assert.equal(gwSa.state, IkeState.DESTROYED);
    for (const s of [p.bs, p.gw]) {
      assert.equal(s.kernel.sas.size, 0);
      assert.equal(s.daemon.manager.ikeSaCount, 0);
    }
    await p.stop();
  }
});

test('crossing child deletes: each side deletes, neither lists the child in its response', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.bs.daemon.terminateChild(bsSa.children[0]!);
  await p.gw.daemon.terminateChild(gwSa.children[0]!);
  assert.equal(p.wire.queue.length, 2);
  await p.run();
  assert.equal(p.bs.kernel.sas.size, 0);
  assert.equal(p.gw.kernel.sas.size, 0);
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.equal(gwSa.state, IkeState.ESTABLISHED);
  await p.stop();
});
