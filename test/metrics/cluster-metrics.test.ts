/**
 * Cluster metrics from real membership: two gateways (stub kernel, loopback) exchange load
 * reports; gw2's /metrics lists both members live with gw1's tunnels as gw1 reported them, and
 * once gw1 stops (its last report says LEAVING) gw2 shows it stale.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { eventually } from '../support/eventually.js';

const base = 22_000 + Math.floor(Math.random() * 18_000);
let dir: string;
const gws: (Gateway | undefined)[] = [];

function config(i: number) {
  const name = `gw${i + 1}`;
  const me = `127.0.0.${41 + i}`;
  return parseGatewayConfig(
    {
      node: { name },
      ike: { listen: [me], port: base + 2 * i, nattPort: base + 2 * i + 1 },
      kernel: { ipsec: 'stub' },
      control: { enabled: false },
      metrics: { listen: `${me}:0` },
      connections: {
        bs: {
          local: { id: 'gw.example.net', auth: 'psk' },
          remote: { id: '%any', auth: 'psk' },
          psk: 'cluster-metrics-secret-0123',
          ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
          children: { lte: { localTs: ['203.0.113.0/24'], remoteTs: ['198.51.100.0/24'], espProposals: ['aes128gcm16-esn'] } },
        },
      },
      cluster: {
        address: `198.51.100.${21 + i}`,
        vips: ['203.0.113.10/24'],
        keyFile: 'cluster.key',
        capacity: { maxTunnels: 100, bandwidth: '1G' },
        reports: { listen: me, port: base + 10, interval: '100ms', staleAfter: 5, peers: [`127.0.0.${41 + (1 - i)}`] },
        vrrp: { interface: 'lo', vrid: 9 },
      },
    },
    join(dir, `${name}.yaml`),
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-cluster-metrics-'));
  writeFileSync(join(dir, 'cluster.key'), `${'d4'.repeat(32)}\n`, { mode: 0o600 });
  // gw1 reports 7 tunnels, so the number on gw2 can only have come from gw1's report.
  // Roles given: VRRP (which would run on the config's interface) is not what this test is about.
  gws[0] = await Gateway.start(config(0), { role: { role: () => 'master' }, load: { sample: async () => ({ tunnels: 7, childSas: 9, bytesPerSec: 0, cpu: 0 }) } });
  gws[1] = await Gateway.start(config(1), { role: { role: () => 'backup' } });
});

after(async () => {
  for (const g of gws) await g?.stop({ notifyPeers: false });
  rmSync(dir, { recursive: true, force: true });
});

function scrape(gw: Gateway): Promise<Map<string, number>> {
  const { host, port } = gw.metrics!.server!.address;
  return new Promise((resolve, reject) => {
    request({ host, port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        const out = new Map<string, number>();
        for (const l of body.split('\n')) {
          const m = /^([^#\s]\S*?(?:\{.*\})?) (\S+)$/.exec(l);
          if (m) out.set(m[1]!, Number(m[2]));
        }
        resolve(out);
      });
    })
      .on('error', reject)
      .end();
  });
}

test('a peer member shows live with its reported load, then stale once it stops', async () => {
  await eventually(async () => (await scrape(gws[1]!)).get('segw_cluster_members{state="live"}') === 2, { what: 'gw2 sees both members live' });
  const m = await scrape(gws[1]!);
  assert.equal(m.get('segw_cluster_member_tunnels{member="gw1"}'), 7);
  assert.equal(m.get('segw_cluster_member_child_sas{member="gw1"}'), 9);
  assert.equal(m.get('segw_cluster_member_stale{member="gw1"}'), 0);
  assert.ok(m.get('segw_cluster_reports_accepted_total')! >= 1);

  await gws[0]!.stop({ notifyPeers: false });
  gws[0] = undefined;
  await eventually(async () => (await scrape(gws[1]!)).get('segw_cluster_member_stale{member="gw1"}') === 1, { what: 'gw1 stale on gw2' });
  const after = await scrape(gws[1]!);
  assert.equal(after.get('segw_cluster_members{state="stale"}'), 1);
  assert.equal(after.get('segw_cluster_members{state="live"}'), 1);
});
