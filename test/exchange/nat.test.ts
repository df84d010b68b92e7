/**
 * NAT traversal (RFC 7296 §2.23): the base station sits behind a NAT that rewrites its source
 * address and port; both ends detect it from NAT_DETECTION_*, the initiator floats to 4500
 * (non-ESP marker), and the child SAs get UDP encapsulation with the translated ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pair, describe } from './harness.js';
import { IkeFlag, IkeState, type IkeSa } from '../../src/ike/sa/ike-sa.js';
import { ChildState } from '../../src/ike/sa/child-sa.js';
import type { WireDatagram } from '../../src/ike/transport/memory.js';
import type { Endpoint } from '../../src/net/endpoint.js';

const PUBLIC = '203.0.113.200';

/**
 * Puts the base station behind a NAT; the returned function makes the NAT forget its mappings
 * (and, given an address, map to that public address from then on).
 */
function natBetween(p: Pair): (publicAddress?: string) => void {
  const out = new Map<string, Endpoint>();
  const back = new Map<string, Endpoint>();
  let port = 40000;
  let publicAddress = PUBLIC;
  p.wire.nat = (d: WireDatagram) => {
    if (d.from.address !== p.bs.addr) return d.from;
    const k = `${d.from.address}|${d.from.port}`;
    let pub = out.get(k);
    if (!pub) {
      pub = { address: publicAddress, port: port++ };
      out.set(k, pub);
      back.set(`${pub.address}|${pub.port}`, d.from);
    }
    return pub;
  };
  const deliver = p.wire.deliver.bind(p.wire);
  p.wire.deliver = (d: WireDatagram) => {
    const inside = back.get(`${d.to.address}|${d.to.port}`);
    return deliver(inside ? { ...d, to: inside } : d);
  };
  return (address = publicAddress) => {
    out.clear();
    back.clear();
    publicAddress = address;
  };
}

/** A base station behind the NAT with its tunnel up; `rebind` as natBetween's. */
async function upBehindNat(): Promise<{ p: Pair; rebind: (publicAddress?: string) => void; bsSa: IkeSa; gwSa: IkeSa }> {
  const p = new Pair();
  const rebind = natBetween(p);
  await p.start();
  return { p, rebind, ...(await p.connect()) };
}

test('NAT detected at both ends; IKE floats to 4500; ESP is UDP-encapsulated', async () => {
  const p = new Pair();
  natBetween(p);
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next();
  // IKE_AUTH goes from 4500 to 4500 once NAT is detected.
  const auth = p.wire.queue[0]!;
  assert.match(describe(auth), /^IKE_AUTH request/);
  assert.equal(auth.natT, true);
  assert.equal(auth.to.port, 4500);
  await p.run();
  const gwSa = p.peerOf(bsSa, p.gw)!;
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.ok(bsSa.has(IkeFlag.NAT_LOCAL), 'the base station knows it is behind a NAT');
  assert.ok(gwSa.has(IkeFlag.NAT_REMOTE), 'the gateway knows its peer is behind a NAT');
  assert.deepEqual(gwSa.remote, { address: PUBLIC, port: 40001 }, 'the gateway follows the translated 4500 mapping');
  const gwIn = [...p.gw.kernel.sas.values()].find((s) => s.direction === 'in')!;
  assert.deepEqual(gwIn.encap, { sport: 40001, dport: 4500 });
  assert.equal(gwIn.src, PUBLIC);
  const bsOut = [...p.bs.kernel.sas.values()].find((s) => s.direction === 'out')!;
  assert.deepEqual(bsOut.encap, { sport: 4500, dport: 4500 });
  // The base station keeps its NAT mapping open with RFC 3948 keepalives every 20 s.
  const bsNatT = (p.wire as unknown as { sockets: Map<string, { keepalives: number }> }).sockets.get(`${p.bs.addr}|4500`)!;
  await p.advance(60_000);
  await p.run();
  assert.equal(bsNatT.keepalives, 3);
  // Later exchanges from the gateway reach the base station through the mapping.
  await p.gw.daemon.dpd(gwSa);
  await p.run();
  assert.equal(gwSa.tm.busy, false);
  await p.stop();
});

test('no NAT: IKE stays on 500 and ESP is not encapsulated', async () => {
  const p = new Pair();
  await p.start();
  const { bsSa } = await p.connect();
  assert.equal(bsSa.local.port, 500);
  assert.equal(bsSa.natDetected, false);
  assert.equal([...p.bs.kernel.sas.values()][0]!.encap, undefined);
  await p.stop();
});

