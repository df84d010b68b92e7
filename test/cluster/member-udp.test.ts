/**
 * Three members on loopback UDP (127.0.0.11-13): they converge to the same table (loads, roles,
 * draining as each member reports them); a stopped member goes stale on the others and a
 * restarted one (new epoch, sequence from 1) is re-admitted; bad datagrams on the wire are
 * dropped and counted by reason while the exchange carries on.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { ClusterKey } from '../../src/cluster/key.js';
import { ClusterMember, type MemberSettings } from '../../src/cluster/member.js';
import type { MemberRoleName, MemberLoad } from '../../src/cluster/report.js';
import { encodeReport } from '../../src/cluster/report.js';
import type { MembersView } from '../../src/cluster/view.js';
import { eventually } from '../support/eventually.js';
import { sample } from './fixtures.js';

const KEY = new ClusterKey(Buffer.alloc(32, 0x42));
const PORT = 21_000 + Math.floor(Math.random() * 20_000);
const IDS = ['gw1', 'gw2', 'gw3'] as const;
const addr = (i: number) => `127.0.0.${11 + i}`;

function settings(i: number): MemberSettings {
  return {
    nodeId: IDS[i]!,
    address: `198.51.100.${11 + i}`,
    capacity: { maxTunnels: 1000 * (i + 1), bandwidthBps: 1e9 },
    weights: { tunnels: 1, bandwidth: 1, cpu: 1 },
    ceiling: 0.8,
    // Stale after 5.5 intervals (550 ms) of silence: wide enough that a loaded machine's pauses
    // do not make a live member look stale mid-test.
    reportIntervalMs: 100,
    staleAfter: 5,
    listen: { address: addr(i), port: PORT },
    peers: [0, 1, 2].filter((j) => j !== i).map((j) => ({ address: addr(j), port: PORT })),
    key: KEY,
  };
}

const loads: MemberLoad[] = IDS.map((_, i) => ({ tunnels: 10 * (i + 1), childSas: 20 * (i + 1), bytesPerSec: 1000 * (i + 1), cpu: 0.1 * (i + 1) }));
const roles: MemberRoleName[] = ['master', 'backup', 'backup'];
const members: (ClusterMember | undefined)[] = [];

async function startMember(i: number): Promise<ClusterMember> {
  const m = await ClusterMember.start({ cfg: settings(i), load: { sample: () => ({ ...loads[i]! }) }, role: { role: () => roles[i]! } });
  members[i] = m;
  return m;
}

after(async () => {
  for (const m of members) await m?.stop();
});

/** What must agree across members: everything each member reports about itself. */
const agreed = (v: MembersView) =>
  v.members.map((m) => ({ id: m.id, address: m.address, role: m.role, draining: m.draining, load: m.load, capacity: m.capacity, epoch: m.epoch, utilization: m.utilization }));
const row = (m: ClusterMember, id: string) => m.members().members.find((r) => r.id === id);

test('three members on loopback converge to the same table; stale when stopped, re-admitted when restarted', async () => {
  for (const i of [0, 1, 2]) await startMember(i);
  const [gw1, gw2] = members as ClusterMember[];

  await eventually(() => {
    const views = members.map((m) => agreed(m!.members()));
    return views.every((v) => v.length === 3 && v.every((r) => r.load.tunnels > 0)) && JSON.stringify(views[0]) === JSON.stringify(views[1]) && JSON.stringify(views[1]) === JSON.stringify(views[2]);
  }, 'the three tables to agree');
  const v = gw2!.members();
  assert.deepEqual(v.members.map((r) => [r.id, r.self, r.role, r.load.tunnels, r.capacity.maxTunnels, r.stale]), [
    ['gw1', false, 'master', 10, 1000, false],
    ['gw2', true, 'backup', 20, 2000, false],
    ['gw3', false, 'backup', 30, 3000, false],
  ]);
  assert.equal(row(gw2!, 'gw1')!.from, '127.0.0.11');
  assert.equal(row(gw2!, 'gw1')!.address, '198.51.100.11');

  // A load change and a drain reach the others with the next report.
  loads[2] = { ...loads[2]!, tunnels: 777 };
  members[2]!.setDraining(true);
  await eventually(() => [gw1, gw2].every((m) => row(m!, 'gw3')?.load.tunnels === 777 && row(m!, 'gw3')?.state === 'draining'), 'gw3 draining with 777 tunnels');

  // gw3 stops: stale on both others, and no longer eligible.
  const oldEpoch = BigInt(row(gw1!, 'gw3')!.epoch);
  await members[2]!.stop();
  members[2] = undefined;
  await eventually(() => [gw1, gw2].every((m) => row(m!, 'gw3')?.stale === true), 'gw3 stale on gw1 and gw2');
  assert.equal(row(gw1!, 'gw3')!.eligible, false);
  assert.equal(row(gw1!, 'gw2')!.stale, false);

  // gw3 restarts: a new epoch, its sequence from 1 again; re-admitted on both.
  loads[2] = { ...loads[2]!, tunnels: 5 };
  await startMember(2);
  await eventually(() => [gw1, gw2].every((m) => row(m!, 'gw3')?.stale === false && BigInt(row(m!, 'gw3')!.epoch) > oldEpoch), 'gw3 re-admitted');
  assert.equal(row(gw1!, 'gw3')!.load.tunnels, 5);
  assert.equal(row(gw1!, 'gw3')!.draining, false);
  assert.equal(row(gw1!, 'gw3')!.eligible, true);
  for (const m of [gw1, gw2]) assert.equal(m!.members().reports.rejected['old-epoch'], 0);
});

