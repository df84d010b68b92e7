/**
 * Remote disaster recovery of a base station (ConnectionKeeper with a RecoveryPolicy) on IKE
 * daemons in one process (test/exchange's harness, manual clock): a primary cluster at
 * 192.0.2.1 and a backup cluster at 192.0.2.2, each one gateway here (a cluster's address is
 * all a base station sees). A dead cluster is one whose datagrams the wire drops, both ways.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionKeeper } from '../../src/initiator/keeper.js';
import { ClusterCursor, DEFAULT_MOVE_ON, moveCause, type Failback, type RecoveryPolicy } from '../../src/initiator/recovery.js';
import { ExchangeType, NotifyError } from '../../src/ike/constants.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { decodeMessage } from '../../src/ike/codec/index.js';
import { gatewayIdFromString } from '../../src/ike/redirect/notify.js';
import type { RedirectProvider } from '../../src/ike/redirect/provider.js';
import { Pair, type Side } from '../exchange/harness.js';
import { METHODS } from '../../src/control/methods.js';
import { captureLog } from '../support/log-capture.js';

const PRIMARY = '192.0.2.1';
const BACKUP = '192.0.2.2';

/** `cluster`: the primary is a cluster whose address redirects every IKE_SA_INIT to a member. */
function setup(failback: Failback, cluster?: { members: string[]; redirect: RedirectProvider }) {
  const { log, lines } = captureLog('debug');
  const policy: RecoveryPolicy = { clusters: [PRIMARY, BACKUP], failback, moveOn: DEFAULT_MOVE_ON };
  const keeper = new ConnectionKeeper({ connections: ['bs'], bounds: { initialMs: 1000, maxMs: 4000 }, random: () => 0.5, recovery: new Map([['bs', policy]]), log });
  // DPD every 10 s on the base station; retransmissions 1+2+4+8 s (harness), so a silent cluster is noticed within 25 s.
  const pair = new Pair({
    bs: { dpdDelay: 10 },
    extraGateways: [BACKUP, ...(cluster?.members ?? [])],
    bsDaemon: { events: keeper.events },
    ...(cluster && { gwDaemon: { redirect: cluster.redirect } }),
  });
  const backup = pair.gateways[0]!;
  const dead = new Set<string>();
  /** Delivers everything in flight, dropping what goes to or comes from a dead cluster. */
  const run = async () => {
    for (let n = 0; pair.wire.queue.length > 0 && n < 200; n++) {
      const d = pair.wire.queue[0]!;
      await pair.next(dead.has(d.to.address) || dead.has(d.from.address));
    }
  };
  /** Lets `ms` of time pass in 500 ms steps, delivering as it goes. */
  const pass = async (ms: number) => {
    for (let t = 0; t < ms; t += 500) {
      await pair.advance(500);
      await run();
    }
  };
  const up = (s: Side) => s.daemon.manager.ikeSaList().filter((sa) => sa.state === IkeState.ESTABLISHED && !sa.isDead);
  const live = (s: Side) => s.daemon.manager.ikeSaList().filter((sa) => !sa.isDead);
  const warns = (msg: string) => lines.filter((l) => l.level === 'warn' && l.msg === msg);
  /** Starts both sides and the keeper, runs until the first setup settles, then `body`; stops everything after. */
  const session = async (body: () => Promise<void>) => {
    try {
      await pair.start();
      keeper.start(pair.bs.daemon);
      await pair.settle();
      await run();
      await body();
    } finally {
      keeper.stop();
      await pair.stop();
    }
  };
  return { pair, keeper, backup, dead, run, pass, up, live, warns, lines, session };
}

