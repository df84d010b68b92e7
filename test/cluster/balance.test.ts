/**
 * The balancer's choice (src/cluster/balance.ts) as a table: members' reports, pending grants,
 * ceilings in; the member chosen (or the refusal) out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choose, type BalanceInput, type BalanceMember } from '../../src/cluster/balance.js';
import { report, TUNNELS_ONLY } from './balance-support.js';

const m = (id: string, o: Parameters<typeof report>[2] & { stale?: boolean } = {}): BalanceMember => ({
  id,
  address: `192.0.2.${id.slice(2)}`,
  report: report(id, `192.0.2.${id.slice(2)}`, o),
  stale: o.stale ?? false,
});

const WEIGHTS_BOTH = { tunnels: 1, bandwidth: 1, cpu: 0 };

const cases: { name: string; input: Partial<BalanceInput> & { members: BalanceMember[] }; want: string }[] = [
  { name: 'least weighted load wins', input: { members: [m('gw1', { tunnels: 50 }), m('gw2', { tunnels: 10 }), m('gw3', { tunnels: 30 })] }, want: 'gw2' },
  { name: 'load is relative to capacity', input: { members: [m('gw1', { tunnels: 100, max: 1000 }), m('gw2', { tunnels: 60, max: 300 })] }, want: 'gw1' },
  { name: 'equal loads: the smaller id', input: { members: [m('gw3', { tunnels: 5 }), m('gw2', { tunnels: 5 })] }, want: 'gw2' },
  { name: 'pending grants count at once', input: { members: [m('gw1', { tunnels: 10 }), m('gw2', { tunnels: 5 })], pending: new Map([['gw2', 6]]) }, want: 'gw1' },
  { name: 'stale members are never chosen', input: { members: [m('gw1', { tunnels: 500 }), m('gw2', { stale: true })] }, want: 'gw1' },
  { name: 'draining members are never chosen', input: { members: [m('gw1', { tunnels: 500 }), m('gw2', { draining: true })] }, want: 'gw1' },
  { name: 'leaving members are never chosen', input: { members: [m('gw1', { tunnels: 500 }), m('gw2', { leaving: true })] }, want: 'gw1' },
  { name: 'excluded members are never chosen', input: { members: [m('gw1', { tunnels: 500 }), m('gw2')], exclude: new Set(['gw2']) }, want: 'gw1' },
  { name: 'a member at its ceiling is skipped', input: { members: [m('gw1', { tunnels: 800 }), m('gw2', { tunnels: 900 })], ceiling: 0.85 }, want: 'gw1' },
  { name: 'per-member ceiling', input: { members: [m('gw1', { tunnels: 500 }), m('gw2', { tunnels: 400 })], ceilings: new Map([['gw2', 0.4]]) }, want: 'gw1' },
  {
    name: 'bandwidth weighs in: the busier link loses',
    input: { members: [m('gw1', { tunnels: 100, bps: 100e6 / 8 }), m('gw2', { tunnels: 100, bps: 500e6 / 8 })], weights: WEIGHTS_BOTH },
    want: 'gw1',
  },
  { name: 'every member full: refused', input: { members: [m('gw1', { tunnels: 800 }), m('gw2', { tunnels: 999 })] }, want: 'refused:all-above-ceiling' },
  { name: 'no live member: refused', input: { members: [m('gw1', { stale: true }), m('gw2', { draining: true })] }, want: 'refused:no-live-member' },
  { name: 'no member at all: refused', input: { members: [] }, want: 'refused:no-live-member' },
];

for (const c of cases) {
  test(`choose: ${c.name}`, () => {
    const r = choose({ pending: new Map(), weights: TUNNELS_ONLY, ceiling: 0.8, ...c.input });
    assert.equal(r.ok ? r.member.id : `refused:${r.reason}`, c.want);
  });
}

test('choose is deterministic: the order of the members does not matter', () => {
  const members = [m('gw1', { tunnels: 7 }), m('gw2', { tunnels: 7 }), m('gw3', { tunnels: 7 })];
  const ids = [members, [...members].reverse(), [members[1]!, members[2]!, members[0]!]].map((ms) => {
    const r = choose({ members: ms, pending: new Map(), weights: TUNNELS_ONLY, ceiling: 0.8 });
    return r.ok ? r.member.id : '';
  });
  assert.deepEqual(ids, ['gw1', 'gw1', 'gw1']);
});
