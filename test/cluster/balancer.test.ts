/**
 * The balancer as a RedirectProvider (src/cluster/balancer.ts), on a membership the test sets:
 * who redirects, grants counting at once within a report interval, loop safety, pins, counters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer, REFUSAL_NOTIFY, countBefore, globMatches, type BalancerSettings } from '../../src/cluster/balancer.js';
import type { MemberRoleName } from '../../src/cluster/report.js';
import { gatewayIdFromString, gatewayIdToString } from '../../src/ike/redirect/notify.js';
import { isRefusal, type RedirectDecision } from '../../src/ike/redirect/provider.js';
import { FakeMembership, report, TUNNELS_ONLY } from './balance-support.js';

let spi = 0;
const base = { remote: { address: '198.51.100.7', port: 500 }, local: { address: '192.0.2.100', port: 500 } };
/** Every access is a new initiator SPI: a new IKE_SA_INIT, not a retransmission. */
const fresh = { get spiI() { return (++spi).toString(16).padStart(16, '0'); } };
const ctxOf = () => ({ ...base, spiI: fresh.spiI });


function setup(settings: Partial<BalancerSettings> = {}, role: MemberRoleName = 'master') {
  const ms = new FakeMembership('gw1');
  let now = 10_000;
  const r = { role };
  const b = new Balancer({
    settings: { mode: 'init', weights: TUNNELS_ONLY, ceiling: 0.8, ...settings },
    membership: () => ms,
    role: { role: () => r.role },
    now: () => now,
  });
  return { b, ms, r, tick: (ms_: number) => (now += ms_), at: () => now };
}

const where = (d: RedirectDecision) => (d === undefined ? 'here' : isRefusal(d) ? `refused:${d.refuse}` : gatewayIdToString(d));

test('a burst inside one report interval spreads over members of different capacities', () => {
  const { b, ms } = setup();
  ms.rows = [
    { report: report('gw1', '192.0.2.1', { max: 1000 }), lastAt: 10_000 },
    { report: report('gw2', '192.0.2.2', { max: 2000 }), lastAt: 10_000 },
    { report: report('gw3', '192.0.2.3', { max: 3000 }), lastAt: 10_000 },
  ];
  const got = new Map<string, number>();
  for (let i = 0; i < 600; i++) {
    const w = where(b.onInit(ctxOf()));
    got.set(w, (got.get(w) ?? 0) + 1);
  }
  // No report arrived meanwhile: without grants counting, all 600 would go to one member.
  assert.deepEqual(Object.fromEntries(got), { here: 100, '192.0.2.2': 200, '192.0.2.3': 300 });
  const s = b.snapshot();
  assert.deepEqual(s.pending, { gw1: 100, gw2: 200, gw3: 300 });
  assert.deepEqual(s.served.best, 100);
  assert.deepEqual(s.redirects.map((r) => [r.target, r.reason, r.count]), [['gw2', 'init', 200], ['gw3', 'init', 300]]);
});

const authCtx = (peerId: string) => ({ ...ctxOf(), peerId, connection: 'bs' });

test('a retransmitted IKE_SA_INIT gets the first answer, without a second grant', () => {
  const { b, ms } = setup();
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 500 }) }, { report: report('gw2', '192.0.2.2') }, { report: report('gw3', '192.0.2.3') }];
  const c = ctxOf();
  assert.equal(where(b.onInit(c)), '192.0.2.2');
  assert.equal(where(b.onInit({ ...c })), '192.0.2.2', 'the same, though gw3 is now emptier');
  assert.deepEqual(b.snapshot().pending, { gw2: 1 });
});

test('grants are consumed by the tunnels a newer report shows', () => {
  const { b, ms, at } = setup();
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 500 }), lastAt: at() }, { report: report('gw2', '192.0.2.2'), lastAt: at() }];
  for (let i = 0; i < 10; i++) b.onInit(ctxOf());
  ms.rows[1] = { report: report('gw2', '192.0.2.2', { tunnels: 7 }), lastAt: at() };
  b.onInit(ctxOf());
  assert.equal(b.snapshot().pending.gw2, 4, '10 granted, 7 shown, 1 more granted');
});