test('forged, replayed, truncated and wrong-key datagrams on the wire are dropped by reason; the table carries on', async () => {
  const gw1 = members[0] ?? (await startMember(0));
  members[1] ?? (await startMember(1));
  await eventually(() => row(gw1, 'gw2') && !row(gw1, 'gw2')!.stale, 'gw2 live on gw1');
  const before = { ...gw1.members().reports.rejected };
  const gw2Epoch = BigInt(row(gw1, 'gw2')!.epoch);
  // A stray sender bound to gw2's address (a peer's address is all the source check knows).
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: addr(1), port: 0 }, () => r()));
  try {
    const send = (b: Buffer) => new Promise<void>((r, j) => sock.send(b, PORT, addr(0), (e) => (e ? j(e) : r())));
    const forged = Buffer.from(encodeReport(sample({ nodeId: 'gw2', epoch: gw2Epoch, sequence: 10n ** 9n }), KEY));
    forged.writeUInt32BE(0, 29);
    await send(forged);
    await send(encodeReport(sample({ nodeId: 'gw2', epoch: gw2Epoch, sequence: 1n }), KEY)); // replay: gw2 is past 1
    await send(encodeReport(sample({ nodeId: 'gw2', epoch: gw2Epoch - 1n, sequence: 10n ** 9n }), KEY)); // older epoch
    await send(encodeReport(sample({ nodeId: 'gw2', epoch: gw2Epoch, sequence: 10n ** 9n }), KEY).subarray(0, 70));
    await send(encodeReport(sample({ nodeId: 'gw2', epoch: gw2Epoch, sequence: 10n ** 9n }), new ClusterKey(Buffer.alloc(32, 1))));
    const delta = () => {
      const now = gw1.members().reports.rejected;
      return Object.fromEntries(Object.entries(now).map(([k, n]) => [k, n - before[k as keyof typeof before]]).filter(([, n]) => n !== 0));
    };
    await eventually(() => JSON.stringify(delta()) === JSON.stringify({ truncated: 1, 'bad-mac': 2, replay: 1, 'old-epoch': 1 }) || undefined, {
      what: 'five drops by reason',
      timeoutMs: 5000,
    });
    // None of them took: gw2's row is still gw2's own (its real load, its real sequence, still live).
    const r = row(gw1, 'gw2')!;
    assert.equal(r.load.tunnels, 20);
    assert.ok(BigInt(r.sequence) < 10n ** 9n);
    const seq = BigInt(r.sequence);
    await eventually(() => BigInt(row(gw1, 'gw2')!.sequence) > seq, 'gw2 reports still accepted');
  } finally {
    sock.close();
  }
});

test('IPv6: two members on ::1 (their own ports) exchange reports', async () => {
  const port6 = PORT + 1;
  const cfg = (i: number): MemberSettings => ({
    ...settings(i),
    listen: { address: '::1', port: port6 + i },
    peers: [{ address: '0:0:0:0:0:0:0:1', port: port6 + (1 - i) }],
  });
  const pair: ClusterMember[] = [];
  try {
    for (const i of [0, 1]) pair.push(await ClusterMember.start({ cfg: cfg(i), load: { sample: () => ({ ...loads[i]! }) } }));
    await eventually(() => pair.every((m) => m.members().members.length === 2 && m.members().members.every((r) => !r.stale)), 'both members on ::1');
    assert.equal(row(pair[0]!, 'gw2')!.from, '::1');
    assert.equal(row(pair[0]!, 'gw2')!.role, 'unknown');
  } finally {
    for (const m of pair) await m.stop();
  }
});

