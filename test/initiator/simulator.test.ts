/**
 * The simulator against in-process segw responders over UDP on loopback (127.0.0.0/8 only):
 * a primary "cluster" at 127.0.0.10 and a backup at 127.0.0.11 (one gateway each, the same
 * port). Base stations arrive at the configured rate, come up on the primary, move to the
 * backup when the primary falls silent (DPD), and are counted in the report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IkeDaemon } from '../../src/ike/daemon.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { Simulator, type SimulatorOptions } from '../../src/initiator/simulator.js';
import { eventually } from '../support/eventually.js';
import { logger } from '../../src/log/index.js';
import { redirectAllTo, type RedirectProvider } from '../../src/ike/redirect/provider.js';
import { gatewayIdFromString } from '../../src/ike/redirect/notify.js';

const PSK = 'simulator test psk 0123456789';
const PRIMARY = '127.0.0.10';
const BACKUP = '127.0.0.11';

function responderConn(): ConnectionConfig {
  return {
    name: 'ran',
    local: { id: 'gw.segw.example', auth: { method: 'psk', secret: PSK } },
    remote: { addrs: ['%any'], id: '%any', auth: { method: 'psk', secret: PSK } },
    ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
    children: [{ name: 'core', localTs: ['203.0.113.0/24'], remoteTs: ['198.18.0.0/15'], espProposals: ['aes128gcm16'] }],
  };
}

async function responder(address: string, port: number, redirect?: RedirectProvider) {
  const kernel = new StubKernelIpsec({ recordOps: false });
  const daemon = new IkeDaemon({ connections: [responderConn()], kernel, listen: [{ address, port, natTPort: 0 }], redirect, log: logger('gw', { level: 'error' }) });
  await daemon.start();
  return { daemon, kernel, port: daemon.endpoints()[0]!.port };
}

function options(port: number, over: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return {
    count: 30,
    endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }, { address: '127.0.0.3', port: 0, natTPort: 0 }],
    subnetPool: '198.18.0.0/24',
    psk: PSK,
    gatewayId: 'gw.segw.example',
    clusters: [PRIMARY, BACKUP],
    port,
    remoteTs: ['203.0.113.0/24'],
    arrival: { ratePerSec: 200, burst: 5 },
    reconnect: { initialMs: 300, maxMs: 1000 },
    dpdDelay: 1,
    retransmit: { timeout: 0.2, base: 1.5, tries: 2 },
    log: logger('sim', { level: 'error' }),
    ...over,
  };
}

test('30 base stations arrive at the rate, come up on the primary, move to the backup when it falls silent; the report counts it', async () => {
  const primary = await responder(PRIMARY, 0);
  const backup = await responder(BACKUP, primary.port);
  const sim = await Simulator.create(options(primary.port));
  let primaryStopped = false;
  try {
    sim.start();
    await eventually(() => sim.progress().up === 30, { what: 'all 30 up', timeoutMs: 20_000 });
    assert.deepEqual(sim.distribution(), { [PRIMARY]: 30 });
    assert.equal(primary.daemon.manager.ikeSaCount, 30);
    assert.equal(primary.daemon.manager.childSaCount, 30);
    // Each with its own identity and /32.
    assert.equal(new Set(primary.daemon.manager.ikeSaList().map((s) => s.peerId)).size, 30);
    assert.equal(sim.sa(7)!.children[0]!.localTs[0]!.startAddr, '198.18.0.7');
    const first = sim.report();
    assert.equal(first.setupLatency.count, 30);
    assert.ok(first.allUpMs !== null);
    // The primary dies without a word (its SAs dropped, its sockets closed).
    await primary.daemon.stop();
    primaryStopped = true;
    await eventually(() => sim.distribution()[BACKUP] === 30, { what: 'all 30 on the backup', timeoutMs: 30_000 });
    assert.equal(backup.daemon.manager.childSaCount, 30);
    const r = sim.report();
    assert.equal(r.up, 30);
    assert.equal(r.losses, 30);
    assert.equal(r.recoveryLatency.count, 30);
    assert.equal(r.clusterMoves >= 30, true, `moves ${r.clusterMoves}`);
    assert.deepEqual(r.distribution, { [BACKUP]: 30 });
  } finally {
    await sim.close({ notifyPeers: true });
    if (!primaryStopped) await primary.daemon.stop();
    await backup.daemon.stop();
  }
  assert.equal(backup.daemon.manager.ikeSaCount, 0, 'close() deleted every SA on the gateway');
});

test('arrival: the pacer starts at most `burst` at once, then ratePerSec', async () => {
  const gw = await responder(PRIMARY, 0);
  const sim = await Simulator.create(options(gw.port, { count: 20, arrival: { ratePerSec: 20, burst: 2 }, clusters: [PRIMARY] }));
  try {
    sim.start();
    const p0 = sim.progress();
    assert.ok(p0.waiting >= 17, `at most the burst started at once: ${JSON.stringify(p0)}`);
    await eventually(() => sim.progress().up === 20, { what: 'all up', timeoutMs: 20_000 });
  } finally {
    await sim.close({ notifyPeers: true });
    await gw.daemon.stop();
  }
});

test('redirects are followed and counted per target; a redirected SA is not a failure', async () => {
  const first = await responder(PRIMARY, 0, redirectAllTo(gatewayIdFromString(BACKUP), 'init'));
  const second = await responder(BACKUP, first.port);
  const sim = await Simulator.create(options(first.port, { count: 12 }));
  try {
    sim.start();
    await eventually(() => sim.distribution()[BACKUP] === 12, { what: 'all 12 on the gateway redirected to', timeoutMs: 20_000 });
    const r = sim.report();
    assert.deepEqual(r.redirects, { [BACKUP]: 12 });
    assert.deepEqual(r.failures, {});
    assert.equal(r.clusterMoves, 0, 'a redirect is not a cluster move');
    assert.equal(second.daemon.manager.ikeSaCount, 12);
  } finally {
    await sim.close({ notifyPeers: true });
    await first.daemon.stop();
    await second.daemon.stop();
  }
});
