/**
 * TrafficProbes on loopback: probes sent only while a base station is up, echoes counted per
 * base station, anything that is not the echo of a waiting probe ignored, unanswered probes lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { logger } from '../../src/log/index.js';
import { probeCodec, TrafficProbes } from '../../src/initiator/traffic-probe.js';
import { eventually } from '../support/eventually.js';

const log = logger('test', { level: 'silent' });

/** A UDP echo (RFC 862) on 127.0.0.1; `answer(msg)` decides what goes back (default: the datagram). */
async function echo(answer: (m: Buffer) => Buffer[] = (m) => [m]): Promise<{ s: Socket; port: number }> {
  const s = createSocket('udp4');
  s.on('message', (m, r) => {
    for (const out of answer(m)) s.send(out, r.port, r.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { s, port: (s.address() as AddressInfo).port };
}

test('probes go only from base stations that are up; each echo counts once for its base station', async () => {
  // Every probe is echoed twice (a duplicate must not count) and preceded by junk.
  const e = await echo((m) => [Buffer.from('not a probe'), m, m]);
  const up = new Set([3]);
  const tunnels: Record<number, object> = { 3: { sa: 'a' }, 7: { sa: 'b' } };
  const probes = new TrafficProbes({
    members: [{ index: 3, address: '127.0.0.1' }, { index: 7, address: '127.0.0.1' }],
    target: { address: '127.0.0.1', port: e.port },
    intervalMs: 50,
    log,
  });
  try {
    await probes.open();
    probes.start((i) => (up.has(i) ? tunnels[i] : undefined));
    await eventually(() => probes.counts()[0]!.received >= 3, 'three echoes for base station 3');
    const [a, b] = probes.counts();
    assert.equal(b!.sent, 0, 'base station 7 is down: nothing sent');
    assert.equal(b!.passing, false);
    assert.ok(a!.received <= a!.sent, `${a!.received} received of ${a!.sent} sent: duplicates not counted`);
    assert.equal(a!.passing, true);
    up.add(7);
    await eventually(() => probes.counts()[1]!.received >= 2, 'base station 7 passes once up');
    // Base station 3 moves to another tunnel (a fail-over): counted from zero on it.
    const before = probes.counts()[0]!;
    assert.deepEqual([before.tunnels, before.tunnelsPassed], [1, 1]);
    tunnels[3] = { sa: 'c' };
    await eventually(() => probes.counts()[0]!.tunnelsPassed === 2, 'traffic passes on the second tunnel');
    assert.equal(probes.counts()[0]!.tunnels, 2);
    assert.ok(probes.counts()[0]!.receivedOnTunnel < probes.counts()[0]!.received);
  } finally {
    await probes.stop();
    e.s.close();
  }
  const [a, b] = probes.counts();
  assert.equal(a!.sent, a!.received + a!.lost, 'after stop every probe is answered or lost');
  assert.equal(b!.sent, b!.received + b!.lost);
  assert.deepEqual(probes.summary(), { baseStations: 2, passing: probes.counts().filter((c) => c.passing).length, sent: a!.sent + b!.sent, received: a!.received + b!.received, lost: a!.lost + b!.lost });
});

test('a service that does not echo, or echoes another base station\'s probe, makes every probe lost', async () => {
  // Answers with the probe of base station 99 (same token, other index): not ours.
  const e = await echo((m) => {
    const p = probeCodec.decode(m)!;
    return [probeCodec.encode({ ...p, index: 99 })];
  });
  const probes = new TrafficProbes({ members: [{ index: 1, address: '127.0.0.1' }], target: { address: '127.0.0.1', port: e.port }, intervalMs: 40, log });
  try {
    await probes.open();
    probes.start(() => 'tunnel');
    await eventually(() => probes.counts()[0]!.lost >= 3, 'three probes lost');
  } finally {
    await probes.stop();
    e.s.close();
  }
  const [c] = probes.counts();
  assert.equal(c!.received, 0);
  assert.equal(c!.passing, false);
  assert.equal(c!.lost, c!.sent);
  assert.deepEqual([c!.tunnels, c!.tunnelsPassed], [1, 0]);
});

test('the probe codec reads back what it wrote and refuses anything else', () => {
  const p = { token: 0xdeadbeef, index: 100_000, seq: 7 };
  assert.deepEqual(probeCodec.decode(probeCodec.encode(p)), p);
  assert.equal(probeCodec.decode(Buffer.alloc(16)), undefined, 'no magic');
  assert.equal(probeCodec.decode(probeCodec.encode(p).subarray(0, 15)), undefined, 'short');
});
