/**
 * Regression (found by interop with strongSwan 5.9.8): when the peer rekeys the IKE SA and then
 * deletes the old one (RFC 7296 §2.18), the old SA is replaced, not lost. The responder of the
 * rekey used to turn the REKEYED SA into DELETING on the peer's Delete and then report it down
 * (ikeDown), so the gateway withdrew the routes of children that had moved to the new SA.
 * Both ends, both directions: ikeRekeyed once, ikeDown only when the IKE SA really goes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IkeState, type IkeSa } from '../../src/ike/sa/ike-sa.js';
import type { IkeEventSink } from '../../src/ike/sa/context.js';
import { Pair, describe } from './harness.js';

function recorder(): { events: string[]; sink: IkeEventSink } {
  const events: string[] = [];
  return {
    events,
    sink: {
      ikeUp: () => events.push('ikeUp'),
      ikeDown: (_sa: IkeSa, reason: string) => events.push(`ikeDown(${reason})`),
      ikeRekeyed: () => events.push('ikeRekeyed'),
      childDown: () => events.push('childDown'),
    },
  };
}

for (const rekeyer of ['bs', 'gw'] as const) {
  test(`IKE SA rekeyed by the ${rekeyer === 'bs' ? 'initiator' : 'responder'}: the old SA's Delete is no ikeDown on either end`, async () => {
    const bs = recorder();
    const gw = recorder();
    const p = new Pair({ bsDaemon: { events: bs.sink }, gwDaemon: { events: gw.sink } });
    await p.start();
    const { bsSa, gwSa } = await p.connect();
    await (rekeyer === 'bs' ? p.bs.daemon.rekeyIke(bsSa) : p.gw.daemon.rekeyIke(gwSa));
    // CREATE_CHILD_SA { SA(IKE), Ni, KEi } --> <-- { SA(IKE), Nr, KEr }
    await p.next();
    await p.next();
    // INFORMATIONAL (old SA) { D(IKE) } -->   (from the rekey initiator)
    assert.match(describe(p.wire.queue[0]!), /INFORMATIONAL request/);
    await p.run();
    assert.equal(bsSa.state, IkeState.DESTROYED);
    assert.equal(gwSa.state, IkeState.DESTROYED);
    assert.deepEqual(bs.events, ['ikeUp', 'ikeRekeyed']);
    assert.deepEqual(gw.events, ['ikeUp', 'ikeRekeyed']);
    // The new SA going away is reported once, with its children.
    const newBs = p.bs.daemon.manager.ikeSaList().find((s) => !s.isDead)!;
    await p.bs.daemon.terminate(newBs);
    await p.run();
    assert.deepEqual(bs.events.slice(2), ['childDown', 'ikeDown(IKE_DELETE done)']);
    assert.deepEqual(gw.events.slice(2), ['childDown', 'ikeDown(IKE_DELETE done)']);
    await p.stop();
  });
}
