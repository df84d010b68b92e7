/**
 * A masquerading NAT (nftables) between the base station and the gateway, strongSwan 5.9.8 on
 * one side and segw on the other, both ways round. NAT detection (RFC 7296 §2.23): each end
 * reports which side is behind the NAT; both float to port 4500 after IKE_SA_INIT; ESP travels
 * in UDP (RFC 3948) with the SPIs both ends agreed on; traffic passes both ways, also after the
 * end behind the NAT rekeyed by lifetime (strongSwan its IKE SA, segw its child SA), and after
 * the NAT lost its mapping and made a new one on another port (segw follows the ESP there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { ExchangeType } from '../../src/ike/constants.js';
import { Scenario } from './support/scenario.js';
import { noTunnel, oneTunnel } from './support/sas.js';

for (const segwRole of ['gateway', 'basestation'] as const) {
  const who = segwRole === 'gateway' ? 'strongSwan behind the NAT -> segw gateway' : 'segw basestation behind the NAT -> strongSwan gateway';
  test(`NAT: ${who}: detected by both, both on 4500, ESP in UDP, traffic both ways`, { timeout: 120_000 }, async () => {
    let labId = '';
    await withLab(`nat${segwRole}`, async (lab) => {
      labId = lab.id;
      // Lifetimes rekey through the NAT: strongSwan's IKE SA (behind it) or segw's child (behind it).
      const lifetimes = segwRole === 'gateway' ? { swan: { ikeRekey: 4 } } : { segw: { childRekey: 4 } };
      const sc = await Scenario.start(lab, { segwRole, nat: true, spec: { ike: 'aes128gcm16-prfsha256-x25519', esp: 'aes128gcm16', ...lifetimes } });
      const t = await sc.up();
      const raw = t.swan.raw as Record<string, string>;
      const { nat } = sc.topo;
      assert.ok(nat);
      if (segwRole === 'gateway') {
        // strongSwan is behind the NAT; segw sees it at the NAT's address.
        assert.equal(raw['nat-local'], 'yes', `strongSwan: ${JSON.stringify(raw)}`);
        assert.deepEqual(t.segwSa.nat, { local: false, remote: true });
        assert.equal(t.segwSa.remote.address, sc.topo.bsSeenAs);
        assert.equal(t.segwSa.local.port, 4500);
      } else {
        // segw is behind the NAT; strongSwan sees it at the NAT's address.
        assert.equal(raw['nat-remote'], 'yes', `strongSwan: ${JSON.stringify(raw)}`);
        assert.equal(raw['remote-host'], sc.topo.bsSeenAs);
        assert.equal(t.segwSa.nat.local, true);
        assert.deepEqual([t.segwSa.local.port, t.segwSa.remote.port], [4500, 4500]);
      }
      assert.equal(t.segwSa.children[0]!.encap, true);
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
      // The behind-the-NAT end rekeys by lifetime; the tunnel keeps the NAT mapping and works.
      const r = await oneTunnel(sc.ss, sc.segw, {
        pred: (x) => (segwRole === 'gateway' ? x.segwSa.name !== t.segwSa.name : x.segw.children[0]!.spiIn !== t.segw.children[0]!.spiIn),
      });
      assert.equal(r.segwSa.children[0]!.encap, true);
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
      await sc.segw.ctl('terminate-ike', { ike: r.segwSa.name });
      await noTunnel(sc.ss, sc.segw);

      const wire = await sc.finish();
      assert.deepEqual(wire.problems, []);
      assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
      // Seen on the gateway's link: the base station only ever appears as the NAT.
      const bsSide = [...wire.ike, ...wire.esp].map((f) => (f.src === sc.topo.gwAddr ? f.dst : f.src));
      assert.deepEqual([...new Set(bsSide)], [sc.topo.bsSeenAs]);
      const init = wire.ike.filter((f) => f.exchange === ExchangeType.IKE_SA_INIT);
      assert.ok(init.length >= 2 && init.every((f) => f.sport === 500 || f.dport === 500), 'IKE_SA_INIT on port 500');
      const later = wire.ike.filter((f) => f.exchange !== ExchangeType.IKE_SA_INIT);
      assert.ok(later.length >= 4);
      const gwPort = (f: { src: string; sport: number; dport: number }) => (f.src === sc.topo.gwAddr ? f.sport : f.dport);
      assert.ok(later.every((f) => gwPort(f) === 4500), 'everything after IKE_SA_INIT on the gateway\'s port 4500');
      // ESP in UDP both ways, with the SPIs the two ends agreed on (the first child's: the first
      // ping ran before any lifetime rekey).
      const child = t.segw.children[0]!;
      const espSpis = new Set(wire.esp.map((e) => e.spi.padStart(8, '0')));
      assert.ok(espSpis.has(child.spiIn) && espSpis.has(child.spiOut), `ESP SPIs on the wire ${[...espSpis]} vs ${child.spiIn}/${child.spiOut}`);
      assert.ok(wire.esp.every((e) => gwPort(e) === 4500));
    });
    assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
  });
}

test('NAT rebinding: the NAT loses strongSwan\'s mapping and gives it a new port; the segw gateway follows its ESP there', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('natrebind', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, { segwRole: 'gateway', nat: true, spec: { ike: 'aes128gcm16-prfsha256-x25519', esp: 'aes128gcm16' } });
    const t = await sc.up();
    const nat = sc.topo.nat!;
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
    const before = t.segwSa.remote;
    assert.equal(before.port, 4500, 'the first mapping kept the port');
    // As after a NAT reboot: the mappings are gone, and new ones get random ports.
    await nat.exec('nft', ['flush', 'chain', 'ip', 'segwlab_nat', 'postrouting']);
    await nat.exec('nft', ['add', 'rule', 'ip', 'segwlab_nat', 'postrouting', 'oifname', 'eth1', 'masquerade', 'fully-random']);
    await nat.exec('conntrack', ['-D', '-p', 'udp'], { allowFail: true });
    // The base station's ESP makes the new mapping; segw's engine reports it and the gateway's
    // ESP (and IKE) follow at once: the echo replies come back. The first reply may still leave
    // on the old port while the move is on its way (a few ms).
    const { toGw } = await sc.pingBothWays();
    assert.ok(toGw >= 2, `${toGw} of 3 echo replies through the new mapping`);
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
    const r = await oneTunnel(sc.ss, sc.segw);
    assert.equal(r.segwSa.remote.address, sc.topo.bsSeenAs);
    assert.notEqual(r.segwSa.remote.port, before.port, 'IKE moved to the new port');
    assert.equal(r.segw.children[0]!.spiIn, t.segw.children[0]!.spiIn, 'the child SA moved in place, not rekeyed');
    // IKE works through the new mapping too: strongSwan gets segw's DELETE and drops its SA.
    await sc.segw.ctl('terminate-ike', { ike: r.segwSa.name });
    await noTunnel(sc.ss, sc.segw);
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
