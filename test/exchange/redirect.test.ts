/**
 * RFC 5685 redirect: the gateway's provider is asked before the IKE_SA_INIT response (when the
 * initiator sent REDIRECT_SUPPORTED) and after authenticating it in IKE_AUTH; the initiator
 * follows to the new gateway with REDIRECTED_FROM, and stops after too many redirects (§9).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureLog } from '../support/log-capture.js';
import { PSK, Pair, bsConfig, describe } from './harness.js';
import { ExchangeType, GatewayIdType, HeaderFlag, NotifyStatus, PayloadType } from '../../src/ike/constants.js';
import { redirectAllTo, type RedirectProvider } from '../../src/ike/redirect/provider.js';
import { IkeState, type IkeSa } from '../../src/ike/sa/ike-sa.js';
import { decodeRedirect, decodeRedirectedFrom, encodeRedirect, gatewayIdFromString, gatewayIdToString } from '../../src/ike/redirect/notify.js';
import { decodeMessage, encodeMessage } from '../../src/ike/codec/index.js';
import { encodeOutbound } from '../../src/ike/sa/wire.js';
import { parseIdentity } from '../../src/ike/identity.js';

const GW2 = '192.0.2.2';

test('REDIRECT notify data round-trips for IPv4, IPv6 and FQDN', () => {
  const nonce = Buffer.alloc(32, 7);
  for (const g of ['192.0.2.9', '2001:db8::9', 'gw9.example.net']) {
    const r = decodeRedirect(encodeRedirect(gatewayIdFromString(g), nonce))!;
    assert.deepEqual(r.gw, gatewayIdFromString(g));
    assert.ok(r.nonce.equals(nonce));
  }
  assert.equal(decodeRedirect(Buffer.from([GatewayIdType.IPV4, 5, 1, 2, 3, 4])), undefined, 'length says 5 for IPv4');
  assert.equal(decodeRedirectedFrom(Buffer.from([9, 0])), undefined);
});

test('redirect at IKE_SA_INIT: N(REDIRECT) with Ni, then a new IKE SA to gw2 with REDIRECTED_FROM', async () => {
  const seen: string[] = [];
  const provider: RedirectProvider = {
    onInit: (ctx) => {
      seen.push(ctx.remote.address);
      return gatewayIdFromString(GW2);
    },
    onAuth: () => undefined,
  };
  const p = new Pair({ gwDaemon: { redirect: provider }, extraGateways: [GW2] });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  // <-- IKE_SA_INIT { N(REDIRECT(192.0.2.2, Ni)) }
  assert.equal(describe(p.wire.queue[0]!), 'IKE_SA_INIT response #0 { N(REDIRECT) }');
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0, 'the redirecting gateway keeps no state');
  await p.next();
  assert.equal(bsSa.state, IkeState.DESTROYED);
  // IKE_SA_INIT { SA, KE, Ni, ..., N(REDIRECTED_FROM(192.0.2.1)) } --> gw2
  const next = p.wire.queue[0]!;
  assert.equal(next.to.address, GW2);
  assert.match(describe(next), /N\(REDIRECTED_FROM\) \}$/);
  const dec = decodeMessage(next.data);
  assert.ok(dec.ok);
  await p.run();
  const gw2 = p.gateways[0]!;
  const live = p.bs.daemon.manager.ikeSaList().filter((s) => s.state === IkeState.ESTABLISHED);
  assert.equal(live.length, 1);
  assert.equal(live[0]!.remote.address, GW2);
  assert.equal(gw2.kernel.sas.size, 2);
  assert.equal(p.gw.kernel.sas.size, 0);
  assert.deepEqual(seen, ['192.0.2.7']);
  await p.stop();
});

test('redirect at IKE_AUTH: after authentication, no child; the client deletes and moves', async () => {
  const p = new Pair({ gwDaemon: { redirect: redirectAllTo(gatewayIdFromString(GW2), 'auth') }, extraGateways: [GW2] });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next();
  await p.next();
  // <-- IKE_AUTH { IDr, AUTH, N(REDIRECT(192.0.2.2)) }
  assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { IDr, AUTH, N(REDIRECT) }');
  await p.run();
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0, 'the old SA was deleted by the client');
  assert.equal(p.gw.kernel.sas.size, 0);
  assert.equal(p.gateways[0]!.kernel.sas.size, 2);
  await p.stop();
});

test('redirect loops are bounded (RFC 5685 §9)', async () => {
  const redirects: string[] = [];
  const p = new Pair({
    gwDaemon: { redirect: redirectAllTo(gatewayIdFromString(GW2), 'init') },
    bsDaemon: { settings: { maxRedirects: 3 }, events: { redirected: (_sa, to) => redirects.push(JSON.stringify(to)) } },
    extraGateways: [GW2],
    // gw2 redirects back to gw1.
    extraGatewayDaemon: { redirect: redirectAllTo(gatewayIdFromString('192.0.2.1'), 'init') },
  });
  await p.start();
  await p.initiate();
  await p.run(200);
  assert.equal(redirects.length, 4, 'three followed, the fourth refused');
  assert.equal(p.bs.daemon.counters.redirect_loop, 1);
  assert.equal(p.bs.daemon.manager.ikeSaCount, 0);
  await p.stop();
});

test('no REDIRECT_SUPPORTED from the initiator: the provider is not asked', async () => {
  let asked = 0;
  const p = new Pair({
    bs: { followRedirects: false },
    gwDaemon: { redirect: { onInit: () => (asked++, gatewayIdFromString(GW2)), onAuth: () => undefined } },
  });
  await p.start();
  const { bsSa } = await p.connect();
  assert.equal(asked, 0);
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  await p.stop();
});

test('redirect of an established SA (RFC 5685 §5): INFORMATIONAL N(REDIRECT), the client moves', async () => {
  const p = new Pair({ extraGateways: [GW2] });
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.gw.daemon.redirect(gwSa, gatewayIdFromString(GW2));
  // INFORMATIONAL SK { N(REDIRECT(192.0.2.2)) } -->   <-- INFORMATIONAL SK { }
  assert.equal(describe(p.wire.queue[0]!, bsSa), 'INFORMATIONAL request #0 { N(REDIRECT) }');
  await p.run();
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(gwSa.state, IkeState.DESTROYED);
  assert.equal(p.gw.kernel.sas.size, 0);
  assert.equal(p.gateways[0]!.kernel.sas.size, 2);
  const moved = p.bs.daemon.manager.ikeSaList().find((s) => s.state === IkeState.ESTABLISHED)!;
  assert.equal(moved.remote.address, GW2);
  assert.deepEqual(moved.redirectedFrom, gatewayIdFromString('192.0.2.1'));
  await p.stop();
});

test('redirects at IKE_SA_INIT (unauthenticated requests) are logged at a bounded rate, with the peer', async () => {
  const { log, lines } = captureLog();
  let asked = 0;
  const provider: RedirectProvider = { onInit: () => (asked++, gatewayIdFromString(GW2)), onAuth: () => undefined };
  const p = new Pair({ gwDaemon: { log, redirect: provider }, extraGateways: [GW2] });
  await p.start();
  const attempts = 25;
  for (let i = 0; i < attempts; i++) await p.initiate();
  await p.run();
  assert.equal(asked, attempts, 'every request was redirected');
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0, 'the redirecting gateway keeps no state');
  const redirects = lines.filter((l) => l.msg === 'redirecting at IKE_SA_INIT');
  assert.equal(redirects.length, 10, 'the burst of the rate limiter, not one line per request');
  assert.equal(redirects[0]!.peer, '192.0.2.7');
  assert.equal(redirects[0]!.to, GW2);
  await p.stop();
});

/**
 * An off-path attacker who saw nothing but the initiator's SPI (or guessed it) answers the
 * IKE_SA_INIT request first: HDR(SPIi, SPIr 0), N(REDIRECT(its gateway, a nonce that is not Ni)).
 * RFC 5685 §4 binds the REDIRECT to the request through Ni: without it the datagram is no
 * answer to us, so it is ignored and the request stays outstanding.
 */
