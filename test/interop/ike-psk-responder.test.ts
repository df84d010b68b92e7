/**
 * strongSwan 5.9.8 base station (initiator) -> segw gateway (responder, userspace ESP), PSK,
 * AES-GCM-16 + ECP-256: the tunnel as both ends report it, traffic both ways, liveness checks
 * answered both ways, child SAs and the IKE SA deleted from each side (and a child re-created
 * with CREATE_CHILD_SA), every IKE message segw sent decoded cleanly by tshark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { eventually } from '../support/eventually.js';
import { ExchangeType } from '../../src/ike/constants.js';
import { Scenario } from './support/scenario.js';
import { noTunnel, oneTunnel, segwView, swanView } from './support/sas.js';
import { BS_ID, GW_ID } from './support/certs.js';

test('strongSwan -> segw gateway, PSK, AES-GCM-16/ECP-256: up, ping, DPD, child and IKE deletes from each side', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('ikepsk', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, {
      segwRole: 'gateway',
      spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', swan: { dpdDelay: 2 } },
    });
    const t = await sc.up();
    const raw = t.swan.raw as Record<string, string>;
    assert.deepEqual([raw['encr-alg'], raw['encr-keysize'], raw['prf-alg'], raw['dh-group']], ['AES_GCM_16', '128', 'PRF_HMAC_SHA2_256', 'ECP_256']);
    assert.equal(raw['remote-id'], GW_ID);
    assert.deepEqual(t.segwSa.proposal, { encryption: 'ENCR_AES_GCM_16', keySize: 128, integrity: null, prf: 'PRF_HMAC_SHA2_256', dhGroup: 'ECP_256' });
    assert.equal(t.segwSa.remote.id, BS_ID);
    assert.equal(t.segwSa.initiator, false);
    assert.deepEqual(t.segw.children[0]!.localTs, ['192.0.2.128/25']);
    assert.equal(t.segwSa.children[0]!.esp?.encryption, 'aes-gcm-16');
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });

    // Liveness: strongSwan (dpd_delay 2 s) checks the idle tunnel and segw answers; segw checks
    // on the operator's request and strongSwan answers.
    await sc.waitSwanLog(/sending DPD request/, { timeoutMs: 10_000 });
    await sc.waitSwanLog(/parsed INFORMATIONAL response \d+ \[ \]/);
    const dpd = await sc.segw.ctl<{ alive: boolean }>('dpd', { ike: t.segwSa.name });
    assert.equal(dpd.alive, true);
    await sc.waitSwanLog(/parsed INFORMATIONAL request \d+ \[ \]/);

    // strongSwan deletes the child: segw's IKE SA stays, without children.
    await sc.ss.swanctl(['--terminate', '--child', 'net']);
    await waitFor(async () => (await segwView(sc.segw))[0]?.children.length === 0, 'segw removes the child');
    assert.equal((await swanView(sc.ss))[0]?.children.length, 0);
    // ... and creates a new one in the same IKE SA (CREATE_CHILD_SA, segw responding).
    await sc.ss.initiate('net', { ike: 'tun' });
    const t2 = await oneTunnel(sc.ss, sc.segw);
    assert.equal(t2.segwSa.name, t.segwSa.name, 'same IKE SA');
    assert.notEqual(t2.segw.children[0]!.spiIn, t.segw.children[0]!.spiIn);
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });

    // segw deletes the child (control socket): strongSwan's IKE SA stays, without children.
    await sc.segw.ctl('terminate-child', { child: t2.segw.children[0]!.spiIn });
    await waitFor(async () => (await swanView(sc.ss))[0]?.children.length === 0, 'strongSwan removes the child');
    assert.equal((await segwView(sc.segw))[0]?.children.length, 0);

    // strongSwan deletes the IKE SA.
    await sc.ss.swanctl(['--terminate', '--ike', 'tun']);
    await noTunnel(sc.ss, sc.segw);
    assert.equal(sc.segwLog(/peer deletes the IKE SA/).length, 1);

    // Up again; segw deletes the IKE SA (control socket).
    const t3 = await sc.up();
    assert.notEqual(t3.segwSa.name, t.segwSa.name);
    const del = await sc.segw.ctl<{ deleted: string; notified: boolean }>('terminate-ike', { ike: t3.segwSa.name });
    assert.deepEqual(del, { deleted: t3.segwSa.name, notified: true });
    await noTunnel(sc.ss, sc.segw);
    await sc.waitSwanLog(/received DELETE for IKE_SA/);

    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
    const sent = (x: number, response: boolean) => wire.fromSegw.filter((f) => f.exchange === x && f.response === response).length;
    assert.equal(sent(ExchangeType.IKE_SA_INIT, true), 2);
    assert.equal(sent(ExchangeType.IKE_AUTH, true), 2);
    assert.equal(sent(ExchangeType.CREATE_CHILD_SA, true), 1);
    assert.ok(sent(ExchangeType.INFORMATIONAL, true) >= 3, 'DPD and delete answers');
    assert.ok(sent(ExchangeType.INFORMATIONAL, false) >= 3, 'DPD, child delete and IKE delete requests');
    assert.ok(wire.fromSegw.filter((f) => f.encrypted).every((f) => f.decrypted));
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

const waitFor = (cond: () => Promise<boolean>, what: string) => eventually(cond, { what, intervalMs: 200 });
