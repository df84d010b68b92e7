/**
 * The demo's live lines are read from real tool output: `ping -O` answers and losses, the
 * simulator's progress line; and the line shows each gateway's role, tunnels, redirects and the
 * core's routes per gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSnapshot, pingCounts, simProgress, type Snapshot } from '../../src/lab/demo-monitor.js';

test('pingCounts: replies, "no answer yet" and send errors', () => {
  const out = [
    'PING 192.0.2.130 (192.0.2.130) from 192.0.2.1 : 56(84) bytes of data.',
    '64 bytes from 192.0.2.130: icmp_seq=1 ttl=63 time=0.9 ms',
    'no answer yet for icmp_seq=2',
    'ping: sendmsg: Network is unreachable',
    '64 bytes from 192.0.2.130: icmp_seq=4 ttl=63 time=1.1 ms',
  ].join('\n');
  assert.deepEqual(pingCounts(out), { answered: 2, lost: 2 });
  assert.deepEqual(pingCounts(''), { answered: 0, lost: 0 });
});

test('simProgress: the last progress line wins', () => {
  const out = 'simulator: 20 base stations\n1.0s up 5/20 (25.0%) connecting 15 retrying 0 waiting 0 | 5.0/s | 203.0.113.1 5 | ETA 3s\n2.0s up 20/20 (100.0%) connecting 0 retrying 0 waiting 0 | 15.0/s | 203.0.113.1 7 | ETA 0s\n';
  assert.deepEqual(simProgress(out), { up: 20, count: 20 });
  assert.equal(simProgress('simulator: starting'), undefined);
});

test('formatSnapshot: roles, tunnels, redirects, draining, down gateways, core routes, bs1 and pings', () => {
  const g = (name: string, over: Partial<Snapshot['gateways'][number]> = {}) => ({ name, up: true, role: 'B', tunnels: 0, redirected: 0, draining: false, bytesPerSec: 0, ...over });
  const s: Snapshot = {
    atMs: 12_300,
    gateways: [g('gw1', { up: false, role: 'x' }), g('gw2', { role: 'M', tunnels: 12, redirected: 30, bytesPerSec: 1200 }), g('gw3', { tunnels: 9, draining: true }), g('gw4', { role: 'M' }), g('gw5')],
    coreRoutes: { gw3: 9, gw2: 12 },
    coreTotal: 21,
    bs1: { on: 'gw2', packetsOut: 40, packetsIn: 39 },
    ping: { answered: 39, lost: 2 },
    sim: { up: 20, count: 20 },
  };
  assert.equal(formatSnapshot(s, 0),
    '[ 12.3s] gw1 x | gw2 M 12t 30r 9.6kbit/s | gw3 B 9t D || gw4 M 0t | gw5 B 0t || core 21 routes: gw2 12 gw3 9 || bs1 on gw2 esp out 40 in 39 || ping ok 39 lost 2 || sim up 20/20');
});
