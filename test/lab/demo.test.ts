/**
 * `npm run demo` end to end in its reduced form (strongSwan, segw's bs2 and one IKE-only segw base
 * station; fewer pings): the cluster elects gw1, serves the base stations at the VIP, pings pass through the
 * tunnels; after kill -9 of gw1, gw2 holds the VIP, every tunnel is back on it and pings pass;
 * nothing is left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoCluster } from '../../src/lab/demo.js';
import { Lab } from '../../src/lab/lab.js';

test('the demo (quick): cluster, tunnels through the VIP, kill -9 of the master, failover, clean teardown', { timeout: 120_000, skip: process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false }, async () => {
  const lines: string[] = [];
  const r = await demoCluster({ quick: true, print: (l) => lines.push(l) });
  const out = lines.join('\n');
  assert.deepEqual(r.failed, [], out);
  assert.equal(r.code, 0, out);
  assert.match(out, /vrrp gw1: Master priority 200 {2}holds VIP 203\.0\.113\.10/);
  assert.match(out, /vrrp gw2: Master priority 150 {2}holds VIP 203\.0\.113\.10/);
  assert.match(out, /all 3 base stations back on gw2 through the VIP/);
  for (const [bs, addr] of [['bs1', '192\\.0\\.2\\.1'], ['bs2', '192\\.0\\.2\\.33']]) {
    assert.match(out, new RegExp(`ping core 192\\.0\\.2\\.129 \\(gw2\\) -> ${bs} ${addr} through the tunnel: [12]/2 replies`));
  }
  assert.deepEqual(await Lab.leftovers(r.labId), { namespaces: [], links: [] });
});

test('the demo refuses plainly without root', async () => {
  const uid = process.getuid;
  process.getuid = () => 1000;
  const lines: string[] = [];
  try {
    const r = await demoCluster({ print: (l) => lines.push(l) });
    assert.equal(r.code, 1);
    assert.match(lines.join('\n'), /needs root/);
  } finally {
    process.getuid = uid;
  }
});
