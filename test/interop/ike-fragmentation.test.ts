/**
 * IKE fragmentation (RFC 7383) with strongSwan 5.9.8: RSA-4096 certificates under three
 * intermediate CAs make IKE_AUTH several kilobytes each way, far above the 1280-octet fragment
 * size. Both peers fragment (tshark sees SKF fragments from each, every one of segw's decrypts
 * cleanly), both reassemble and verify the chain, and the tunnel carries traffic; once with
 * segw as the gateway (responder), once as the base station (initiator).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { ExchangeType, PayloadType } from '../../src/ike/constants.js';
import { Scenario } from './support/scenario.js';
import { noTunnel } from './support/sas.js';
import { makeCerts, type CertSet } from './support/certs.js';
import type { WireReport } from './support/wire.js';

let certs: CertSet;
before(() => {
  certs = makeCerts({ type: 'rsa', size: 4096, intermediates: 3 });
});
after(() => certs.cleanup());

/** IKE_AUTH fragments (SKF) each side sent: [segw's, strongSwan's]. */
function authFragments(wire: WireReport, segwAddr: string): [number, number] {
  const frags = wire.ike.filter((f) => f.exchange === ExchangeType.IKE_AUTH && f.fragment && f.fragment.total > 1);
  return [frags.filter((f) => f.src === segwAddr).length, frags.filter((f) => f.src !== segwAddr).length];
}

for (const segwRole of ['gateway', 'basestation'] as const) {
  test(`a certificate chain that needs IKE fragmentation both ways, segw as ${segwRole}`, { timeout: 120_000 }, async () => {
    let labId = '';
    await withLab(`frag${segwRole}`, async (lab) => {
      labId = lab.id;
      const sc = await Scenario.start(lab, {
        segwRole,
        spec: { ike: 'aes256gcm16-prfsha384-ecp384', esp: 'aes256gcm16', certs, segw: { fragmentSize: 1280 } },
      });
      const t = await sc.up();
      assert.equal(t.segwSa.state, 'ESTABLISHED');
      await sc.waitSwanLog(/reassembled fragmented IKE message/);
      assert.ok(sc.swanLog(/splitting IKE message \(\d+ bytes\) into \d+ fragments/).length >= 1, 'strongSwan fragmented its IKE_AUTH');
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
      await sc.segw.ctl('terminate-ike', { ike: t.segwSa.name });
      await noTunnel(sc.ss, sc.segw);

      const wire = await sc.finish();
      assert.deepEqual(wire.problems, []);
      assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
      const [bySegw, bySwan] = authFragments(wire, sc.segwOnWire);
      assert.ok(bySegw >= 4, `segw sent its IKE_AUTH in fragments: ${bySegw}`);
      assert.ok(bySwan >= 4, `strongSwan sent its IKE_AUTH in fragments: ${bySwan}`);
      // tshark reassembled segw's fragments: the whole chain (end entity + 3 intermediates) is there.
      const segwAuth = wire.fromSegw.filter((f) => f.exchange === ExchangeType.IKE_AUTH).flatMap((f) => f.payloads);
      assert.ok(segwAuth.filter((p) => p === PayloadType.CERT).length >= 4, `CERT payloads from segw: ${segwAuth}`);
      assert.ok(wire.ike.filter((f) => f.src === sc.segwOnWire && f.exchange === ExchangeType.IKE_AUTH).every((f) => f.sport === 4500 && f.decrypted));
    });
    assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
  });
}
