/**
 * RFC 7296 MUSTs that docs/conformance.md listed without a test: a rekey for a child SA the
 * responder does not have is answered CHILD_SA_NOT_FOUND (§1.3.3, §3.10.1) and the initiator
 * then deletes its half; the nonces segw sends are at least 128 bits and at least half the
 * negotiated PRF's key size, and new in every exchange (§2.10).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { decodeMessage, decodeProtected } from '../../src/ike/codec/index.js';
import { PayloadType } from '../../src/ike/constants.js';
import { IkeState, type IkeSa } from '../../src/ike/sa/ike-sa.js';
import type { WireDatagram } from '../../src/ike/transport/memory.js';

test('a rekey for a child the responder does not have is answered CHILD_SA_NOT_FOUND (§1.3.3); the initiator deletes its half, the IKE SA stays', async () => {
  const p = new Pair();
  await p.start();
  try {
    const { bsSa, gwSa } = await p.connect();
    // The gateway lost the child without a Delete reaching the base station.
    gwSa.removeChild(gwSa.children[0]!);
    await p.bs.daemon.rekeyChild(bsSa.children[0]!);
    // CREATE_CHILD_SA SK { N(REKEY_SA), SA, Ni, TSi, TSr } -->
    assert.match(describe(p.wire.queue[0]!, gwSa), /^CREATE_CHILD_SA request #2 \{ N\(REKEY_SA\), SA, NONCE/);
    await p.next();
    // <-- CREATE_CHILD_SA SK { N(CHILD_SA_NOT_FOUND) }
    assert.equal(describe(p.wire.queue[0]!, bsSa), 'CREATE_CHILD_SA response #2 { N(CHILD_SA_NOT_FOUND) }');
    await p.next();
    // INFORMATIONAL SK { D(ESP) } -->   the base station removes the child the peer lost
    assert.equal(describe(p.wire.queue[0]!, gwSa), 'INFORMATIONAL request #3 { D(ESP) }');
    await p.run();
    assert.deepEqual(bsSa.children, []);
    assert.equal(p.bs.kernel.sas.size, 0, 'nothing left in the base station\'s kernel');
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(gwSa.state, IkeState.ESTABLISHED);
  } finally {
    await p.stop();
  }
});

/** The Nonce payload of a datagram (opened with `sa` when protected). */
function nonceOf(d: WireDatagram, sa?: IkeSa): Buffer | undefined {
  const r = decodeMessage(d.data);
  if (!r.ok) return undefined;
  let payloads = r.message.payloads;
  if (sa?.skIn && payloads.at(-1)?.type === PayloadType.SK) {
    const o = decodeProtected({ message: r.message, raw: d.data }, sa.skIn);
    if (!o.ok) return undefined;
    payloads = o.message.payloads;
  }
  const n = payloads.find((x) => x.type === PayloadType.NONCE) as { data: Buffer } | undefined;
  return n?.data;
}

for (const { ike, prfKeyOctets } of [
  { ike: 'aes128gcm16-prfsha256-ecp256', prfKeyOctets: 32 },
  { ike: 'aes256gcm16-prfsha512-ecp384', prfKeyOctets: 64 },
]) {
  test(`nonces (§2.10, ${ike}): at least 16 octets and half the PRF key (${prfKeyOctets / 2}), new in every exchange, from both ends`, async () => {
    const p = new Pair({ bs: { ikeProposals: [ike] }, gw: { ikeProposals: [ike] } });
    await p.start();
    try {
      const nonces: { what: string; n: Buffer }[] = [];
      const bsSa = await p.initiate();
      nonces.push({ what: 'Ni of IKE_SA_INIT', n: nonceOf(p.wire.queue[0]!)! });
      await p.next();
      nonces.push({ what: 'Nr of IKE_SA_INIT', n: nonceOf(p.wire.queue[0]!)! });
      await p.run();
      const gwSa = p.peerOf(bsSa, p.gw)!;
      for (const [side, sa, peer] of [['bs', bsSa, gwSa], ['gw', gwSa, bsSa]] as const) {
        await p[side].daemon.rekeyChild(sa.children[0]!);
        nonces.push({ what: `Ni of a child rekey by ${side}`, n: nonceOf(p.wire.queue[0]!, peer)! });
        await p.next();
        nonces.push({ what: `Nr of a child rekey by ${side}`, n: nonceOf(p.wire.queue[0]!, sa)! });
        await p.run();
      }
      assert.equal(nonces.length, 6);
      for (const { what, n } of nonces) {
        assert.ok(n, `${what}: no nonce found`);
        assert.ok(n.length >= 16 && n.length >= prfKeyOctets / 2, `${what}: ${n.length} octets`);
      }
      const distinct = new Set(nonces.map(({ n }) => n.toString('hex')));
      assert.equal(distinct.size, nonces.length, 'a nonce was sent twice');
    } finally {
      await p.stop();
    }
  });
}
