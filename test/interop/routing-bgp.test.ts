/**
 * Route injection seen by the core network: a gateway namespace runs BIRD 2, which learns the
 * kernel routes of segw's protocol (krt_source = 200) and announces them over eBGP to a `core`
 * namespace running FRR (zebra + bgpd). A RouteInjector in its own process on the gateway
 * injects base stations' subnets; the core learns them, loses them on withdraw, and after the
 * injecting process is SIGKILLed and restarted, reconciliation leaves no stale segw route in
 * the gateway's kernel, so the core withdraws them too.
 *
 * Not here yet: the same flow driven by a strongSwan base station's child SA through segw's own
 * IKE daemon (`segw gateway`), which a colleague is building; the RouteInjector API
 * (childUp/childDown/ikeSaDown/reconcile) is what that daemon will call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, type Host } from '../../src/lab/lab.js';
import { Bird, rriGatewayConfig } from '../../src/lab/peers/bird.js';
import { Frr, bgpCoreConfig } from '../../src/lab/peers/frr.js';
import { InjectorProcess } from '../netlink/injector-process.js';
import { eventually } from '../support/eventually.js';

const until = (what: string, pred: () => Promise<boolean>) => eventually(pred, { what, timeoutMs: 30_000, intervalMs: 200 });

const kernelRoute = async (h: Host, prefix: string) => (await h.exec('ip', ['-4', 'route', 'show', prefix])).stdout.trim();

test('core learns injected subnets over BGP, loses them on withdraw, and none survive a crashed gateway', { timeout: 180_000 }, async () => {
  await withLab('rribgp', async (lab) => {
    const gw = await lab.host('gw');
    const core = await lab.host('core');
    await lab.link(gw, core, { aIf: 'core0', bIf: 'gw0', a: '198.51.100.1/24', b: '198.51.100.2/24' });
    // Where the base stations' traffic would go: the tunnel side of the gateway.
    await lab.lan(gw, '203.0.113.1/30', { aIf: 'tun0' });

    const bird = await Bird.start(gw, {
      config: rriGatewayConfig({
        routerId: '198.51.100.1',
        bgp: { localAddress: '198.51.100.1', localAs: 64512, neighbor: '198.51.100.2', neighborAs: 64513 },
      }),
    });
    const frr = await Frr.start(core, {
      bgpd: bgpCoreConfig({ hostname: 'core', routerId: '198.51.100.2', localAs: 64513, neighbor: '198.51.100.1', neighborAs: 64512 }),
    });
    await bird.waitForProtocol('core', /Established/, 60_000);

    const injector = await InjectorProcess.start(gw, { dev: 'tun0', metric: 10 });
    // A base station's child SA with two remote subnets; a second base station with one.
    await injector.send({ op: 'up', id: 'bs1/child1', cidrs: ['192.0.2.0/26', '192.0.2.64/26'] });
    await injector.send({ op: 'up', id: 'bs2/child1', cidrs: ['192.0.2.128/25'] });
    for (const p of ['192.0.2.0/26', '192.0.2.64/26', '192.0.2.128/25']) {
      await until(`core learns ${p}`, async () => (await frr.route(p))?.nexthops[0]?.ip === '198.51.100.1');
      assert.match(await kernelRoute(core, p), /via 198\.51\.100\.1 dev gw0 proto bgp/);
    }

    // Child SA deleted: its subnets are withdrawn, the other base station's stay.
    await injector.send({ op: 'down', id: 'bs1/child1' });
    for (const p of ['192.0.2.0/26', '192.0.2.64/26']) {
      await until(`core withdraws ${p}`, async () => (await frr.route(p)) === undefined);
    }
    assert.ok(await frr.route('192.0.2.128/25'));

    // The gateway process crashes: nothing is withdrawn, the core keeps the route.
    await injector.send({ op: 'up', id: 'bs1/child2', cidrs: ['192.0.2.0/26'] });
    await until('core learns 192.0.2.0/26 again', async () => (await frr.route('192.0.2.0/26')) !== undefined);
    await injector.kill('SIGKILL');
    // A marker route of segw's protocol added after the kill: once the core has learned it, a
    // withdrawal the crash had caused would have reached the core before it.
    await gw.exec('ip', ['route', 'add', '198.51.100.128/25', 'dev', 'tun0', 'proto', '200', 'metric', '10']);
    await until('core learns the marker route', async () => (await frr.route('198.51.100.128/25')) !== undefined);
    assert.match(await kernelRoute(gw, '192.0.2.128/25'), /proto segw/, 'a SIGKILL leaves the routes behind');
    assert.ok(await frr.route('192.0.2.128/25'), 'and the core still routes to this gateway');
    assert.ok(await frr.route('192.0.2.0/26'));
    await gw.exec('ip', ['route', 'del', '198.51.100.128/25', 'dev', 'tun0', 'proto', '200', 'metric', '10']);

    // Restarted: reconcile at start removes every segw route the new run does not want.
    const restarted = await InjectorProcess.start(gw, { dev: 'tun0', metric: 10 });
    const r = await restarted.send({ op: 'reconcile' });
    assert.deepEqual(r.result, { adopted: 0, removed: 2, added: 0 });
    assert.equal((await gw.exec('ip', ['route', 'show', 'proto', 'segw'])).stdout.trim(), '', 'no stale segw route in the kernel');
    for (const p of ['192.0.2.0/26', '192.0.2.128/25']) {
      await until(`core withdraws ${p} after the restart`, async () => (await frr.route(p)) === undefined);
    }
    await restarted.send({ op: 'close' });
    await frr.stop();
    await bird.stop();
  });
});
