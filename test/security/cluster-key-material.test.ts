/**
 * No key material in the logs of a cluster (issue 15), on the paths ./key-material.test.ts does
 * not reach: two `segw gateway` members in namespaces at log level trace, with VRRPv3 on their
 * LAN, HMAC-signed load reports (src/cluster), the master's least-load redirect of a base
 * station (RFC 5685 at IKE_AUTH, by a pin) to the other member, the control answers that show the
 * cluster (`members`, `vrrp`, `redirects`, `status`), a key file others may read (the warning
 * names the file), `--check`, a SIGHUP reload after the key file changed, a stop of the master
 * (the backup takes over) and the stops. Every line any process printed is searched for the
 * cluster keys (as written in the files and as the octets they stand for) and the PSK
 * (./secrets.ts searches hex, base64, byte arrays and pieces).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Lab, withLab } from '../../src/lab/lab.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import type { MembersView } from '../../src/cluster/view.js';
import { vrrpLan } from '../interop/support/vrrp-lan.js';
import { PSK, segwConfig, type TunnelSpec } from '../interop/support/configs.js';
import { segwView } from '../interop/support/sas.js';
import { eventually } from '../support/eventually.js';
import { findSecrets, type Secret } from './secrets.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const VIP = '203.0.113.10';
const addr = (i: number) => `203.0.113.${i + 1}`;
const SPEC: TunnelSpec = { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16' };

/** A key file's text (hex, as `openssl rand -hex 32` writes it) and the octets it stands for. */
function clusterKey(what: string): { text: string; secrets: Secret[] } {
  const bytes = randomBytes(32);
  const hex = bytes.toString('hex');
  return {
    text: `${hex}\n`,
    // The file's text is the key (keyFromFile keeps printable files as they are): its octets
    // are the ASCII of the hex, and the random octets behind it are searched too.
    secrets: [
      { what: `${what} (file text)`, bytes: Buffer.from(hex), text: hex },
      { what: `${what} (octets)`, bytes },
    ],
  };
}

function gatewayConfig(i: number): Record<string, unknown> {
  const base = segwConfig(SPEC, 'gateway', addr(i)).config;
  return {
    ...base,
    node: { name: `gw${i + 1}` },
    log: { level: 'trace' },
    kernel: { ipsec: 'stub' },
    cluster: {
      address: addr(i),
      vips: [`${VIP}/24`],
      redirect: 'auth',
      keyFile: 'cluster.key',
      capacity: { maxTunnels: 100, bandwidth: '1G' },
      // Every base station belongs on gw2: the master redirects it there.
      pins: [{ peer: '*', member: 'gw2' }],
      reports: { listen: addr(i), interval: '200ms', staleAfter: 3, peers: [addr(1 - i)] },
      vrrp: { interface: 'eth0', vrid: 52, priority: i === 0 ? 200 : 100, advertInterval: '100ms' },
    },
  };
}

function check(configFile: string): Promise<string> {
  return new Promise((res) => {
    execFile(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'gateway', '--config', configFile, '--check'], { cwd: REPO, timeout: 30_000 }, (_e, out, err) =>
      res(`${out}\n${err}`),
    );
  });
}

test('a cluster at log level trace (VRRP, load reports, redirect, reload, failover) logs no cluster key and no PSK', { timeout: 180_000 }, async () => {
  let labId = '';
  const key = clusterKey('cluster key');
  const next = clusterKey('cluster key written before the reload');
  const printed: string[] = [];
  await withLab('seckey', async (lab) => {
    labId = lab.id;
    const { nodes: hosts, client } = await vrrpLan(lab, ['g1', 'g2']);
    // Written with the default mode (0644 under umask 022): the gateway warns, naming the file only.
    const gws: SegwProcess[] = [];
    let bs: SegwProcess | undefined;
    try {
      for (const [i, h] of hosts.entries()) gws.push(await SegwProcess.start(h, 'gateway', gatewayConfig(i), { files: { 'cluster.key': key.text } }));
      printed.push(await check(gws[0]!.configFile));
      await eventually(async () => (await gws[0]!.ctl<{ state: string }>('vrrp')).state === 'Master', 'gw1 is VRRP master');
      await eventually(async () => {
        const rows = (await gws[0]!.ctl<MembersView>('members')).members;
        return rows.find((r) => r.id === 'gw2' && !r.stale && r.role === 'backup') !== undefined;
      }, 'gw1 accepts gw2\'s signed reports');

      const b = segwConfig(SPEC, 'basestation', '203.0.113.100', VIP);
      bs = await SegwProcess.start(client, 'basestation', { ...b.config, log: { level: 'trace' }, kernel: { ipsec: 'stub' }, reconnect: { initial: '300ms', max: '1s' } });
      // The master redirected it (IKE_AUTH N(REDIRECT)) to gw2, where its IKE SA is.
      await eventually(async () => (await segwView(gws[1]!)).some((s) => s.state === 'ESTABLISHED'), { what: 'the base station established on gw2 after the redirect', timeoutMs: 30_000 });
      const redirects = await gws[0]!.ctl('redirects');
      assert.ok(JSON.stringify(redirects).includes('gw2'), `gw1 counted no redirect to gw2: ${JSON.stringify(redirects)}`);
      for (const g of gws) for (const m of ['status', 'members', 'vrrp', 'list-sas', 'redirects']) printed.push(JSON.stringify(await g.ctl(m)));

      // The key file changes under a running member; SIGHUP reloads (or refuses) without printing either key.
      writeFileSync(join(lab.dir, 'cluster.key'), next.text);
      const before = gws[1]!.process.output.length;
      gws[1]!.process.signalGroup('SIGHUP');
      await eventually(() => /"msg":"(reload refused|config reloaded)/.test(gws[1]!.process.output.slice(before)), 'gw2 logs the outcome of its reload');

      // The master stops; gw2 takes over (VRRP on the reports' and VIP's paths once more).
      await gws[0]!.stop();
      await eventually(async () => (await gws[1]!.ctl<{ state: string }>('vrrp')).state === 'Master', { what: 'gw2 becomes master', timeoutMs: 10_000 });
      printed.push(JSON.stringify(await gws[1]!.ctl('members')));
    } finally {
      await bs?.stop().catch(() => {});
      for (const g of gws) await g.stop().catch(() => {});
      for (const p of [...gws, ...(bs ? [bs] : [])]) printed.push(p.process.output);
    }
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });

  const lines = printed.join('\n').split('\n').filter(Boolean);
  // The test proves something only if the paths ran and were logged at trace.
  const all = lines.join('\n');
  assert.match(all, /"level":"(trace|debug)"/, 'nothing below info: the search would prove nothing');
  assert.match(all, /"sub":"vrrp"/, 'no VRRP line');
  assert.match(all, /"sub":"cluster"/, 'no cluster line');
  assert.match(all, /the cluster key file is readable by group or others/, 'the key file warning did not run');
  assert.ok(lines.length > 40, `only ${lines.length} lines`);
  const secrets: Secret[] = [...key.secrets, ...next.secrets, { what: 'PSK', bytes: Buffer.from(PSK), text: PSK }];
  assert.deepEqual(findSecrets(lines, secrets), []);
});