function spoofedRedirect(sa: IkeSa, to: string, nonce: Buffer = Buffer.alloc(32, 0x5a)): Buffer {
  return encodeMessage({
    header: {
      spiI: sa.spiI,
      spiR: Buffer.alloc(8),
      majorVersion: 2,
      minorVersion: 0,
      exchangeType: ExchangeType.IKE_SA_INIT,
      flags: HeaderFlag.RESPONSE,
      messageId: 0,
    },
    payloads: [{ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyStatus.REDIRECT, data: encodeRedirect(gatewayIdFromString(to), nonce) }],
  });
}

const ATTACKER_GW = '203.0.113.66';

test('a forged IKE_SA_INIT REDIRECT (wrong nonce) before the real response is ignored: the SA comes up with the real responder', async () => {
  const redirects: string[] = [];
  const p = new Pair({ bsDaemon: { events: { redirected: (_sa, to) => redirects.push(gatewayIdToString(to)) } } });
  await p.start();
  try {
    const bsSa = await p.initiate();
    // <-- IKE_SA_INIT { N(REDIRECT(203.0.113.66, not Ni)) }   (forged, from the gateway's address)
    p.wire.deliver({ from: { address: '192.0.2.1', port: 500 }, to: { address: '192.0.2.7', port: 500 }, data: spoofedRedirect(bsSa, ATTACKER_GW), natT: false });
    await p.settle();
    assert.equal(bsSa.state, IkeState.CONNECTING, 'the forged answer did not end the SA');
    assert.equal(p.bs.daemon.counters.bad_response, 1, 'counted as a bad response');
    // IKE_SA_INIT request --> ; <-- the real IKE_SA_INIT response; IKE_AUTH ...
    await p.run();
    assert.deepEqual(redirects, [], 'the forged REDIRECT was not followed');
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(bsSa.remote.address, '192.0.2.1');
    assert.ok(p.wire.log.every((d) => d.to.address !== ATTACKER_GW), 'nothing was sent to the attacker\'s gateway');
  } finally {
    await p.stop();
  }
});

