/**
 * `segw ctl members` and `segw ctl vrrp` print tables an operator reads at a glance (`--json`
 * keeps the JSON), and `segw ctl --watch S METHOD` redraws the table from the live daemon: each
 * frame shows what the daemon answers at that moment, and a daemon that goes away is reported
 * in the frame rather than ending the view.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { humanTable } from '../../src/cli/ctl-tables.js';
import { ControlServer } from '../../src/control/server.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { logger } from '../../src/log/index.js';
import type { MembersView, MemberView } from '../../src/cluster/view.js';
import type { VrrpStatus } from '../../src/vrrp/instance.js';
import { gwConfig } from '../exchange/harness.js';
import { runSegw } from '../support/segw-cli.js';


function member(id: string, over: Partial<MemberView> = {}): MemberView {
  return {
    id, self: false, address: '203.0.113.2', role: 'backup', state: 'live', stale: false, draining: false, left: false,
    lastReportAgeMs: 120, from: '203.0.113.2', reportIntervalMs: 250, epoch: '1', sequence: '9',
    load: { tunnels: 0, childSas: 0, bytesPerSec: 0, cpu: 0 }, capacity: { maxTunnels: 1000, bandwidthBps: 1e9 },
    utilization: 0, eligible: true, ...over,
  };
}

function membersView(gw2Tunnels: number): MembersView {
  return {
    node: 'gw1',
    ceiling: 0.9,
    members: [
      member('gw3', { address: '203.0.113.3', state: 'stale', stale: true, eligible: false, lastReportAgeMs: 4200, load: { tunnels: 7, childSas: 7, bytesPerSec: 0, cpu: 0 } }),
      member('gw1', { self: true, address: '203.0.113.1', role: 'master', from: null, load: { tunnels: 12, childSas: 13, bytesPerSec: 250_000, cpu: 0.1 }, utilization: 0.012 }),
      member('gw2', { load: { tunnels: gw2Tunnels, childSas: gw2Tunnels, bytesPerSec: 0, cpu: 0 }, utilization: gw2Tunnels / 1000, draining: true, state: 'draining', eligible: false }),
    ],
    reports: { sent: 40, sendErrors: 0, accepted: 70, rejected: { replay: 2 } as MembersView['reports']['rejected'] },
  };
}

function vrrpStatus(state: VrrpStatus['state']): VrrpStatus & { servedOnVips: { address: string; port: number }[] } {
  return {
    interface: 'eth0', vrid: 51, family: 4, state, priority: 150, localAddress: '203.0.113.2', masterAddress: '203.0.113.1',
    masterAdverInterval: 100, masterDownInterval: 341, transitions: 2,
    lastTransition: { from: 'Initialize', to: 'Backup', reason: 'startup', at: 0 },
    advertsIn: 120, advertsOut: 3, announcements: 0, checksumMismatches: 1, addressMismatches: 0,
    drops: { 'unknown-peer': 0, ttl: 4 } as unknown as VrrpStatus['drops'], vipErrors: 0, accept: true, filtering: false,
    servedOnVips: state === 'Master' ? [{ address: '203.0.113.10', port: 500 }] : [],
  };
}

test('members: one row per member sorted by id, with role, state, load, utilization, eligibility and report age', () => {
  const out = humanTable('members', membersView(5))!;
  const lines = out.split('\n');
  assert.equal(lines[0], 'node gw1  ceiling 90%');
  assert.match(lines[2]!, /^member\s+address\s+role\s+state\s+tunnels\s+child SAs\s+traffic\s+util\s+eligible\s+last report$/);
  const rows = lines.slice(3, 6);
  assert.deepEqual(rows.map((r) => r.split(/\s+/)[0]), ['gw1', 'gw2', 'gw3']);
  assert.match(rows[0]!, /^gw1\s+203\.0\.113\.1\s+master\s+live\s+12\s+13\s+2\.0 Mbit\/s\s+1\.2%\s+yes\s+self$/);
  assert.match(rows[1]!, /^gw2\s+203\.0\.113\.2\s+backup\s+draining\s+5\s+5\s+0 bit\/s\s+0\.5%\s+no\s+120ms$/);
  assert.match(rows[2]!, /^gw3\s+203\.0\.113\.3\s+backup\s+stale\s+7\s+7\s+0 bit\/s\s+0\.0%\s+no\s+4200ms$/);
  assert.match(out, /^reports: sent 40, send errors 0, accepted 70, rejected replay 2$/m);
});

test('vrrp: state, priority, master, timers, transitions, counters and the VIPs IKE is served on', () => {
  const out = humanTable('vrrp', vrrpStatus('Master'))!;
  assert.match(out, /^state\s+Master$/m);
  assert.match(out, /^priority\s+150$/m);
  assert.match(out, /^master\s+203\.0\.113\.1$/m);
  assert.match(out, /^interface\s+eth0 \(IPv4, local 203\.0\.113\.2\)$/m);
  assert.match(out, /^master down interval\s+341ms$/m);
  assert.match(out, /^transitions\s+2, last Initialize -> Backup \(startup\)$/m);
  assert.match(out, /^adverts in \/ out\s+120 \/ 3$/m);
  assert.match(out, /^checksum mismatches\s+1$/m);
  assert.match(out, /^drops\s+ttl 4$/m, 'only the reasons that dropped something');
  assert.match(out, /^IKE on the VIPs\s+203\.0\.113\.10:500$/m);
  assert.match(humanTable('vrrp', vrrpStatus('Backup'))!, /^IKE on the VIPs\s+none$/m);
});

// ---- the CLI against a live control socket ----

let dir: string;
let server: ControlServer;
let gw2Tunnels = 0;
let vrrpState: VrrpStatus['state'] = 'Backup';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-ctl-tables-'));
  const daemon = new IkeDaemon({ connections: [gwConfig(false)], kernel: new StubKernelIpsec() });
  // Each answer is the state at the moment it is asked: gw2 gains a tunnel per `members` call.
  const target = {
    daemon,
    status: () => ({ node: 'gw1' }),
    cluster: { members: () => membersView(++gw2Tunnels) },
    vrrp: { status: () => vrrpStatus(vrrpState) },
  };
  server = await ControlServer.listen({ path: join(dir, 'gw1.sock'), target, log: logger('control') });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const segw = (args: string[]) => runSegw(args);

test('segw ctl members / vrrp print tables by default and JSON with --json', async () => {
  const sock = server.path;
  const [members, vrrp, json] = await Promise.all([
    segw(['ctl', '--socket', sock, 'members']),
    segw(['ctl', '--socket', sock, 'vrrp']),
    segw(['ctl', '--socket', sock, '--json', 'vrrp']),
  ]);
  assert.equal(members.code, 0, members.stderr);
  assert.match(members.stdout, /^gw1\s+203\.0\.113\.1\s+master\s+live\s+12\s/m);
  assert.equal(vrrp.code, 0, vrrp.stderr);
  assert.match(vrrp.stdout, /^state\s+Backup$/m);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout).state, 'Backup');
  assert.equal(JSON.parse(json.stdout).masterDownInterval, 341);
});

test('segw ctl --watch redraws the table from the live daemon, --count frames, then exits 0', async () => {
  const before = gw2Tunnels;
  const r = await segw(['ctl', '--socket', server.path, '--watch', '0.2', '--count', '3', 'members']);
  assert.equal(r.code, 0, r.stderr);
  const frames = r.stdout.split(/^segw ctl members {2}every 0\.2s {2}\d\d:\d\d:\d\d UTC {2}/m).slice(1);
  assert.equal(frames.length, 3, r.stdout);
  // gw2's tunnels as the daemon answered each time: three different answers, in order.
  const gw2 = frames.map((f) => Number(/^gw2\s+\S+\s+\S+\s+\S+\s+(\d+)\s/m.exec(f)?.[1]));
  assert.deepEqual(gw2, [before + 1, before + 2, before + 3]);
});

test('segw ctl --watch: a daemon that goes away is shown in the frame; refusals and actions are not watched', async () => {
  const gone = await segw(['ctl', '--socket', join(dir, 'gone.sock'), '--watch', '0.1', '--count', '2', 'vrrp']);
  assert.equal(gone.code, 0, gone.stderr);
  assert.equal(gone.stdout.match(/^daemon unreachable: cannot connect to the control socket .*gone\.sock/gm)?.length, 2, gone.stdout);
  const action = await segw(['ctl', '--socket', server.path, '--watch', '1', 'drain']);
  assert.equal(action.code, 2);
  assert.match(action.stderr, /--watch redraws a method that reads state/);
  const noCount = await segw(['ctl', '--socket', server.path, '--count', '2', 'members']);
  assert.equal(noCount.code, 2);
  assert.match(noCount.stderr, /--count goes with --watch/);
});

test('segw ctl --watch of a method the node refuses ends at once with its error (exit 1)', async () => {
  const plain = await ControlServer.listen({
    path: join(dir, 'bs.sock'),
    target: { daemon: new IkeDaemon({ connections: [gwConfig(false)], kernel: new StubKernelIpsec() }), status: () => ({ node: 'bs' }) },
    log: logger('control'),
  });
  try {
    const r = await segw(['ctl', '--socket', plain.path, '--watch', '0.1', 'members']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /members: NOT_FOUND: this node is not a cluster member/);
  } finally {
    await plain.close();
  }
});
