/**
 * ConnectionKeeper on two IKE daemons in one process (test/exchange's harness, manual clock):
 * a base station that keeps its connection up, whatever the gateway does. Each retry comes
 * after the back-off the policy gives for the fixed random source (0.5: half the ceiling).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionKeeper } from '../../src/initiator/keeper.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { decodeMessage, encodeMessage } from '../../src/ike/codec/index.js';
import { ExchangeType, HeaderFlag, NotifyError, PayloadType } from '../../src/ike/constants.js';
import { PSK, Pair, bsConfig, type PairOptions } from '../exchange/harness.js';
import { captureLog } from '../support/log-capture.js';

const RETRY = /; initiating again$/;

function setup(o: PairOptions = {}) {
  const { log, lines } = captureLog('debug');
  const keeper = new ConnectionKeeper({ connections: ['bs'], bounds: { initialMs: 1000, maxMs: 4000 }, random: () => 0.5, log });
  const pair = new Pair({ ...o, bsDaemon: { ...o.bsDaemon, events: keeper.events } });
  const established = () => pair.bs.daemon.manager.ikeSaList().filter((s) => s.state === IkeState.ESTABLISHED);
  const retries = () => lines.filter((l) => l.level === 'warn' && RETRY.test(String(l.msg)));
  return { pair, keeper, lines, established, retries };
}

test('gateway unreachable at start: the failed IKE_SA_INIT is logged at warn and retried until the gateway answers', async () => {
  const { pair, keeper, established, retries } = setup();
  try {
    await pair.start();
    keeper.start(pair.bs.daemon);
    await pair.settle();
    // Nothing reaches the gateway: IKE_SA_INIT and its 3 retransmissions (1+2+4+8 s) go unanswered.
    for (let i = 0; i < 20 && retries().length === 0; i++) {
      pair.wire.dropAll();
      await pair.advance(1000);
    }
    assert.deepEqual(
      retries().map(({ msg, reason, attempt, retryInMs }) => ({ msg, reason, attempt, retryInMs })),
      [{ msg: 'IKE SA not established; initiating again', reason: 'retransmit give-up', attempt: 1, retryInMs: 500 }],
    );
    assert.equal(pair.wire.queue.length, 0, 'no new attempt before the back-off ran out');
    assert.deepEqual(keeper.status(), [{ name: 'bs', up: false, attempt: 1, failures: 1, retryInMs: 500 }]);
    // The gateway is back: the retry's exchanges go through.
    await pair.advance(500);
    assert.equal(pair.wire.queue.length, 1, 'the retry sent IKE_SA_INIT');
    await pair.run();
    assert.equal(established().length, 1);
    assert.deepEqual(keeper.status(), [{ name: 'bs', up: true, attempt: 0, failures: 1 }]);
  } finally {
    keeper.stop();
    await pair.stop();
  }
});

test('gateway deletes the IKE SA: the base station initiates a new one after the back-off', async () => {
  const { pair, keeper, established, retries } = setup();
  try {
    await pair.start();
    keeper.start(pair.bs.daemon);
    await pair.settle();
    await pair.run();
    const [first] = established();
    assert.ok(first);
    const gwSa = pair.peerOf(first, pair.gw)!;
    // INFORMATIONAL { D(IKE) } <--
    await pair.gw.daemon.terminate(gwSa);
    await pair.run();
    assert.equal(established().length, 0);
    assert.deepEqual(
      retries().map(({ msg, ike, attempt, retryInMs }) => ({ msg, ike, attempt, retryInMs })),
      [{ msg: 'IKE SA lost; initiating again', ike: first.name, attempt: 1, retryInMs: 500 }],
    );
    await pair.advance(500);
    await pair.run();
    const [second] = established();
    assert.ok(second && second !== first && !second.spiI.equals(first.spiI), 'a new IKE SA');
    assert.equal(pair.gw.daemon.manager.ikeSaList().filter((s) => s.state === IkeState.ESTABLISHED).length, 1);
  } finally {
    keeper.stop();
    await pair.stop();
  }
});

/** Runs refused attempts until `n` retries were logged; returns the retry lines. */
async function refusedTimes(o: PairOptions, n: number) {
  const { pair, keeper, established, retries } = setup(o);
  try {
    await pair.start();
    keeper.start(pair.bs.daemon);
    await pair.settle();
    for (let i = 0; i < 50 && retries().length < n; i++) {
      await pair.run();
      await pair.advance(500);
    }
    assert.equal(established().length, 0);
    return retries().slice(0, n);
  } finally {
    keeper.stop();
    await pair.stop();
  }
}

