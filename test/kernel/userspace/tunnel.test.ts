// segw <-> segw through two namespaces with static keys: ping and iperf3 TCP both directions,
// counters that match on both ends, and SAs replaced and removed while traffic flows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { withLab } from '../../../src/lab/lab.js';
import { Capture } from '../../../src/lab/peers/tshark.js';
import { flowedThroughout, iperf3, parseIperf, type IperfResult } from '../../../src/lab/peers/iperf.js';
import { eventually } from '../../support/eventually.js';
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

async function iperf(client: Side, server: Side, seconds: number, reverse = false): Promise<IperfResult> {
  return iperf3(client.host, server.host, { serverAddr: server.inner, clientAddr: client.inner, seconds, reverse });
}

/** TCP passed both ways in every second of the runs (speed is bench/esp's business). */
function assertFlowed(up: IperfResult, down: IperfResult): void {
  assert.ok(flowedThroughout(up), `a -> b bytes per second: ${up.intervalBytes}`);
  assert.ok(flowedThroughout(down), `b -> a bytes per second: ${down.intervalBytes}`);
}

/** Waits until the SA `ref` of `s` has carried packets (traffic moved onto it). */
async function carries(s: Side, ref: Side['out'], what: string): Promise<void> {
  await eventually(() => (s.ipsec.queryMany([ref])[0]?.packets ?? 0n) > 0n, { what, timeoutMs: 10_000, intervalMs: 20 });
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
      assertFlowed(up, down);
      const { ca, cb } = await eventually(async () => {
        const ca = await counters(a), cb = await counters(b);
        assert.equal(ca.out.packets, cb.in.packets, 'a sent what b received');
        assert.equal(cb.out.packets, ca.in.packets, 'b sent what a received');
        assert.equal(ca.out.bytes, cb.in.bytes);
        return { ca, cb };
      }, { what: 'what each side sent received by the other', timeoutMs: 5000 });
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
        // Each rekey while TCP runs over the current pair.
        await carries(a, a.out, `TCP over a's outbound SA before rekey ${round}`);
        // Rekey a -> b: new inbound SA at b first, then the new outbound at a takes over; the
        // old SAs go after in-flight packets have drained.
        const key = randomBytes(20);
        const spi = 0xa0000001 + round * 0x10;
        const newIn = saParams({ direction: 'in', src: a.outer, dst: b.outer, spi, key, reqid: 1, localNet: '192.0.2.128/25', remoteNet: '192.0.2.0/25' });
        const newOut = saParams({ direction: 'out', src: a.outer, dst: b.outer, spi, key, reqid: 1, localNet: '192.0.2.0/25', remoteNet: '192.0.2.128/25' });
        await b.ipsec.addSa(newIn);
        await a.ipsec.addSa(newOut);
        await carries(b, newIn, `the new SA pair in use (rekey ${round})`);
        await a.ipsec.deleteSa(a.out);
        await b.ipsec.deleteSa(b.in);
        a.out = newOut;
        b.in = newIn;
      }
      const r = parseIperf((await client).stdout);
      await srv.exited;
      assert.ok(flowedThroughout(r), `TCP kept flowing across three rekeys: bytes per second ${r.intervalBytes}`);
      // A last packet may still be on its way when iperf3 ends: wait for the counts to meet.
      const cb = await eventually(async () => {
        const ca = await counters(a), cb = await counters(b);
        assert.equal(ca.out.packets, cb.in.packets, 'the newest SA pair carried the same packets');
        return cb;
      }, { what: 'the newest SA pair carried the same packets', timeoutMs: 5000 });
      assert.equal(cb.in.integrityFailures, 0n);
      // Removing the only outbound SA stops traffic; the policy stays, packets are dropped.
      await a.ipsec.deleteSa(a.out);
      assert.equal(await a.host.ping(b.inner, { count: 1, timeoutS: 1 }), false);
      const stats = a.ipsec.engine.stats();
      assert.ok(stats.out['no-policy'] >= 1, 'counted as no SA for the policy');
      // Removed SAs are freed once no batch can still see them, also while the lanes are idle.
      await eventually(() => Math.max(a.ipsec.engine.stats().retired, b.ipsec.engine.stats().retired) === 0, {
        what: 'nothing left waiting for a grace period',
        timeoutMs: 1000,
        intervalMs: 20,
      });
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
      assertFlowed(up, down);
      // The last packets may still be in a worker's queue when iperf3 ends: wait until the
      // accounting closes (every packet sent is received or counted as a replay drop).
      const { ca, cb } = await eventually(async () => {
        const ca = await counters(a), cb = await counters(b);
        await assertDelivered(a, b, ca.out.packets, cb.in.packets, cb.in.replayDrops);
        await assertDelivered(b, a, cb.out.packets, ca.in.packets, ca.in.replayDrops);
        return { ca, cb };
      }, { what: 'every packet sent received or counted as a replay drop', timeoutMs: 5000 });
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
      // Until the addresses' duplicate address detection is done, the first pings may get lost.
      await eventually(() => a.host.ping(b.inner, { count: 1, timeoutS: 1 }), { what: 'ping6 through the tunnel', timeoutMs: 15_000 });
      const up = await iperf(a, b, 3);
      const down = await iperf(a, b, 3, true);
      assertFlowed(up, down);
      await eventually(async () => {
        const ca = await counters(a), cb = await counters(b);
        assert.equal(ca.out.packets, cb.in.packets);
        assert.equal(cb.out.packets, ca.in.packets);
        return true;
      }, { what: 'what each side sent received by the other', timeoutMs: 5000 });
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});
