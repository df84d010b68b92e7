/**
 * SaManager.ikeSasOfConnection: the IKE SAs of a connection this node initiates, without walking
 * every SA the daemon holds (a 100,000-base-station simulator asks it per attempt and per loss).
 * Both IKE ends in one process (harness.ts): the base station's connection "bs" is indexed from
 * IKE_SA_INIT on, through an IKE rekey (the successor joins, the old SA leaves once deleted),
 * and leaves the index when the SA is gone; the gateway's responder-only connection (%any) is
 * never indexed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { ConnectionKeeper } from '../../src/initiator/keeper.js';
import { Pair } from './harness.js';
import { captureLog } from '../support/log-capture.js';

test('a connection we initiate lists its IKE SAs from IKE_SA_INIT to their end, across an IKE rekey', async () => {
  const pair = new Pair();
  try {
    await pair.start();
    const m = pair.bs.daemon.manager;
    assert.deepEqual(m.ikeSasOfConnection('bs'), []);
    // IKE_SA_INIT { SA, KEi, Ni } -->  (not answered yet: the half-open SA is the connection's)
    const first = await pair.initiate();
    assert.deepEqual(m.ikeSasOfConnection('bs'), [first]);
    await pair.run();
    assert.equal(first.state, IkeState.ESTABLISHED);
    assert.deepEqual(m.ikeSasOfConnection('bs'), [first]);
    // CREATE_CHILD_SA { SA, Ni, KEi } -->  (IKE rekey), then INFORMATIONAL { D } for the old SA
    const rekey = await pair.bs.daemon.rekeyIke(first);
    await pair.run();
    assert.ok((await rekey.outcome).ok);
    const live = m.ikeSasOfConnection('bs').filter((s) => !s.isDead);
    assert.equal(live.length, 1);
    assert.notEqual(live[0], first, 'the rekeyed successor stands for the connection');
    assert.ok(!m.ikeSasOfConnection('bs').includes(first), 'the old SA left the index once deleted');
    // The gateway's connection names no peer (%any): its SAs are not indexed.
    assert.equal(pair.gw.daemon.manager.ikeSaList().filter((s) => s.established).length, 1);
    assert.deepEqual(pair.gw.daemon.manager.ikeSasOfConnection('gw'), []);
    // INFORMATIONAL { D } -->
    await pair.bs.daemon.terminate(live[0]!);
    await pair.run();
    assert.deepEqual(m.ikeSasOfConnection('bs'), []);
  } finally {
    await pair.stop();
  }
});

test("the keeper's attempts and losses read the connection's own SAs, never the daemon's whole table", async () => {
  const { log } = captureLog('debug');
  const keeper = new ConnectionKeeper({ connections: ['bs'], bounds: { initialMs: 1000, maxMs: 4000 }, random: () => 0.5, log });
  const pair = new Pair({ bsDaemon: { events: keeper.events } });
  try {
    await pair.start();
    const m = pair.bs.daemon.manager;
    const whole = m.ikeSaList.bind(m);
    let walks = 0;
    m.ikeSaList = () => {
      walks++;
      return whole();
    };
    keeper.start(pair.bs.daemon);
    await pair.settle();
    await pair.run();
    const [sa] = m.ikeSasOfConnection('bs');
    assert.equal(sa?.state, IkeState.ESTABLISHED);
    // The gateway deletes it: a loss, then a new attempt after the back-off.
    const gwSa = pair.peerOf(sa!, pair.gw)!;
    await pair.gw.daemon.terminate(gwSa);
    await pair.run();
    await pair.advance(500);
    await pair.run();
    const up = m.ikeSasOfConnection('bs').filter((s) => s.state === IkeState.ESTABLISHED);
    assert.equal(up.length, 1);
    assert.notEqual(up[0], sa);
    assert.equal(walks, 0, 'no attempt or loss walked every IKE SA');
  } finally {
    keeper.stop();
    await pair.stop();
  }
});
