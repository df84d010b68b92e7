/**
 * A route flap towards the base station (strongSwan 5.9.8 behind a NAT, so IKE runs on the
 * gateway's 4500 socket, which the userspace ESP engine owns): segw's IKE sends fail in
 * sendmsg ("No route to host"). That is a lost datagram, not a bug: the IKE SA stays, the
 * failure is counted and logged with the peer, and the retransmission completes the exchange
 * once the route is back (before the fix the first failure tore the SA down without a Delete).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../src/lab/lab.js';
import { eventually } from '../support/eventually.js';
import { Scenario } from './support/scenario.js';
import { segwView } from './support/sas.js';

test('route to the base station briefly unreachable: segw keeps the IKE SA and its liveness check completes', { timeout: 120_000 }, async () => {
  await withLab('ikesenderr', async (lab) => {
    const sc = await Scenario.start(lab, {
      segwRole: 'gateway',
      nat: true,
      spec: { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', segw: { retransmit: { timeout: 1, base: 2, tries: 5 } } },
    });
    const t = await sc.up();
    assert.equal(t.segwSa.local.port, 4500, 'IKE on the engine socket');
    const gw = sc.topo.gw;
    const blackhole = ['route', 'add', 'unreachable', `${sc.topo.bsSeenAs}/32`];
    await gw.exec('ip', blackhole);
    let restored = false;
    try {
      const dpd = sc.segw.ctl<{ alive: boolean }>('dpd', { ike: t.segwSa.name, timeoutMs: 30_000 });
      await eventually(() => sc.segwLog(/cannot send an IKE datagram/).length > 0, 'segw logs the failed send');
      const line = sc.segwLog(/cannot send an IKE datagram/)[0]!;
      assert.equal(line.level, 'warn');
      assert.match(String(line.peer), new RegExp(`^${sc.topo.bsSeenAs.replace(/\./g, '\\.')}:`));
      assert.equal((await segwView(sc.segw)).length, 1, 'the IKE SA is kept');
      await gw.exec('ip', ['route', 'del', 'unreachable', `${sc.topo.bsSeenAs}/32`]);
      restored = true;
      assert.equal((await dpd).alive, true, 'answered once the route is back');
    } finally {
      if (!restored) await gw.exec('ip', ['route', 'del', 'unreachable', `${sc.topo.bsSeenAs}/32`], { allowFail: true });
    }
    const after = await segwView(sc.segw);
    assert.equal(after.length, 1);
    assert.equal((after[0]!.raw as { name: string }).name, t.segwSa.name, 'the same IKE SA');
    assert.deepEqual(await sc.pingBothWays(), { toGw: 3, toBs: 3 });
    const wire = await sc.finish();
    assert.ok((wire.segwCounters.send_error ?? 0) >= 1, `send errors counted: ${JSON.stringify(wire.segwCounters)}`);
  });
});