test('a forged REDIRECT does not stop the retransmission: the request lost, the SA comes up on the retransmitted one', async () => {
  const p = new Pair();
  await p.start();
  try {
    const bsSa = await p.initiate();
    await p.next(true); // the IKE_SA_INIT request is lost
    for (let i = 0; i < 3; i++) {
      p.wire.deliver({ from: { address: '192.0.2.1', port: 500 }, to: { address: '192.0.2.7', port: 500 }, data: spoofedRedirect(bsSa, ATTACKER_GW, Buffer.alloc(16, i)), natT: false });
      await p.settle();
    }
    assert.equal(p.wire.queue.length, 0, 'nothing sent in answer to the forgeries');
    assert.equal(bsSa.state, IkeState.CONNECTING);
    // The first retransmission is due after retransmit.timeout (1 s), forgeries or not.
    await p.advance(1000);
    assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT request #0 /, 'the request is retransmitted on schedule');
    await p.run();
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(bsSa.remote.address, '192.0.2.1');
    assert.equal(p.bs.daemon.counters.bad_response, 3);
  } finally {
    await p.stop();
  }
});

test('a forged REDIRECT before the genuine one: the initiator follows the genuine REDIRECT (its Ni) only', async () => {
  const p = new Pair({ gwDaemon: { redirect: redirectAllTo(gatewayIdFromString(GW2), 'init') }, extraGateways: [GW2] });
  await p.start();
  try {
    const bsSa = await p.initiate();
    p.wire.deliver({ from: { address: '192.0.2.1', port: 500 }, to: { address: '192.0.2.7', port: 500 }, data: spoofedRedirect(bsSa, ATTACKER_GW), natT: false });
    await p.settle();
    await p.run();
    const live = p.bs.daemon.manager.ikeSaList().filter((s) => s.state === IkeState.ESTABLISHED);
    assert.equal(live.length, 1);
    assert.equal(live[0]!.remote.address, GW2, 'on the gateway the genuine REDIRECT named');
    assert.ok(p.wire.log.every((d) => d.to.address !== ATTACKER_GW));
  } finally {
    await p.stop();
  }
});

