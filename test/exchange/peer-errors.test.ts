/**
 * RFC 7296 §2.21.2, §3.10.1: error notifies in an INFORMATIONAL request. An initiator that
 * rejects the responder's AUTH says so in a separate INFORMATIONAL exchange; the receiver
 * answers and deletes the IKE SA, its children (and so its injected routes). Other error types
 * in a request are logged and ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { ExchangeType, NotifyError, PayloadType, ProtocolId } from '../../src/ike/constants.js';
import type { IkeMessage } from '../../src/ike/codec/types.js';
import { IkeState, type IkeSa } from '../../src/ike/sa/ike-sa.js';
import type { ChildSa } from '../../src/ike/sa/child-sa.js';
import { addNotify, spi32 } from '../../src/ike/sa/payloads.js';
import { Status, TaskType, type Task } from '../../src/ike/tasks/task.js';

/** What strongSwan's initiator sends after refusing our AUTH: INFORMATIONAL { N(error) }. */
class SendErrorNotify implements Task {
  readonly type = TaskType.INFORMATIONAL;
  readonly exchange = ExchangeType.INFORMATIONAL;
  readonly initiator = true;
  constructor(private readonly notifyType: number, private readonly extra?: (msg: IkeMessage) => void) {}
  async build(msg: IkeMessage): Promise<Status> {
    addNotify(msg, this.notifyType);
    this.extra?.(msg);
    return Status.NEED_MORE;
  }
  async process(): Promise<Status> {
    return Status.SUCCESS;
  }
}

async function sendFrom(sa: IkeSa, task: Task): Promise<void> {
  await sa.run(async () => {
    sa.queueTask(task);
    await sa.tm.initiate();
  });
}

function downEvents(): { childDown: string[]; ikeDown: string[]; events: { childDown(c: ChildSa, r: string): void; ikeDown(s: IkeSa, r: string): void } } {
  const out = { childDown: [] as string[], ikeDown: [] as string[] };
  return { ...out, events: { childDown: (_c, r) => out.childDown.push(r), ikeDown: (_s, r) => out.ikeDown.push(r) } };
}

test('INFORMATIONAL { N(AUTHENTICATION_FAILED) } after IKE_AUTH: the gateway answers and deletes the IKE SA and its child', async () => {
  const down = downEvents();
  const p = new Pair({ gwDaemon: { events: down.events } });
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    assert.equal(p.gw.kernel.sas.size, 2);
    await sendFrom(bsSa, new SendErrorNotify(NotifyError.AUTHENTICATION_FAILED));
    // INFORMATIONAL SK { N(AUTHENTICATION_FAILED) } -->
    assert.equal(describe(p.wire.queue[0]!, gwSa), 'INFORMATIONAL request #2 { N(AUTHENTICATION_FAILED) }');
    await p.next();
    // <-- INFORMATIONAL SK { }
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'INFORMATIONAL response #2 {  }');
    assert.equal(gwSa.state, IkeState.DESTROYED);
    assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
    assert.equal(p.gw.kernel.sas.size, 0, 'child SAs removed from the data plane');
    assert.equal(p.gw.kernel.policies.size, 0);
    // childDown is what withdraws the injected route (gateway.ts); ikeDown is reported too.
    assert.deepEqual(down.childDown, ['peer sent AUTHENTICATION_FAILED']);
    assert.deepEqual(down.ikeDown, ['peer sent AUTHENTICATION_FAILED']);
  } finally {
    await p.stop();
  }
});

test('segw as initiator: INFORMATIONAL { N(AUTHENTICATION_FAILED) } from the gateway ends the base station\'s SA', async () => {
  const down = downEvents();
  const p = new Pair({ bsDaemon: { events: down.events } });
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    await sendFrom(gwSa, new SendErrorNotify(NotifyError.AUTHENTICATION_FAILED));
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'INFORMATIONAL request #0 { N(AUTHENTICATION_FAILED) }');
    await p.next();
    assert.equal(describe(p.wire.queue[0]!, gwSa), 'INFORMATIONAL response #0 {  }');
    assert.equal(bsSa.state, IkeState.DESTROYED);
    assert.equal(p.bs.kernel.sas.size, 0);
    assert.deepEqual(down.ikeDown, ['peer sent AUTHENTICATION_FAILED']);
  } finally {
    await p.stop();
  }
});

test('other error types in an INFORMATIONAL request are logged and ignored: the SA and child stay', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    for (const n of [NotifyError.TS_UNACCEPTABLE, NotifyError.INVALID_SYNTAX, 12345]) {
      await sendFrom(bsSa, new SendErrorNotify(n));
      await p.run();
      assert.equal(gwSa.state, IkeState.ESTABLISHED);
      assert.equal(bsSa.tm.busy, false, 'answered');
    }
    assert.equal(p.gw.kernel.sas.size, 2);
  } finally {
    await p.stop();
  }
});

test('a child Delete next to a non-fatal error notify still deletes the child; the IKE SA stays', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    const child = bsSa.children[0]!;
    await sendFrom(bsSa, new SendErrorNotify(NotifyError.TS_UNACCEPTABLE, (msg) => {
      // D(ESP) with our inbound SPI, as RFC 7296 §3.11 has it.
      msg.payloads.push({ type: PayloadType.DELETE, protocol: ProtocolId.ESP, spis: [spi32(child.spiIn)] });
    }));
    await p.run();
    assert.equal(gwSa.state, IkeState.ESTABLISHED);
    assert.equal(gwSa.children.length, 0);
    assert.equal(p.gw.kernel.sas.size, 0);
  } finally {
    await p.stop();
  }
});

test('segw as initiator refusing the responder\'s AUTH says so: INFORMATIONAL { N(AUTHENTICATION_FAILED) }, and both ends drop the SA', async () => {
  const down = downEvents();
  // The base station checks the gateway's AUTH with another secret than the gateway uses.
  const p = new Pair({
    bs: { remote: { addrs: ['192.0.2.1'], id: 'gw.example.net', auth: { method: 'psk', secret: 'not the gateway\'s secret' } } },
    gwDaemon: { events: down.events },
  });
  await p.start();
  try {
    const bsSa = await p.initiate();
    await p.next(); // IKE_SA_INIT request
    await p.next(); // IKE_SA_INIT response
    await p.next(); // IKE_AUTH request: the gateway authenticates the base station, installs the child
    const gwSa = p.peerOf(bsSa, p.gw)!;
    assert.equal(gwSa.state, IkeState.ESTABLISHED);
    assert.equal(p.gw.kernel.sas.size, 2);
    await p.next(); // <-- IKE_AUTH response: refused by the base station
    // INFORMATIONAL SK { N(AUTHENTICATION_FAILED) } -->
    assert.equal(describe(p.wire.queue[0]!, gwSa), 'INFORMATIONAL request #2 { N(AUTHENTICATION_FAILED) }');
    assert.equal(bsSa.children.length, 0, 'no child on the base station');
    assert.equal(p.bs.kernel.sas.size + p.bs.kernel.larval.size, 0);
    await p.run();
    assert.equal(gwSa.state, IkeState.DESTROYED);
    assert.equal(bsSa.state, IkeState.DESTROYED);
    assert.equal(p.gw.kernel.sas.size, 0);
    assert.deepEqual(down.childDown, ['peer sent AUTHENTICATION_FAILED']);
  } finally {
    await p.stop();
  }
});
