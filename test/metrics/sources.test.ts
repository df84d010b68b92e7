/**
 * The snapshot adapters and the registry without a gateway: each hook source (VRRP, redirects,
 * data plane, cluster) turns the snapshot it is handed into the declared series, a failing
 * source is left out of one scrape and counted, and a source is added once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clusterAdapter,
  dataPlaneAdapter,
  MetricsRegistry,
  redirectAdapter,
  vrrpAdapter,
  type VrrpSnapshot,
} from '../../src/metrics/index.js';
import type { MembersView } from '../../src/cluster/view.js';

const lines = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

test('VRRP: one state series per RFC 5798 state, adverts by direction; the numbers are the snapshot\'s', async () => {
  const reg = new MetricsRegistry();
  const vrrp: VrrpSnapshot[] = [{ vrid: 51, state: 'Master', transitions: 2, advertsIn: 3, advertsOut: 40, checksumMismatches: 1 }];
  reg.addSource(vrrpAdapter, () => vrrp);
  let text = await reg.render();
  for (const l of [
    'segw_vrrp_state{vrid="51",state="master"} 1',
    'segw_vrrp_state{vrid="51",state="backup"} 0',
    'segw_vrrp_transitions_total{vrid="51"} 2',
    'segw_vrrp_adverts_total{vrid="51",direction="out"} 40',
    'segw_vrrp_checksum_errors_total{vrid="51"} 1',
  ]) assert.ok(lines(text).includes(l), `${l} in\n${text}`);
  vrrp[0] = { ...vrrp[0]!, state: 'BACKUP', transitions: 3, advertsIn: 9 };
  text = await reg.render();
  assert.ok(lines(text).includes('segw_vrrp_state{vrid="51",state="backup"} 1'));
  assert.ok(lines(text).includes('segw_vrrp_state{vrid="51",state="master"} 0'));
  assert.ok(lines(text).includes('segw_vrrp_adverts_total{vrid="51",direction="in"} 9'));
});

test('redirects by target and reason; data plane per lane and in total', async () => {
  const reg = new MetricsRegistry();
  reg.addSource(redirectAdapter, () => ({ redirects: [{ target: 'gw2', reason: 'load', count: 5 }, { target: 'gw3', reason: 'drain', count: 1 }], draining: true }));
  reg.addSource(dataPlaneAdapter, () => ({
    packets: { in: 10, out: 12 },
    bytes: { in: 1000, out: 1300 },
    drops: { in: { replay: 2, integrity: 1 }, out: {} },
    lanes: [{ lane: '0', packets: { in: 10, out: 12 }, drops: { in: { replay: 2 }, out: {} } }],
  }));
  const l = lines(await reg.render());
  for (const want of [
    'segw_redirects_total{target="gw2",reason="load"} 5',
    'segw_redirects_total{target="gw3",reason="drain"} 1',
    'segw_draining 1',
    'segw_esp_packets_total{direction="in",lane="all"} 10',
    'segw_esp_bytes_total{direction="out",lane="all"} 1300',
    'segw_esp_drops_total{direction="in",reason="replay",lane="all"} 2',
    'segw_esp_drops_total{direction="in",reason="replay",lane="0"} 2',
  ]) assert.ok(l.includes(want), want);
});

test('cluster: members by state, a stale member flagged, load from its report', async () => {
  const member = (id: string, stale: boolean, tunnels: number) => ({
    id, self: id === 'gw1', address: '192.0.2.1', role: 'backup', state: stale ? 'stale' : 'live', stale, draining: false, left: false,
    lastReportAgeMs: 1500, from: null, reportIntervalMs: 1000, epoch: '1', sequence: '2',
    load: { tunnels, childSas: tunnels * 2, bytesPerSec: 0, cpu: 0.1 }, capacity: { maxTunnels: 100, bandwidthBps: 1e9 }, utilization: tunnels / 100, eligible: !stale,
  });
  const view = {
    node: 'gw1', ceiling: 0.9, members: [member('gw1', false, 10), member('gw2', true, 30)],
    reports: { sent: 7, sendErrors: 0, accepted: 5, rejected: { replay: 1 } },
  } as unknown as MembersView;
  const reg = new MetricsRegistry();
  reg.addSource(clusterAdapter, () => view);
  const l = lines(await reg.render());
  for (const want of [
    'segw_cluster_members{state="live"} 1',
    'segw_cluster_members{state="stale"} 1',
    'segw_cluster_member_stale{member="gw2"} 1',
    'segw_cluster_member_stale{member="gw1"} 0',
    'segw_cluster_member_tunnels{member="gw2"} 30',
    'segw_cluster_member_report_age_seconds{member="gw1"} 1.5',
    'segw_cluster_reports_rejected_total{reason="replay"} 1',
  ]) assert.ok(l.includes(want), want);
});

test('a source that throws is left out of that scrape and counted; the scrape still answers', async () => {
  const errors: string[] = [];
  const reg = new MetricsRegistry({ onSourceError: (s) => errors.push(s) });
  let broken = false;
  reg.addSource(vrrpAdapter, () => {
    if (broken) throw new Error('instance gone');
    return [{ vrid: 1, state: 'master', transitions: 1, advertsIn: 0, advertsOut: 1, checksumMismatches: 0 }];
  });
  assert.ok(lines(await reg.render()).includes('segw_vrrp_transitions_total{vrid="1"} 1'));
  broken = true;
  const l = lines(await reg.render());
  assert.ok(!l.some((x) => x.startsWith('segw_vrrp_transitions_total{')), 'no stale sample from the failed source');
  assert.ok(l.includes('segw_metrics_source_errors_total{source="vrrp"} 1'));
  assert.deepEqual(errors, ['vrrp']);
  assert.throws(() => reg.addSource(vrrpAdapter, () => []), { code: 'SEGW_METRICS' });
});

test('src/metrics/README.md lists every family the adapters declare (and no other)', async () => {
  const { readFileSync } = await import('node:fs');
  const { ikeTablesAdapter, routesAdapter } = await import('../../src/metrics/index.js');
  const readme = readFileSync(new URL('../../src/metrics/README.md', import.meta.url), 'utf8');
  const listed = new Set([...readme.matchAll(/^\| `(segw_[a-z_]+)` \|/gm)].map((m) => m[1]!));
  const declared = new Set(
    [ikeTablesAdapter, routesAdapter, clusterAdapter, redirectAdapter, vrrpAdapter, dataPlaneAdapter].flatMap((a) => a.families.map((f) => f.name)),
  );
  const reg = new MetricsRegistry();
  new (await import('../../src/metrics/ike.js')).IkeMetrics(reg);
  for (const m of await reg.registry.getMetricsAsJSON()) declared.add(m.name);
  assert.deepEqual([...listed].sort(), [...declared].sort());
});

test('the userspace engine\'s verdicts: passed packets per direction, every other verdict but dummy a drop by reason', async () => {
  const { engineSnapshot } = await import('../../src/metrics/index.js');
  const zero = { ok: 0, dummy: 0, 'no-sa': 0, replay: 0, integrity: 0 } as Record<string, number>;
  const stats = { in: { ...zero, ok: 50, dummy: 4, replay: 3, integrity: 1 }, out: { ...zero, ok: 60, 'no-sa': 2 } };
  const snap = engineSnapshot(stats as unknown as Parameters<typeof engineSnapshot>[0]);
  assert.deepEqual(snap.packets, { in: 50, out: 60 });
  assert.deepEqual(snap.drops.in, { 'no-sa': 0, replay: 3, integrity: 1 });
  assert.deepEqual(snap.drops.out, { 'no-sa': 2, replay: 0, integrity: 0 });
  const reg = new MetricsRegistry();
  reg.addSource(dataPlaneAdapter, () => snap);
  const l = lines(await reg.render());
  assert.ok(l.includes('segw_esp_drops_total{direction="in",reason="replay",lane="all"} 3'));
  assert.ok(!l.some((x) => x.includes('reason="dummy"')));
});