test('a REDIRECT in an IKE_AUTH response without the responder\'s AUTH is not followed (RFC 5685 §6: only after AUTH verifies)', async () => {
  const redirects: string[] = [];
  const p = new Pair({ bsDaemon: { events: { redirected: (_sa, to) => redirects.push(gatewayIdToString(to)) } }, extraGateways: [GW2] });
  await p.start();
  try {
    const bsSa = await p.initiate();
    await p.next(); // IKE_SA_INIT request -->
    await p.next(); // <-- IKE_SA_INIT response
    await p.next(); // IKE_AUTH request -->
    p.wire.queue.shift(); // the genuine IKE_AUTH response is replaced by:
    // <-- IKE_AUTH SK { IDr, N(REDIRECT(192.0.2.2)) }   (protected, but no AUTH)
    const gwSa = p.gw.daemon.manager.ikeSaList()[0]!;
    const msg = gwSa.newMessage(ExchangeType.IKE_AUTH, 1, true);
    const idr = parseIdentity('gw.example.net');
    msg.payloads.push({ type: PayloadType.IDr, idType: idr.type, data: idr.data });
    msg.payloads.push({ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyStatus.REDIRECT, data: encodeRedirect(gatewayIdFromString(GW2)) });
    const [data] = encodeOutbound(msg, gwSa.skOut, 0);
    p.wire.deliver({ from: gwSa.local, to: gwSa.remote, data: data!, natT: gwSa.local.port === 4500 });
    await p.settle();
    await p.run();
    assert.equal(p.bs.daemon.counters.integrity ?? 0, 0, 'the forged response was read (it carries the SA\'s keys)');
    assert.deepEqual(redirects, [], 'not followed');
    assert.equal(bsSa.state, IkeState.DESTROYED, 'an IKE_AUTH answer without AUTH cannot complete the exchange');
    assert.ok(p.wire.log.every((d) => d.to.address !== GW2), 'nothing sent to the named gateway');
  } finally {
    await p.stop();
  }
});

test('an IKE SA redirected at IKE_AUTH is authenticated: it leaves the half-open table at once', async () => {
  const p = new Pair({ gwDaemon: { redirect: redirectAllTo(gatewayIdFromString(GW2), 'auth') }, extraGateways: [GW2] });
  await p.start();
  try {
    const bsSa = await p.initiate();
    await p.next(); // IKE_SA_INIT request -->
    await p.next(); // <-- IKE_SA_INIT response
    assert.equal(p.gw.daemon.manager.halfOpenCount, 1, 'half-open until authenticated');
    await p.next(); // IKE_AUTH request --> ; the answer { IDr, AUTH, N(REDIRECT) } is queued
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { IDr, AUTH, N(REDIRECT) }');
    const gwSa = p.gw.daemon.manager.ikeSaList()[0]!;
    assert.equal(gwSa.state, IkeState.DELETING, 'kept until the peer deletes it or the wait ends');
    assert.equal(p.gw.daemon.manager.halfOpenCount, 0, 'no half-open slot (halfOpenMax, halfOpenPerPeer, cookies) held for an authenticated peer');
    // The peer never deletes (it died): the master drops the SA after the wait, and nothing is left.
    p.wire.queue.length = 0;
    await p.advance(11_000);
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
    assert.equal(p.gw.daemon.manager.halfOpenCount, 0);
  } finally {
    await p.stop();
  }
});

/** The stub kernel's policies as `direction reqid tmplSrc->tmplDst`, sorted. */
function policiesOf(p: Pair, side: 'bs' | 'gw' | 'gw2'): string[] {
  const k = side === 'bs' ? p.bs.kernel : side === 'gw' ? p.gw.kernel : p.gateways[0]!.kernel;
  return [...k.policies.values()].map((x) => `${x.direction} ${x.reqid} ${x.tmplSrc}->${x.tmplDst}`).sort();
}

function policiesFor(child: { reqid: number }, src: string, dst: string): string[] {
  return [`fwd ${child.reqid} ${dst}->${src}`, `in ${child.reqid} ${dst}->${src}`, `out ${child.reqid} ${src}->${dst}`];
}

