/**
 * Proposals beyond AES-GCM/ECP-256 with strongSwan 5.9.8: AES-CBC with HMAC-SHA2-256 and
 * Curve25519, for IKE and for ESP (with PFS: the child rekeys carry a Curve25519 KE both
 * ways); and AES-256-CBC with HMAC-SHA2-384 / SHA2-512 over MODP-2048 with segw initiating.
 * Both ends name the same algorithms, traffic passes, tshark decrypts segw's AES-CBC/HMAC
 * messages cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab } from '../../src/lab/lab.js';
import { Scenario } from './support/scenario.js';
import { oneTunnel } from './support/sas.js';

test('AES-CBC-128 + HMAC-SHA2-256 + Curve25519 for IKE and ESP (PFS rekeys both ways), strongSwan -> segw gateway', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('propx25519', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, { segwRole: 'gateway', spec: { ike: 'aes128-sha256-x25519', esp: 'aes128-sha256-x25519' } });
    const t = await sc.up();
    const raw = t.swan.raw as Record<string, unknown>;
    assert.deepEqual(
      [raw['encr-alg'], raw['encr-keysize'], raw['integ-alg'], raw['prf-alg'], raw['dh-group']],
      ['AES_CBC', '128', 'HMAC_SHA2_256_128', 'PRF_HMAC_SHA2_256', 'CURVE_25519'],
    );
    assert.deepEqual(t.segwSa.proposal, { encryption: 'ENCR_AES_CBC', keySize: 128, integrity: 'AUTH_HMAC_SHA2_256_128', prf: 'PRF_HMAC_SHA2_256', dhGroup: 'CURVE25519' });
    const child = Object.values(raw['child-sas'] as Record<string, Record<string, string>>)[0]!;
    assert.deepEqual([child['encr-alg'], child['encr-keysize'], child['integ-alg']], ['AES_CBC', '128', 'HMAC_SHA2_256_128']);
    assert.deepEqual(t.segwSa.children[0]!.esp, { encryption: 'aes-cbc', keySize: 128, integrity: 'hmac-sha2-256-128', esn: false, dhGroup: null });
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });

    // Child rekeys with PFS: strongSwan's request and segw's both carry a KE (Curve25519).
    await sc.ss.swanctl(['--rekey', '--child', 'net']);
    const t2 = await oneTunnel(sc.ss, sc.segw, { pred: (x) => x.segw.children[0]!.spiIn !== t.segw.children[0]!.spiIn });
    await sc.waitSwanLog(/generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]/);
    assert.equal(t2.segwSa.children[0]!.esp?.dhGroup, 'CURVE25519');
    await sc.segw.ctl('rekey-child', { child: t2.segw.children[0]!.spiIn });
    await sc.waitSwanLog(/parsed CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]/);
    await sc.segw.ctl('rekey-ike', { ike: t2.segwSa.name });
    await oneTunnel(sc.ss, sc.segw, { pred: (x) => x.segwSa.name !== t2.segwSa.name });
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });

    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
    assert.ok(wire.keyedPairs.length >= 2);
    assert.ok(wire.fromSegw.filter((f) => f.encrypted).length >= 6 && wire.fromSegw.every((f) => !f.encrypted || f.decrypted));
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});

test('AES-CBC-256 + HMAC-SHA2-384 + MODP-2048 (IKE), AES-CBC-256 + HMAC-SHA2-512 (ESP), segw basestation -> strongSwan', { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('propmodp', async (lab) => {
    labId = lab.id;
    const sc = await Scenario.start(lab, { segwRole: 'basestation', spec: { ike: 'aes256-sha384-modp2048', esp: 'aes256-sha512' } });
    const t = await sc.up();
    const raw = t.swan.raw as Record<string, unknown>;
    assert.deepEqual(
      [raw['encr-alg'], raw['encr-keysize'], raw['integ-alg'], raw['prf-alg'], raw['dh-group']],
      ['AES_CBC', '256', 'HMAC_SHA2_384_192', 'PRF_HMAC_SHA2_384', 'MODP_2048'],
    );
    const child = Object.values(raw['child-sas'] as Record<string, Record<string, string>>)[0]!;
    assert.deepEqual([child['encr-alg'], child['encr-keysize'], child['integ-alg']], ['AES_CBC', '256', 'HMAC_SHA2_512_256']);
    assert.deepEqual(t.segwSa.children[0]!.esp, { encryption: 'aes-cbc', keySize: 256, integrity: 'hmac-sha2-512-256', esn: false, dhGroup: null });
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
    const wire = await sc.finish();
    assert.deepEqual(wire.problems, []);
    assert.deepEqual(wire.segwCounters, {}, 'segw dropped nothing it received');
    assert.ok(wire.fromSegw.some((f) => f.decrypted));
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
