/**
 * The load generator against an in-process segw responder over UDP on loopback (127.0.0.0/8
 * only): every base station's IKE SA and child come up and are counted, teardown removes
 * them on both ends, and failures (wrong PSK, no responder, no common proposal, selectors the
 * responder refuses, a responder that never answers) are counted by reason, never thrown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { IkeDaemon } from '../../src/ike/daemon.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { Failure, LoadGenerator, type LoadGeneratorOptions } from '../../src/initiator/load-generator.js';

const PSK = 'load generator test psk 0123456789';

function responderConn(over: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return {
    name: 'ran',
    local: { id: 'gw.segw.example', auth: { method: 'psk', secret: PSK } },
    remote: { addrs: ['%any'], id: '%any', auth: { method: 'psk', secret: PSK } },
    ikeProposals: ['aes128gcm16-prfsha256-ecp256', 'aes128gcm16-prfsha256-x25519'],
    children: [{ name: 'core', localTs: ['203.0.113.0/24'], remoteTs: ['198.18.0.0/15'], espProposals: ['aes128gcm16'] }],
    ...over,
  };
}

async function responder(over: Partial<ConnectionConfig> = {}) {
  const kernel = new StubKernelIpsec({ recordOps: false });
  const daemon = new IkeDaemon({ connections: [responderConn(over)], kernel, listen: [{ address: '127.0.0.1', port: 0, natTPort: 0 }] });
  await daemon.start();
  return { daemon, kernel, port: daemon.endpoints()[0]!.port };
}

function generatorOptions(port: number, over: Partial<LoadGeneratorOptions> = {}): LoadGeneratorOptions {
  return {
    population: {
      count: 24,
      subnetPool: '198.18.0.0/24',
      // Two local addresses, ephemeral ports: two shards.
      endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }, { address: '127.0.0.3', port: 0, natTPort: 0 }],
    },
    target: { address: '127.0.0.1', port, id: 'gw.segw.example' },
    psk: PSK,
    remoteTs: ['203.0.113.0/24'],
    retransmit: { timeout: 0.5, base: 2, tries: 2 },
    ...over,
  };
}

test('24 base stations from two addresses: every IKE SA and child established, counted, then deleted on both ends', async () => {
  const gw = await responder();
  const gen = await LoadGenerator.create(generatorOptions(gw.port));
  try {
    const r = await gen.establish({ concurrency: 6 });
    assert.equal(r.attempted, 24);
    assert.equal(r.established, 24, JSON.stringify(r.failures));
    assert.equal(r.failed, 0);
    assert.deepEqual(r.failures, {});
    assert.equal(r.latency.count, 24);
    assert.ok(r.latency.p50Ms > 0 && r.latency.maxMs >= r.latency.p50Ms);
    assert.ok(r.setupsPerSec > 0);
    assert.deepEqual(gen.counts(), { IDLE: 0, CONNECTING: 0, ESTABLISHED: 24, FAILED: 0, DELETING: 0 });
    // The responder sees 24 peers, one child each: 48 ESP SAs in its (stub) kernel.
    assert.equal(gw.daemon.manager.ikeSaCount, 24);
    assert.equal(gw.daemon.manager.childSaCount, 24);
    assert.equal(gw.kernel.sas.size, 48);
    // Each base station protects its own /32 of the pool, from its own identity.
    const peers = new Set(gw.daemon.manager.ikeSaList().map((sa) => sa.peerId));
    assert.equal(peers.size, 24);
    const sa7 = gen.sa(7)!;
    assert.equal(sa7.children[0]!.localTs[0]!.startAddr, '198.18.0.7');
    assert.equal(sa7.local.address, '127.0.0.3');

    // A second establish has nothing left to do.
    const again = await gen.establish({ concurrency: 6 });
    assert.equal(again.attempted, 0);

    const t = await gen.teardown({ concurrency: 6 });
    assert.deepEqual({ attempted: t.attempted, deleted: t.deleted, failed: t.failed }, { attempted: 24, deleted: 24, failed: 0 });
    await gw.daemon.idle();
    assert.equal(gw.daemon.manager.ikeSaCount, 0);
    assert.equal(gw.kernel.sas.size, 0);
    assert.equal(gen.counts().IDLE, 24);
  } finally {
    await gen.close();
    await gw.daemon.stop();
  }
});

test('X25519 proposal and IPv6 subnets: established', async () => {
  const gw = await responder({ children: [{ name: 'core', localTs: ['2001:db8:20::/48'], remoteTs: ['2001:db8:1000::/36'], espProposals: ['aes128gcm16'] }] });
  const gen = await LoadGenerator.create(generatorOptions(gw.port, {
    population: { count: 5, subnetPool: '2001:db8:1000::/36', subnetLength: 64, endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] },
    ikeProposals: ['aes128gcm16-prfsha256-x25519'],
    remoteTs: ['2001:db8:20::/48'],
  }));
  try {
    const r = await gen.establish({ concurrency: 5 });
    assert.equal(r.established, 5, JSON.stringify(r.failures));
    assert.equal(gen.sa(3)!.children[0]!.localTs[0]!.startAddr, '2001:db8:1000:3::');
  } finally {
    await gen.close();
    await gw.daemon.stop();
  }
});

test('wrong PSK: every setup fails as IKE_AUTH failed; counted, not thrown', async () => {
  const gw = await responder();
  const gen = await LoadGenerator.create(generatorOptions(gw.port, { psk: 'not the gateway psk 0123456789' }));
  try {
    const r = await gen.establish({ concurrency: 8 });
    assert.equal(r.established, 0);
    assert.deepEqual(r.failures, { [Failure.AUTH]: 24 });
    assert.equal(gen.counts().FAILED, 24);
    await gw.daemon.idle();
    assert.equal(gw.daemon.manager.childSaCount, 0);
  } finally {
    await gen.close();
    await gw.daemon.stop();
  }
});

test('no common IKE proposal, and nobody listening: IKE_SA_INIT failed', async () => {
  const gw = await responder({ ikeProposals: ['aes256gcm16-prfsha384-ecp384'] });
  const gen = await LoadGenerator.create(generatorOptions(gw.port, { population: { count: 4, subnetPool: '198.18.0.0/24', endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] } }));
  // A port with no IKE daemon behind it (bound, so nothing else answers either).
  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  silent.on('message', () => {});
  const gen2 = await LoadGenerator.create(generatorOptions(silent.address().port, {
    population: { count: 3, subnetPool: '198.18.1.0/24', endpoints: [{ address: '127.0.0.4', port: 0, natTPort: 0 }] },
    retransmit: { timeout: 0.05, base: 1, tries: 1 },
  }));
  try {
    const r = await gen.establish({ concurrency: 4 });
    assert.deepEqual(r.failures, { [Failure.INIT]: 4 });
    const r2 = await gen2.establish({ concurrency: 3 });
    assert.deepEqual(r2.failures, { [Failure.INIT]: 3 });
    assert.equal(r2.latency.count, 0);
  } finally {
    await gen.close();
    await gen2.close();
    silent.close();
    await gw.daemon.stop();
  }
});

test('selectors the responder refuses: CHILD_SA failed; the IKE SAs left over are deleted by teardown', async () => {
  const gw = await responder({ children: [{ name: 'core', localTs: ['203.0.113.0/24'], remoteTs: ['192.0.2.0/24'], espProposals: ['aes128gcm16'] }] });
  const gen = await LoadGenerator.create(generatorOptions(gw.port, { population: { count: 6, subnetPool: '198.18.0.0/24', endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] } }));
  try {
    const r = await gen.establish({ concurrency: 3 });
    assert.deepEqual(r.failures, { [Failure.CHILD]: 6 });
    await gw.daemon.idle();
    assert.equal(gw.daemon.manager.childSaCount, 0);
    // RFC 7296 §1.2: a refused first child leaves the IKE SA up on both ends.
    assert.equal(gw.daemon.manager.ikeSaCount, 6);
    const t = await gen.teardown({ concurrency: 3 });
    assert.deepEqual({ attempted: t.attempted, deleted: t.deleted }, { attempted: 6, deleted: 6 });
    await gw.daemon.idle();
    assert.equal(gw.daemon.manager.ikeSaCount, 0);
  } finally {
    await gen.close();
    await gw.daemon.stop();
  }
});

test('a responder that never answers in time: timeout per base station, SAs destroyed locally', async () => {
  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  silent.on('message', () => {});
  const gen = await LoadGenerator.create(generatorOptions(silent.address().port, {
    population: { count: 5, subnetPool: '198.18.0.0/24', endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] },
    retransmit: { timeout: 10, base: 2, tries: 3 },
  }));
  try {
    const r = await gen.establish({ concurrency: 5, setupTimeoutMs: 150 });
    assert.deepEqual(r.failures, { [Failure.TIMEOUT]: 5 });
    for (let i = 0; i < 5; i++) assert.equal(gen.sa(i), undefined);
  } finally {
    await gen.close();
    silent.close();
  }
});

test('silent teardown (a base station that loses power): the generator forgets its SAs, the responder still holds them', async () => {
  const gw = await responder();
  const gen = await LoadGenerator.create(generatorOptions(gw.port, { population: { count: 5, subnetPool: '198.18.0.0/24', endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] } }));
  try {
    assert.equal((await gen.establish({ concurrency: 5 })).established, 5);
    const t = await gen.teardown({ concurrency: 5, notifyPeer: false });
    assert.equal(t.deleted, 5);
    assert.equal(gen.counts().IDLE, 5);
    assert.equal(gw.daemon.manager.ikeSaCount, 5);
    // Coming back (INITIAL_CONTACT): the responder replaces the stale SAs of the same identities.
    assert.equal((await gen.establish({ concurrency: 5 })).established, 5);
    await gw.daemon.idle();
    assert.equal(gw.daemon.manager.ikeSaCount, 5);
    assert.equal(gw.daemon.manager.childSaCount, 5);
  } finally {
    await gen.close();
    await gw.daemon.stop();
  }
});

test('a base station that lost its SA while the others stay up sends INITIAL_CONTACT: the gateway keeps no stale SA of it', async () => {
  const gw = await responder();
  const gen = await LoadGenerator.create(generatorOptions(gw.port, { population: { count: 5, subnetPool: '198.18.0.0/24', endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] } }));
  try {
    assert.equal((await gen.establish({ concurrency: 5 })).established, 5);
    // Base station 2 loses its SA without telling the gateway (a timeout it gave up on, a reboot);
    // 0, 1, 3 and 4 keep theirs with the same gateway identity.
    const lost = gen.sa(2)!;
    await lost.run(() => lost.destroy('test: lost locally'));
    await gen.endpoints()[0]!.daemon.idle();
    assert.equal(gen.sa(2), undefined);
    const again = await gen.establish({ concurrency: 1, indices: [2] });
    assert.equal(again.established, 1, JSON.stringify(again));
    await gw.daemon.idle();
    // RFC 7296 §2.4: its new SA is the only one between its identity and the gateway's, so it
    // says so, and the gateway drops the old one.
    assert.equal(gw.daemon.manager.ikeSaCount, 5);
    assert.equal(new Set(gw.daemon.manager.ikeSaList().map((sa) => sa.peerId)).size, 5);
  } finally {
    await gen.close();
    await gw.daemon.stop();
  }
});