test('IKE_AUTH refused with AUTHENTICATION_FAILED: warn with the notify, back-off grows to max, attempts go on', async () => {
  // The gateway holds another key for the base station.
  const lines = await refusedTimes({ gw: { remote: { addrs: ['%any'], id: '%any', auth: { method: 'psk', secret: `not ${PSK}` } } } }, 5);
  assert.deepEqual(
    lines.map(({ notify, reason, attempt, retryInMs }) => ({ notify, reason, attempt, retryInMs })),
    [1, 2, 3, 4, 5].map((attempt, i) => ({ notify: 'AUTHENTICATION_FAILED', reason: 'IKE_AUTH failed', attempt, retryInMs: [500, 1000, 2000, 2000, 2000][i] })),
  );
});

test('IKE_SA_INIT refused with NO_PROPOSAL_CHOSEN: warn with the notify, attempts go on', async () => {
  const lines = await refusedTimes({ gw: { ikeProposals: ['aes256-sha384-modp3072'] } }, 3);
  assert.deepEqual(
    lines.map(({ notify, attempt }) => ({ notify, attempt })),
    [1, 2, 3].map((attempt) => ({ notify: 'NO_PROPOSAL_CHOSEN', attempt })),
  );
});

test('IKE_SA_INIT refused with TEMPORARY_FAILURE (a gateway short of resources): warn with the notify, attempts go on', async () => {
  // A gateway at 192.0.2.9 that answers every IKE_SA_INIT with
  // HDR(A,0), N(TEMPORARY_FAILURE) <--  (RFC 7296 §3.10.1: "temporary conditions")
  const conn = bsConfig(false, { remote: { ...bsConfig(false).remote, addrs: ['192.0.2.9'] } });
  const { pair, keeper, retries } = setup({ bs: conn });
  const refusing = pair.wire.socket({ address: '192.0.2.9', port: 500 });
  refusing.setReceiver((data, remote) => {
    const d = decodeMessage(data);
    if (!d.ok || d.message.header.exchangeType !== ExchangeType.IKE_SA_INIT) return;
    const h = d.message.header;
    const header = { ...h, spiR: Buffer.alloc(8), flags: HeaderFlag.RESPONSE };
    refusing.send(encodeMessage({ header, payloads: [{ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyError.TEMPORARY_FAILURE, data: Buffer.alloc(0) }] }), remote);
  });
  try {
    await pair.start();
    keeper.start(pair.bs.daemon);
    await pair.settle();
    for (let i = 0; i < 50 && retries().length < 3; i++) {
      await pair.run();
      await pair.advance(500);
    }
    assert.deepEqual(
      retries().slice(0, 3).map(({ notify, reason, attempt, retryInMs }) => ({ notify, reason, attempt, retryInMs })),
      [1, 2, 3].map((attempt, i) => ({ notify: 'TEMPORARY_FAILURE', reason: 'IKE_INIT failed', attempt, retryInMs: [500, 1000, 2000][i] })),
    );
  } finally {
    keeper.stop();
    await pair.stop();
    await refusing.close();
  }
});

test('an SA deleted on our own request (terminate) stays down; the next one initiated is kept up again', async () => {
  const { pair, keeper, lines, established, retries } = setup();
  try {
    await pair.start();
    keeper.start(pair.bs.daemon);
    await pair.settle();
    await pair.run();
    const [first] = established();
    // HDR, SK {D(IKE)} -->
    await pair.bs.daemon.terminate(first!);
    await pair.run();
    await pair.advance(10_000);
    assert.equal(pair.wire.queue.length, 0, 'no new IKE_SA_INIT');
    assert.deepEqual(retries(), []);
    assert.equal(lines.filter((l) => l.msg === 'IKE SA closed on request; not initiating again').length, 1);
    assert.deepEqual(keeper.status(), [{ name: 'bs', up: false, attempt: 0, failures: 0 }]);
    // The operator initiates again; that SA is lost (the gateway deletes it): kept up.
    await pair.initiate();
    await pair.run();
    const [second] = established();
    await pair.gw.daemon.terminate(pair.peerOf(second!, pair.gw)!);
    await pair.run();
    assert.equal(retries().length, 1);
    await pair.advance(500);
    await pair.run();
    assert.equal(established().length, 1);
    assert.notEqual(established()[0], second);
  } finally {
    keeper.stop();
    await pair.stop();
  }
});

test('stop(): no attempt after it, also when the daemon tears the SA down', async () => {
  const { pair, keeper, established, retries } = setup();
  try {
    await pair.start();
    keeper.start(pair.bs.daemon);
    await pair.settle();
    await pair.run();
    assert.equal(established().length, 1);
    keeper.stop();
    await pair.bs.daemon.manager.destroyAll('test');
    await pair.advance(10_000);
    assert.equal(pair.wire.queue.filter((d) => d.from.address === pair.bs.addr).length, 0);
    assert.deepEqual(retries(), []);
  } finally {
    keeper.stop();
    await pair.stop();
  }
});