test('primary cluster silent: DPD gives up, the base station moves to the backup with its child SA; fail-back never: it stays there', async () => {
  const t = setup({ mode: 'never' });
  const { pair, keeper, backup } = t;
  await t.session(async () => {
    assert.equal(t.up(pair.bs)[0]?.remote.address, PRIMARY);
    assert.equal(keeper.status()[0]!.cluster!.role, 'primary');
    t.dead.add(PRIMARY);
    // DPD at 10 s, 4 unanswered transmissions (1+2+4+8 s), then the back-off (0.5 of 1 s).
    await t.pass(30_000);
    const [sa] = t.up(pair.bs);
    assert.equal(sa?.remote.address, BACKUP, 'up on the backup cluster');
    assert.equal(sa.children.filter((c) => c.isInstalled).length, 1, 'its child SA is installed again');
    assert.equal(t.up(backup).length, 1);
    const moved = t.warns('cluster unreachable; moving to the next cluster');
    assert.deepEqual(
      moved.map(({ from, to, why }) => ({ from, to, why })),
      [{ from: PRIMARY, to: BACKUP, why: 'no answer to DPD or a request (retransmissions gave up)' }],
    );
    const st = keeper.status()[0]!;
    assert.equal(st.up, true);
    assert.deepEqual({ ...st.cluster, lastMove: { ...st.cluster!.lastMove, agoMs: 0 } }, {
      address: BACKUP,
      role: 'backup 1',
      moves: 1,
      lastMove: { from: PRIMARY, to: BACKUP, why: 'no answer to DPD or a request (retransmissions gave up)', agoMs: 0 },
    });
    // The control socket: list-sas and status say which cluster and why (as segw basestation wires them).
    const notes = keeper.annotations();
    const target = { daemon: pair.bs.daemon, status: notes.status, describeIkeSa: notes.ikeSa };
    const listed = (await METHODS['list-sas']!.run(target, {}, { methods: METHODS })) as { ikeSas: { name: string; cluster?: { role: string; lastMove?: { why: string } } }[] };
    assert.deepEqual(
      listed.ikeSas.map((v) => ({ name: v.name, role: v.cluster?.role, why: v.cluster?.lastMove?.why })),
      [{ name: sa.name, role: 'backup 1', why: 'no answer to DPD or a request (retransmissions gave up)' }],
    );
    const status = (await METHODS.status!.run(target, {}, { methods: METHODS })) as { connections: { cluster: { address: string } }[] };
    assert.equal(status.connections[0]!.cluster.address, BACKUP);
    // The primary answers again: with fail-back never, nothing is sent to it.
    t.dead.delete(PRIMARY);
    const sent: string[] = [];
    for (let i = 0; i < 120; i++) {
      sent.push(...pair.wire.queue.filter((d) => d.to.address === PRIMARY).map(() => 'x'));
      await t.pass(500);
    }
    assert.deepEqual(sent, [], 'no probe of the primary');
    assert.equal(t.up(pair.bs)[0], sa, 'the same SA on the backup');
  });
});

test('a member of the primary cluster dies: the base station goes back to the cluster address and comes up on another member, not on the backup', async () => {
  const M1 = '192.0.2.11';
  const M2 = '192.0.2.12';
  let target = M1; // the master's choice; it learns that M1 is gone when the test says so
  const redirect: RedirectProvider = { onInit: () => gatewayIdFromString(target), onAuth: () => undefined };
  const t = setup({ mode: 'never' }, { members: [M1, M2], redirect });
  const { pair, keeper } = t;
  await t.session(async () => {
    assert.equal(t.up(pair.bs)[0]?.remote.address, M1, 'redirected to M1');
    t.dead.add(M1);
    target = M2;
    await t.pass(30_000);
    const [sa] = t.up(pair.bs);
    assert.equal(sa?.remote.address, M2, 'up on M2 through the cluster address');
    assert.equal(sa.children.filter((c) => c.isInstalled).length, 1);
    assert.equal(keeper.status()[0]!.cluster!.role, 'primary');
    assert.deepEqual(t.warns('cluster unreachable; moving to the next cluster'), []);
    assert.equal(t.live(t.backup).length, 0, 'nothing reached the backup');
  });
});

test('a master that keeps redirecting to a member the base station cannot reach: after 3 misses in a row it moves to the backup', async () => {
  const M1 = '192.0.2.11';
  const redirect: RedirectProvider = { onInit: () => gatewayIdFromString(M1), onAuth: () => undefined };
  const t = setup({ mode: 'never' }, { members: [M1], redirect });
  const { pair } = t;
  await t.session(async () => {
    assert.equal(t.up(pair.bs)[0]?.remote.address, M1);
    t.dead.add(M1);
    // DPD loss (1st miss), then two setups through the cluster address that M1 leaves unanswered.
    await t.pass(120_000);
    assert.equal(t.up(pair.bs)[0]?.remote.address, BACKUP);
    assert.deepEqual(
      t.warns('cluster unreachable; moving to the next cluster').map(({ from, to, why }) => ({ from, to, why })),
      [{ from: PRIMARY, to: BACKUP, why: 'no answer from the members the cluster redirected to (3 in a row)' }],
    );
  });
});

