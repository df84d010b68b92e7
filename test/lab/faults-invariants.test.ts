/**
 * The fault matrix's convergence rules (src/lab/faults/invariants.ts) on hand-made snapshots: a
 * converged cluster passes, and each kind of leftover, leak or split is named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leftovers, violations, type ClusterSnapshot, type GatewaySnapshot } from '../../src/lab/faults/invariants.js';

const id = (i: number) => `bs-${i}`;
const WANT = { count: 3, identity: id };
const sa = (i: number) => ({ peer: id(i), children: [{ state: 'INSTALLED', remoteTs: [`198.51.100.${128 + i}/32`] }] });

function gw(name: string, bs: number[], over: Partial<GatewaySnapshot> = {}): GatewaySnapshot {
  return {
    name, running: true, vrrp: 'Backup', holdsVip: false, mac: `02:00:00:00:00:0${name.slice(-1)}`,
    established: bs.map(sa), other: [], dataPlane: { sas: 2 * bs.length, policies: 3 * bs.length },
    kernelRoutes: bs.map((i) => `198.51.100.${128 + i}/32`), tuns: ['segw0'], ...over,
  };
}

function converged(): ClusterSnapshot {
  return {
    gateways: [gw('gw1', [0], { vrrp: 'Master', holdsVip: true }), gw('gw2', [1, 2]), gw('gw3', [])],
    sim: { up: 3, count: 3 },
    vipNeighbour: '02:00:00:00:00:01',
  };
}

test('a converged cluster breaks no rule', () => {
  assert.deepEqual(violations(converged(), WANT), []);
});

test('split brain, a VIP on the wrong node, and a stale ARP entry are named', () => {
  const s = converged();
  s.gateways[1]!.vrrp = 'Master';
  assert.match(violations(s, WANT).join('\n'), /2 VRRP masters \(gw1, gw2\)/);
  const t = converged();
  t.gateways[2]!.holdsVip = true;
  assert.match(violations(t, WANT).join('\n'), /VIP held by gw1, gw3/);
  const u = converged();
  u.vipNeighbour = '02:00:00:00:00:02';
  assert.match(violations(u, WANT).join('\n'), /resolve the VIP to 02:00:00:00:00:02, not to gw1/);
});

test('base stations missing, served twice, or not up in the simulator are named', () => {
  const s = converged();
  s.gateways[1]!.established = [sa(1)];
  s.gateways[1]!.kernelRoutes = ['198.51.100.129/32'];
  s.gateways[1]!.dataPlane = { sas: 2, policies: 3 };
  assert.match(violations(s, WANT).join('\n'), /1 base stations without an IKE SA \(bs-2\)/);
  const t = converged();
  t.gateways[2] = gw('gw3', [2]);
  assert.match(violations(t, WANT).join('\n'), /bs-2 has 2 IKE SAs \(gw2, gw3\)/);
  const u = converged();
  u.sim = { up: 2, count: 3 };
  assert.match(violations(u, WANT).join('\n'), /simulator: 2\/3 up, want 3/);
});

test('leaks on a running gateway: stale or missing routes, data-plane SAs and policies, TUN devices, half-open SAs', () => {
  const s = converged();
  s.gateways[2]!.kernelRoutes = ['198.51.100.200/32'];
  s.gateways[1]!.kernelRoutes = ['198.51.100.129/32'];
  s.gateways[0]!.dataPlane = { sas: 4, policies: 3 };
  s.gateways[1]!.dataPlane = { sas: 4, policies: 9 };
  s.gateways[2]!.tuns = ['segw0', 'segw1'];
  s.gateways[2]!.other = ['CONNECTING'];
  const v = violations(s, WANT).join('\n');
  assert.match(v, /gw3: 1 stale proto segw routes \(198\.51\.100\.200\/32\)/);
  assert.match(v, /gw2: 1 routes missing for its children \(198\.51\.100\.130\/32\)/);
  assert.match(v, /gw1: the data plane holds 4 SAs for 1 child SAs \(want 2\)/);
  assert.match(v, /gw2: the data plane holds 9 policies for 2 child SAs \(want 6\)/);
  assert.match(v, /gw3: 2 TUN devices/);
  assert.match(v, /gw3: 1 IKE SAs not established \(CONNECTING\)/);
});

test("a killed gateway's leftovers are expected until it starts again; a stopped one must leave none", () => {
  const s = converged();
  s.gateways[2] = gw('gw3', [], { running: false, kernelRoutes: ['198.51.100.140/32'], holdsVip: true, dataPlane: null, tuns: [] });
  assert.deepEqual(leftovers(s.gateways[2]!), ['1 proto segw routes', 'the VIP']);
  assert.deepEqual(violations(s, WANT, new Set(['gw3'])), []);
  assert.match(violations(s, WANT).join('\n'), /gw3 \(stopped\) left 1 proto segw routes/);
});

test("a strongSwan base station: its identity served once, and its own view one IKE SA with one installed child", () => {
  const s = converged();
  s.gateways[2] = gw('gw3', [], { established: [{ peer: 'ss', children: [{ state: 'INSTALLED', remoteTs: ['198.51.100.240/28'] }] }], kernelRoutes: ['198.51.100.240/28'], dataPlane: { sas: 2, policies: 3 } });
  s.strongSwan = { established: 1, installed: 1 };
  const want = { ...WANT, extra: ['ss'] };
  assert.deepEqual(violations(s, want), []);
  s.strongSwan = { established: 1, installed: 0 };
  assert.match(violations(s, want).join('\n'), /strongSwan: 1 IKE SAs established, 0 child SAs installed/);
  s.gateways[2]!.established = [];
  s.gateways[2]!.kernelRoutes = [];
  s.gateways[2]!.dataPlane = { sas: 0, policies: 0 };
  assert.match(violations(s, want).join('\n'), /1 base stations without an IKE SA \(ss\)/);
});
