/**
 * RouteInjector logic against the in-memory KernelNet: which routes exist after child SAs come
 * and go, shared prefixes, IKE SA loss, reconciliation, shutdown, configuration errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StubKernelNet } from '../../src/kernel/stub/net.js';
import { DEFAULT_MAX_ROUTES_PER_CHILD, RouteInjector, RouteLimitError } from '../../src/kernel/route-injection.js';
import { ROUTE_PROTO_SEGW, type RouteParams, type TrafficSelector } from '../../src/kernel/types.js';
import { NetlinkError } from '../../src/netlink/errors.js';

const ts = (startAddr: string, endAddr = startAddr): TrafficSelector => ({
  family: startAddr.includes(':') ? 6 : 4,
  protocol: 0,
  startAddr,
  endAddr,
  startPort: 0,
  endPort: 65535,
});
const dsts = (net: StubKernelNet) => [...net.routes.values()].map((r) => r.dst).sort();

test('a child SA injects a route per remote subnet, with the configured table, metric, device, protocol', async () => {
  const net = new StubKernelNet();
  const rri = new RouteInjector(net, { dev: 'core0', table: 100, metric: 30 });
  await rri.childUp('c1', [ts('192.0.2.0', '192.0.2.127'), ts('2001:db8:1::', '2001:db8:1::ffff')]);
  assert.deepEqual([...net.routes.values()].sort((a, b) => a.dst.localeCompare(b.dst)), [
    { dst: '192.0.2.0/25', table: 100, protocol: ROUTE_PROTO_SEGW, dev: 'core0', metric: 30 },
    { dst: '2001:db8:1::/112', table: 100, protocol: ROUTE_PROTO_SEGW, dev: 'core0', metric: 30 },
  ]);
  await rri.childDown('c1');
  assert.deepEqual(dsts(net), []);
});

test('a prefix shared by two children stays until the last one goes (reference count)', async () => {
  const net = new StubKernelNet();
  const rri = new RouteInjector(net, { via: '198.51.100.2' });
  await rri.childUp('old', [ts('192.0.2.0', '192.0.2.127')]);
  await rri.childUp('new', [ts('192.0.2.0', '192.0.2.127'), ts('192.0.2.128', '192.0.2.191')]); // rekeyed, wider
  assert.deepEqual(dsts(net), ['192.0.2.0/25', '192.0.2.128/26']);
  await rri.childDown('old');
  assert.deepEqual(dsts(net), ['192.0.2.0/25', '192.0.2.128/26']);
  await rri.childDown('new');
  assert.deepEqual(dsts(net), []);
});

test('childUp again replaces the child\'s subnets; an unknown childDown is harmless', async () => {
  const net = new StubKernelNet();
  const rri = new RouteInjector(net, { dev: 'core0' });
  await rri.childUp('c', [ts('192.0.2.0', '192.0.2.127')]);
  await rri.childUp('c', [ts('192.0.2.128', '192.0.2.255')]);
  assert.deepEqual(dsts(net), ['192.0.2.128/25']);
  await rri.childDown('nobody');
  await rri.childDown('c');
  assert.deepEqual(dsts(net), []);
});

test('IKE SA loss withdraws the routes of all its children, not others', async () => {
  const net = new StubKernelNet();
  const rri = new RouteInjector(net, { dev: 'core0' });
  await rri.childUp('a1', [ts('192.0.2.0', '192.0.2.63')], { ikeSa: 'A' });
  await rri.childUp('a2', [ts('192.0.2.64', '192.0.2.127')], { ikeSa: 'A' });
  await rri.childUp('b1', [ts('192.0.2.128', '192.0.2.255')], { ikeSa: 'B' });
  await rri.ikeSaDown('A');
  assert.deepEqual(dsts(net), ['192.0.2.128/25']);
});

test('a burst of up/down/up for one child ends with the route present, added once', async () => {
  const net = new StubKernelNet();
  const rri = new RouteInjector(net, { dev: 'core0' });
  const burst = [
    rri.childUp('c', [ts('192.0.2.0', '192.0.2.127')]),
    rri.childDown('c'),
    rri.childUp('c', [ts('192.0.2.0', '192.0.2.127')]),
  ];
  await Promise.all(burst);
  assert.deepEqual(dsts(net), ['192.0.2.0/25']);
  assert.deepEqual(rri.routes(), [{ prefix: '192.0.2.0/25', children: 1, installed: true }]);
});

/** The stub, answering a duplicate the way the kernel does (NetlinkError EEXIST). */
class KernelLikeNet extends StubKernelNet {
  override async addRoute(route: RouteParams): Promise<void> {
    if ([...this.routes.values()].some((r) => r.dst === route.dst && (r.table ?? 254) === (route.table ?? 254) && r.metric === route.metric)) {
      throw new NetlinkError({ errno: 17, operation: 'RTM_NEWROUTE' });
    }
    return super.addRoute(route);
  }
}

async function leftovers(net: StubKernelNet): Promise<void> {
  // Left by a crashed run: one still wanted, one stale, one for a wanted prefix with an old metric;
  // and a route of another protocol that must never be touched.
  for (const r of [
    { dst: '192.0.2.0/25', dev: 'core0', metric: 10 },
    { dst: '198.51.100.0/24', dev: 'core0', metric: 10 },
    { dst: '203.0.113.0/24', dev: 'core0', metric: 99 },
  ]) {
    await net.addRoute({ ...r, table: 254, protocol: ROUTE_PROTO_SEGW });
  }
  await net.addRoute({ dst: '192.0.2.128/25', dev: 'core0', table: 254, protocol: 4 });
}

