/**
 * segw as the base station (`segw basestation`, initiator) -> strongSwan 5.9.8 gateway
 * (responder), with a PSK and with ECDSA P-256 certificates: the tunnel as both report it,
 * traffic both ways, segw's own DPD answered, rekeys both ways, the IKE SA deleted by
 * strongSwan and brought up again by segw itself, deleted through segw's control socket (and
 * then left down), brought up again by the operator (`initiate`) and deleted by segw.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { ExchangeType } from '../../src/ike/constants.js';
import type { IkeSaView } from '../../src/control/views.js';
import { Scenario } from './support/scenario.js';
import { noTunnel, oneTunnel } from './support/sas.js';
import { BS_ID, GW_ID, makeCerts, type CertSet } from './support/certs.js';
import { GW_LAN } from './support/topology.js';

const made: CertSet[] = [];
after(() => made.forEach((c) => c.cleanup()));

for (const auth of ['psk', 'ecdsa'] as const) {
  test(`segw basestation -> strongSwan gateway, ${auth}: up, ping, DPD, rekeys, deletes from each side`, { timeout: 120_000 }, async () => {
    const certs = auth === 'ecdsa' ? makeCerts({ type: 'ecdsa', size: 256 }) : undefined;
    if (certs) made.push(certs);
    let labId = '';
    await withLab(`init${auth}`, async (lab) => {
      labId = lab.id;
      const sc = await Scenario.start(lab, {
        segwRole: 'basestation',
        spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', certs, segw: { dpd: 2 } },
      });
      const t = await sc.up();
      assert.equal(t.segwSa.initiator, true);
      assert.equal(t.segwSa.remote.id, GW_ID);
      assert.equal((t.swan.raw as Record<string, string>)['remote-id'], BS_ID);
      assert.equal((t.swan.raw as Record<string, string>).initiator, undefined, 'strongSwan is the responder');
      if (certs) await sc.waitSwanLog(new RegExp(`authentication of '${BS_ID}' with ECDSA_WITH_SHA256_DER successful`));
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
      // segw checks liveness of the idle tunnel on its own (dpd: 2 s); strongSwan answers.
      await sc.waitSwanLog(/parsed INFORMATIONAL request \d+ \[ \]/, { timeoutMs: 10_000 });

      // Rekeys: the child by segw (control socket), the IKE SA by strongSwan.
      await sc.segw.ctl('rekey-child', { child: t.segw.children[0]!.spiIn });
      await sc.ss.swanctl(['--rekey', '--ike', 'tun']);
      const t2 = await oneTunnel(sc.ss, sc.segw, { pred: (x) => x.segwSa.name !== t.segwSa.name && x.segw.children[0]!.spiIn !== t.segw.children[0]!.spiIn });
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
      // The base station's route into the tunnel survived both rekeys, wanted by one child.
      const status = await sc.segw.ctl<{ routes: unknown[] }>('status');
      assert.deepEqual(status.routes, [{ prefix: GW_LAN.net, children: 1, installed: true }]);

      // strongSwan deletes: the base station keeps its connection up and initiates again itself.
      await sc.ss.swanctl(['--terminate', '--ike', 'tun']);
      const t3 = await oneTunnel(sc.ss, sc.segw, { pred: (x) => x.segwSa.name !== t2.segwSa.name });
      const lost = sc.segwLog(/^IKE SA lost; initiating again$/);
      assert.deepEqual(lost.map((l) => [l.level, l.ike]), [['warn', t2.segwSa.name]]);
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
      // The operator deletes it: closed on request, it stays down until the operator initiates
      // again (had segw initiated by itself meanwhile, there would now be two IKE SAs).
      await sc.segw.ctl('terminate-ike', { ike: t3.segwSa.name });
      await noTunnel(sc.ss, sc.segw);
      const up = await sc.segw.ctl<{ ike: IkeSaView }>('initiate', { connection: 'tun' });
      assert.equal(up.ike.state, 'ESTABLISHED');
      assert.equal(up.ike.children[0]?.state, 'INSTALLED');
      const t4 = await oneTunnel(sc.ss, sc.segw);
      assert.equal(t4.segwSa.name, up.ike.name);
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
      await sc.segw.ctl('terminate-ike', { ike: up.ike.name });
      await noTunnel(sc.ss, sc.segw);

      const wire = await sc.finish();
      assert.deepEqual(wire.problems, []);
      assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
      const requests = (x: number) => wire.fromSegw.filter((f) => f.exchange === x && !f.response).length;
      assert.equal(requests(ExchangeType.IKE_SA_INIT), 3, 'at start, after strongSwan\'s delete, on the operator\'s request');
      assert.ok(requests(ExchangeType.IKE_AUTH) >= 2);
      assert.ok(requests(ExchangeType.CREATE_CHILD_SA) >= 1);
    });
    assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
  });
}
