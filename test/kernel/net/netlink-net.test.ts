/**
 * KernelNet on rtnetlink in a lab namespace: the VIP with its flags, routes with segw's protocol
 * number, errors a user can act on, link and address notifications, the rt_protos name.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../../support/eventually.js';
import { Lab, type Host } from '../../../src/lab/lab.js';
import { NetlinkKernelNet, type AddressEvent, type LinkEvent } from '../../../src/kernel/net/netlink-net.js';
import { ensureRouteProtoName } from '../../../src/kernel/net/rt-protos.js';
import { NetlinkError } from '../../../src/netlink/errors.js';
import { ROUTE_PROTO_SEGW } from '../../../src/kernel/types.js';

let lab: Lab;
let gw: Host;
let net: NetlinkKernelNet;
before(async () => {
  lab = await Lab.create('rtnet');
  gw = await lab.host('gw');
  const core = await lab.host('core');
  await lab.link(gw, core, { aIf: 'core0', a: ['198.51.100.1/24', '2001:db8::1/64'], b: ['198.51.100.2/24', '2001:db8::2/64'] });
  net = NetlinkKernelNet.open({ netns: `/run/netns/${gw.ns}` });
});
after(async () => {
  await net?.close();
  await lab?.close();
});

const ip = async (...args: string[]) => (await gw.exec('ip', args)).stdout;

test('the VIP: added with scope and flags, as `ip addr` shows, then removed', async () => {
  await net.addAddress({ address: '203.0.113.10/32', dev: 'core0', noPrefixRoute: true });
  await net.addAddress({ address: '2001:db8:10::10/64', dev: 'core0', noDad: true, noPrefixRoute: true });
  await net.addAddress({ address: '203.0.113.20/24', dev: 'core0', scope: 'link' });
  const shown = await ip('addr', 'show', 'dev', 'core0');
  assert.match(shown, /inet 203\.0\.113\.10\/32 scope global noprefixroute core0/);
  assert.match(shown, /inet6 2001:db8:10::10\/64 scope global nodad noprefixroute/);
  assert.match(shown, /inet 203\.0\.113\.20\/24 scope link core0/);
  assert.doesNotMatch(await ip('-6', 'route', 'show'), /2001:db8:10::\/64/, 'no prefix route for the VIP');
  const listed = await net.listAddresses();
  assert.ok(listed.some((a) => a.dev === 'core0' && a.address === '203.0.113.10/32'));
  await assert.rejects(net.addAddress({ address: '203.0.113.10/32', dev: 'core0' }), { errno: 'EEXIST', operation: 'RTM_NEWADDR' });
  for (const a of ['203.0.113.10/32', '2001:db8:10::10/64', '203.0.113.20/24']) await net.deleteAddress({ address: a, dev: 'core0' });
  assert.doesNotMatch(await ip('addr', 'show', 'dev', 'core0'), /203\.0\.113|2001:db8:10::/);
  await assert.rejects(net.deleteAddress({ address: '203.0.113.10/32', dev: 'core0' }), { errno: 'EADDRNOTAVAIL', operation: 'RTM_DELADDR' });
  await assert.rejects(net.addAddress({ address: '203.0.113.10/32', dev: 'nosuch0' }), { errno: 'ENODEV', operation: 'RTM_GETLINK' });
});

test('routes with proto segw: via or dev, table, metric; `ip route show proto segw` lists them', async () => {
  await net.addRoute({ dst: '192.0.2.0/25', via: '198.51.100.2', metric: 100 });
  await net.addRoute({ dst: '192.0.2.128/25', dev: 'core0', table: 1000 });
  await net.addRoute({ dst: '2001:db8:5::/64', via: '2001:db8::2', dev: 'core0' });
  assert.match(await ip('route', 'show', 'proto', 'segw'), /^192\.0\.2\.0\/25 via 198\.51\.100\.2 dev core0 metric 100 $/m);
  assert.match(await ip('route', 'show', 'table', '1000', 'proto', String(ROUTE_PROTO_SEGW)), /^192\.0\.2\.128\/25 dev core0 scope link $/m);
  assert.match(await ip('-6', 'route', 'show', 'proto', 'segw'), /^2001:db8:5::\/64 via 2001:db8::2 dev core0 metric 1024/m);
  const main = await net.listRoutes({ protocol: ROUTE_PROTO_SEGW, table: 254 });
  assert.deepEqual(main.map((r) => `${r.dst} ${r.via} ${r.dev} ${r.metric}`).sort(), [
    '192.0.2.0/25 198.51.100.2 core0 100',
    '2001:db8:5::/64 2001:db8::2 core0 1024',
  ]);
  assert.deepEqual((await net.listRoutes({ protocol: ROUTE_PROTO_SEGW, family: 4 })).map((r) => r.dst).sort(), ['192.0.2.0/25', '192.0.2.128/25']);
  assert.deepEqual((await net.listRoutes({ protocol: ROUTE_PROTO_SEGW, table: 1000 })).map((r) => r.table), [1000]);
  await net.deleteRoute({ dst: '192.0.2.0/25', metric: 100 });
  await net.deleteRoute({ dst: '192.0.2.128/25', table: 1000 });
  await net.deleteRoute({ dst: '2001:db8:5::/64' });
  assert.deepEqual(await net.listRoutes({ protocol: ROUTE_PROTO_SEGW }), []);
});

test('errors name the operation and the errno: EEXIST on a duplicate route, ESRCH on deleting a missing one', async () => {
  await net.addRoute({ dst: '192.0.2.0/26', dev: 'core0' });
  await assert.rejects(net.addRoute({ dst: '192.0.2.0/26', dev: 'core0' }), (e: NetlinkError) => {
    assert.equal(e.code, 'SEGW_NETLINK');
    assert.equal(e.errno, 'EEXIST');
    assert.equal(e.operation, 'RTM_NEWROUTE');
    assert.equal(e.message, 'RTM_NEWROUTE (add route 192.0.2.0/26 dev core0 table 254 proto 200) failed: EEXIST (file already exists)');
    return true;
  });
  await net.deleteRoute({ dst: '192.0.2.0/26', dev: 'core0' });
  // The kernel answers ESRCH ("no such process") for a missing route, IPv4 and IPv6 alike.
  await assert.rejects(net.deleteRoute({ dst: '192.0.2.0/26', dev: 'core0' }), (e: NetlinkError) => {
    assert.equal(e.errno, 'ESRCH');
    assert.match(e.message, /^RTM_DELROUTE \(delete route 192\.0\.2\.0\/26 dev core0 table 254 proto 200\) failed: ESRCH/);
    return true;
  });
  await assert.rejects(net.deleteRoute({ dst: '2001:db8:7::/64' }), { errno: 'ESRCH', operation: 'RTM_DELROUTE' });
  await assert.rejects(net.addRoute({ dst: '192.0.2.64/26', via: '203.0.113.99' }), (e: NetlinkError) => {
    assert.equal(e.errno, 'ENETUNREACH');
    assert.ok(e.extAck, 'the kernel explains: ' + e.message);
    return true;
  });
});

test("segw's delete never touches another daemon's route for the same prefix", async () => {
  await gw.exec('ip', ['route', 'add', '192.0.2.192/26', 'dev', 'core0', 'proto', 'static']);
  await assert.rejects(net.deleteRoute({ dst: '192.0.2.192/26' }), { errno: 'ESRCH' });
  assert.match(await ip('route', 'show', '192.0.2.192/26'), /proto static/);
  await gw.exec('ip', ['route', 'del', '192.0.2.192/26']);
});

test('notifications: link and address changes arrive from the namespace', async () => {
  const links: LinkEvent[] = [];
  const addrs: AddressEvent[] = [];
  const w = net.watch({ onLink: (e) => links.push(e), onAddress: (e) => addrs.push(e) });
  try {
    await gw.exec('ip', ['link', 'add', 'side0', 'type', 'veth', 'peer', 'name', 'side1']);
    await gw.exec('ip', ['link', 'set', 'side0', 'up']);
    await net.addAddress({ address: '203.0.113.30/32', dev: 'side0' });
    await net.deleteAddress({ address: '203.0.113.30/32', dev: 'side0' });
    await gw.exec('ip', ['link', 'del', 'side0']);
    await eventually(() => links.some((l) => l.event === 'del' && l.name === 'side0'), { what: 'the link deletion event', timeoutMs: 1000, intervalMs: 20 });
    assert.ok(links.some((l) => l.event === 'new' && l.name === 'side0'));
    assert.ok(links.some((l) => l.event === 'new' && l.name === 'side0' && l.up));
    assert.ok(links.some((l) => l.event === 'del' && l.name === 'side0'));
    assert.deepEqual(
      addrs.filter((a) => a.address === '203.0.113.30/32').map((a) => a.event),
      ['new', 'del'],
    );
  } finally {
    w.close();
  }
});

test('an interface recreated under the same name is found again (stale index cache)', async () => {
  await gw.exec('ip', ['link', 'add', 'tmp0', 'type', 'veth', 'peer', 'name', 'tmp1']);
  await net.addAddress({ address: '203.0.113.40/32', dev: 'tmp0' });
  await gw.exec('ip', ['link', 'del', 'tmp0']);
  await gw.exec('ip', ['link', 'add', 'tmp0', 'type', 'veth', 'peer', 'name', 'tmp1']);
  await net.addAddress({ address: '203.0.113.40/32', dev: 'tmp0' });
  assert.match(await ip('addr', 'show', 'dev', 'tmp0'), /203\.0\.113\.40\/32/);
  await gw.exec('ip', ['link', 'del', 'tmp0']);
});

test('the route protocol gets its name in rt_protos.d, once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segw-rtprotos-'));
  try {
    const file = ensureRouteProtoName(dir);
    assert.equal(file, join(dir, 'segw.conf'));
    assert.match(readFileSync(file!, 'utf8'), /^200 segw$/m);
    rmSync(file!);
    writeFileSync(join(dir, 'local.conf'), '200\tsegw\n');
    assert.equal(ensureRouteProtoName(dir), join(dir, 'local.conf'), 'an existing name is kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
