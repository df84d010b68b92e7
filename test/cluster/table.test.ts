/**
 * The membership table on a manual clock: the replay rule over (epoch, sequence), a restarted
 * member re-admitted with its sequence starting over, stale after K silent intervals and back
 * with its next report, and bad datagrams dropped, counted by reason, with no change of state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterKey } from '../../src/cluster/key.js';
import { encodeReport, type LoadReport } from '../../src/cluster/report.js';
import { MembershipTable, staleAfterMs, utilization } from '../../src/cluster/table.js';
import { sample } from './fixtures.js';

const KEY = new ClusterKey(Buffer.alloc(32, 0x5a));
const WRONG = new ClusterKey(Buffer.alloc(32, 0x11));
const GW2 = '192.0.2.12';
const GW3 = '192.0.2.13';

function table(): MembershipTable {
  const t = new MembershipTable({ selfId: 'gw1', key: KEY, staleAfter: 3, peers: [GW2, GW3] });
  t.setSelf(sample({ nodeId: 'gw1', address: '198.51.100.11', role: 'master' }), 0);
  return t;
}

const rep = (epoch: bigint, sequence: bigint, over: Partial<LoadReport> = {}) => encodeReport(sample({ epoch, sequence, ...over }), KEY);
const snapshot = (t: MembershipTable, now: number) => JSON.stringify(t.entries(now), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

test('the replay rule: newer (epoch, sequence) accepted, anything else rejected with its reason', () => {
  const t = table();
  const E = 1000n;
  // [datagram, accepted event or rejection reason]
  const steps: [Buffer, string][] = [
    [rep(E, 5n), 'admitted'], // first contact: taken as it comes
    [rep(E, 6n), 'updated'],
    [rep(E, 6n), 'replay'], // the same datagram again
    [rep(E, 4n), 'replay'], // an older one of this epoch
    [rep(E, 9n), 'updated'], // gaps are lost datagrams
    [rep(E - 1n, 100n), 'old-epoch'], // from before a restart, whatever its sequence
    [rep(E + 1n, 1n), 'restarted'], // restarted: its sequence starts over
    [rep(E, 10n), 'old-epoch'], // the previous life's reports are out for good
    [rep(E + 1n, 1n), 'replay'],
    [rep(E + 1n, 2n), 'updated'],
  ];
  let now = 0;
  for (const [dgram, want] of steps) {
    now += 1000;
    const r = t.receive(dgram, GW2, now);
    assert.equal(r.accepted ? r.event : r.reason, want, `step ${steps.findIndex((s) => s[0] === dgram)}`);
  }
  const gw2 = t.entries(now).find((e) => e.report.nodeId === 'gw2')!;
  assert.equal(gw2.report.epoch, E + 1n);
  assert.equal(gw2.report.sequence, 2n);
  assert.equal(t.counters.accepted, 5);
  assert.equal(t.counters.rejected.replay, 3);
  assert.equal(t.counters.rejected['old-epoch'], 2);
});

/** Bad input, one test each: dropped, counted under its reason alone, no change of state. */
const GOOD = rep(50n, 3n, { load: { tunnels: 10, childSas: 10, bytesPerSec: 0, cpu: 0.1 } });
const forged = () => {
  const b = Buffer.from(rep(50n, 4n));
  b.writeUInt32BE(0, 29); // claims no tunnels, keeps the MAC of the original
  return b;
};
const BAD: [string, () => Buffer, string, string][] = [
  ['forged (a field changed, the MAC kept)', forged, GW2, 'bad-mac'],
  ['replayed (an accepted report again)', () => GOOD, GW2, 'replay'],
  ['truncated inside the header', () => rep(50n, 4n).subarray(0, 40), GW2, 'truncated'],
  ['truncated inside the MAC', () => rep(50n, 4n).subarray(0, 100), GW2, 'truncated'],
  ['under a wrong key', () => encodeReport(sample({ epoch: 50n, sequence: 5n }), WRONG), GW2, 'bad-mac'],
  ['from an address that is no peer', () => rep(50n, 6n), '203.0.113.99', 'unknown-peer'],
  ["naming this member's own id", () => rep(1n, 1n, { nodeId: 'gw1' }), GW3, 'own-id'],
  ['not a report at all', () => Buffer.from('GET / HTTP/1.0\r\n\r\n'), GW3, 'truncated'],
  ['from a previous epoch', () => rep(49n, 100n), GW2, 'old-epoch'],
];

for (const [what, dgram, from, reason] of BAD) {
  test(`bad input ${what}: dropped as ${reason}, counted, no change of state`, () => {
    const t = table();
    assert.equal(t.receive(GOOD, GW2, 100).accepted, true);
    const before = snapshot(t, 200);
    assert.deepEqual(t.receive(dgram(), from, 200), { accepted: false, reason, ...(['replay', 'old-epoch', 'own-id'].includes(reason) && { member: reason === 'own-id' ? 'gw1' : 'gw2' }) });
    assert.equal(snapshot(t, 200), before, 'state unchanged');
    const counted = Object.entries(t.counters.rejected).filter(([, n]) => n > 0);
    assert.deepEqual(counted, [[reason, 1]]);
    assert.equal(t.counters.accepted, 1);
    // The real next report is still accepted: the bad one did not move the replay window.
    assert.deepEqual(t.receive(rep(50n, 4n), GW2, 300), { accepted: true, member: 'gw2', event: 'updated' });
  });
}

