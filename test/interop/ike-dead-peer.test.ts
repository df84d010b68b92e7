/**
 * Dead peer detection (RFC 7296 §2.4) against a strongSwan 5.9.8 base station that vanishes
 * (SIGKILL: no Delete): segw's liveness check goes unanswered, its retransmissions give up,
 * the IKE SA and child are torn down and the base station's route is withdrawn, as the
 * control socket and the kernel's routing table show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../support/eventually.js';
import { withLab, Lab } from '../../src/lab/lab.js';
import type { GatewayStatus } from '../../src/gateway/gateway.js';
import { ExchangeType } from '../../src/ike/constants.js';
import { Scenario } from './support/scenario.js';
import { segwView } from './support/sas.js';

test('strongSwan base station killed: segw DPD gives up, tears the tunnel down, withdraws the route', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('deadpeer', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, {
      segwRole: 'gateway',
      spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', segw: { dpd: 1, retransmit: { timeout: 0.5, base: 1.5, tries: 2 } } },
    });
    const t = await sc.up();
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
    const routes = async () => (await sc.segw.ctl<GatewayStatus>('status')).routes;
    assert.deepEqual(await routes(), [{ prefix: '192.0.2.0/25', children: 1, installed: true }]);

    await sc.ss.process.stop('SIGKILL', 1000);
    await eventually(async () => (await segwView(sc.segw)).length === 0, { what: 'segw to tear the IKE SA down', timeoutMs: 20_000, intervalMs: 200 });
    assert.equal(sc.segwLog(/giving up on request, peer is dead/).length, 1);
    const destroyed = sc.segwLog(/^IKE SA destroyed$/).find((l) => l.ike === t.segwSa.name);
    assert.equal(destroyed?.reason, 'retransmit give-up');
    await eventually(async () => (await routes()).every((r) => !r.installed && r.children === 0), { what: 'the route withdrawn', timeoutMs: 5000, intervalMs: 200 });
    assert.equal((await sc.topo.gw.exec('ip', ['route', 'show', 'proto', 'segw'])).stdout.trim(), '');

    // The wire: segw's unanswered DPD request, retransmitted, all decodable.
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    const dpd = wire.fromSegw.filter((f) => f.exchange === ExchangeType.INFORMATIONAL && !f.response && f.spiI === t.segwSa.spiI);
    assert.equal(dpd.length, 3, 'one DPD request and two retransmissions');
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
