/**
 * Releasing the IKE SAs served on the VIPs (src/cluster/vip-release.ts): the decision as a
 * table, then the releaser against a fake daemon and the real balancer: who is asked to move,
 * where to, what is removed locally, and what the `redirects` counters show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from '../../src/cluster/balancer.js';
import type { BalanceChoice, BalanceMember } from '../../src/cluster/balance.js';
import { releaseStep, releaseTarget, VipReleaser, type ReleaseDaemon, type ReleaseSaFacts, type ReleaseTarget } from '../../src/cluster/vip-release.js';
import { gatewayIdToString, type GatewayId } from '../../src/ike/redirect/notify.js';
import type { IkeSa } from '../../src/ike/sa/ike-sa.js';
import { IkeFlag } from '../../src/ike/sa/state.js';
import { succeeded } from '../../src/ike/outcome.js';
import { captureLog } from '../support/log-capture.js';
import { FakeMembership, report, TUNNELS_ONLY } from './balance-support.js';

const VIP = '203.0.113.10';
const gw2: BalanceMember = { id: 'gw2', address: '203.0.113.2', report: report('gw2', '203.0.113.2'), stale: false };
const chosen: BalanceChoice = { ok: true, member: gw2, load: 0 };
const none: BalanceChoice = { ok: false, reason: 'no-live-member' };
const full: BalanceChoice = { ok: false, reason: 'all-above-ceiling' };

test('releaseTarget: the balancer\'s member; the VIP when nobody is free, none is live, or redirect is off', () => {
  const rows: [string, Parameters<typeof releaseTarget>[0], BalanceChoice | undefined, ReleaseTarget][] = [
    ['a member is free', 'init', chosen, { kind: 'member', member: gw2 }],
    ['auth mode alike', 'auth', chosen, { kind: 'member', member: gw2 }],
    ['nobody below its ceiling', 'init', full, { kind: 'vip', address: VIP }],
    ['no other live member', 'auth', none, { kind: 'vip', address: VIP }],
    ['no membership yet', 'init', undefined, { kind: 'vip', address: VIP }],
    ['redirect off: back through the new master', 'off', chosen, { kind: 'vip', address: VIP }],
  ];
  for (const [what, mode, choice, want] of rows) assert.deepEqual(releaseTarget(mode, choice, VIP), want, what);
});

test('releaseStep: redirect a served peer that announced REDIRECT_SUPPORTED, delete one that did not, leave the rest', () => {
  const toMember: ReleaseTarget = { kind: 'member', member: gw2 };
  const toVip: ReleaseTarget = { kind: 'vip', address: VIP };
  const f = (onVip: boolean, served: boolean, redirectSupported: boolean): ReleaseSaFacts => ({ onVip, served, redirectSupported });
  const rows: [string, ReleaseSaFacts, ReleaseTarget, ReturnType<typeof releaseStep>][] = [
    ['on the VIP, can follow: to the member', f(true, true, true), toMember, { do: 'redirect', to: toMember }],
    ['on the VIP, can follow: to the VIP', f(true, true, true), toVip, { do: 'redirect', to: toVip }],
    ['on the VIP, cannot follow: Delete', f(true, true, false), toMember, { do: 'delete' }],
    ['on the VIP, not established / ours: nothing (removed locally after)', f(true, false, true), toMember, { do: 'none' }],
    ['on the member\'s own address: stays', f(false, true, true), toMember, { do: 'none' }],
    ['on the member\'s own address, cannot follow: stays', f(false, true, false), toVip, { do: 'none' }],
  ];
  for (const [what, facts, target, want] of rows) assert.deepEqual(releaseStep(facts, target), want, what);
});

interface FakeSa {
  name: string;
  local: { address: string; port: number };
  established: boolean;
  isDead: boolean;
  initiator: boolean;
  redirect: boolean;
  has(flag: number): boolean;
}

function fakeSa(name: string, address: string, o: { redirect?: boolean; established?: boolean; initiator?: boolean } = {}): FakeSa {
  return {
    name,
    local: { address, port: 4500 },
    established: o.established ?? true,
    isDead: false,
    initiator: o.initiator ?? false,
    redirect: o.redirect ?? true,
    has(flag: number) {
      return flag === IkeFlag.PEER_REDIRECT && this.redirect;
    },
  };
}

class FakeDaemon implements ReleaseDaemon {
  readonly log: string[] = [];
  constructor(
    readonly sas: FakeSa[],
    /** Peers that answer (and then leave); the others never answer. */
    private readonly answering = true,
  ) {}
  readonly manager = { ikeSaList: () => this.sas.filter((s) => !s.isDead) as unknown as IkeSa[] };
  async redirect(sa: IkeSa, to: GatewayId) {
    this.log.push(`redirect ${sa.name} ${gatewayIdToString(to)}`);
    return { outcome: this.answering ? Promise.resolve(succeeded(undefined)) : new Promise<never>(() => {}) };
  }
  async terminate(sa: IkeSa) {
    this.log.push(`delete ${sa.name}`);
    if (this.answering) (sa as unknown as FakeSa).isDead = true;
    return { outcome: this.answering ? Promise.resolve(succeeded({ acknowledged: true })) : new Promise<never>(() => {}) };
  }
  refusing = new Set<string>();
  refuseNewSas(address: string, refuse: boolean) {
    if (refuse) this.refusing.add(address);
    else this.refusing.delete(address);
  }
  async drop(sa: IkeSa) {
    this.log.push(`drop ${sa.name}`);
    (sa as unknown as FakeSa).isDead = true;
  }
}