test('a member silent for K intervals goes stale and is excluded; its next report re-admits it', () => {
  const t = table();
  const I = 1000;
  t.receive(rep(7n, 1n, { intervalMs: I }), GW2, 0);
  t.receive(rep(9n, 1n, { nodeId: 'gw3', address: '198.51.100.13', intervalMs: I }), GW3, 0);
  const limit = staleAfterMs(3, I);
  assert.equal(limit, 3500);
  const W = { tunnels: 1, bandwidth: 0, cpu: 0 };
  const ids = (now: number) => t.candidates(now, W, 0.8).map((e) => e.report.nodeId);
  assert.deepEqual(ids(0), ['gw1', 'gw2', 'gw3']);
  // gw3 keeps reporting; gw2 falls silent after its first report.
  let seq = 1n;
  for (let now = I; now <= limit; now += I) t.receive(rep(9n, ++seq, { nodeId: 'gw3', address: '198.51.100.13', intervalMs: I }), GW3, now);
  assert.deepEqual(t.sweep(limit), [], 'not stale at exactly K intervals and a half');
  assert.deepEqual(t.sweep(limit + 1), ['gw2']);
  assert.deepEqual(t.sweep(limit + 2), [], 'reported once');
  assert.deepEqual(ids(limit + 1), ['gw1', 'gw3']);
  assert.equal(t.entries(limit + 1).find((e) => e.report.nodeId === 'gw2')!.stale, true);
  // Back (same epoch: a partition healed), then restarted while stale (new epoch): re-admitted both times.
  const back = t.receive(rep(7n, 2n, { intervalMs: I }), GW2, 10_000);
  assert.deepEqual(back, { accepted: true, member: 'gw2', event: 'readmitted' });
  assert.deepEqual(ids(10_000), ['gw1', 'gw2']); // gw3 has gone stale by now
  assert.deepEqual(t.sweep(20_000).sort(), ['gw2', 'gw3']);
  assert.deepEqual(t.receive(rep(8n, 1n, { intervalMs: I }), GW2, 20_001), { accepted: true, member: 'gw2', event: 'readmitted' });
  assert.equal(t.entries(20_001).find((e) => e.report.nodeId === 'gw2')!.stale, false);
});

test('a LEAVING report (graceful stop) makes its member stale at once; a restart re-admits it', () => {
  const t = table();
  t.receive(rep(5n, 1n), GW2, 0);
  const leave = rep(5n, 2n, { leaving: true });
  assert.deepEqual(t.receive(leave, GW2, 10), { accepted: true, member: 'gw2', event: 'left' });
  const gw2 = () => t.entries(11).find((e) => e.report.nodeId === 'gw2')!;
  assert.equal(gw2().stale, true);
  assert.deepEqual(t.sweep(11), [], 'already stale: no second "stale" event');
  assert.deepEqual(t.candidates(11, { tunnels: 1, bandwidth: 1, cpu: 1 }, 1).map((e) => e.report.nodeId), ['gw1']);
  assert.deepEqual(t.receive(rep(6n, 1n), GW2, 20), { accepted: true, member: 'gw2', event: 'readmitted' });
  assert.equal(gw2().stale, false);
  // The recorded LEAVING report cannot take it out again.
  assert.deepEqual(t.receive(leave, GW2, 30), { accepted: false, reason: 'old-epoch', member: 'gw2' });
  assert.equal(gw2().stale, false);
});

test('staleness follows the interval the member announces; this member is never stale', () => {
  const t = table();
  t.receive(rep(1n, 1n, { intervalMs: 100 }), GW2, 0);
  assert.equal(t.entries(351).find((e) => e.report.nodeId === 'gw2')!.stale, true);
  assert.equal(t.entries(1e9).find((e) => e.report.nodeId === 'gw1')!.stale, false);
});

test('candidates: draining and over-ceiling members are excluded, the rest least utilized first', () => {
  const t = table(); // gw1: 1234/20000 tunnels
  const cap = { maxTunnels: 1000, bandwidthBps: 1e9 };
  t.receive(rep(1n, 1n, { capacity: cap, load: { tunnels: 10, childSas: 10, bytesPerSec: 0, cpu: 0 } }), GW2, 0);
  t.receive(rep(1n, 1n, { nodeId: 'gw3', capacity: cap, load: { tunnels: 900, childSas: 900, bytesPerSec: 0, cpu: 0 } }), GW3, 0);
  const W = { tunnels: 1, bandwidth: 0, cpu: 0 };
  assert.deepEqual(t.candidates(0, W, 0.8).map((e) => e.report.nodeId), ['gw2', 'gw1']);
  assert.deepEqual(t.candidates(0, W, 0.95).map((e) => e.report.nodeId), ['gw2', 'gw1', 'gw3']);
  t.receive(rep(1n, 2n, { capacity: cap, draining: true, load: { tunnels: 10, childSas: 10, bytesPerSec: 0, cpu: 0 } }), GW2, 1);
  assert.deepEqual(t.candidates(1, W, 0.95).map((e) => e.report.nodeId), ['gw1', 'gw3']);
});

test('utilization is the weighted mean of tunnels, bit rate and CPU against capacity', () => {
  const r = sample({ load: { tunnels: 500, childSas: 0, bytesPerSec: 62_500_000, cpu: 0.9 }, capacity: { maxTunnels: 1000, bandwidthBps: 1e9 } });
  assert.equal(utilization(r, { tunnels: 1, bandwidth: 0, cpu: 0 }), 0.5);
  assert.equal(utilization(r, { tunnels: 0, bandwidth: 1, cpu: 0 }), 0.5);
  assert.equal(utilization(r, { tunnels: 0, bandwidth: 0, cpu: 2 }), 0.9);
  assert.ok(Math.abs(utilization(r, { tunnels: 1, bandwidth: 1, cpu: 2 }) - (0.5 + 0.5 + 1.8) / 4) < 1e-12);
});
