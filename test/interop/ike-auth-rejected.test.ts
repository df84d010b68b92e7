/**
 * RFC 7296 §2.21.2 with strongSwan 5.9.8 as the base station: segw's IKE_AUTH response is
 * accepted by segw's own checks but refused by strongSwan (it requires a public-key AUTH from
 * the gateway, segw uses its PSK). strongSwan says so in a separate INFORMATIONAL
 * { N(AUTHENTICATION_FAILED) }; segw answers it and deletes the IKE SA, the child SA and the
 * injected route at once, instead of keeping a tunnel the base station no longer has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../src/lab/lab.js';
import { eventually } from '../support/eventually.js';
import { Scenario } from './support/scenario.js';
import { segwView } from './support/sas.js';

test('strongSwan refuses segw\'s AUTH: INFORMATIONAL { N(AUTHENTICATION_FAILED) } ends segw\'s IKE SA, child and route', { timeout: 120_000 }, async () => {
  await withLab('ikeauthno', async (lab) => {
    const sc = await Scenario.start(lab, {
      segwRole: 'gateway',
      spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', swan: { remoteAuth: 'pubkey' } },
    });
    const r = await sc.ss.initiate('net', { ike: 'tun', timeoutS: 10 }).catch((err: Error) => err);
    assert.ok(r instanceof Error, 'strongSwan reports the failed initiation');
    await sc.waitSwanLog(/generating INFORMATIONAL request \d+ \[ N\(AUTH_FAILED\) \]/);
    await eventually(async () => (await segwView(sc.segw)).length === 0, 'segw deletes the IKE SA');
    assert.equal(sc.segwLog(/peer sent AUTHENTICATION_FAILED/).length, 1);
    await eventually(async () => (await sc.topo.gw.exec('ip', ['route', 'show', 'proto', 'segw'])).stdout.trim() === '', 'the injected route is withdrawn');
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
  });
});
