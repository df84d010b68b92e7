/**
 * strongSwan 5.9.8 base station -> segw gateway with certificates made by `pki` (a root CA, end
 * entities with FQDN subjectAltNames): ECDSA P-256 and RSA-3072. Each end verifies the other's
 * certificate and AUTH (RFC 7427 signatures); the tunnel carries traffic; the IKE SA rekeyed by
 * segw and the child by strongSwan; the delete comes from segw. A base station whose
 * certificate the CA revoked is refused (segw reads the CA's CRL).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { ExchangeType, NotifyError, PayloadType } from '../../src/ike/constants.js';
import { Scenario } from './support/scenario.js';
import { noTunnel, oneTunnel } from './support/sas.js';
import { BS_ID, GW_ID, makeCerts, type CertSet } from './support/certs.js';

const made: CertSet[] = [];
after(() => made.forEach((c) => c.cleanup()));

for (const [type, size, sig] of [
  ['ecdsa', 256, /ECDSA/],
  ['rsa', 3072, /RSA/],
] as const) {
  test(`strongSwan -> segw gateway, ${type.toUpperCase()}-${size} certificates: both ends authenticate, traffic, rekeys, delete`, { timeout: 120_000 }, async () => {
    const certs = makeCerts({ type, size });
    made.push(certs);
    let labId = '';
    await withLab(`ike${type}`, async (lab) => {
      labId = lab.id;
      const sc = await Scenario.start(lab, { segwRole: 'gateway', spec: { ike: 'aes256gcm16-prfsha256-ecp256', esp: 'aes256gcm16', certs } });
      const t = await sc.up();
      // strongSwan verified segw's certificate chain and signature; segw verified strongSwan's.
      const authOk = await sc.waitSwanLog(new RegExp(`authentication of '${GW_ID}' with (.*) successful`));
      assert.match(authOk[0]!, sig);
      assert.equal((t.swan.raw as Record<string, string>)['remote-id'], GW_ID);
      assert.equal(t.segwSa.remote.id, BS_ID);
      assert.equal(t.segwSa.local.id, GW_ID);
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });

      const r = await sc.segw.ctl<{ ike: { name: string } }>('rekey-ike', { ike: t.segwSa.name });
      const t2 = await oneTunnel(sc.ss, sc.segw, { pred: (x) => x.segwSa.name === r.ike.name });
      await sc.ss.swanctl(['--rekey', '--child', 'net']);
      await oneTunnel(sc.ss, sc.segw, { pred: (x) => x.segw.children[0]!.spiIn !== t2.segw.children[0]!.spiIn });
      assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });

      await sc.segw.ctl('terminate-ike', { ike: r.ike.name });
      await noTunnel(sc.ss, sc.segw);

      const wire = await sc.finish();
      assert.deepEqual(wire.problems, []);
      assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
      const initResp = wire.fromSegw.find((f) => f.exchange === ExchangeType.IKE_SA_INIT && f.response);
      assert.ok(initResp?.payloads.includes(PayloadType.CERTREQ), 'segw asks for a certificate by CA (CERTREQ)');
      const authResp = wire.fromSegw.filter((f) => f.exchange === ExchangeType.IKE_AUTH && f.response).flatMap((f) => f.payloads);
      assert.ok(authResp.includes(PayloadType.CERT) && authResp.includes(PayloadType.AUTH), 'IKE_AUTH response carries CERT and AUTH');
    });
    assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
  });
}

test('strongSwan base station whose certificate the CA revoked: the segw gateway (CRL configured) refuses it', { timeout: 120_000 }, async () => {
  const certs = makeCerts({ type: 'ecdsa', size: 256, intermediates: 1, revokeBs: true });
  made.push(certs);
  let labId = '';
  await withLab('ikecrl', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, { segwRole: 'gateway', spec: { ike: 'aes256gcm16-prfsha256-ecp256', esp: 'aes256gcm16', certs } });
    const r = await sc.ss.swanctl(['--initiate', '--child', 'net', '--ike', 'tun', '--timeout', '10'], { allowFail: true, timeoutMs: 20_000 });
    assert.notEqual(r.code, 0);
    await sc.waitSwanLog(/received AUTHENTICATION_FAILED notify error/);
    assert.deepEqual((await sc.segw.ctl<{ ikeSas: unknown[] }>('list-sas')).ikeSas, [], 'segw keeps no SA');
    const why = sc.segwLog(/peer certificate not accepted/);
    assert.match(String(why[0]?.reason), new RegExp(`${BS_ID}.* is revoked \\(serial`), JSON.stringify(why));
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    const authAnswer = wire.fromSegw.find((f) => f.exchange === ExchangeType.IKE_AUTH && f.response);
    assert.ok(authAnswer?.decrypted && authAnswer.notifies.includes(NotifyError.AUTHENTICATION_FAILED), JSON.stringify(authAnswer));
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
