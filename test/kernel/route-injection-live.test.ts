/**
 * Route injection against a real kernel, in a lab namespace, across a crash: the injecting
 * process is SIGKILLed with routes installed (nothing withdrawn), and the next run reconciles
 * them: removed when no child wants them, adopted (never duplicated) when one does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type Host } from '../../src/lab/lab.js';
import { NetlinkKernelNet } from '../../src/kernel/net/netlink-net.js';
import { RouteInjector } from '../../src/kernel/route-injection.js';
import { ROUTE_PROTO_SEGW } from '../../src/kernel/types.js';
import { InjectorProcess } from '../netlink/injector-process.js';

let lab: Lab;
let gw: Host;
before(async () => {
  lab = await Lab.create('rrilive');
  gw = await lab.host('gw');
  const core = await lab.host('core');
  await lab.link(gw, core, { aIf: 'core0', a: '198.51.100.1/24', b: '198.51.100.2/24' });
});
after(async () => lab?.close());

const CONFIG = { via: '198.51.100.2', metric: 50, table: 254 };
const segwRoutes = async () =>
  (await gw.exec('ip', ['-4', 'route', 'show', 'proto', 'segw'])).stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();

/** 200 base stations' subnets: /28s of 198.18.0.0/15. */
const subnets = Array.from({ length: 200 }, (_, i) => `198.18.${i >> 4}.${(i & 15) * 16}/28`);

test('routes left by a SIGKILLed injector are removed by the next run\'s reconcile', async () => {
  const p1 = await InjectorProcess.start(gw, CONFIG);
  for (const [i, s] of subnets.entries()) await p1.send({ op: 'up', id: `c${i}`, cidrs: [s] });
  assert.equal((await segwRoutes()).length, 200);
  await p1.kill('SIGKILL');
  assert.equal((await segwRoutes()).length, 200, 'a crash withdraws nothing');

  const net = NetlinkKernelNet.open({ netns: `/run/netns/${gw.ns}` });
  try {
    const rri = new RouteInjector(net, CONFIG);
    assert.deepEqual(await rri.reconcile(), { adopted: 0, removed: 200, added: 0 });
    assert.deepEqual(await segwRoutes(), []);
    await rri.close();
  } finally {
    await net.close();
  }
});

test('a restarted injector whose children come back adopts their routes: no duplicates, stale ones go', async () => {
  const p1 = await InjectorProcess.start(gw, CONFIG);
  for (const [i, s] of subnets.slice(0, 20).entries()) await p1.send({ op: 'up', id: `c${i}`, cidrs: [s] });
  await p1.kill('SIGKILL');
  const before = await segwRoutes();
  assert.equal(before.length, 20);

  // The restarted run knows 10 of the 20 children (the others did not survive the restart).
  const p2 = await InjectorProcess.start(gw, CONFIG);
  try {
    for (const [i, s] of subnets.slice(0, 10).entries()) await p2.send({ op: 'up', id: `c${i}`, cidrs: [s] });
    assert.deepEqual(await segwRoutes(), before, 'childUp on a leftover route adopts it: no second route');
    const r = await p2.send({ op: 'reconcile' });
    assert.deepEqual(r.result, { adopted: 10, removed: 10, added: 0 });
    const after = await segwRoutes();
    assert.equal(after.length, 10);
    assert.deepEqual(after, before.filter((l) => subnets.slice(0, 10).some((s) => l.startsWith(`${s} `))));
    await p2.send({ op: 'close' });
    assert.deepEqual(await segwRoutes(), [], 'shutdown withdraws everything');
  } finally {
    await p2.kill();
  }
});

test('routes of other protocols and of other tables are left alone by reconcile', async () => {
  await gw.exec('ip', ['route', 'add', '192.0.2.0/25', 'via', '198.51.100.2', 'proto', 'static']);
  await gw.exec('ip', ['route', 'add', '192.0.2.128/25', 'via', '198.51.100.2', 'proto', String(ROUTE_PROTO_SEGW), 'table', '100']);
  const net = NetlinkKernelNet.open({ netns: `/run/netns/${gw.ns}` });
  try {
    const rri = new RouteInjector(net, CONFIG);
    assert.deepEqual(await rri.reconcile(), { adopted: 0, removed: 0, added: 0 });
    assert.match((await gw.exec('ip', ['route', 'show', '192.0.2.0/25'])).stdout, /proto static/);
    assert.match((await gw.exec('ip', ['route', 'show', 'table', '100'])).stdout, /192\.0\.2\.128\/25/);
  } finally {
    await net.close();
  }
});
