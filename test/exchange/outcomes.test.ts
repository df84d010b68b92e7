/**
 * Outcomes of the daemon's actions (src/ike/outcome.ts): each action resolves, once its request
 * is sent, with a promise settled from its task's final status. Both IKE ends in one process on
 * a manual clock; the outcome is read only after the exchange ran on the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, PSK } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { ChildState } from '../../src/ike/sa/child-sa.js';
import type { Outcome } from '../../src/ike/outcome.js';
import { redirectAllTo } from '../../src/ike/redirect/provider.js';
import { gatewayIdFromString } from '../../src/ike/redirect/notify.js';

/** An outcome for an assertion message (its values hold whole SAs, which do not serialize). */
function show(o: Outcome<unknown> | 'pending' | (Outcome<unknown> | 'pending')[]): string {
  const one = (x: Outcome<unknown> | 'pending') => (x === 'pending' ? x : x.ok ? 'ok' : `${x.error}: ${x.reason}`);
  return Array.isArray(o) ? o.map(one).join('; ') : one(o);
}

/** The settled value of an outcome promise, or 'pending' (checked after the exchange ran). */
async function settled<T>(p: Promise<Outcome<T>>): Promise<Outcome<T> | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

test('establish: ok with the SA once IKE_AUTH and the child completed, not before', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { sa, outcome } = await p.bs.daemon.establish('bs');
    // IKE_SA_INIT request sent; nothing answered yet.
    assert.equal(await settled(outcome), 'pending');
    await p.next(); // IKE_SA_INIT request -->
    await p.next(); // <-- IKE_SA_INIT response
    assert.equal(await settled(outcome), 'pending');
    await p.run(); // IKE_AUTH { IDi, AUTH, SA, TSi, TSr } --> and back
    const o = await outcome;
    assert.ok(o.ok, show(o));
    assert.equal(o.value.sa, sa);
    assert.equal(sa.state, IkeState.ESTABLISHED);
    assert.deepEqual(o.value.refusedChildren, []);
    assert.equal(sa.children[0]?.state, ChildState.INSTALLED);
  } finally {
    await p.stop();
  }
});

test('establish: IKE_AUTH refused with AUTHENTICATION_FAILED resolves with that outcome', async () => {
  const wrong = { method: 'psk' as const, secret: `not ${PSK}` };
  const p = new Pair({ bs: { local: { id: 'bs1.example.net', auth: wrong }, remote: { addrs: ['192.0.2.1'], id: 'gw.example.net', auth: wrong } } });
  await p.start();
  try {
    const { sa, outcome } = await p.bs.daemon.establish('bs');
    await p.run();
    const o = await outcome;
    assert.equal(o.ok, false);
    assert.ok(!o.ok);
    assert.equal(o.error, 'FAILED');
    assert.match(o.reason, /IKE_AUTH failed/);
    assert.match(o.reason, /AUTHENTICATION_FAILED/);
    assert.equal(sa.state, IkeState.DESTROYED);
    assert.equal(p.bs.kernel.sas.size, 0);
  } finally {
    await p.stop();
  }
});

test('establish: a peer that never answers resolves FAILED at the retransmission give-up', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { outcome } = await p.bs.daemon.establish('bs');
    let o: Outcome<unknown> | 'pending' = 'pending';
    // retransmit { timeoutMs: 1000, base: 2, tries: 3 }: the request and 3 retransmissions, each dropped.
    for (let i = 0; i < 8 && o === 'pending'; i++) {
      while (p.wire.queue.length > 0) await p.next(true);
      await p.advance(1000 * 2 ** i);
      o = await settled(outcome);
    }
    assert.ok(o !== 'pending' && !o.ok, show(o));
    assert.match(o.reason, /retransmit give-up/);
  } finally {
    await p.stop();
  }
});

test('rekeyIke resolves with the successor SA, once the old SA is deleted on both ends', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    const child = bsSa.children[0]!;
    const { outcome } = await p.bs.daemon.rekeyIke(bsSa);
    // CREATE_CHILD_SA { SA, Ni, KEi } --> ; the same request again is refused while it runs.
    const again = await (await p.bs.daemon.rekeyIke(bsSa)).outcome;
    assert.ok(!again.ok && again.error === 'INVALID_STATE', show(again));
    await p.next(); // -->
    await p.next(); // <-- CREATE_CHILD_SA { SA, Nr, KEr }: the new SA is up, the old one's delete follows
    assert.equal(await settled(outcome), 'pending');
    await p.run();
    const o = await outcome;
    assert.ok(o.ok, show(o));
    const next = o.value;
    assert.notEqual(next, bsSa);
    assert.equal(next.state, IkeState.ESTABLISHED);
    assert.equal(bsSa.state, IkeState.DESTROYED);
    assert.equal(gwSa.state, IkeState.DESTROYED);
    assert.deepEqual(next.children, [child], 'the child moved to the new IKE SA');
    assert.ok(p.peerOf(next, p.gw)?.established, 'the gateway has the same new SA');
  } finally {
    await p.stop();
  }
});