test('NAT rebinding after establishment: the gateway follows the new port for IKE and moves the child SAs in place', async () => {
  const { p, rebind, bsSa, gwSa } = await upBehindNat();
  assert.deepEqual(gwSa.remote, { address: PUBLIC, port: 40001 });
  const spis = [...p.gw.kernel.sas.values()].map((s) => s.spi).sort();
  // The NAT drops its mappings (reboot, idle timeout); the base station's next packet gets a new port.
  rebind();
  p.gw.kernel.ops.length = 0;
  await p.bs.daemon.dpd(bsSa);
  await p.run();
  assert.equal(bsSa.tm.busy, false, 'the DPD response came back through the new mapping');
  assert.deepEqual(gwSa.remote, { address: PUBLIC, port: 40002 }, 'IKE follows the authenticated request');
  const sas = [...p.gw.kernel.sas.values()];
  assert.deepEqual(sas.map((s) => s.spi).sort(), spis, 'the same SAs: moved, not rekeyed');
  assert.deepEqual(sas.find((s) => s.direction === 'in')!.encap, { sport: 40002, dport: 4500 });
  assert.deepEqual(sas.find((s) => s.direction === 'out')!.encap, { sport: 4500, dport: 40002 });
  assert.deepEqual(p.gw.kernel.ops.map((o) => o.op).filter((o) => o !== 'querySa'), ['updateSaEncap', 'updateSaEncap']);
  // The base station is behind the NAT: its view of the gateway does not change.
  assert.deepEqual(bsSa.remote, { address: p.gw.addr, port: 4500 });
  await p.stop();
});

test('NAT rebinding where the kernel cannot move SAs in place: the child is rekeyed onto the new port', async () => {
  const { p, rebind, bsSa, gwSa } = await upBehindNat();
  const oldSpis = new Set([...p.gw.kernel.sas.values()].map((s) => s.spi));
  rebind();
  p.gw.kernel.failNext('updateSaEncap');
  await p.bs.daemon.dpd(bsSa);
  await p.run();
  assert.deepEqual(gwSa.remote, { address: PUBLIC, port: 40002 });
  const sas = [...p.gw.kernel.sas.values()];
  assert.equal(sas.length, 2, 'the old pair was deleted after the rekey');
  assert.ok(sas.every((s) => !oldSpis.has(s.spi)), 'new SPIs: a rekey');
  assert.deepEqual(sas.find((s) => s.direction === 'out')!.encap, { sport: 4500, dport: 40002 });
  assert.deepEqual(gwSa.children.map((c) => c.state), [ChildState.INSTALLED]);
  assert.equal(p.bs.kernel.sas.size, 2);
  await p.stop();
});

test('an initiator behind a NAT does not follow a changed source of an authenticated message (RFC 7296 §2.23)', async () => {
  const { p, bsSa, gwSa } = await upBehindNat();
  bsSa.authenticatedFrom({ address: p.gw.addr, port: 4501 }, bsSa.local);
  assert.deepEqual(bsSa.remote, { address: p.gw.addr, port: 4500 });
  // The gateway (not behind a NAT) does follow its NATed peer.
  gwSa.authenticatedFrom({ address: PUBLIC, port: 40123 }, gwSa.local);
  assert.deepEqual(gwSa.remote, { address: PUBLIC, port: 40123 });
  await p.run();
  await p.stop();
});

test('ESP from a new NAT mapping (the data plane\'s event): IKE and the child SAs follow without waiting for an IKE message', async () => {
  const { p, bsSa, gwSa } = await upBehindNat();
  const gwIn = [...p.gw.kernel.sas.values()].find((s) => s.direction === 'in')!;
  p.gw.kernel.mapping(gwIn, { address: PUBLIC, port: 40777 });
  await gwSa.run(async () => {}); // after the move the event queued on the SA
  assert.deepEqual(gwSa.remote, { address: PUBLIC, port: 40777 });
  const sas = [...p.gw.kernel.sas.values()];
  assert.deepEqual(sas.find((s) => s.direction === 'in')!.encap, { sport: 40777, dport: 4500 });
  assert.deepEqual(sas.find((s) => s.direction === 'out')!.encap, { sport: 4500, dport: 40777 });
  // The base station is behind a NAT: a mapping event there moves nothing (§2.23).
  const bsIn = [...p.bs.kernel.sas.values()].find((s) => s.direction === 'in')!;
  p.bs.kernel.mapping(bsIn, { address: p.gw.addr, port: 4999 });
  await bsSa.run(async () => {});
  assert.deepEqual(bsSa.remote, { address: p.gw.addr, port: 4500 });
  await p.stop();
});

test('the NAT comes back on another public address: policies move to it and the child is rekeyed onto it', async () => {
  const { p, rebind, bsSa, gwSa } = await upBehindNat();
  const oldSpis = new Set([...p.gw.kernel.sas.values()].map((s) => s.spi));
  const NEW = '203.0.113.201';
  rebind(NEW);
  await p.bs.daemon.dpd(bsSa);
  await p.run();
  await gwSa.run(async () => {});
  await p.run();
  assert.equal(gwSa.remote.address, NEW);
  const sas = [...p.gw.kernel.sas.values()];
  assert.equal(sas.length, 2);
  assert.ok(sas.every((s) => !oldSpis.has(s.spi)), 'rekeyed: an SA is keyed by its destination address');
  assert.equal(sas.find((s) => s.direction === 'out')!.dst, NEW);
  assert.equal(sas.find((s) => s.direction === 'in')!.src, NEW);
  const policies = [...p.gw.kernel.policies.values()];
  assert.equal(policies.length, 3);
  for (const pol of policies) assert.equal(pol.direction === 'out' ? pol.tmplDst : pol.tmplSrc, NEW, `${pol.direction} policy template`);
  assert.equal(p.bs.kernel.sas.size, 2);
  await p.stop();
});
