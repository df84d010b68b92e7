// The KernelIpsec backend on the engine, in a lab namespace: SPI allocation, SA and policy
// bookkeeping, expiry events, IKE on the shared NAT-T port (non-ESP marker, keepalives), and
// raw ESP (IP protocol 50) between two engines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { withLab } from '../../../src/lab/lab.js';
import { UserspaceIpsec } from '../../../src/kernel/userspace/backend.js';
import type { SaRef } from '../../../src/kernel/types.js';
import type { Endpoint } from '../../../src/net/endpoint.js';
import { outPolicy, saParams, segwTunnel } from '../../support/esp-tunnel.js';
import { eventually } from '../../support/eventually.js';

test('SPIs, SAs, counters, hard expiry; IKE through the engine socket with the non-ESP marker', { timeout: 60_000 }, async () => {
  await withLab('espbk', async (lab) => {
    const a = await lab.host('a'), b = await lab.host('b');
    await lab.link(a, b, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    const ga = UserspaceIpsec.open({ netns: a.ns, udp: [{ address: '198.51.100.1', port: 4500 }] });
    const gb = UserspaceIpsec.open({ netns: b.ns, udp: [{ address: '198.51.100.2', port: 4500 }] });
    try {
      const spis = new Set(await Promise.all(Array.from({ length: 200 }, () => ga.allocateSpi('198.51.100.2', '198.51.100.1', 'esp'))));
      assert.equal(spis.size, 200, 'allocated SPIs are unique');
      for (const s of spis) assert.ok(s > 255);

      // IKE: b sends through its engine socket (marker added), a's receiver gets the bare message.
      const got: { data: Buffer; remote: Endpoint; local: Endpoint }[] = [];
      const ikeA = ga.ikeSocket({ address: '198.51.100.1', port: 4500 });
      ikeA.setReceiver((data, remote, local) => got.push({ data, remote, local }));
      const ikeB = gb.ikeSocket({ address: '198.51.100.2', port: 4500 });
      assert.equal(ikeB.natT, true);
      const msg = randomBytes(300);
      ikeB.send(msg, { address: '198.51.100.1', port: 4500 });
      // A NAT-keepalive (RFC 3948 §2.3) from b's namespace is dropped and counted, not delivered.
      const keepalive = "const s=require('dgram').createSocket('udp4');s.bind(4501,'198.51.100.2',()=>s.send(Buffer.from([255]),4500,'198.51.100.1',()=>s.close()))";
      await b.exec(process.execPath, ['-e', keepalive]);
      // A second IKE message after the keepalive: once it is in, so is everything before it.
      const last = randomBytes(100);
      ikeB.send(last, { address: '198.51.100.1', port: 4500 });
      await eventually(() => got.some((g) => g.data.equals(last)), { what: 'the last IKE message', timeoutMs: 1000, intervalMs: 20 });
      assert.equal(got.length, 2);
      assert.deepEqual(got[0].data, msg);
      assert.deepEqual(got[0].remote, { address: '198.51.100.2', port: 4500 });
      assert.deepEqual(got[0].local, { address: '198.51.100.1', port: 4500 });
      assert.equal(ga.engine.stats().keepalives, 1);

      // Hard packet lifetime: the SA is deleted and onExpire reports it.
      const expired: [SaRef, string, string][] = [];
      gb.setEventHandler({ onExpire: (sa, kind, reason) => expired.push([sa, kind, reason]) });
      const key = randomBytes(20);
      const spi = await gb.allocateSpi('198.51.100.1', '198.51.100.2', 'esp');
      const inB = { ...saParams({ direction: 'in', src: '198.51.100.1', dst: '198.51.100.2', spi, key, reqid: 5, localNet: '192.0.2.128/25', remoteNet: '192.0.2.0/25' }),
        lifetime: { softBytes: 0n, hardBytes: 0n, softPackets: 2n, hardPackets: 3n } };
      await gb.updateSa(inB); // the allocated SPI becomes an SA (XFRM UPDSA)
      const outA = saParams({ direction: 'out', src: '198.51.100.1', dst: '198.51.100.2', spi, key, reqid: 5, localNet: '192.0.2.0/25', remoteNet: '192.0.2.128/25' });
      await ga.addSa(outA);
      await ga.addPolicy({ direction: 'out', src: outA.localTs[0], dst: outA.remoteTs[0], tmplSrc: outA.src, tmplDst: outA.dst, reqid: 5, mode: 'tunnel', priority: 10 });
      // What the data plane holds (status espDrops.installed, which the fault matrix compares with list-sas).
      const installed = async (g: UserspaceIpsec) => { const st = await g.stats(); return st.available ? st.installed : undefined; };
      assert.deepEqual(await installed(ga), { sas: 1, policies: 1 });
      assert.deepEqual(await installed(gb), { sas: 1, policies: 0 });
      await a.exec('ip', ['addr', 'add', '192.0.2.1/32', 'dev', ga.tunName]);
      await a.addRoute('192.0.2.128/25', { dev: ga.tunName, src: '192.0.2.1' });
      await a.exec('ping', ['-c', '4', '-i', '0.2', '-W', '1', '192.0.2.129'], { allowFail: true }); // no reply route: one way
      await eventually(() => expired.length >= 2, { what: 'the soft and hard expiry', timeoutMs: 1000, intervalMs: 20 });
      const ref = { dst: '198.51.100.2', spi, protocol: 'esp' as const };
      assert.deepEqual(expired, [[ref, 'soft', 'packets'], [ref, 'hard', 'packets']]);
      await assert.rejects(gb.querySa(ref), { code: 'SEGW_ESP' });
      assert.deepEqual(await installed(gb), { sas: 0, policies: 0 }, 'the expired SA left the engine');
      const [c] = ga.queryMany([outA]);
      assert.equal(c!.packets, 4n);
    } finally {
      await ga.close();
      await gb.close();
    }
  });
});

test('raw ESP (IP protocol 50) between two engines carries ping both ways', { timeout: 60_000 }, async () => {
  await withLab('espraw', async (lab) => {
    const { a, b } = await segwTunnel(lab, {}, { raw: true });
    try {
      assert.ok(await a.host.ping(b.inner, { count: 3, timeoutS: 2 }));
      assert.ok(await b.host.ping(a.inner, { count: 2, timeoutS: 2, size: 1200 }));
      const [out] = a.ipsec.queryMany([a.out]);
      const [inn] = b.ipsec.queryMany([b.in]);
      assert.equal(out!.packets, inn!.packets);
      assert.ok(out!.packets >= 5n);
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});

test("updatePolicy hands a policy to another reqid (a newer IKE SA's child takes it over): traffic moves to that reqid's SA at once, the old SA can go", { timeout: 60_000 }, async () => {
  await withLab('esppol', async (lab) => {
    const { a, b } = await segwTunnel(lab);
    try {
      assert.ok(await a.host.ping(b.inner, { count: 2, timeoutS: 2 }));
      const key = randomBytes(20);
      const nets = { localNet: '192.0.2.0/25', remoteNet: '192.0.2.128/25' };
      const out2 = saParams({ direction: 'out', src: a.outer, dst: b.outer, spi: 0xa0000002, key, reqid: 2, ...nets });
      await b.ipsec.addSa(saParams({ direction: 'in', src: a.outer, dst: b.outer, spi: 0xa0000002, key, reqid: 2, localNet: nets.remoteNet, remoteNet: nets.localNet }));
      await a.ipsec.addSa(out2);
      // Another reqid's outbound SA alone does not take the traffic: the policy names reqid 1.
      assert.ok(await a.host.ping(b.inner, { count: 1, timeoutS: 2 }));
      assert.equal(a.ipsec.queryMany([out2])[0]!.packets, 0n);
      const before = a.ipsec.queryMany([a.out])[0]!.packets;
      await a.ipsec.updatePolicy(outPolicy(nets.localNet, nets.remoteNet, a.outer, b.outer, 2));
      await a.ipsec.deleteSa(a.out);
      assert.ok(await a.host.ping(b.inner, { count: 3, timeoutS: 2 }));
      assert.ok(a.ipsec.queryMany([out2])[0]!.packets >= 3n, 'the traffic went out on the new reqid');
      const st = await a.ipsec.stats();
      assert.deepEqual(st.available ? st.installed : undefined, { sas: 2, policies: 1 }, 'one policy, replaced');
      assert.ok(before >= 3n);
      await assert.rejects(a.ipsec.updatePolicy(outPolicy('192.0.2.64/26', nets.remoteNet, a.outer, b.outer, 2)), { code: 'SEGW_ESP' });
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});

test('updateSaEncap moves an SA to new UDP ports in place: keys, sequence numbers and replay window kept', { timeout: 60_000 }, async () => {
  await withLab('espmove', async (lab) => {
    const { a, b } = await segwTunnel(lab);
    try {
      assert.ok(await a.host.ping(b.inner, { count: 2, timeoutS: 2 }));
      // As after a NAT rebinding: a's outbound SA now goes to port 4600 at b, where a plain UDP
      // socket listens instead of b's engine.
      const listen = "const s=require('dgram').createSocket('udp4');s.bind(4600,'198.51.100.2',()=>console.log('ready'));" +
        "s.on('message',(m)=>{console.log('spi '+m.readUInt32BE(0).toString(16)+' seq '+m.readUInt32BE(4));process.exit(0)})";
      const l = b.host.spawn(process.execPath, ['-e', listen], { name: 'udp4600' });
      try {
        await l.waitFor(/ready/);
        await a.ipsec.updateSaEncap(a.out, { sport: 4500, dport: 4600 });
        await a.host.ping(b.inner, { count: 1, timeoutS: 1 }); // no answer: it went to 4600
        const m = await l.waitFor(/spi ([0-9a-f]+) seq (\d+)/);
        assert.equal(parseInt(m[1]!, 16), a.out.spi >>> 0, 'ESP of the same SA');
        assert.ok(Number(m[2]) >= 3, 'its sequence numbers go on');
      } finally {
        await l.stop();
      }
      // And back: b's inbound SA accepts the next sequence numbers (same keys, replay window moved on).
      await a.ipsec.updateSaEncap(a.out, { sport: 4500, dport: 4500 });
      assert.ok(await a.host.ping(b.inner, { count: 2, timeoutS: 2 }));
      const [out] = a.ipsec.queryMany([a.out]);
      const [inn] = b.ipsec.queryMany([b.in]);
      assert.ok(out!.packets >= 5n);
      assert.equal(inn!.packets, out!.packets - 1n, 'every packet but the one sent to 4600 arrived');
      await assert.rejects(a.ipsec.updateSaEncap({ ...a.out, spi: 0x1234 }, { sport: 1, dport: 2 }), { code: 'SEGW_ESP' });
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});

test('ESP from a new source port raises one mapping event per new source, none once the SA has moved there, none for a delayed older packet', { timeout: 60_000 }, async () => {
  await withLab('espmap', async (lab) => {
    const { a, b } = await segwTunnel(lab, {}, { udpPorts: [4500, 4501] });
    try {
      const events: [number, { address: string; port: number }][] = [];
      b.ipsec.setEventHandler({ onExpire: () => {}, onMapping: (ref, remote) => events.push([ref.spi, remote]) });
      assert.ok(await a.host.ping(b.inner, { count: 2, timeoutS: 2 }));
      assert.deepEqual(events, [], 'ESP from the expected endpoint');
      // As if a NAT had given a's 4500 a new public port: a's ESP now leaves from 4501.
      await a.ipsec.updateSaEncap(a.out, { sport: 4501, dport: 4500 });
      assert.ok(await a.host.ping(b.inner, { count: 3, timeoutS: 2 }), 'b accepts it (the ICV decides) and answers');
      // b follows (as the IKE code does on this event): no more events from that source.
      await b.ipsec.updateSaEncap(b.in, { sport: 4501, dport: 4500 });
      assert.ok(await a.host.ping(b.inner, { count: 2, timeoutS: 2 }));
      // A marker event: one packet from a's other port. The engine raises events in order, so the
      // events before it are all there are for the five packets from 4501.
      const marker = [b.in.spi, { address: '198.51.100.1', port: 4500 }];
      const markerEvent = async () => {
        await a.ipsec.updateSaEncap(a.out, { sport: 4500, dport: 4500 });
        await a.host.ping(b.inner, { count: 1, timeoutS: 1 }); // b answers to 4501: no reply needed
        await eventually(() => events.some((e) => isDeepStrictEqual(e, marker)), { what: 'the marker mapping event', timeoutMs: 2000, intervalMs: 20 });
        events.splice(events.findIndex((e) => isDeepStrictEqual(e, marker)), 1);
        await a.ipsec.updateSaEncap(a.out, { sport: 4501, dport: 4500 });
      };
      await markerEvent();
      assert.deepEqual(events, [[b.in.spi, { address: '198.51.100.1', port: 4501 }]], 'one event for three packets, none once b followed');
      // A packet delayed in the network from another mapping: authentic and never seen by b, but
      // older than what b has had since. It is delivered and must not move the peer.
      const catchOne = "const s=require('dgram').createSocket('udp4');s.bind(4600,'198.51.100.2',()=>console.log('ready'));" +
        "s.on('message',(m)=>{console.log('esp '+m.toString('hex'));process.exit(0)})";
      const l = b.host.spawn(process.execPath, ['-e', catchOne], { name: 'catch4600' });
      let held = '';
      try {
        await l.waitFor(/ready/);
        await a.ipsec.updateSaEncap(a.out, { sport: 4501, dport: 4600 });
        await a.host.ping(b.inner, { count: 1, timeoutS: 1 }); // caught at 4600, not delivered
        held = (await l.waitFor(/esp ([0-9a-f]+)/))[1]!;
      } finally {
        await l.stop();
      }
      await a.ipsec.updateSaEncap(a.out, { sport: 4501, dport: 4500 });
      assert.ok(await a.host.ping(b.inner, { count: 2, timeoutS: 2 }), 'newer packets from 4501');
      const [before] = b.ipsec.queryMany([b.in]);
      const inject = `const s=require('dgram').createSocket('udp4');s.bind(4502,'198.51.100.1',()=>s.send(Buffer.from('${held}','hex'),4500,'198.51.100.2',()=>s.close()))`;
      await a.host.exec(process.execPath, ['-e', inject]);
      await eventually(() => b.ipsec.queryMany([b.in])[0]!.packets > before!.packets, { what: 'the delayed packet at b', timeoutMs: 1000, intervalMs: 20 });
      const [after] = b.ipsec.queryMany([b.in]);
      assert.equal(after!.packets, before!.packets + 1n, 'the delayed packet was authentic and new to b');
      // The same source as the first marker again: a path update makes it new to b.
      await b.ipsec.updateSaEncap(b.in, { sport: 4501, dport: 4500 });
      await markerEvent();
      assert.deepEqual(events, [[b.in.spi, { address: '198.51.100.1', port: 4501 }]], 'no event for a packet older than the newest');
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});

test('close() joins every engine thread and closes the TUN device and sockets', { timeout: 60_000 }, async () => {
  await withLab('espclose', async (lab) => {
    const a = await lab.host('a');
    await a.addAddress('lo', '198.51.100.7/32');
    const threads = () => readdirSync('/proc/self/task').length;
    const before = threads();
    const g = UserspaceIpsec.open({ netns: a.ns, tunName: 'segwt0', workers: 2, queues: 2, udp: [{ address: '198.51.100.7', port: 4500 }], raw: ['198.51.100.7'] });
    assert.ok(threads() >= before + 2 + 2 * 3, 'housekeeper, 2 workers, reader+writer per lane');
    assert.equal((await a.exec('ip', ['link', 'show', 'segwt0'], { allowFail: true })).code, 0);
    await g.close();
    assert.equal(threads(), before, 'all engine threads joined');
    assert.notEqual((await a.exec('ip', ['link', 'show', 'segwt0'], { allowFail: true })).code, 0, 'TUN device gone');
    const ss = await a.exec('ss', ['-uan'], { allowFail: true });
    assert.ok(!ss.stdout.includes('198.51.100.7:4500'), 'UDP 4500 socket closed');
  });
});
