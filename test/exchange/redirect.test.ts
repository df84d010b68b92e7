/**
 * RFC 5685 redirect: the gateway's provider is asked before the IKE_SA_INIT response (when the
 * initiator sent REDIRECT_SUPPORTED) and after authenticating it in IKE_AUTH; the initiator
 * follows to the new gateway with REDIRECTED_FROM, and stops after too many redirects (§9).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureLog } from '../support/log-capture.js';
import { Pair, describe } from './harness.js';
import { GatewayIdType } from '../../src/ike/constants.js';
import { redirectAllTo, type RedirectProvider } from '../../src/ike/redirect/provider.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { decodeRedirect, decodeRedirectedFrom, encodeRedirect, gatewayIdFromString } from '../../src/ike/redirect/notify.js';
import { decodeMessage } from '../../src/ike/codec/index.js';

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
