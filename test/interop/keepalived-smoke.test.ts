/**
 * The VRRP harness: two keepalived 2.2.7 nodes on one LAN elect the higher priority as master,
 * which holds the VIP; when the master crashes the backup takes the VIP over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vrrpLan } from './support/vrrp-lan.js';
import { eventually } from '../support/eventually.js';
import { withLab, Lab, type Host } from '../../src/lab/lab.js';
import { Keepalived } from '../../src/lab/peers/keepalived.js';

const VIP = '203.0.113.10';
const holdsVip = (h: Host) => h.hasAddress(`${VIP}/24`);


test('keepalived pair: the higher priority holds the VIP; on a crash the backup takes it', { timeout: 60_000 }, async () => {
  let id = '';
  await withLab('vrrp', async (lab) => {
    id = lab.id;
    const { nodes: [g1, g2], client } = await vrrpLan(lab, ['g1', 'g2']);
    const common = { interface: 'eth0', vrid: 51, advertInterval: 0.1, vips: [`${VIP}/24`] };
    const k1 = await Keepalived.start(g1, [{ ...common, priority: 150 }]);
    const k2 = await Keepalived.start(g2, [{ ...common, priority: 100 }]);
    await k1.waitForState('MASTER');
    // keepalived logs MASTER before it adds the address.
    await eventually(() => holdsVip(g1), 'the master holds the VIP');
    assert.equal(await holdsVip(g2), false);
    assert.equal(await client.ping(VIP), true);

    await k1.crash();
    await k2.waitForState('MASTER', 5000);
    await eventually(() => holdsVip(g2), 'the new master holds the VIP');
    assert.equal(await client.ping(VIP, { count: 2 }), true, 'the VIP answers from the new master');
    await k2.stop();
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});
