// segw <-> segw through two namespaces with static keys: ping and iperf3 TCP both directions,
// counters that match on both ends, and SAs replaced and removed while traffic flows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { withLab } from '../../../src/lab/lab.js';
import { Capture } from '../../../src/lab/peers/tshark.js';
import { iperf3 } from '../../../src/lab/peers/iperf.js';
import { segwTunnel, saParams, type Side } from '../../support/esp-tunnel.js';

async function counters(s: Side) {
  const [out, inn] = s.ipsec.queryMany([s.out, s.in]);
  return { out: out!, in: inn! };
}

/** UDP datagrams the kernel dropped in a namespace for lack of socket buffer (RcvbufErrors). */
async function udpDrops(s: Side): Promise<number> {
  const snmp = (await s.host.exec('cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = snmp.map((l) => l.split(/\s+/));
  return Number(values[names.indexOf('RcvbufErrors')]);
}

/**
 * What one side sent is what the other received plus what its replay window dropped (counted),
 * unless its UDP socket overflowed (counted by the kernel).
 */
async function assertDelivered(from: Side, to: Side, sent: bigint, received: bigint, replayDrops: bigint): Promise<void> {
  if ((await udpDrops(to)) === 0) assert.equal(received + replayDrops, sent, `${from.inner} sent what ${to.inner} received or dropped as replays`);
  else assert.ok(received < sent && received > 0n, 'socket overflow at the receiver explains the difference');
}

async function iperf(client: Side, server: Side, seconds: number, reverse = false): Promise<number> {
  return (await iperf3(client.host, server.host, { serverAddr: server.inner, clientAddr: client.inner, seconds, reverse })).bitsPerSecond;
}

test('ping and iperf3 TCP both ways through a segw<->segw tunnel; counters match on both ends', { timeout: 180_000 }, async () => {
  await withLab('esp', async (lab) => {
    const { a, b } = await segwTunnel(lab);
    try {
      const cap = await Capture.start(b.host, 'eth0');
      assert.ok(await a.host.ping(b.inner, { count: 3, timeoutS: 2 }), 'ping a -> b through the tunnel');
      assert.ok(await b.host.ping(a.inner, { count: 3, timeoutS: 2, size: 1300 }), 'ping b -> a, 1300 bytes');
      // tshark decodes segw's ESP-in-UDP (RFC 3948) with the SPIs we installed, nothing malformed.
      const frames = await cap.stop();
      const spis = new Set(frames.filter((f) => f.dport === 4500 && f.espSpi !== undefined).map((f) => f.espSpi));
      assert.deepEqual([...spis].sort(), [a.out.spi, b.out.spi].sort());
      const esp = frames.filter((f) => f.espSpi !== undefined).length;
      assert.ok(esp >= 4 && esp <= 12, `ESP for the echo requests and replies: ${esp}`);
      assert.deepEqual(frames.filter((f) => f.malformed || f.expert.includes('error')), []);
      const up = await iperf(a, b, 3);
      const down = await iperf(a, b, 3, true);
      assert.ok(up > 50e6 && down > 50e6, `TCP both ways: ${(up / 1e6).toFixed(0)} / ${(down / 1e6).toFixed(0)} Mbit/s`);
      const ca = await counters(a), cb = await counters(b);
      assert.equal(ca.out.packets, cb.in.packets, 'a sent what b received');
      assert.equal(cb.out.packets, ca.in.packets, 'b sent what a received');
      assert.equal(ca.out.bytes, cb.in.bytes);
      for (const c of [ca.in, cb.in]) {
        assert.equal(c.replayDrops, 0n);
        assert.equal(c.integrityFailures, 0n);
      }
      assert.ok(ca.out.packets > 1000n, `${ca.out.packets} packets`);
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});

test('SAs replaced (make-before-break) and removed while iperf3 runs', { timeout: 180_000 }, async () => {
  await withLab('esprk', async (lab) => {
    const { a, b } = await segwTunnel(lab);
    try {
      const srv = b.host.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', b.inner], { name: 'iperf3-s' });
      await srv.waitFor(/Server listening/);
      const client = a.host.exec('iperf3', ['-c', b.inner, '-B', a.inner, '-t', '6', '-J'], { timeoutMs: 40_000 });
      for (let round = 1; round <= 3; round++) {
        await new Promise((r) => setTimeout(r, 1000));
        // Rekey a -> b: new inbound SA at b first, then the new outbound at a takes over; the
        // old SAs go after in-flight packets have drained.
        const key = randomBytes(20);
        const spi = 0xa0000001 + round * 0x10;
        const newIn = saParams({ direction: 'in', src: a.outer, dst: b.outer, spi, key, reqid: 1, localNet: '192.0.2.128/25', remoteNet: '192.0.2.0/25' });
        const newOut = saParams({ direction: 'out', src: a.outer, dst: b.outer, spi, key, reqid: 1, localNet: '192.0.2.0/25', remoteNet: '192.0.2.128/25' });
        await b.ipsec.addSa(newIn);
        await a.ipsec.addSa(newOut);
        await new Promise((r) => setTimeout(r, 200));
        await a.ipsec.deleteSa(a.out);
        await b.ipsec.deleteSa(b.in);
        a.out = newOut;
        b.in = newIn;
      }
      const r = await client;
      await srv.exited;
      const j = JSON.parse(r.stdout);
      assert.ok(j.end.sum_received.bits_per_second > 50e6, 'TCP kept flowing across three rekeys');
      const ca = await counters(a), cb = await counters(b);
      assert.equal(ca.out.packets, cb.in.packets, 'the newest SA pair carried the same packets');
      assert.equal(cb.in.integrityFailures, 0n);
      // Removing the only outbound SA stops traffic; the policy stays, packets are dropped.
      await a.ipsec.deleteSa(a.out);
      assert.equal(await a.host.ping(b.inner, { count: 1, timeoutS: 1 }), false);
      const stats = a.ipsec.engine.stats();
      assert.ok(stats.out['no-policy'] >= 1, 'counted as no SA for the policy');
      // Removed SAs are freed once no batch can still see them, also while the lanes are idle.
      let retired = -1;
      for (let i = 0; i < 50 && retired !== 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        retired = Math.max(a.ipsec.engine.stats().retired, b.ipsec.engine.stats().retired);
      }
      assert.equal(retired, 0, 'nothing left waiting for a grace period');
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});

test('parallel pipeline: 2 crypto workers, ordered writers, 2 TUN queues; TCP in order both ways', { timeout: 120_000 }, async () => {
  await withLab('espmq', async (lab) => {
    const { a, b } = await segwTunnel(lab, { workers: 2, queues: 2 });
    try {
      assert.ok(await a.host.ping(b.inner, { count: 2, timeoutS: 2 }));
      const up = await iperf(a, b, 3);
      const down = await iperf(a, b, 3, true);
      assert.ok(up > 50e6 && down > 50e6, `${(up / 1e6).toFixed(0)} / ${(down / 1e6).toFixed(0)} Mbit/s`);
      const ca = await counters(a), cb = await counters(b);
      await assertDelivered(a, b, ca.out.packets, cb.in.packets, cb.in.replayDrops);
      await assertDelivered(b, a, cb.out.packets, ca.in.packets, ca.in.replayDrops);
      // Ordered writers keep each lane's packets in order. Two TUN queues share one SA's counter,
      // so a lane starved of CPU for milliseconds can fall behind the other by more than the
      // window (1024): allow a trace of such drops, never a systematic reordering.
      const drops = cb.in.replayDrops + ca.in.replayDrops;
      assert.ok(drops * 1000n <= cb.in.packets + ca.in.packets, `${drops} replay drops`);
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});

test('IPv6 inside and outside: ping6 and iperf3 TCP both ways (TSO/GRO for TCPv6, UDP GSO over IPv6)', { timeout: 120_000 }, async () => {
  await withLab('esp6', async (lab) => {
    const { a, b } = await segwTunnel(lab, {}, { family: 6 });
    try {
      let ok = false;
      for (let i = 0; i < 10 && !ok; i++) ok = await a.host.ping(b.inner, { count: 1, timeoutS: 1 });
      assert.ok(ok, 'ping6 through the tunnel');
      const up = await iperf(a, b, 3);
      const down = await iperf(a, b, 3, true);
      assert.ok(up > 50e6 && down > 50e6, `${(up / 1e6).toFixed(0)} / ${(down / 1e6).toFixed(0)} Mbit/s`);
      const ca = await counters(a), cb = await counters(b);
      assert.equal(ca.out.packets, cb.in.packets);
      assert.equal(cb.out.packets, ca.in.packets);
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});
