/**
 * RFC 7296 §1.2: the initial exchanges with a pre-shared key, IPv4 and IPv6, read as the RFC
 * draws them; and the responder's choice follows its own proposal order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';

for (const v6 of [false, true]) {
  test(`PSK IKE_SA_INIT + IKE_AUTH establish the IKE SA and one child (IPv${v6 ? 6 : 4})`, async () => {
    const p = new Pair({ v6 });
    await p.start();
    const bsSa = await p.initiate();

    // IKE_SA_INIT { SA, KE, Ni, N(NAT_DETECTION_*), N(IKEV2_FRAGMENTATION_SUPPORTED), ... } -->
    assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT request #0 \{ SA, KE, NONCE, N\(NAT_DETECTION_SOURCE_IP\), N\(NAT_DETECTION_DESTINATION_IP\), N\(IKEV2_FRAGMENTATION_SUPPORTED\), N\(SIGNATURE_HASH_ALGORITHMS\), N\(REDIRECT_SUPPORTED\) \}$/);
    await p.next();
    // <-- IKE_SA_INIT { SA, KE, Nr, N(NAT_DETECTION_*), ... }
    assert.match(describe(p.wire.queue[0]!), /^IKE_SA_INIT response #0 \{ SA, KE, NONCE, N\(NAT_DETECTION_SOURCE_IP\)/);
    await p.next();
    // IKE_AUTH SK { IDi, N(INITIAL_CONTACT), IDr, AUTH, SA, TSi, TSr } -->
    assert.equal(describe(p.wire.queue[0]!, { skIn: bsSa.skOut } as never), 'IKE_AUTH request #1 { IDi, N(INITIAL_CONTACT), IDr, AUTH, SA, TSi, TSr }');
    await p.next();
    // <-- IKE_AUTH SK { IDr, AUTH, SA, TSi, TSr }
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { IDr, AUTH, SA, TSi, TSr }');
    await p.next();
    assert.equal(p.wire.queue.length, 0);

    const gwSa = p.peerOf(bsSa, p.gw)!;
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(gwSa.state, IkeState.ESTABLISHED);
    assert.equal(gwSa.peerId, 'bs1.example.net');
    assert.equal(bsSa.peerId, 'gw.example.net');
    // The responder's first IKE proposal the initiator offered: aes128gcm16-prfsha256-ecp256.
    assert.equal(gwSa.suite!.dh, 19);
    // One child each side, both ESP SAs and the policies in each kernel; the gateway narrowed
    // the base station's /24 to its configured selectors.
    for (const side of [p.bs, p.gw]) assert.equal(side.kernel.sas.size, 2);
    assert.equal(p.gw.kernel.policies.size, 3);
    const gwChild = gwSa.children[0]!;
    const bsChild = bsSa.children[0]!;
    assert.equal(gwChild.spiIn, bsChild.spiOut);
    assert.equal(gwChild.spiOut, bsChild.spiIn);
    // The base station offers only aes128gcm16-esn: 16 key octets + 4 salt.
    assert.equal(gwChild.suite!.encryption, 'aes-gcm-16');
    assert.equal(gwChild.suite!.encrKeyBytes, 20);
    assert.equal(gwChild.suite!.esn, true);
    const inSa = [...p.gw.kernel.sas.values()].find((s) => s.direction === 'in')!;
    const outSa = [...p.bs.kernel.sas.values()].find((s) => s.direction === 'out')!;
    assert.ok(inSa.encryptionKey.equals(outSa.encryptionKey), 'keys agree across the two ends');
    // IKE_SA_INIT copies, nonces and SK_p are gone once established.
    assert.equal(bsSa.auth, undefined);
    assert.equal(gwSa.auth, undefined);
    assert.equal(p.gw.daemon.manager.halfOpenCount, 0);
    await p.stop();
    assert.equal(p.gw.kernel.sas.size, 0);
    assert.equal(p.gw.kernel.policies.size, 0);
  });
}

test('the responder picks by its own proposal order when the initiator offers several', async () => {
  const p = new Pair({ bs: { ikeProposals: ['aes256-sha256-x25519', 'aes256gcm16-prfsha384-ecp384'] } });
  await p.start();
  const { gwSa } = await p.connect();
  // The gateway lists aes256gcm16-prfsha384-ecp384 first: chosen although the initiator put it second.
  assert.equal(gwSa.suite!.encr, 20);
  assert.equal(gwSa.suite!.dh, 20);
  await p.stop();
});

test('AES-CBC + HMAC-SHA2-256 with Curve25519 for IKE and AES-CBC + SHA-256 for ESP', async () => {
  const p = new Pair({
    bs: { ikeProposals: ['aes256-sha256-x25519'], children: [{ name: 'lte', localTs: ['198.51.100.0/24'], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128-sha256'] }] },
  });
  await p.start();
  const { bsSa, gwSa } = await p.connect();
  assert.equal(gwSa.suite!.dh, 31);
  assert.equal(bsSa.children[0]!.suite!.integrity, 'hmac-sha2-256-128');
  assert.equal(p.bs.kernel.sas.size, 2);
  await p.stop();
});
