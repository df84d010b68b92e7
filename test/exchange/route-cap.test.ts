/**
 * A child whose traffic selectors would need more injected routes than the gateway allows
 * (kernel.routes.maxPerChild, handed to IKE as settings.maxRemotePrefixesPerChild) is refused
 * with TS_UNACCEPTABLE (RFC 7296 §3.10.1), whole: never installed with some subnets unrouted.
 * The IKE SA stays (§1.2), and nothing is left in either kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';

/** n host selectors inside the gateway's remoteTs (198.51.100.0/24), none adjacent. */
const hosts = (n: number) => Array.from({ length: n }, (_, i) => `198.51.100.${2 * i + 1}/32`);
const child = (localTs: string[]) => ({ fragmentation: false, children: [{ name: 'lte', localTs, remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16-esn'] }] });

test('IKE_AUTH: a child with more selectors than the route cap gets TS_UNACCEPTABLE; the IKE SA stays', async () => {
  const p = new Pair({ bs: child(hosts(100)), gwDaemon: { settings: { maxRemotePrefixesPerChild: 64 } } });
  await p.start();
  try {
    const bsSa = await p.initiate();
    await p.next();
    await p.next();
    await p.next();
    // <-- IKE_AUTH { IDr, AUTH, N(TS_UNACCEPTABLE) }
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { IDr, AUTH, N(TS_UNACCEPTABLE) }');
    await p.run();
    const gwSa = p.peerOf(bsSa, p.gw)!;
    assert.equal(gwSa.state, IkeState.ESTABLISHED);
    assert.equal(gwSa.children.length, 0);
    for (const s of [p.bs, p.gw]) assert.equal(s.kernel.sas.size + s.kernel.larval.size + s.kernel.policies.size, 0);
  } finally {
    await p.stop();
  }
});

test('within the cap the child is installed with every selector', async () => {
  const p = new Pair({ bs: child(hosts(64)), gwDaemon: { settings: { maxRemotePrefixesPerChild: 64 } } });
  await p.start();
  try {
    const { gwSa } = await p.connect();
    assert.equal(gwSa.children.length, 1);
    assert.equal(gwSa.children[0]!.remoteTs.length, 64);
  } finally {
    await p.stop();
  }
});
