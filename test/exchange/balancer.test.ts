/**
 * The cluster balancer (src/cluster/balancer.ts) in the exchange: the gateway at 192.0.2.1 is
 * the VRRP master "gw1" (a role source the test sets), the members gw2 (192.0.2.2) and gw3
 * (192.0.2.3) are real IKE daemons on the same wire, and the membership is a table the test
 * sets. Reads like RFC 5685 §4, §5, §6.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe, PSK } from './harness.js';
import { eventually } from '../support/eventually.js';
import { Balancer, type BalancerSettings } from '../../src/cluster/balancer.js';
import { Drainer } from '../../src/cluster/drain.js';
import { NotifyError, NotifyStatus } from '../../src/ike/constants.js';
import { decodeMessage } from '../../src/ike/codec/index.js';
import { decodeRedirect, gatewayIdToString } from '../../src/ike/redirect/notify.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import type { MemberRoleName } from '../../src/cluster/report.js';
import { logger } from '../../src/log/index.js';
import { FakeMembership, report, TUNNELS_ONLY } from '../cluster/balance-support.js';

const GW2 = '192.0.2.2';
const GW3 = '192.0.2.3';

function balancer(rows: FakeMembership['rows'], settings: Partial<BalancerSettings> = {}, initialRole: MemberRoleName = 'master') {
  const ms = new FakeMembership('gw1');
  ms.rows = rows;
  const role = { role: initialRole };
  const b = new Balancer({ settings: { mode: 'init', weights: TUNNELS_ONLY, ceiling: 0.8, ...settings }, membership: () => ms, role: { role: () => role.role } });
  return { b, ms, role };
}

const gw1Busy = () => [
  { report: report('gw1', '192.0.2.1', { tunnels: 600 }) },
  { report: report('gw2', GW2, { tunnels: 100 }) },
  { report: report('gw3', GW3, { tunnels: 300 }) },
];

const established = (p: Pair, side: Pair['gw']) => side.daemon.manager.ikeSaList().filter((s) => s.state === IkeState.ESTABLISHED && !s.initiator);

test('IKE_SA_INIT mode: the master answers a bare N(REDIRECT(least loaded member, Ni)) and keeps nothing', async () => {
  const { b } = balancer(gw1Busy());
  const p = new Pair({ gwDaemon: { redirect: b }, extraGateways: [GW2, GW3] });
  await p.start();
  try {
    const bsSa = await p.initiate();
    const ni = bsSa.auth!.ni;
    const timers = p.scheduler.size;
    // IKE_SA_INIT { SA, KE, Ni, N(NAT_*), N(REDIRECT_SUPPORTED), ... } -->
    await p.next();
    // <-- IKE_SA_INIT { N(REDIRECT(192.0.2.2, Ni)) }
    const answer = p.wire.queue[0]!;
    assert.equal(describe(answer), 'IKE_SA_INIT response #0 { N(REDIRECT) }');
    const dec = decodeMessage(answer.data);
    assert.ok(dec.ok);
    const n = dec.message.payloads[0] as { notifyType: number; data: Buffer };
    assert.equal(n.notifyType, NotifyStatus.REDIRECT);
    const r = decodeRedirect(n.data)!;
    assert.equal(gatewayIdToString(r.gw), GW2);
    assert.ok(r.nonce.equals(ni), 'the nonce is the initiator\'s Ni');
    // Stateless at the master: no SA, no half-open entry, no timer.
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
    assert.equal(p.gw.daemon.manager.halfOpenCount, 0);
    assert.equal(p.scheduler.size, timers, 'the redirect armed no timer');
    await p.run();
    assert.equal(established(p, p.gateways[0]!).length, 1, 'the base station ended on gw2');
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
    assert.deepEqual(b.snapshot().redirects.map((x) => [x.target, x.reason, x.count]), [['gw2', 'init', 1]]);
  } finally {
    await p.stop();
  }
});

test('a thousand redirected IKE_SA_INITs leave the master with no SA, half-open entry or timer', async () => {
  const { b } = balancer([{ report: report('gw1', '192.0.2.1', { tunnels: 600 }) }, { report: report('gw2', GW2, { max: 1_000_000 }) }]);
  const p = new Pair({ gwDaemon: { redirect: b }, bs: { followRedirects: true } });
  await p.start();
  try {
    const timers = p.scheduler.size;
    for (let i = 0; i < 1000; i++) {
      await p.bs.daemon.initiate('bs');
      await p.next(); // the request, answered with REDIRECT
      p.wire.queue.length = 0; // the base station never hears it
    }
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
    assert.equal(p.gw.daemon.manager.halfOpenCount, 0);
    const bsTimers = p.bs.daemon.manager.ikeSaList().length; // one retransmit timer per waiting initiator SA
    assert.ok(p.scheduler.size <= timers + bsTimers, 'no timer of the master\'s');
    assert.equal(b.snapshot().redirects.reduce((n, x) => n + x.count, 0), 1000);
  } finally {
    await p.stop();
  }
});

test('the master serves the tunnel itself when it is the best choice', async () => {
  const { b } = balancer([{ report: report('gw1', '192.0.2.1', { tunnels: 50 }) }, { report: report('gw2', GW2, { tunnels: 100 }) }]);
  const p = new Pair({ gwDaemon: { redirect: b }, extraGateways: [GW2] });
  await p.start();
  try {
    const { bsSa } = await p.connect();
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(bsSa.remote.address, '192.0.2.1');
    assert.equal(b.snapshot().served.best, 1);
  } finally {
    await p.stop();
  }
});

test('a backup member serves what reaches it', async () => {
  const { b } = balancer(gw1Busy(), {}, 'backup');
  const p = new Pair({ gwDaemon: { redirect: b }, extraGateways: [GW2] });
  await p.start();
  try {
    const { bsSa } = await p.connect();
    assert.equal(bsSa.remote.address, '192.0.2.1');
  } finally {
    await p.stop();
  }
});

test('every member above its ceiling: IKE_SA_INIT refused with N(TEMPORARY_FAILURE), no state kept', async () => {
  const { b } = balancer([{ report: report('gw1', '192.0.2.1', { tunnels: 900 }) }, { report: report('gw2', GW2, { tunnels: 850 }) }]);
  const p = new Pair({ gwDaemon: { redirect: b } });
  await p.start();
  try {
    const started = await p.bs.daemon.establish('bs');
    await p.settle();
    await p.next();
    // <-- IKE_SA_INIT { N(TEMPORARY_FAILURE) }
    assert.equal(describe(p.wire.queue[0]!), 'IKE_SA_INIT response #0 { N(TEMPORARY_FAILURE) }');
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
    await p.run();
    const o = await started.outcome;
    assert.equal(o.ok, false);
    assert.match((o as { reason: string }).reason, /TEMPORARY_FAILURE/);
    assert.equal(b.snapshot().refused['all-above-ceiling'], 1);
  } finally {
    await p.stop();
  }
});

test('IKE_AUTH mode: the master authenticates the peer, answers IDr, AUTH, N(REDIRECT) with no child, and drops the SA', async () => {
  const { b } = balancer(gw1Busy(), { mode: 'auth' });
  const p = new Pair({ gwDaemon: { redirect: b }, extraGateways: [GW2, GW3] });
  await p.start();
  try {
    const bsSa = await p.initiate();
    await p.next();
    assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT response #0 \{ SA, KE, NONCE/, 'no redirect at IKE_SA_INIT in auth mode');
    await p.next();
    await p.next();
    // <-- IKE_AUTH { IDr, AUTH, N(REDIRECT(192.0.2.2)) }
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { IDr, AUTH, N(REDIRECT) }');
    assert.equal(p.gw.kernel.sas.size, 0, 'no child SA at the master');
    await p.run();
    assert.equal(established(p, p.gateways[0]!).length, 1);
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0, 'the peer deleted the master\'s SA');
    assert.deepEqual(b.snapshot().redirects.map((x) => [x.target, x.reason]), [['gw2', 'auth']]);
  } finally {
    await p.stop();
  }
});

test('IKE_AUTH mode: a peer that never deletes the redirected SA loses it after the timeout', async () => {
  const { b } = balancer(gw1Busy(), { mode: 'auth' });
  const p = new Pair({ gwDaemon: { redirect: b }, extraGateways: [GW2] });
  await p.start();
  try {
    await p.initiate();
    for (let i = 0; i < 4; i++) await p.next();
    // The base station's Delete is lost, and every retransmission of it.
    while (p.wire.queue.length > 0) await p.next(true);
    assert.equal(p.gw.daemon.manager.ikeSaCount, 1);
    await p.advance(60_000);
    while (p.wire.queue.length > 0) await p.next(true);
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  } finally {
    await p.stop();
  }
});

test('IKE_AUTH: a peer without REDIRECT_SUPPORTED is not redirected (RFC 5685 §3)', async () => {
  let asked = 0;
  const p = new Pair({
    bs: { followRedirects: false },
    gwDaemon: { redirect: { onInit: () => undefined, onAuth: () => (asked++, { type: 1, address: GW2 }) } },
    extraGateways: [GW2],
  });
  await p.start();
  try {
    const { bsSa } = await p.connect();
    assert.equal(asked, 0);
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(bsSa.remote.address, '192.0.2.1');
  } finally {
    await p.stop();
  }
});

test('IKE_AUTH pins: a pinned peer goes to its member although another is emptier', async () => {
  const { b } = balancer(gw1Busy(), { mode: 'auth', pins: [{ peer: 'bs?.example.net', member: 'gw3' }] });
  const p = new Pair({ gwDaemon: { redirect: b }, extraGateways: [GW2, GW3] });
  await p.start();
  try {
    await p.initiate();
    await p.run();
    assert.equal(established(p, p.gateways[1]!).length, 1, 'on gw3');
    assert.equal(established(p, p.gateways[0]!).length, 0);
  } finally {
    await p.stop();
  }
});

test('the initiator ignores a REDIRECT whose nonce is not its Ni (RFC 5685 §4)', async () => {
  const { b } = balancer(gw1Busy());
  const redirects: string[] = [];
  const p = new Pair({ gwDaemon: { redirect: b }, bsDaemon: { events: { redirected: (_s, to) => redirects.push(gatewayIdToString(to)) } }, extraGateways: [GW2] });
  await p.start();
  try {
    const bsSa = await p.initiate();
    await p.next();
    const answer = p.wire.queue[0]!;
    answer.data[answer.data.length - 1]! ^= 0xff; // the last octet of the nonce data
    await p.next();
    assert.deepEqual(redirects, [], 'not followed');
    assert.equal(p.bs.daemon.counters.bad_response, 1, 'counted as a bad response');
    assert.ok(p.wire.queue.every((d) => d.to.address !== GW2), 'no IKE_SA_INIT to gw2');
    void bsSa;
  } finally {
    await p.stop();
  }
});

test('the initiator ignores a REDIRECT in an IKE_AUTH response whose AUTH does not verify', async () => {
  const { b } = balancer(gw1Busy(), { mode: 'auth' });
  const redirects: string[] = [];
  const p = new Pair({
    gw: { local: { id: 'gw.example.net', auth: { method: 'psk', secret: `${PSK} but not quite` } }, remote: { addrs: ['%any'], id: '%any', auth: { method: 'psk', secret: PSK } } },
    gwDaemon: { redirect: b },
    bsDaemon: { events: { redirected: (_s, to) => redirects.push(gatewayIdToString(to)) } },
    extraGateways: [GW2],
  });
  await p.start();
  try {
    const bsSa = await p.initiate();
    for (let i = 0; i < 3; i++) await p.next();
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { IDr, AUTH, N(REDIRECT) }');
    await p.run();
    assert.deepEqual(redirects, [], 'not followed: the gateway was not authenticated');
    assert.equal(established(p, p.gateways[0]!).length, 0);
  } finally {
    await p.stop();
  }
});

test('drain: established IKE SAs are redirected (INFORMATIONAL N(REDIRECT)) to the other members until none is left', async () => {
  const { b, ms, role } = balancer([{ report: report('gw1', '192.0.2.1', { tunnels: 0 }) }, { report: report('gw2', GW2) }, { report: report('gw3', GW3) }], {}, 'backup');
  const p = new Pair({ gwDaemon: { redirect: b }, extraGateways: [GW2, GW3] });
  await p.start();
  let draining = false;
  const d = new Drainer(p.gw.daemon, b, (on) => (draining = on), { ratePerSec: 200, retryMs: 60_000 }, logger('test'));
  try {
    await p.connect();
    assert.equal(established(p, p.gw).length, 1);
    // The report before the drain shows the tunnel; gw2 is the emptier member.
    ms.rows[0] = { report: report('gw1', '192.0.2.1', { tunnels: 1 }) };
    ms.rows[2] = { report: report('gw3', GW3, { tunnels: 5 }) };
    role.role = 'master';
    ms.rows[1] = { report: report('gw2', GW2, { tunnels: 0 }) };
    const first = d.drain();
    assert.equal(first.state, 'draining');
    assert.equal(draining, true, 'DRAINING announced in the load reports');
    const s = await eventually(async () => {
      await p.run();
      const st = d.status();
      return st.state === 'drained' && st.redirected === 1 ? st : undefined;
    }, 'the drain to finish');
    assert.equal(s.remaining, 0);
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
    assert.equal(established(p, p.gateways[0]!).length, 1, 'the base station is up on gw2');
    // A new base station reaching the draining member is sent on.
    const bsSa = await p.initiate();
    await p.run();
    assert.equal(bsSa.state, IkeState.DESTROYED);
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
    const reasons = b.snapshot().redirects.map((x) => `${x.target}:${x.reason}:${x.count}`).sort();
    assert.deepEqual(reasons, ['gw2:drain:1', 'gw2:draining:1']);
    const after = d.undrain();
    assert.equal(after.state, 'idle');
    assert.equal(draining, false);
    ms.rows = [{ report: report('gw1', '192.0.2.1') }, { report: report('gw2', GW2, { tunnels: 50 }) }, { report: report('gw3', GW3, { tunnels: 50 }) }];
    await p.initiate();
    await p.next();
    // <-- IKE_SA_INIT { SA, KE, Nr, ... }: served here, no redirect.
    assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT response #0 \{ SA, KE, NONCE/, 'undrained: it takes peers again');
  } finally {
    d.stop();
    await p.stop();
  }
});

test('NotifyError.TEMPORARY_FAILURE is the refusal', () => {
  assert.equal(NotifyError.TEMPORARY_FAILURE, 43);
});
