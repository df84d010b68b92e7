/**
 * Two gateways (stub kernel) with a `cluster:` section on loopback: each starts its load reports
 * with the gateway; a base station's tunnel to gw1 shows on gw2's `members` (control socket and
 * `segw ctl`) with gw1's VRRP role; gw1 stopped goes stale on gw2. A gateway without a cluster
 * answers `members` with NOT_FOUND.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { ControlClient } from '../../src/control/client.js';
import { ControlError, ControlErrorCode } from '../../src/control/protocol.js';
import type { MembersView } from '../../src/cluster/view.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { bsConfig, PSK } from '../exchange/harness.js';
import { eventually } from '../support/eventually.js';
import { runSegw } from '../support/segw-cli.js';

const base = 22_000 + Math.floor(Math.random() * 18_000);
const REPORT_PORT = base + 10;
let dir: string;
const gws: (Gateway | undefined)[] = [];
let bs: IkeDaemon | undefined;

function config(i: number, cluster: boolean) {
  const name = `gw${i + 1}`;
  const me = `127.0.0.${31 + i}`;
  const other = `127.0.0.${31 + (1 - i)}`;
  return parseGatewayConfig(
    {
      node: { name },
      ike: { listen: [me], port: base + 2 * i, nattPort: base + 2 * i + 1 },
      kernel: { ipsec: 'stub' },
      control: { socket: join(dir, `${name}.sock`) },
      connections: {
        bs: {
          local: { id: 'gw.example.net', auth: 'psk' },
          remote: { id: '%any', auth: 'psk' },
          psk: PSK,
          ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
          children: { lte: { localTs: ['203.0.113.0/24'], remoteTs: ['198.51.100.0/24'], espProposals: ['aes128gcm16-esn'] } },
        },
      },
      ...(cluster && {
        cluster: {
          address: `198.51.100.${11 + i}`,
          vips: ['203.0.113.10/24'],
          keyFile: 'cluster.key',
          capacity: { maxTunnels: 100, bandwidth: '1G' },
          reports: { listen: me, port: REPORT_PORT, interval: '100ms', staleAfter: 5, peers: [other] },
          vrrp: { interface: 'lo', vrid: 9 },
        },
      }),
    },
    join(dir, `${name}.yaml`),
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-gw-members-'));
  writeFileSync(join(dir, 'cluster.key'), `${'c3'.repeat(32)}\n`, { mode: 0o600 });
  gws[0] = await Gateway.start(config(0, true), { role: { role: () => 'master' } });
  gws[1] = await Gateway.start(config(1, true), { role: { role: () => 'backup' } });
});

after(async () => {
  await bs?.stop();
  for (const g of gws) await g?.stop({ notifyPeers: false });
  rmSync(dir, { recursive: true, force: true });
});

async function members(node: string): Promise<MembersView> {
  const c = await ControlClient.connect(join(dir, `${node}.sock`));
  try {
    return await c.call<MembersView>('members');
  } finally {
    c.close();
  }
}

const segwCtl = (args: string[]) => runSegw(['ctl', ...args]);

test('members on a running gateway: the other member with its tunnels and role; stale once it stops', async () => {
  bs = new IkeDaemon({
    connections: [bsConfig(false, { remote: { addrs: ['127.0.0.31'], id: 'gw.example.net', auth: { method: 'psk', secret: PSK } }, remotePort: base })],
    kernel: new StubKernelIpsec({ firstSpi: 0xc2000001 }),
    listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }],
  });
  await bs.start();
  const sa = await bs.initiate('bs');
  await eventually(() => sa.established && sa.children.length === 1, 'tunnel to gw1 up');

  const gw1Row = async () => (await members('gw2')).members.find((m) => m.id === 'gw1');
  const row = await eventually(async () => {
    const r = await gw1Row();
    return r && r.load.tunnels === 1 && r.load.childSas === 1 ? r : undefined;
  }, "gw1's tunnel in gw2's table");
  assert.equal(row.role, 'master');
  assert.equal(row.address, '198.51.100.11');
  assert.equal(row.from, '127.0.0.31');
  assert.deepEqual(row.capacity, { maxTunnels: 100, bandwidthBps: 1e9 });
  assert.equal(row.stale, false);
  assert.equal(row.utilization > 0, true);

  const own = await members('gw1');
  assert.deepEqual(own.members.map((m) => [m.id, m.self, m.role]), [
    ['gw1', true, 'master'],
    ['gw2', false, 'backup'],
  ]);
  assert.equal(own.members[0]!.load.tunnels, 1);

  // The same through `segw ctl`, which also lists the method.
  const [ctl, list] = await Promise.all([segwCtl(['--socket', join(dir, 'gw2.sock'), '--compact', 'members']), segwCtl(['--socket', join(dir, 'gw2.sock'), 'methods'])]);
  assert.equal(ctl.code, 0, ctl.stderr);
  const v = JSON.parse(ctl.stdout) as MembersView;
  assert.deepEqual(v.members.map((m) => m.id), ['gw1', 'gw2']);
  assert.equal(list.code, 0, list.stderr);
  assert.ok((JSON.parse(list.stdout) as { methods: { name: string }[] }).methods.some((m) => m.name === 'members'));

  // gw1 stops with the gateway: stale on gw2.
  await bs.stop();
  bs = undefined;
  await gws[0]!.stop({ notifyPeers: false });
  gws[0] = undefined;
  await eventually(async () => (await gw1Row())?.stale === true, 'gw1 stale on gw2');
  const after = (await members('gw2')).members.find((m) => m.id === 'gw1')!;
  assert.equal(after.state, 'stale');
  assert.equal(after.eligible, false);
});

test('a gateway without a cluster: section answers members with NOT_FOUND', async () => {
  const solo = await Gateway.start({ ...config(0, false), control: { enabled: true, socket: join(dir, 'solo.sock') }, ike: { ...config(0, false).ike, port: base + 6, nattPort: base + 7 } });
  try {
    assert.equal(solo.cluster, undefined);
    const c = await ControlClient.connect(join(dir, 'solo.sock'));
    try {
      await assert.rejects(c.call('members'), (err: unknown) => err instanceof ControlError && err.controlCode === ControlErrorCode.NOT_FOUND && /not a cluster member/.test(err.message));
    } finally {
      c.close();
    }
  } finally {
    await solo.stop({ notifyPeers: false });
  }
});

test('a report port in use stops the gateway start with SEGW_CLUSTER, and leaves nothing bound', async () => {
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind({ address: '127.0.0.33', port: REPORT_PORT + 1 }, () => r()));
  const cfg = config(0, true);
  const blocked = {
    ...cfg,
    node: { name: 'gw-blocked' },
    control: { enabled: true, socket: join(dir, 'blocked.sock') },
    ike: { ...cfg.ike, listen: ['127.0.0.33'], port: base + 8, nattPort: base + 9 },
    cluster: { ...cfg.cluster!, listen: { address: '127.0.0.33', port: REPORT_PORT + 1 } },
  };
  try {
    await assert.rejects(Gateway.start(blocked), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'SEGW_CLUSTER');
      assert.match((err as Error).message, /cannot bind the cluster report socket 127\.0\.0\.33:\d+ .*no other member using the port/);
      return true;
    });
  } finally {
    blocker.close();
  }
  // The failed start released its IKE ports: the same config starts now (a role given: no VRRP on lo).
  const gw = await Gateway.start(blocked, { role: { role: () => 'backup' } });
  await gw.stop({ notifyPeers: false });
});
