/**
 * `npm run demo` end to end with 20 simulated base stations (the default run has 200): every
 * phase completes and shows what it claims: the master's redirects spread the base stations,
 * the core router learns a route per tunnel, the master's crash moves the VIP and re-homes its
 * base stations, a drained member empties, the primary site fails over to the backup and back,
 * bs1's pings pass through its tunnel after each phase, and nothing is left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoCluster } from '../../src/lab/demo.js';
import { Lab } from '../../src/lab/lab.js';

const N = 20;

test(`the demo (${N} simulated base stations): every phase, then a clean teardown`, { timeout: 300_000, skip: process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false }, async () => {
  const lines: string[] = [];
  const r = await demoCluster({ simulated: N, print: (l) => lines.push(l) });
  const out = lines.join('\n');
  assert.deepEqual(r.failed, [], out);
  assert.equal(r.code, 0, out);
  assert.deepEqual(r.phases, ['cluster', 'spread', 'master-crash', 'drain', 'site-failover', 'site-failback', 'teardown'], out);
  const want = N + 1;
  // Spread: the master redirected, the core learned one route per tunnel, `segw ctl members` shows the three.
  assert.match(out, /ok: gw1 \(master\) redirected base stations to the other members \([1-9]\d* redirects\)/);
  assert.match(out, new RegExp(`core router: ${want} routes learned by BGP`));
  for (const gw of ['gw1', 'gw2', 'gw3']) assert.match(out, new RegExp(`^\\[demo\\]\\s+${gw}\\s+203\\.0\\.113\\.\\d\\s+(master|backup)\\s+live\\s+[1-9]`, 'm'));
  // Live lines name roles, tunnels and the core's routes per gateway.
  assert.match(out, new RegExp(`gw1 M \\d+t .*\\|\\| core ${want} routes: gw1 \\d+ gw2 \\d+ gw3 \\d+ \\|\\| bs1 on gw\\d esp out \\d+ in \\d+`));
  // The master's crash.
  assert.match(out, /ok: gw2 holds the VIP 203\.0\.113\.10/);
  assert.match(out, new RegExp(`all ${want} base stations re-homed on gw2 and gw3`));
  // The drain: the drained member's table says every base station was redirected.
  assert.match(out, /phase 3: drain gw\d/);
  assert.match(out, /^\[demo\]\s+drained\s+100\s+0\s+0\s+[1-9]\d*\s+0\s+0$/m);
  // Site failover and back.
  assert.match(out, new RegExp(`all ${want} base stations on the backup cluster`));
  assert.match(out, new RegExp(`all ${want} base stations back on the primary`));
  // Traffic after every phase that moved bs1.
  assert.equal(out.match(/ok: ping 192\.0\.2\.1 \(bs1's LAN\) -> 192\.0\.2\.130/g)?.length, 5, out);
  assert.match(out, /torn down: 0 namespaces, 0 interfaces, 0 of \d+ processes, 0 new routes/);
  assert.deepEqual(await Lab.leftovers(r.labId), { namespaces: [], links: [] });
});

test('the demo refuses plainly without root, and a simulated count it cannot address', async () => {
  const uid = process.getuid;
  const lines: string[] = [];
  try {
    process.getuid = () => 1000;
    const r = await demoCluster({ print: (l) => lines.push(l) });
    assert.equal(r.code, 1);
    assert.match(lines.join('\n'), /needs root/);
    // As root, a count beyond the pool is refused before anything is built.
    process.getuid = () => 0;
    const big = await demoCluster({ simulated: 251, print: (l) => lines.push(l) });
    assert.equal(big.code, 2);
    assert.equal(big.labId, '');
    assert.match(lines.join('\n'), /simulated base stations are 1\.\.250/);
  } finally {
    process.getuid = uid;
  }
});