test('grants stop counting once a report later than interval + settle time shows them', () => {
  const { b, ms, tick, at } = setup({ settleMs: 500 });
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 500 }), lastAt: at() }, { report: report('gw2', '192.0.2.2'), lastAt: at() }];
  for (let i = 0; i < 10; i++) assert.equal(where(b.onInit(ctxOf())), '192.0.2.2');
  assert.equal(b.snapshot().pending.gw2, 10);
  tick(1000);
  ms.rows[1]!.lastAt = at(); // a report sampled before the grants could show: they still count
  b.onInit(ctxOf());
  assert.equal(b.snapshot().pending.gw2, 11);
  tick(2000);
  ms.rows[1] = { report: report('gw2', '192.0.2.2', { tunnels: 11 }), lastAt: at() };
  b.onInit(ctxOf());
  assert.equal(b.snapshot().pending.gw2, 1, 'only the newest grant is left');
});

test('under load, grants wait as long as granted peers lately took to show, so a slow member is not sent more than its share', () => {
  const { b, ms, tick, at } = setup({ settleMs: 500 });
  ms.rows = [
    { report: report('gw1', '192.0.2.1', { tunnels: 900, max: 2000 }), lastAt: at() },
    { report: report('gw2', '192.0.2.2'), lastAt: at() },
    { report: report('gw3', '192.0.2.3'), lastAt: at() },
  ];
  for (let i = 0; i < 20; i++) b.onInit(ctxOf());
  assert.deepEqual(b.snapshot().pending, { gw2: 10, gw3: 10 });
  // 5 s later (peers queued at a loaded base-station side): half of each member's peers show.
  tick(5000);
  ms.rows[1] = { report: report('gw2', '192.0.2.2', { tunnels: 5 }), lastAt: at() };
  ms.rows[2] = { report: report('gw3', '192.0.2.3', { tunnels: 5 }), lastAt: at() };
  assert.equal(where(b.onInit(ctxOf())), '192.0.2.2');
  // The other half are still on their way: they count (with settleMs alone they would have been
  // dropped after 1.5 s, and gw2 and gw3 would look 5 tunnels emptier than they are).
  assert.deepEqual(b.snapshot().pending, { gw2: 6, gw3: 5 });
  // Peers that never arrive stop counting once twice that show time has passed with no report showing them.
  tick(12_000);
  ms.rows[1] = { report: report('gw2', '192.0.2.2', { tunnels: 5 }), lastAt: at() };
  ms.rows[2] = { report: report('gw3', '192.0.2.3', { tunnels: 5 }), lastAt: at() };
  b.onInit(ctxOf());
  assert.equal(b.snapshot().pending.gw2 ?? 0, 1, 'only the grant of this last choice');
  assert.equal(b.snapshot().pending.gw3 ?? 0, 0);
});

test('a loaded member still taking peers keeps its grants past the settle time; one that stopped gaining drops them', () => {
  // gw2 and gw3 equal; 20 granted to each. Their reports then show the peers arriving slowly
  // (a loaded machine): gw2 keeps gaining, so its remaining grants still count after settle;
  // gw3's report shows nothing new, so its grants (peers that never came) stop counting.
  const { b, ms, tick, at } = setup({ settleMs: 500 });
  ms.rows = [
    { report: report('gw1', '192.0.2.1', { tunnels: 900 }), lastAt: at() },
    { report: report('gw2', '192.0.2.2'), lastAt: at() },
    { report: report('gw3', '192.0.2.3'), lastAt: at() },
  ];
  for (let i = 0; i < 40; i++) b.onInit(ctxOf());
  assert.deepEqual(b.snapshot().pending, { gw2: 20, gw3: 20 });
  for (let k = 1; k <= 5; k++) {
    tick(1000);
    ms.rows[1] = { report: { ...report('gw2', '192.0.2.2', { tunnels: 2 * k }), sequence: BigInt(k + 1) }, lastAt: at() };
    ms.rows[2] = { report: { ...report('gw3', '192.0.2.3'), sequence: BigInt(k + 1) }, lastAt: at() };
    b.snapshot();
    b.chooseElsewhere();
  }
  assert.deepEqual(b.snapshot().pending, { gw2: 10 }, 'gw2: 20 granted, 10 shown, 10 still on their way; gw3: none came');
  // The next peers go to gw3: gw2 counts 10 shown + 10 on their way.
  assert.equal(where(b.onInit(ctxOf())), '192.0.2.3');
});

