/**
 * The test that decided the socket design (issue 4): 10,000 routes injected and removed as fast
 * as segw can, in a lab namespace. The npm `netlink` package aborted the process at about 300
 * requests in flight; here every request is issued at once and must complete, with at most
 * maxInFlight unacknowledged, no receive overrun, and memory that does not grow from one round
 * to the next. (Speed is measured in bench/netlink, not asserted here.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type Host } from '../../../src/lab/lab.js';
import { NetlinkKernelNet } from '../../../src/kernel/net/netlink-net.js';
import { RouteInjector } from '../../../src/kernel/route-injection.js';
import type { TrafficSelector } from '../../../src/kernel/types.js';

const N = 10_000;
let lab: Lab;
let gw: Host;
let net: NetlinkKernelNet;
before(async () => {
  lab = await Lab.create('routes10k');
  gw = await lab.host('gw');
  const core = await lab.host('core');
  await lab.link(gw, core, { aIf: 'core0', a: '198.51.100.1/24', b: '198.51.100.2/24' });
  net = NetlinkKernelNet.open({ netns: `/run/netns/${gw.ns}` });
});
after(async () => {
  await net?.close();
  await lab?.close();
});

/** The i-th /32 of the benchmarking range 198.18.0.0/15 (RFC 2544). */
const addr = (i: number) => `198.18.${i >> 8}.${i & 255}`;
const countSegwRoutes = async () => Number((await gw.sh('ip -4 route show proto segw | wc -l')).stdout.trim());

test(`${N} routes added and deleted at once: all complete, bounded in flight, no overrun, no growth`, { timeout: 120_000 }, async () => {
  const rss: number[] = [];
  for (let round = 0; round < 3; round++) {
    const added = await Promise.allSettled(Array.from({ length: N }, (_, i) => net.addRoute({ dst: `${addr(i)}/32`, dev: 'core0' })));
    assert.equal(added.filter((r) => r.status === 'rejected').length, 0, String(added.find((r) => r.status === 'rejected')));
    assert.equal(await countSegwRoutes(), N);
    const deleted = await Promise.allSettled(Array.from({ length: N }, (_, i) => net.deleteRoute({ dst: `${addr(i)}/32`, dev: 'core0' })));
    assert.equal(deleted.filter((r) => r.status === 'rejected').length, 0);
    assert.equal(await countSegwRoutes(), 0);
    rss.push(process.memoryUsage().rss);
  }
  const s = net.stats();
  assert.ok(s.maxInFlightSeen <= 256, `in flight never above the window (${s.maxInFlightSeen})`);
  assert.equal(s.overruns, 0, 'no acknowledgement was lost');
  assert.equal(s.inFlight + s.queued, 0);
  // The first round warms up; later rounds must not keep growing (a leak of per-request state).
  const growth = rss[2] - rss[1];
  assert.ok(growth < 64 * 1024 * 1024, `RSS grew ${(growth / 1048576).toFixed(1)} MiB between rounds 2 and 3`);
});

test(`${N} child SAs through the RouteInjector: one route each, all withdrawn`, { timeout: 120_000 }, async () => {
  const rri = new RouteInjector(net, { dev: 'core0', metric: 20 });
  const ts = (i: number): TrafficSelector => ({ family: 4, protocol: 0, startAddr: addr(i), endAddr: addr(i), startPort: 0, endPort: 65535 });
  await Promise.all(Array.from({ length: N }, (_, i) => rri.childUp(`child${i}`, [ts(i)])));
  assert.equal(await countSegwRoutes(), N);
  assert.equal(rri.routes().length, N);
  await Promise.all(Array.from({ length: N }, (_, i) => rri.childDown(`child${i}`)));
  assert.equal(await countSegwRoutes(), 0);
  assert.equal(rri.routes().length, 0);
  await rri.close();
});
