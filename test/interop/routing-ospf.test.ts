/**
 * Route injection over OSPF, BIRD 2 on both sides: the gateway's BIRD learns segw's kernel
 * routes (krt_source = 200) and originates them as OSPF externals; the core's BIRD installs them
 * in its kernel. Injected on child up, gone on child down (route withdrawal within seconds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, type Host } from '../../src/lab/lab.js';
import { Bird, coreRouterConfig, rriGatewayConfig } from '../../src/lab/peers/bird.js';
import { InjectorProcess } from '../netlink/injector-process.js';
import { eventually } from '../support/eventually.js';

const until = (what: string, pred: () => Promise<boolean>) => eventually(pred, { what, timeoutMs: 45_000, intervalMs: 250 });

const route = async (h: Host, prefix: string) => (await h.exec('ip', ['-4', 'route', 'show', prefix])).stdout.trim();

test('an injected subnet reaches the core by OSPF and leaves it on child down', { timeout: 180_000 }, async () => {
  await withLab('rriospf', async (lab) => {
    const gw = await lab.host('gw');
    const core = await lab.host('core');
    await lab.link(gw, core, { aIf: 'core0', bIf: 'gw0', a: '198.51.100.1/24', b: '198.51.100.2/24' });
    await lab.lan(gw, '203.0.113.1/30', { aIf: 'tun0' });
    const gwBird = await Bird.start(gw, { config: rriGatewayConfig({ routerId: '198.51.100.1', ospf: { interface: 'core0' } }) });
    const coreBird = await Bird.start(core, { config: coreRouterConfig({ routerId: '198.51.100.2', ospf: { interface: 'gw0' } }) });
    await coreBird.waitForProtocol('gateways', /Running/, 60_000);

    const injector = await InjectorProcess.start(gw, { dev: 'tun0' });
    try {
      await injector.send({ op: 'up', id: 'bs1/child1', cidrs: ['192.0.2.0/25'] });
      await until('core installs 192.0.2.0/25 from OSPF', async () => /via 198\.51\.100\.1 dev gw0 proto bird/.test(await route(core, '192.0.2.0/25')));
      await injector.send({ op: 'down', id: 'bs1/child1' });
      await until('core removes 192.0.2.0/25', async () => (await route(core, '192.0.2.0/25')) === '');
      assert.equal((await gw.exec('ip', ['route', 'show', 'proto', 'segw'])).stdout.trim(), '');
      await injector.send({ op: 'close' });
    } finally {
      await injector.kill();
      await gwBird.stop();
      await coreBird.stop();
    }
  });
});