test("an established SA redirected to another member whose old gateway never answers the client's Delete: the new child takes the client's policies over at once, and they stay when the old SA gives up", async () => {
  const p = new Pair({ extraGateways: [GW2] });
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  const oldChild = bsSa.children[0]!;
  assert.deepEqual(policiesOf(p, 'bs'), policiesFor(oldChild, '192.0.2.7', '192.0.2.1'));
  await p.gw.daemon.redirect(gwSa, gatewayIdFromString(GW2));
  await p.next(); // INFORMATIONAL { N(REDIRECT) } -->
  await p.next(); // <-- INFORMATIONAL { }
  // gw1 is gone from here on: the client's Delete of the old SA (and its retransmissions) is lost.
  for (let n = 0; p.wire.queue.length > 0 && n < 50; n++) await p.next(p.wire.queue[0]!.to.address === '192.0.2.1');
  const moved = p.bs.daemon.manager.ikeSaList().find((s) => s.state === IkeState.ESTABLISHED)!;
  assert.equal(moved.remote.address, GW2);
  const newChild = moved.children[0]!;
  assert.equal(newChild.isInstalled, true);
  assert.notEqual(newChild.reqid, oldChild.reqid);
  assert.equal(bsSa.state, IkeState.DELETING, 'the old SA still waits for its Delete to be answered');
  assert.deepEqual(policiesOf(p, 'bs'), policiesFor(newChild, '192.0.2.7', GW2), "the client's traffic goes to the new member");
  const gw2Sa = p.peerOf(moved, p.gateways[0]!)!;
  assert.deepEqual(policiesOf(p, 'gw2'), policiesFor(gw2Sa.children[0]!, GW2, '192.0.2.7'));
  // The Delete's retransmissions run out: the old SA and its SAs go, the policies stay.
  await p.advance(60_000);
  for (let n = 0; p.wire.queue.length > 0 && n < 50; n++) await p.next(p.wire.queue[0]!.to.address === '192.0.2.1');
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(newChild.isInstalled, true);
  assert.deepEqual(policiesOf(p, 'bs'), policiesFor(newChild, '192.0.2.7', GW2));
  assert.deepEqual([...p.bs.kernel.sas.values()].map((s) => s.spi).sort(), [newChild.spiIn, newChild.spiOut].sort(), "only the new child's SAs are left");
  await p.stop();
});

test("a redirect back to the same address (the VIP moved under the client): the gateway's new child takes over the policies of the same peer's older SA", async () => {
  const p = new Pair();
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  await p.gw.daemon.redirect(gwSa, gatewayIdFromString('192.0.2.1'));
  await p.next();
  await p.next();
  // The client's Delete of the old SA is lost: the gateway still holds it and its child.
  for (let n = 0; p.wire.queue.length > 0 && n < 50; n++) {
    const d = p.wire.queue[0]!;
    await p.next(d.to.address === '192.0.2.1' && describe(d).startsWith('INFORMATIONAL request') && d.data.readUInt32BE(20) === 2);
  }
  const bsNew = p.bs.daemon.manager.ikeSaList().find((s) => s.state === IkeState.ESTABLISHED)!;
  assert.ok(bsNew && bsNew !== bsSa);
  const gwNew = p.peerOf(bsNew, p.gw)!;
  assert.equal(gwSa.state, IkeState.ESTABLISHED, "the gateway's old SA was never told");
  assert.deepEqual(policiesOf(p, 'gw'), policiesFor(gwNew.children[0]!, '192.0.2.1', '192.0.2.7'));
  assert.deepEqual(policiesOf(p, 'bs'), policiesFor(bsNew.children[0]!, '192.0.2.7', '192.0.2.1'));
  // The old SA ends at the gateway: the new child's policies stay.
  await p.gw.daemon.drop(gwSa, 'test');
  assert.deepEqual(policiesOf(p, 'gw'), policiesFor(gwNew.children[0]!, '192.0.2.1', '192.0.2.7'));
  await p.stop();
});

test("another peer's child with the same selectors is refused, never given the first peer's policies", async () => {
  const second = bsConfig(false, { name: 'bs-b', local: { id: 'bs2.example.net', auth: { method: 'psk', secret: PSK } } });
  const p = new Pair({ bsDaemon: { connections: [bsConfig(false), second] } });
  await p.start();
  const { gwSa } = await p.connect();
  const first = policiesOf(p, 'gw');
  assert.deepEqual(first, policiesFor(gwSa.children[0]!, '192.0.2.1', '192.0.2.7'));
  const tried = p.gw.kernel.ops.length;
  await p.initiate('bs-b');
  await p.run();
  const asked = p.gw.kernel.ops.slice(tried).map((o) => o.op);
  assert.ok(asked.includes('addPolicy'), `the second peer's child reached the kernel: ${asked.join(',')}`);
  assert.ok(!asked.includes('updatePolicy') && !asked.includes('deletePolicy'), `nothing of the first peer's was touched: ${asked.join(',')}`);
  const others = p.gw.daemon.manager.ikeSaList().filter((s) => s.peerId !== gwSa.peerId && !s.isDead);
  assert.deepEqual(others.flatMap((s) => s.children.filter((c) => c.isInstalled)), [], "the second peer's child is not installed");
  assert.deepEqual(policiesOf(p, 'gw'), first, "the first peer's policies are untouched");
  assert.equal(gwSa.children[0]!.isInstalled, true);
  await p.stop();
});