test('only the VRRP master redirects; a backup serves what reaches it', () => {
  const { b, ms, r } = setup({}, 'backup');
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 700 }) }, { report: report('gw2', '192.0.2.2') }];
  assert.equal(where(b.onInit(ctxOf())), 'here');
  r.role = 'master';
  assert.equal(where(b.onInit(ctxOf())), '192.0.2.2');
  assert.equal(b.snapshot().served['not-master'], 1);
});

test('a new master sends nobody to the old master whose last report still says master (killed, not yet stale)', () => {
  const { b, ms, r } = setup({}, 'backup');
  const old = { ...report('gw2', '192.0.2.2', { max: 9000 }), role: 'master' as const };
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 400, max: 1000 }) }, { report: old }, { report: report('gw3', '192.0.2.3', { tunnels: 400, max: 1000 }) }];
  // VRRP made gw1 master (gw2 fell silent); gw2's reports are not stale yet.
  r.role = 'master';
  const got = new Set(Array.from({ length: 20 }, () => where(b.onInit(ctxOf()))));
  assert.deepEqual([...got].sort(), ['192.0.2.3', 'here'], 'the emptiest member, gw2, is the dead master');
  // gw2 reports again as backup (it restarted, or it was only cut off): it gets peers again.
  ms.rows[1] = { report: { ...old, role: 'backup', sequence: 2n } };
  assert.equal(where(b.onInit(ctxOf())), '192.0.2.2');
  // A draining backup may still send peers to the master.
  const d = setup({}, 'backup');
  d.ms.rows = [{ report: report('gw1', '192.0.2.1') }, { report: old }];
  d.b.draining = true;
  assert.equal(where(d.b.onInit(ctxOf())), '192.0.2.2');
});

test('mode off, or a mode for the other exchange: never asked to act', () => {
  const { b, ms } = setup({ mode: 'auth' });
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 700 }) }, { report: report('gw2', '192.0.2.2') }];
  assert.equal(where(b.onInit(ctxOf())), 'here');
  assert.equal(where(b.onAuth(authCtx('bs1.example.net'))), '192.0.2.2');
  const off = setup({ mode: 'off' });
  off.ms.rows = ms.rows;
  assert.equal(where(off.b.onInit(ctxOf())), 'here');
  assert.equal(where(off.b.onAuth(authCtx('bs1.example.net'))), 'here');
});

test('every member above its ceiling: new peers refused with TEMPORARY_FAILURE', () => {
  const { b, ms } = setup();
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 800 }) }, { report: report('gw2', '192.0.2.2', { tunnels: 950 }) }, { report: report('gw3', '192.0.2.3'), stale: true }];
  assert.equal(where(b.onInit(ctxOf())), `refused:${REFUSAL_NOTIFY}`);
  assert.equal(b.snapshot().refused['all-above-ceiling'], 1);
});

test('loop safety: a REDIRECTED_FROM peer stays unless this member is above its ceiling or draining', () => {
  const { b, ms } = setup({}, 'backup');
  const from = { ...base, redirectedFrom: gatewayIdFromString('192.0.2.9') };
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 700 }) }, { report: report('gw2', '192.0.2.2') }];
  assert.equal(where(b.onInit({ ...from, spiI: fresh.spiI })), 'here', 'below the ceiling, though gw2 is emptier');
  ms.rows[0] = { report: report('gw1', '192.0.2.1', { tunnels: 850 }) };
  assert.equal(where(b.onInit({ ...from, spiI: fresh.spiI })), '192.0.2.2', 'above the ceiling: sent on, even by a backup');
  ms.rows[1] = { report: report('gw2', '192.0.2.2', { tunnels: 850 }) };
  assert.equal(where(b.onInit({ ...from, spiI: fresh.spiI })), `refused:${REFUSAL_NOTIFY}`, 'nobody below: refused, not overloaded');
  assert.deepEqual(b.snapshot().redirects.map((r) => [r.target, r.reason]), [['gw2', 'loop-overload']]);
});