function balancer(mode: 'init' | 'off' = 'init') {
  const ms = new FakeMembership('gw1');
  ms.rows = [
    { report: report('gw1', '203.0.113.1') },
    { report: report('gw2', '203.0.113.2', { max: 100 }) },
    { report: report('gw3', '203.0.113.3', { max: 100, tunnels: 1 }) },
  ];
  return new Balancer({ settings: { mode, weights: TUNNELS_ONLY, ceiling: 0.9 }, membership: () => ms, role: { role: () => 'backup' }, now: () => 0 });
}

test('release: each peer served on the VIP is redirected to the balancer\'s choice (grants spread them) or deleted; the rest stay; counted per cause', async () => {
  const sas = [
    fakeSa('a', VIP),
    fakeSa('b', VIP),
    fakeSa('c', VIP, { redirect: false }),
    fakeSa('own', '203.0.113.1'),
    fakeSa('half', VIP, { established: false }),
    fakeSa('ours', VIP, { initiator: true }),
  ];
  const d = new FakeDaemon(sas);
  const b = balancer();
  const cap = captureLog();
  const r = new VipReleaser(d, b, cap.log);
  await r.release([VIP], 'lost');
  assert.deepEqual([...d.refusing], [VIP], 'no new SA on the VIP while it is being given up');
  // gw2 is emptiest (0/100 against gw3's 1/100); with a's grant counted both are at 1/100 and the smaller id wins: gw2 again.
  assert.deepEqual(d.log, ['redirect a 203.0.113.2', 'redirect b 203.0.113.2', 'delete c']);
  const s = b.snapshot();
  assert.deepEqual(s.redirects.map((x) => [x.target, x.reason, x.count]), [['gw2', 'vip-lost', 2]]);
  assert.deepEqual(s.vipRelease, { stop: { deleted: 0, removed: 0 }, lost: { deleted: 1, removed: 0 } });
  assert.deepEqual(s.pending, { gw2: 2 }, 'each redirect is a grant the next choice sees');

  // The VIP is gone: what is still on it (a and b have not left yet, the half-open one, ours) is removed here.
  d.log.length = 0;
  assert.equal(await r.dropUnheld([VIP], 'lost'), 4);
  assert.deepEqual([...d.refusing], [], 'taken again once this member holds it again');
  assert.deepEqual(d.log, ['drop a', 'drop b', 'drop half', 'drop ours']);
  assert.equal(b.snapshot().vipRelease.lost.removed, 4);
  const warn = cap.lines.find((l) => l.level === 'warn');
  assert.ok(warn, 'logged at warn');
  assert.equal(warn.count, 4);
  assert.deepEqual(d.manager.ikeSaList().map((x) => x.name), ['own'], 'the SA on the member\'s own address stays');
  assert.equal(await r.dropUnheld([VIP], 'lost'), 0, 'nothing twice');
});

test('release with redirect off, or nobody to take them: sent back to the VIP, counted under target "vip"', async () => {
  for (const [mode, rows] of [['off', undefined], ['init', 'full']] as const) {
    const d = new FakeDaemon([fakeSa('a', VIP)]);
    const b = balancer(mode);
    if (rows === 'full') (b as unknown as { opts: { membership: () => FakeMembership } }).opts.membership().rows = [{ report: report('gw1', '203.0.113.1') }, { report: report('gw2', '203.0.113.2', { max: 1, tunnels: 1 }) }];
    await new VipReleaser(d, b, captureLog().log).release([VIP], 'stop');
    assert.deepEqual(d.log, [`redirect a ${VIP}`], mode);
    assert.deepEqual(b.snapshot().redirects.map((x) => [x.target, x.address, x.reason, x.count]), [['vip', VIP, 'vip-stop', 1]], mode);
  }
});

test('release is bounded: peers that never answer do not hold it past the grace; a paced burst asks them all within it', { timeout: 10_000 }, async () => {
  const sas = Array.from({ length: 50 }, (_, i) => fakeSa(`s${i}`, VIP));
  const d = new FakeDaemon(sas, false);
  const r = new VipReleaser(d, balancer(), captureLog().log, { graceMs: 300, ratePerSec: 1000 });
  await r.release([VIP], 'lost'); // never settles if it waited for the answers
  assert.equal(d.log.length, 50, 'every peer asked');
  // Ended because of the bound, not because the peers answered: they are all still here.
  assert.equal(d.manager.ikeSaList().length, 50);
});