test('reconcile at start, before any child: every segw route of the table goes, others stay', async () => {
  const net = new KernelLikeNet();
  await leftovers(net);
  const rri = new RouteInjector(net, { dev: 'core0', metric: 10 });
  assert.deepEqual(await rri.reconcile(), { adopted: 0, removed: 3, added: 0 });
  assert.deepEqual([...net.routes.values()].map((x) => `${x.dst} ${x.protocol}`), ['192.0.2.128/25 4']);
});

test('children known before reconcile: their routes are adopted (never duplicated), the rest removed or re-added', async () => {
  const net = new KernelLikeNet();
  await leftovers(net);
  const rri = new RouteInjector(net, { dev: 'core0', metric: 10 });
  await rri.childUp('c1', [ts('192.0.2.0', '192.0.2.127')]); // EEXIST: the leftover is adopted
  await rri.childUp('c2', [ts('203.0.113.0', '203.0.113.255'), ts('192.0.2.192', '192.0.2.255')]);
  assert.equal([...net.routes.values()].filter((r) => r.dst === '192.0.2.0/25').length, 1);
  // Someone removes a wanted route behind segw's back.
  net.routes.delete('254|192.0.2.192/26|10');
  assert.deepEqual(await rri.reconcile(), { adopted: 2, removed: 2, added: 1 });
  assert.deepEqual(
    [...net.routes.values()].map((x) => `${x.dst} ${x.metric} ${x.protocol}`).sort(),
    ['192.0.2.0/25 10 200', '192.0.2.128/25 undefined 4', '192.0.2.192/26 10 200', '203.0.113.0/24 10 200'],
  );
  // EEXIST for a route that is not segw's is an error, not an adoption.
  await assert.rejects(new RouteInjector(net, { dev: 'core0' }).childUp('x', [ts('192.0.2.128', '192.0.2.255')]), { errno: 'EEXIST' });
});

test('close withdraws every route (or keeps them for a graceful restart); a closed injector refuses work', async () => {
  const net = new StubKernelNet();
  const rri = new RouteInjector(net, { dev: 'core0' });
  await rri.childUp('c1', [ts('192.0.2.0', '192.0.2.127')]);
  await rri.childUp('c2', [ts('192.0.2.128', '192.0.2.255')]);
  await rri.close();
  assert.deepEqual(dsts(net), []);
  await assert.rejects(rri.childUp('c3', [ts('192.0.2.0')]), { code: 'SEGW_CONFIG' });
  const keep = new RouteInjector(net, { dev: 'core0' });
  await keep.childUp('c', [ts('192.0.2.0', '192.0.2.127')]);
  await keep.close({ withdraw: false });
  assert.deepEqual(dsts(net), ['192.0.2.0/25']);
});

test('a failing kernel request rejects childUp; the child still wants the route and reconcile adds it', async () => {
  const net = new StubKernelNet();
  const rri = new RouteInjector(net, { dev: 'core0' });
  net.failNext('addRoute');
  await assert.rejects(rri.childUp('c', [ts('192.0.2.0', '192.0.2.127')]), /addRoute failed/);
  assert.deepEqual(rri.errors, { inject: 1, withdraw: 0 }, 'counted for metrics');
  assert.deepEqual(dsts(net), []);
  assert.deepEqual(await rri.reconcile(), { adopted: 0, removed: 0, added: 1 });
  assert.deepEqual(dsts(net), ['192.0.2.0/25']);
  net.failNext('deleteRoute');
  await assert.rejects(rri.childDown('c'), /deleteRoute failed/);
  assert.deepEqual(rri.errors, { inject: 1, withdraw: 1 });
});

test('configuration errors are ConfigErrors that say what to set', () => {
  const net = new StubKernelNet();
  assert.throws(() => new RouteInjector(net, {}), { code: 'SEGW_CONFIG', message: /needs a gateway \(via\/via6\) or a device/ });
  assert.throws(() => new RouteInjector(net, { dev: 'x', protocol: 0 }), /protocol 0/);
  assert.throws(() => new RouteInjector(net, { dev: 'x', table: 255 }), /not 255/);
  const v4only = new RouteInjector(net, { via: '198.51.100.2' });
  return assert.rejects(v4only.childUp('c', [ts('2001:db8::1')]), { code: 'SEGW_CONFIG', message: /set via6 or dev/ });
});

test('a child needing more than maxPerChild routes gets none (RouteLimitError); within the cap it gets all', async () => {
  const net = new StubKernelNet();
  const rri = new RouteInjector(net, { dev: 'core0', maxPerChild: 3 });
  const many = ['192.0.2.1', '192.0.2.3', '192.0.2.5', '192.0.2.7'].map((a) => ts(a));
  await assert.rejects(rri.childUp('big', many), (err: Error & { code?: string }) => {
    assert.ok(err instanceof RouteLimitError);
    assert.match(err.message, /4 routes, more than routes\.maxPerChild \(3\)/);
    return true;
  });
  assert.deepEqual(dsts(net), [], 'nothing injected');
  assert.deepEqual(rri.routes(), []);
  // One range that splits into 4 prefixes counts as 4.
  await assert.rejects(rri.childUp('range', [ts('192.0.2.1', '192.0.2.6')]), RouteLimitError);
  await rri.childUp('ok', many.slice(0, 3));
  assert.deepEqual(dsts(net), ['192.0.2.1/32', '192.0.2.3/32', '192.0.2.5/32']);
  assert.equal(DEFAULT_MAX_ROUTES_PER_CHILD, 64);
  assert.throws(() => new RouteInjector(net, { dev: 'core0', maxPerChild: 0 }), /maxPerChild/);
});