test('a draining member sends every new peer elsewhere, in any role, and never to itself', () => {
  const { b, ms } = setup({}, 'backup');
  ms.rows = [{ report: report('gw1', '192.0.2.1') }, { report: report('gw2', '192.0.2.2', { tunnels: 300 }) }];
  b.draining = true;
  assert.equal(where(b.onInit(ctxOf())), '192.0.2.2');
  assert.equal(where(b.onInit({ ...ctxOf(), redirectedFrom: gatewayIdFromString('192.0.2.9') })), '192.0.2.2');
});

test('pins (IKE_AUTH): by identity pattern and connection, to a member or to "self"', () => {
  const { b, ms } = setup({
    mode: 'auth',
    pins: [
      { peer: '*.north.example.net', member: 'gw3' },
      { connection: 'bs', peer: 'lab-??.example.net', member: 'self' },
      { connection: 'other', peer: '*', member: 'gw2' },
    ],
  });
  ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 500 }) }, { report: report('gw2', '192.0.2.2') }, { report: report('gw3', '192.0.2.3', { tunnels: 700 }) }];
  assert.equal(where(b.onAuth(authCtx('bs7.NORTH.example.net'))), '192.0.2.3', 'pinned, though gw2 is emptier');
  assert.equal(where(b.onAuth(authCtx('lab-01.example.net'))), 'here');
  assert.equal(where(b.onAuth(authCtx('bs8.example.net'))), '192.0.2.2', 'no pin: balanced');
  ms.rows[2] = { report: report('gw3', '192.0.2.3', { draining: true }) };
  assert.equal(where(b.onAuth(authCtx('bs7.north.example.net'))), '192.0.2.2', 'the pinned member drains: balanced');
  assert.deepEqual(b.snapshot().served.pin, 1);
});

test('redirect targets keep their identity type: IPv4, IPv6, FQDN', () => {
  const { b, ms } = setup();
  for (const addr of ['2001:db8::2', 'gw2.example.net', '192.0.2.2']) {
    ms.rows = [{ report: report('gw1', '192.0.2.1', { tunnels: 500 }) }, { report: report('gw2', addr) }];
    const d = b.onInit(ctxOf());
    assert.deepEqual(d, gatewayIdFromString(addr));
  }
});

test('no membership yet: peers are served here', () => {
  const b = new Balancer({ settings: { mode: 'init', weights: TUNNELS_ONLY, ceiling: 0.8 }, membership: () => undefined, role: { role: () => 'master' } });
  assert.equal(b.onInit(ctxOf()), undefined);
  assert.equal(b.snapshot().served['no-table'], 1);
});

test('pin patterns: whole string, case-insensitive, * and ? only', () => {
  assert.ok(globMatches('*.example.net', 'bs1.Example.NET'));
  assert.ok(!globMatches('*.example.net', 'bs1.example.net.evil'));
  assert.ok(globMatches('bs?', 'bs7'));
  assert.ok(!globMatches('bs?', 'bs17'));
  assert.ok(globMatches('CN=bs (1)+', 'CN=bs (1)+'), 'regex characters are literal');
});

test('countBefore: grants older than a time, by binary search over ascending times (equal times kept)', () => {
  const cases: [number[], number, number][] = [
    [[], 5, 0],
    [[1, 2, 3], 0, 0],
    [[1, 2, 3], 2, 1],
    [[1, 2, 2, 2, 3], 2, 1],
    [[1, 2, 2, 2, 3], 3, 4],
    [[1, 2, 3], 4, 3],
    [[5, 5, 5], 6, 3],
  ];
  for (const [times, t, want] of cases) {
    assert.equal(countBefore(times, t), want, `${JSON.stringify(times)} before ${t}`);
    assert.equal(countBefore(times, t), times.filter((x) => x < t).length);
  }
});
