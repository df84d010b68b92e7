/**
 * Route injection end to end: a strongSwan base station brings up a child SA with a segw gateway
 * (`segw gateway`, userspace data plane on this kernel); the gateway injects the base station's
 * subnet as a `proto segw` route; BIRD on the gateway announces it over BGP to an FRR core; the
 * core then reaches the base station's subnet through the gateway and the tunnel. The route
 * leaves the core when the child SA is deleted, comes back with a new one, and after the
 * gateway is SIGKILLed and restarted no segw route is left in its kernel. (With the userspace
 * data plane the routes point into the engine's TUN device, which vanishes with the process and
 * takes them along; routes that do survive a crash, on a device that stays, are removed by the
 * restarted run's reconcile in routing-bgp.test.ts and test/kernel/route-injection-live.test.ts.)
 *
 *   bs 192.0.2.1/25 [lan] -- bs 198.51.100.1 ==IKE/ESP== 198.51.100.2 gw 192.0.2.129/25 -- 192.0.2.130 core
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, type Host } from '../../src/lab/lab.js';
import { StrongSwan } from '../../src/lab/peers/strongswan.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import { Bird, rriGatewayConfig } from '../../src/lab/peers/bird.js';
import { Frr, bgpCoreConfig } from '../../src/lab/peers/frr.js';
import { childSas, ikeSas } from '../../src/lab/peers/vici-raw.js';
import { segwGatewayConfig, strongSwanBaseStation } from '../../src/lab/demo.js';
import { eventually } from '../support/eventually.js';

const until = (what: string, pred: () => Promise<boolean>) => eventually(pred, { what, timeoutMs: 30_000, intervalMs: 250 });

const segwRoutes = async (h: Host) => (await h.exec('ip', ['route', 'show', 'proto', 'segw'])).stdout.trim();
const installed = (sas: Awaited<ReturnType<StrongSwan['listSas']>>) =>
  sas.flatMap((e) => ikeSas(e).flatMap(([, ike]) => childSas(ike).filter((c) => c.state === 'INSTALLED')));

test('a strongSwan child SA makes the core learn the base station subnet over BGP; delete and gateway crash withdraw it', { timeout: 240_000 }, async () => {
  await withLab('rriss', async (lab) => {
    const bs = await lab.host('bs');
    const gw = await lab.host('gw');
    const core = await lab.host('core');
    await lab.link(bs, gw, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    await lab.lan(bs, '192.0.2.1/25');
    await lab.link(gw, core, { aIf: 'core0', bIf: 'gw0', a: '192.0.2.129/25', b: '192.0.2.130/25' });
    await gw.enableForwarding();

    const bird = await Bird.start(gw, {
      config: rriGatewayConfig({ routerId: '192.0.2.129', bgp: { localAddress: '192.0.2.129', localAs: 64512, neighbor: '192.0.2.130', neighborAs: 64513 } }),
    });
    const frr = await Frr.start(core, {
      bgpd: bgpCoreConfig({ hostname: 'core', routerId: '192.0.2.130', localAs: 64513, neighbor: '192.0.2.129', neighborAs: 64512 }),
    });
    let segw = await SegwProcess.start(gw, 'gateway', segwGatewayConfig(), { name: 'gw-run1' });
    const ss = await StrongSwan.start(bs, { name: 'bs', swanctl: strongSwanBaseStation() });
    try {
      await bird.waitForProtocol('core', /Established/, 60_000);
      assert.equal(await segwRoutes(gw), '', 'no child SA yet, no injected route');

      await ss.initiate('s1', { timeoutS: 20 });
      await ss.waitForSas((ev) => installed(ev).length > 0);
      await until('the gateway injects 192.0.2.0/25', async () => /^192\.0\.2\.0\/25 dev segw0/.test(await segwRoutes(gw)));
      await until('the core learns 192.0.2.0/25 from the gateway', async () => (await frr.route('192.0.2.0/25'))?.nexthops[0]?.ip === '192.0.2.129');
      // The core reaches the base station only through the injected route and the tunnel.
      const ping = await core.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', '192.0.2.130', '192.0.2.1'], { allowFail: true });
      assert.equal(ping.code, 0, `core -> base station through the gateway:\n${ping.stdout}`);

      // The base station deletes its child SA: the gateway withdraws, the core forgets.
      await ss.swanctl(['--terminate', '--child', 's1']);
      await until('the gateway withdraws 192.0.2.0/25', async () => (await segwRoutes(gw)) === '');
      await until('the core withdraws 192.0.2.0/25', async () => (await frr.route('192.0.2.0/25')) === undefined);

      // A new child SA: injected again. Then the gateway crashes and restarts.
      await ss.initiate('s1', { timeoutS: 20 });
      await until('the core learns 192.0.2.0/25 again', async () => (await frr.route('192.0.2.0/25')) !== undefined);
      await segw.kill();
      segw = await SegwProcess.start(gw, 'gateway', segwGatewayConfig(), { name: 'gw-run2' });
      assert.equal(await segwRoutes(gw), '', 'no stale segw route after the restart');
      await until('the core withdraws the crashed gateway\'s route', async () => (await frr.route('192.0.2.0/25')) === undefined);
    } finally {
      await ss.stop();
      await segw.stop();
      await frr.stop();
      await bird.stop();
    }
  });
});