test('fail-back after a hold time: the primary is probed with IKE_SA_INIT only, the SA moves back once it answered for the hold, no SA is left on the backup', async () => {
  const t = setup({ mode: 'hold', holdMs: 30_000, probeMs: 10_000 });
  const { pair, keeper, backup } = t;
  await t.session(async () => {
    t.dead.add(PRIMARY);
    await t.pass(30_000);
    const [onBackup] = t.up(pair.bs);
    assert.equal(onBackup?.remote.address, BACKUP);
    // While the primary is still dead, probes go unanswered: still on the backup.
    await t.pass(40_000);
    assert.equal(t.up(pair.bs)[0], onBackup);
    assert.equal(keeper.status()[0]!.cluster!.primaryAnsweredMs, 0);
    // The primary is back. Every probe is an IKE_SA_INIT request, nothing more.
    t.dead.delete(PRIMARY);
    const toPrimary: number[] = [];
    const watchWire = async (ms: number) => {
      for (let i = 0; i < ms; i += 500) {
        await pair.advance(500);
        for (let n = 0; pair.wire.queue.length > 0 && n < 200; n++) {
          const d = pair.wire.queue[0]!;
          const m = decodeMessage(d.data);
          if (d.to.address === PRIMARY && m.ok) toPrimary.push(m.message.header.exchangeType);
          await pair.next(false);
        }
        if (t.up(pair.bs)[0]?.remote.address === PRIMARY) return;
      }
    };
    await watchWire(25_000);
    assert.equal(t.up(pair.bs)[0], onBackup, 'not before the hold time');
    assert.ok(toPrimary.length >= 1 && toPrimary.every((x) => x === ExchangeType.IKE_SA_INIT), `only IKE_SA_INIT probes: ${toPrimary}`);
    assert.ok(t.lines.some((l) => l.msg === 'probe of the primary' && l.answered === true), 'a probe was answered');
    assert.ok(t.lines.some((l) => l.msg === 'probe of the primary' && l.answered === false), 'probes went unanswered while the primary was dead');
    await watchWire(60_000);
    const [back] = t.up(pair.bs);
    assert.equal(back?.remote.address, PRIMARY, 'back on the primary');
    assert.equal(back.children.filter((c) => c.isInstalled).length, 1);
    assert.equal(t.warns('failing back to the primary cluster').length, 1);
    assert.match(String(keeper.status()[0]!.cluster!.lastMove!.why), /^fail-back: the primary answered every probe for 30 s$/);
    assert.equal(keeper.status()[0]!.cluster!.role, 'primary');
    await t.pass(31_000); // the primary's half-open probe SAs time out
    assert.deepEqual(t.live(backup), [], 'the backup keeps no SA (deleted by the base station)');
    assert.equal(t.live(pair.gw).length, 1, 'the primary holds only the new SA (INITIAL_CONTACT removed the stale one)');
    assert.equal(t.live(pair.bs).length, 1, 'the base station holds one SA, no probe');
  });
});

test('the gateway deletes the SA (a drain): the base station stays on that cluster', async () => {
  const t = setup({ mode: 'never' });
  const { pair } = t;
  await t.session(async () => {
    const [first] = t.up(pair.bs);
    await pair.gw.daemon.terminate(pair.peerOf(first!, pair.gw)!);
    await t.pass(2000);
    const [again] = t.up(pair.bs);
    assert.ok(again && again !== first);
    assert.equal(again.remote.address, PRIMARY);
    assert.deepEqual(t.warns('cluster unreachable; moving to the next cluster'), []);
  });
});

test('policy: what moves a connection to the next cluster and what does not', () => {
  const p: RecoveryPolicy = { clusters: [PRIMARY, BACKUP], failback: { mode: 'never' }, moveOn: DEFAULT_MOVE_ON };
  assert.equal(moveCause('retransmit give-up', undefined, p, false), 'no answer to the setup (retransmit give-up)');
  assert.equal(moveCause('half-open timeout', undefined, p, false), 'no answer to the setup (half-open timeout)');
  assert.equal(moveCause('retransmit give-up', undefined, p, true), 'no answer to DPD or a request (retransmissions gave up)');
  assert.equal(moveCause('IKE_AUTH failed', NotifyError.AUTHENTICATION_FAILED, p, false), 'refused with AUTHENTICATION_FAILED');
  assert.equal(moveCause('IKE_INIT failed', NotifyError.TEMPORARY_FAILURE, p, false), 'refused with TEMPORARY_FAILURE');
  assert.equal(moveCause('IKE_INIT failed', NotifyError.NO_PROPOSAL_CHOSEN, p, false), undefined);
  assert.equal(moveCause('IKE_DELETE process DESTROY', undefined, p, true), undefined);
  assert.equal(moveCause('IKE_AUTH failed', NotifyError.AUTHENTICATION_FAILED, { ...p, moveOn: [] }, false), undefined);
});