test('rekeyChild resolves with the new child; the old one is deleted by then', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa } = await p.connect();
    const old = bsSa.children[0]!;
    const { outcome } = await p.bs.daemon.rekeyChild(old);
    await p.next(); // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } -->
    await p.next(); // <-- CREATE_CHILD_SA { SA, Nr, TSi, TSr }
    // The new child is installed; the old one's INFORMATIONAL { D } is on the wire: not done yet.
    assert.equal(await settled(outcome), 'pending');
    await p.run();
    const o = await outcome;
    assert.ok(o.ok, show(o));
    assert.notEqual(o.value, old);
    assert.equal(o.value.state, ChildState.INSTALLED);
    assert.equal(old.state, ChildState.DELETED);
    assert.deepEqual(bsSa.children, [o.value]);
  } finally {
    await p.stop();
  }
});

test('simultaneous child rekey: both ends resolve with the one child that survived', async () => {
  for (let round = 0; round < 4; round++) {
    const p = new Pair();
    await p.start();
    try {
      const { bsSa, gwSa } = await p.connect();
      const b = await p.bs.daemon.rekeyChild(bsSa.children[0]!);
      const g = await p.gw.daemon.rekeyChild(gwSa.children[0]!);
      assert.equal(p.wire.queue.length, 2, 'the two requests cross on the wire');
      await p.run();
      const [ob, og] = [await b.outcome, await g.outcome];
      assert.ok(ob.ok && og.ok, show([ob, og]));
      assert.deepEqual(bsSa.children, [ob.value], `round ${round}: the base station's survivor`);
      assert.deepEqual(gwSa.children, [og.value], `round ${round}: the gateway's survivor`);
      assert.equal(ob.value.spiIn, og.value.spiOut);
      assert.equal(ob.value.spiOut, og.value.spiIn);
    } finally {
      await p.stop();
    }
  }
});

test('dpd: ok when the peer answers; FAILED when it never does', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa } = await p.connect();
    const alive = await p.bs.daemon.dpd(bsSa);
    await p.run();
    assert.deepEqual(await alive.outcome, { ok: true, value: undefined });
    const dead = await p.bs.daemon.dpd(bsSa);
    let o: Outcome<void> | 'pending' = 'pending';
    for (let i = 0; i < 8 && o === 'pending'; i++) {
      while (p.wire.queue.length > 0) await p.next(true);
      await p.advance(1000 * 2 ** i);
      o = await settled(dead.outcome);
    }
    assert.ok(o !== 'pending' && !o.ok, show(o));
    assert.match(o.reason, /no answer from the peer/);
    assert.equal(bsSa.state, IkeState.DESTROYED);
  } finally {
    await p.stop();
  }
});

test('terminate: a second request joins the delete under way; both resolve once the SA is gone', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    const first = await p.gw.daemon.terminate(gwSa);
    const second = await p.gw.daemon.terminate(gwSa);
    assert.equal(p.wire.queue.length, 1, 'one INFORMATIONAL { D } on the wire');
    await p.run();
    assert.deepEqual(await first.outcome, { ok: true, value: { acknowledged: true } });
    assert.deepEqual(await second.outcome, { ok: true, value: { acknowledged: true } });
    assert.equal(bsSa.state, IkeState.DESTROYED);
    // An action on a gone SA settles at once.
    const late = await (await p.gw.daemon.dpd(gwSa)).outcome;
    assert.ok(!late.ok && /gone/.test(late.reason), show(late));
  } finally {
    await p.stop();
  }
});

test('establish redirected at IKE_SA_INIT (RFC 5685): ok with the SA at the gateway it was sent to', async () => {
  const GW2 = '192.0.2.2';
  const p = new Pair({ gwDaemon: { redirect: redirectAllTo(gatewayIdFromString(GW2), 'init') }, extraGateways: [GW2] });
  await p.start();
  try {
    const { sa, outcome } = await p.bs.daemon.establish('bs');
    await p.run();
    const o = await outcome;
    assert.ok(o.ok, show(o));
    assert.equal(sa.state, IkeState.DESTROYED, 'the first SA went with the redirect');
    assert.notEqual(o.value.sa, sa);
    assert.equal(o.value.sa.remote.address, GW2);
    assert.equal(o.value.sa.state, IkeState.ESTABLISHED);
    assert.deepEqual(o.value.sa.redirectedFrom, gatewayIdFromString('192.0.2.1'));
  } finally {
    await p.stop();
  }
});

test('establish redirected at IKE_AUTH, in a loop: FAILED once the redirect bound (RFC 5685 §9) stops it', async () => {
  const GW2 = '192.0.2.2';
  const p = new Pair({
    gwDaemon: { redirect: redirectAllTo(gatewayIdFromString(GW2), 'auth') },
    bsDaemon: { settings: { maxRedirects: 2 } },
    extraGateways: [GW2],
    extraGatewayDaemon: { redirect: redirectAllTo(gatewayIdFromString('192.0.2.1'), 'auth') },
  });
  await p.start();
  try {
    const { outcome } = await p.bs.daemon.establish('bs');
    await p.run(200);
    const o = await outcome;
    assert.ok(!o.ok, show(o));
    assert.match(o.reason, /not followed: 2 redirects/);
    assert.equal(p.bs.daemon.counters.redirect_loop, 1);
  } finally {
    await p.stop();
  }
});