test('a load sample that hangs delays no report (the member keeps reporting its last load, stays live) and no stop', async () => {
  const port = PORT + 5;
  const cfg = (i: number): MemberSettings => ({
    ...settings(i),
    listen: { address: addr(i), port },
    peers: [{ address: addr(1 - i), port }],
  });
  let release: () => void = () => {};
  let calls = 0;
  const hanging = {
    sample: () => {
      if (++calls === 1) return { tunnels: 42, childSas: 42, bytesPerSec: 0, cpu: 0 };
      return new Promise<MemberLoad>((r) => (release = () => r({ tunnels: 43, childSas: 43, bytesPerSec: 0, cpu: 0 })));
    },
  };
  const pair: ClusterMember[] = [];
  try {
    pair.push(await ClusterMember.start({ cfg: cfg(0), load: hanging }));
    pair.push(await ClusterMember.start({ cfg: cfg(1), load: { sample: () => ({ ...loads[1]! }) } }));
    const seen = await eventually(() => row(pair[1]!, 'gw1'), 'gw1 on gw2');
    const first = BigInt(seen.sequence);
    await eventually(() => BigInt(row(pair[1]!, 'gw1')!.sequence) >= first + 5n, 'five more reports while the sample hangs');
    assert.equal(calls, 2, 'one sample at a time');
    assert.equal(row(pair[1]!, 'gw1')!.load.tunnels, 42);
    assert.equal(row(pair[1]!, 'gw1')!.stale, false);
    release();
    await eventually(() => row(pair[1]!, 'gw1')!.load.tunnels === 43, 'the late sample reported');
    // The next sample hangs again: stopping does not wait for it.
    await eventually(() => calls >= 3, 'a third sample running');
    let stopped = false;
    void pair[0]!.stop().then(() => (stopped = true));
    await eventually(() => stopped, { what: 'stop with a sample hanging', timeoutMs: 5000 });
  } finally {
    release();
    for (const m of pair) await m.stop();
  }
});

test('a member that stops says so: the others mark it stale (left) at once, long before K intervals', async () => {
  const port = PORT + 7;
  const cfg = (i: number): MemberSettings => ({
    ...settings(i),
    reportIntervalMs: 60_000, // stale by silence only after 3.5 minutes
    listen: { address: addr(i), port },
    peers: [{ address: addr(1 - i), port }],
  });
  const pair: ClusterMember[] = [];
  try {
    // gw1 first, so gw2's first report (sent at its start) finds gw1 listening.
    pair.push(await ClusterMember.start({ cfg: cfg(0), load: { sample: () => ({ ...loads[0]! }) } }));
    pair.push(await ClusterMember.start({ cfg: cfg(1), load: { sample: () => ({ ...loads[1]! }) } }));
    await eventually(() => row(pair[0]!, 'gw2')?.stale === false, 'gw2 live on gw1');
    await pair.pop()!.stop();
    const r = await eventually(() => (row(pair[0]!, 'gw2')?.stale ? row(pair[0]!, 'gw2') : undefined), { what: 'gw2 stale on gw1', timeoutMs: 5000 });
    assert.equal(r.left, true);
    assert.equal(r.state, 'stale');
    assert.equal(r.eligible, false);
  } finally {
    for (const m of pair) await m.stop();
  }
});

test('a member that crashes (reports just stop) goes stale after K intervals; its next report re-admits it', async () => {
  const port = PORT + 9;
  const cfg: MemberSettings = { ...settings(0), listen: { address: addr(0), port }, peers: [{ address: addr(1), port }] };
  const gw1 = await ClusterMember.start({ cfg, load: { sample: () => ({ ...loads[0]! }) } });
  // "gw2" is a bare socket with the key: it sends authentic reports, then falls silent as a crash would.
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: addr(1), port }, () => r()));
  const send = (sequence: bigint, epoch: bigint, intervalMs: number) =>
    new Promise<void>((r, j) => sock.send(encodeReport(sample({ nodeId: 'gw2', epoch, sequence, intervalMs }), KEY), port, addr(0), (e) => (e ? j(e) : r())));
  const accepted = (n: number) => () => gw1.members().reports.accepted === n;
  try {
    // Announcing 50 ms intervals, gw2 is stale 275 ms (K = 5) after its last report.
    await send(1n, 77n, 50);
    await eventually(accepted(1), 'the first report accepted');
    await eventually(() => row(gw1, 'gw2')?.stale === true, 'gw2 stale once its reports stop');
    assert.equal(row(gw1, 'gw2')!.left, false);
    assert.equal(row(gw1, 'gw2')!.eligible, false);
    // Restarted (new epoch, sequence from 1): accepted although its sequence went back.
    await send(1n, 78n, 50);
    await eventually(accepted(2), 'the restarted member accepted');
    assert.equal(row(gw1, 'gw2')!.epoch, '78');
    await eventually(() => row(gw1, 'gw2')?.stale === true, 'stale again');
    // Back, now announcing a 60 s interval: live (and eligible) for minutes, so this is no race.
    await send(2n, 78n, 60_000);
    await eventually(accepted(3), 'its next report accepted');
    const r = row(gw1, 'gw2')!;
    assert.deepEqual([r.stale, r.eligible, r.sequence, r.reportIntervalMs], [false, true, '2', 60_000]);
  } finally {
    sock.close();
    await gw1.stop();
  }
});
