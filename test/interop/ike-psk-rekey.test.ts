/**
 * Rekeying between strongSwan 5.9.8 (base station) and a segw gateway, PSK, AES-GCM-16 +
 * ECP-256, driven by short lifetimes (strongSwan rekeys the child every ~6 s, segw the IKE SA
 * after 8 s) and then on request the other way round (segw's control socket rekeys the child,
 * swanctl the IKE SA), while ping runs through the tunnel. Both ends must end with one IKE SA
 * and one child, with new SPIs, and traffic passing. segw's own DPD (2 s) fires between
 * rekeys and strongSwan answers it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { ExchangeType } from '../../src/ike/constants.js';
import { Scenario } from './support/scenario.js';
import { oneTunnel, type Tunnel } from './support/sas.js';
import { BS_LAN, GW_LAN } from './support/topology.js';

const spis = (t: Tunnel) => ({ ike: t.segwSa.name, child: t.segw.children[0]!.spiIn });

test('strongSwan <-> segw gateway: child and IKE SA rekeyed by lifetimes and on request, traffic passes', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('ikerekey', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, {
      segwRole: 'gateway',
      spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', swan: { childRekey: 6 }, segw: { ikeRekey: 8, dpd: 2 } },
    });
    const first = spis(await sc.up());
    // ~12 s of pings across the lifetime rekeys (child at ~6 s and ~12 s, IKE at 8 s).
    const pinging = sc.topo.bs.exec('ping', ['-c', '48', '-i', '0.25', '-W', '1', '-I', BS_LAN.addr, GW_LAN.addr], { allowFail: true, timeoutMs: 60_000 });
    const byLifetime = await oneTunnel(sc.ss, sc.segw, {
      timeoutMs: 30_000,
      pred: (t) => spis(t).ike !== first.ike && spis(t).child !== first.child,
    });
    const ping = await pinging;
    const received = Number(/(\d+) received/.exec(ping.stdout)?.[1] ?? 0);
    assert.ok(received >= 44, `ping through the rekeys: ${received}/48 replies\n${ping.stdout}`);
    assert.ok(sc.segwLog(/^IKE SA rekeyed$/).length >= 1, 'segw rekeyed the IKE SA (its lifetime)');
    assert.equal(byLifetime.segwSa.initiator, true, 'segw initiated the IKE rekey, so it is the new SA\'s initiator');
    await sc.waitSwanLog(/rekeying CHILD_SA|CHILD_SA net\{\d+\} established/, { count: 2 });

    // segw's DPD (2 s idle) between rekeys; strongSwan answers an empty INFORMATIONAL.
    await sc.waitSwanLog(/parsed INFORMATIONAL request \d+ \[ \]/, { timeoutMs: 15_000 });

    // On request the other way round: segw rekeys the child, strongSwan the IKE SA.
    const before = spis(await oneTunnel(sc.ss, sc.segw));
    const rc = await sc.segw.ctl<{ child: { spiIn: string } }>('rekey-child', { child: before.child });
    assert.notEqual(rc.child.spiIn, before.child);
    await sc.ss.swanctl(['--rekey', '--ike', 'tun']);
    const last = await oneTunnel(sc.ss, sc.segw, { pred: (t) => spis(t).ike !== before.ike });
    assert.equal(last.segwSa.initiator, false, 'strongSwan initiated this IKE rekey');
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
    // Route injection followed every rekey: one route, wanted by the one live child (none leaked).
    const status = await sc.segw.ctl<{ routes: unknown[]; ikeSas: number; childSas: number }>('status');
    assert.deepEqual(status.routes, [{ prefix: BS_LAN.net, children: 1, installed: true }]);
    assert.match((await sc.topo.gw.exec('ip', ['route', 'show', 'proto', 'segw'])).stdout, /^192\.0\.2\.0\/25 dev segw0/);

    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
    assert.ok(wire.keyedPairs.length >= 3, `IKE SAs seen and decrypted: ${wire.keyedPairs.length}`);
    const ccsa = wire.fromSegw.filter((f) => f.exchange === ExchangeType.CREATE_CHILD_SA);
    assert.ok(ccsa.some((f) => !f.response), 'segw sent CREATE_CHILD_SA requests (its rekeys)');
    assert.ok(ccsa.some((f) => f.response), 'segw answered strongSwan\'s rekeys');
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
