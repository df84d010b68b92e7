/**
 * What a SIGHUP may change: connections, log.level, the cluster's weights, ceilings and pins, and
 * the cluster key's content; every other key is named and refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyReload, planReload } from '../../src/gateway/reload.js';

const conn = (id: string) => ({
  local: { id: 'gw.example', auth: 'psk' },
  remote: { id, auth: 'psk' },
  psk: 'x-secret-x',
  ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
  children: { s1: { localTs: ['192.0.2.128/25'], remoteTs: ['dynamic'], espProposals: ['aes128gcm16'] } },
});
const base = { node: { name: 'gw7' }, ike: { listen: ['198.51.100.2'] }, connections: { a: conn('a.example') } };
const doc = (d: Record<string, unknown>) => parseGatewayConfig(d, '/etc/segw/gw.yaml').document;

test('connections (added, removed, changed) and log.level are reloadable', () => {
  const plan = planReload(doc(base), doc({ ...base, log: { level: 'debug' }, connections: { b: conn('b.example') } }));
  assert.deepEqual(plan, { ok: true, added: ['b'], removed: ['a'], kept: [], logLevel: { from: 'info', to: 'debug' }, cluster: [] });
  const changed = planReload(doc(base), doc({ ...base, connections: { a: { ...conn('a.example'), dpd: '30s' } } }));
  assert.deepEqual(changed, { ok: true, added: [], removed: [], kept: ['a'], cluster: [] });
});

test('every other difference is refused with its path; a default written out is no difference', () => {
  const next = {
    ...base,
    ike: { listen: ['198.51.100.3'], port: 500 },
    kernel: { routes: { metric: 7 } },
    log: { file: '/var/log/segw.log' },
    control: { socket: '/run/other.sock' },
    connections: { b: conn('b.example') },
  };
  assert.deepEqual(planReload(doc(base), doc(next)), {
    ok: false,
    restartOnly: ['log.file', 'ike.listen', 'kernel', 'control'],
  });
  assert.deepEqual(planReload(doc({ ...base, kernel: { routes: { metric: 1 } } }), doc({ ...base, kernel: { routes: { metric: 2 } } })), {
    ok: false,
    restartOnly: ['kernel.routes.metric'],
  });
});

test('metrics.listen is restart-only: a reload naming another address is refused by that key', () => {
  const m = (listen: string) => doc({ ...base, metrics: { listen } });
  assert.deepEqual(planReload(m('127.0.0.1:9101'), m('127.0.0.1:9102')), { ok: false, restartOnly: ['metrics.listen'] });
  assert.deepEqual(planReload(doc(base), m('127.0.0.1:9101')), { ok: false, restartOnly: ['metrics'] });
});

const cluster = (over: Record<string, unknown> = {}) => ({
  address: '198.51.100.2',
  vips: '203.0.113.10/24',
  keyFile: 'cluster.key',
  capacity: { maxTunnels: 1000, bandwidth: '500M' },
  reports: { listen: '192.0.2.12', peers: ['192.0.2.11'] },
  vrrp: { interface: 'eth1', vrid: 7 },
  ...over,
});

function withKeyDir(fn: (dir: string, write: (hex: string) => void) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'segw-reload-key-'));
  try {
    fn(dir, (hex) => writeFileSync(join(dir, 'cluster.key'), `${hex}\n`, { mode: 0o600 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('cluster weights and ceilings are reloadable; the VRRP and redirect settings are not', () => {
  withKeyDir((dir, write) => {
    write('a1'.repeat(32));
    const at = (c: Record<string, unknown>) => parseGatewayConfig({ ...base, cluster: c }, join(dir, 'gw.yaml')).document;
    const plan = planReload(at(cluster()), at(cluster({ weights: { tunnels: 2, bandwidth: 1, cpu: 0 }, ceiling: 0.9, ceilings: [{ member: 'gw9', ceiling: 0.5 }] })));
    assert.equal(plan.ok, true);
    assert.deepEqual(plan.ok && [...plan.cluster].sort(), ['cluster.ceiling', 'cluster.ceilings', 'cluster.weights']);
    assert.deepEqual(planReload(at(cluster()), at(cluster({ vrrp: { interface: 'eth1', vrid: 8 } }))), { ok: false, restartOnly: ['cluster.vrrp.vrid'] });
    assert.deepEqual(planReload(at(cluster()), at(cluster({ redirect: 'auth' }))), { ok: false, restartOnly: ['cluster.redirect'] });
  });
});

test('a reload hands the new weights and ceilings to the balancer and the member, and a rotated key to the member', () => {
  withKeyDir((dir, write) => {
    const load = (c: Record<string, unknown>) => parseGatewayConfig({ ...base, cluster: c }, join(dir, 'gw.yaml'));
    write('a1'.repeat(32));
    const first = load(cluster());
    const same = load(cluster({ weights: { tunnels: 1, bandwidth: 0, cpu: 0 }, ceilings: [{ member: 'gw9', ceiling: 0.5 }] }));
    write('b2'.repeat(32));
    const rotated = load(cluster());
    const seen: { member: unknown[]; balancer: unknown[]; connections: number } = { member: [], balancer: [], connections: 0 };
    const gw = {
      daemon: { setConnections: () => void seen.connections++ },
      cluster: { reconfigure: (c: unknown) => void seen.member.push(c) },
      balancing: { balancer: { reconfigure: (s: unknown) => void seen.balancer.push(s) } },
    };
    assert.deepEqual(applyReload(gw, first, same), { clusterKeyRotated: false }, 'the same key file content is no rotation');
    assert.deepEqual(seen.balancer[0], { weights: { tunnels: 1, bandwidth: 0, cpu: 0 }, ceiling: 0.8, ceilings: new Map([['gw9', 0.5]]), pins: [] });
    assert.deepEqual(applyReload(gw, same, rotated), { clusterKeyRotated: true });
    const last = seen.member.at(-1) as { key: { equals(k: unknown): boolean } };
    assert.ok(last.key.equals(rotated.cluster!.key) && !last.key.equals(first.cluster!.key), 'the member got the new key');
    assert.equal(seen.connections, 2);
  });
});