test('policy: a member that does not answer sends the connection back to its cluster address, until members miss 3 times in a row', () => {
  const p: RecoveryPolicy = { clusters: [PRIMARY, BACKUP], failback: { mode: 'never' }, moveOn: DEFAULT_MOVE_ON };
  const MEMBER = '192.0.2.10';
  // [peer of the lost SA, reason, refused with, was up] -> move cause (undefined: retry the same cluster)
  const rows: [string, string, number | undefined, boolean, string | undefined][] = [
    [MEMBER, 'retransmit give-up', undefined, true, undefined], // DPD lost on a member: 1st miss
    [MEMBER, 'half-open timeout', undefined, false, undefined], // 2nd
    [MEMBER, 'retransmit give-up', undefined, false, 'no answer from the members the cluster redirected to (3 in a row)'],
  ];
  const c = new ClusterCursor(p);
  for (const [peer, reason, refused, wasUp, want] of rows) {
    assert.equal(c.lost(peer, reason, refused, wasUp), want, `${peer} ${reason}`);
  }
  // Anything else between member misses starts the count again.
  const d = new ClusterCursor(p);
  assert.equal(d.lost(MEMBER, 'retransmit give-up', undefined, true), undefined);
  assert.equal(d.lost(MEMBER, 'retransmit give-up', undefined, true), undefined);
  d.up();
  assert.equal(d.lost(MEMBER, 'retransmit give-up', undefined, true), undefined, 'a success in between resets the count');
  assert.equal(d.lost(MEMBER, 'IKE_DELETE process DESTROY', undefined, true), undefined, 'a drain is not a miss');
  assert.equal(d.lost(MEMBER, 'retransmit give-up', undefined, true), undefined);
  assert.equal(d.lost(MEMBER, 'retransmit give-up', undefined, true), undefined);
  // The cluster address itself not answering moves at once, whatever the form of the address.
  assert.equal(new ClusterCursor(p).lost(PRIMARY, 'retransmit give-up', undefined, true), 'no answer to DPD or a request (retransmissions gave up)');
  const v6 = new ClusterCursor({ ...p, clusters: ['2001:db8::1', '2001:db8::2'] });
  assert.equal(v6.lost('2001:0db8:0:0::1', 'half-open timeout', undefined, false), 'no answer to the setup (half-open timeout)');
  // A member's refusal is judged as a refusal (TEMPORARY_FAILURE moves).
  assert.equal(new ClusterCursor(p).lost(MEMBER, 'IKE_INIT failed', NotifyError.TEMPORARY_FAILURE, false), 'refused with TEMPORARY_FAILURE');
});

test('cursor: backups in order, then the primary again; the hold restarts after an unanswered probe', () => {
  const c = new ClusterCursor({ clusters: ['192.0.2.1', '192.0.2.2', '192.0.2.3'], failback: { mode: 'hold', holdMs: 100, probeMs: 10 }, moveOn: [] });
  assert.deepEqual([c.current, c.role], ['192.0.2.1', 'primary']);
  c.next('x', 0);
  assert.deepEqual([c.current, c.role], ['192.0.2.2', 'backup 1']);
  c.next('x', 0);
  assert.deepEqual([c.current, c.role], ['192.0.2.3', 'backup 2']);
  assert.equal(c.probed(true, 1000), false);
  assert.equal(c.probed(true, 1050), false);
  assert.equal(c.probed(false, 1060), false, 'unanswered: hold restarts');
  assert.equal(c.probed(true, 1070), false);
  assert.equal(c.probed(true, 1169), false);
  assert.equal(c.probed(true, 1170), true);
  c.next('x', 0);
  assert.equal(c.current, '192.0.2.1', 'after the last backup: the primary');
  assert.equal(new ClusterCursor({ clusters: ['192.0.2.1'], failback: { mode: 'never' }, moveOn: [] }).next('x', 0), false);
});
