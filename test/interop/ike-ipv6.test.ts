/**
 * IPv6 with strongSwan 5.9.8: IKE over IPv6 and IPv6 traffic selectors (2001:db8:10::/64 ===
 * 2001:db8:20::/64), segw as the gateway and as the base station. Both ends report the same
 * tunnel, IPv6 pings pass both ways before and after segw rekeys the IKE SA and the child, and
 * tshark decodes every IKE message segw sent over IPv6.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { Scenario } from './support/scenario.js';
import { oneTunnel } from './support/sas.js';

for (const segwRole of ['gateway', 'basestation'] as const) {
  test(`IPv6 outside and inside, segw as ${segwRole}: up, ping6 both ways, rekeys`, { timeout: 120_000 }, async () => {
    let labId = '';
    await withLab(`v6${segwRole}`, async (lab) => {
      labId = lab.id;
      const sc = await Scenario.start(lab, { segwRole, v6: true, spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16' } });
      const t = await sc.up();
      const raw = t.swan.raw as Record<string, string>;
      assert.equal(raw['remote-host'], segwRole === 'gateway' ? sc.topo.gwAddr : sc.topo.bsAddr);
      assert.equal(t.segwSa.remote.address, segwRole === 'gateway' ? sc.topo.bsAddr : sc.topo.gwAddr);
      assert.deepEqual(t.segw.children[0]!.localTs, [segwRole === 'gateway' ? '2001:db8:20::/64' : '2001:db8:10::/64']);
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });

      const r = await sc.segw.ctl<{ ike: { name: string; children: { spiIn: string }[] } }>('rekey-ike', { ike: t.segwSa.name });
      await sc.segw.ctl('rekey-child', { child: r.ike.children[0]!.spiIn });
      await oneTunnel(sc.ss, sc.segw, { pred: (x) => x.segwSa.name === r.ike.name && x.segw.children[0]!.spiIn !== r.ike.children[0]!.spiIn });
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });

      const wire = await sc.finish();
      assert.deepEqual(wire.problems, []);
      assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
      assert.ok(wire.fromSegw.length >= 5 && wire.fromSegw.every((f) => f.src === sc.segwOnWire));
      assert.ok(wire.esp.length >= 12, `ESP-in-UDP over IPv6: ${wire.esp.length} packets`);
    });
    assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
  });
}
