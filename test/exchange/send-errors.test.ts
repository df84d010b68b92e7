/**
 * A datagram that cannot be sent (sendmsg: no route to host, EPERM under packet loss) is a lost
 * datagram, not a bug: the IKE SA stays, and the retransmission schedule (RFC 7296 §2.1)
 * completes the exchange once the route is back. The wire here fails sends as the ESP engine's
 * socket did: by throwing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { ExchangeType } from '../../src/ike/constants.js';
import { Status, TaskType, type Task } from '../../src/ike/tasks/task.js';

test('initiator: the first two IKE_SA_INIT sends fail; the SA stays and the retransmission connects', async () => {
  const p = new Pair();
  await p.start();
  try {
    p.wire.failSends = 2;
    const bsSa = await p.initiate();
    assert.equal(p.wire.queue.length, 0, 'nothing left the host');
    assert.equal(bsSa.state, IkeState.CONNECTING, 'the SA is kept');
    await p.advance(1000); // retransmission #1: fails too
    assert.equal(p.wire.queue.length, 0);
    assert.equal(bsSa.state, IkeState.CONNECTING);
    await p.advance(2000); // retransmission #2 goes out
    // IKE_SA_INIT { SA, KE, Ni, ... } -->
    assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT request #0/);
    await p.run();
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(p.bs.daemon.counters.send_error, 2);
  } finally {
    await p.stop();
  }
});

test('responder: the IKE_AUTH response cannot be sent; the gateway keeps the SA and answers the retransmission', async () => {
  const p = new Pair();
  await p.start();
  try {
    const bsSa = await p.initiate();
    await p.next(); // IKE_SA_INIT request
    await p.next(); // IKE_SA_INIT response
    p.wire.failSends = 1; // the gateway's IKE_AUTH response
    await p.next(); // IKE_AUTH request -->
    assert.equal(p.wire.queue.length, 0, 'the response was not sent');
    const gwSa = p.peerOf(bsSa, p.gw);
    assert.ok(gwSa, 'the gateway kept its IKE SA');
    assert.equal(gwSa.state, IkeState.ESTABLISHED);
    assert.equal(p.gw.kernel.sas.size, 2, 'and its child');
    await p.advance(1000); // IKE_AUTH request retransmitted -->
    await p.next();
    // <-- IKE_AUTH { IDr, AUTH, SA, TSi, TSr } (from the cache)
    assert.match(describe(p.wire.queue[0]!, bsSa), /^IKE_AUTH response #1/);
    await p.next();
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(p.gw.daemon.counters.send_error, 1);
    assert.equal(p.gw.daemon.counters.retransmit_answered, 1);
  } finally {
    await p.stop();
  }
});

test('established: a liveness check whose sends fail survives until the route is back', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    p.wire.failSends = 3;
    await p.gw.daemon.dpd(gwSa);
    await p.advance(1000);
    await p.advance(2000);
    assert.equal(gwSa.state, IkeState.ESTABLISHED, 'three failed sends, the SA is still there');
    assert.equal(p.wire.queue.length, 0);
    await p.advance(4000); // the third retransmission goes out
    await p.run();
    assert.equal(gwSa.state, IkeState.ESTABLISHED);
    assert.equal(gwSa.tm.busy, false, 'the exchange completed');
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
  } finally {
    await p.stop();
  }
});

test('a real bug still ends the SA, but the peer is told: INFORMATIONAL { D(IKE) } before the SA goes', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    const throwing: Task = {
      type: TaskType.INFORMATIONAL,
      exchange: ExchangeType.INFORMATIONAL,
      initiator: true,
      build: async () => {
        throw new TypeError('a bug');
      },
      process: async () => Status.SUCCESS,
    };
    gwSa.queueTask(throwing);
    await gwSa.initiate();
    await p.settle();
    assert.equal(gwSa.state, IkeState.DESTROYED);
    // INFORMATIONAL SK { D(IKE) } -->  (from the gateway, once)
    assert.equal(p.wire.queue.length, 1);
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'INFORMATIONAL request #0 { D(IKE) }');
    await p.run();
    assert.equal(bsSa.state, IkeState.DESTROYED, 'the base station dropped its SAs too');
    assert.equal(p.bs.kernel.sas.size, 0);
  } finally {
    await p.stop();
  }
});
