/**
 * segw VRRP nodes as separate processes in namespaces on one LAN: election, the VIP and its
 * gratuitous ARP, and a 3-node failover after kill -9 of the master, checked in a client's ARP cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab, type Host } from '../../src/lab/lab.js';
import { SegwVrrp } from '../../src/lab/peers/segw-vrrp.js';
import { eventually } from '../support/eventually.js';

const VIP = '203.0.113.10';

async function holdsVip(h: Host, ifname = 'eth0'): Promise<boolean> {
  const r = await h.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', ifname]);
  return r.stdout.includes(`${VIP}/24`);
}
async function mac(h: Host): Promise<string> {
  return (await h.exec('cat', ['/sys/class/net/eth0/address'])).stdout.trim();
}
/** The client's neighbour entry for the VIP (lladdr), or ''. */
async function arpEntry(client: Host): Promise<string> {
  const r = await client.exec('ip', ['-4', 'neigh', 'show', VIP, 'dev', 'eth0']);
  return /lladdr (\S+)/.exec(r.stdout)?.[1] ?? '';
}

test('3 segw VRRP nodes: kill -9 the master; the next priority takes the VIP and GARPs; the client ARP cache follows', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vrrp3', async (lab) => {
    id = lab.id;
    const sw = await lab.switch('lan');
    const g = [await lab.host('g1'), await lab.host('g2'), await lab.host('g3')];
    const client = await lab.host('client');
    for (const [i, h] of g.entries()) await sw.attach(h, `203.0.113.${i + 1}/24`, { ifname: 'eth0' });
    await sw.attach(client, '203.0.113.100/24', { ifname: 'eth0' });
    // The client learns from gratuitous ARP (Linux ignores it for unknown entries unless asked).
    await client.sysctl('net.ipv4.conf.eth0.arp_accept', 1);
    const common = { interface: 'eth0', vrid: 42, advertInterval: 100, vips: [`${VIP}/24`] };
    const nodes = [
      await SegwVrrp.start(g[0], { ...common, priority: 200 }),
      await SegwVrrp.start(g[1], { ...common, priority: 150 }),
      await SegwVrrp.start(g[2], { ...common, priority: 100 }),
    ];
    await nodes[0].waitForState('Master');
    await nodes[1].waitForState('Backup');
    await nodes[2].waitForState('Backup');
    assert.deepEqual(await Promise.all(g.map((h) => holdsVip(h))), [true, false, false]);
    assert.equal(await client.ping(VIP), true);
    assert.equal(await arpEntry(client), await mac(g[0]));

    await nodes[0].crash();
    await nodes[1].waitForState('Master');
    await eventually(() => holdsVip(g[1]), 'g2 holds the VIP');
    // The GARP (not a new ARP request) moves the client's cache to g2's MAC.
    const g2mac = await mac(g[1]);
    await eventually(async () => (await arpEntry(client)) === g2mac, { what: "client's ARP entry for the VIP = g2's MAC", timeoutMs: 5000 });
    assert.equal(nodes[2].state(), 'Backup');
    assert.equal(await holdsVip(g[2]), false);
    assert.equal(await client.ping(VIP), true);
    const st = await nodes[1].status();
    assert.equal(st.state, 'Master');
    assert.ok(st.announcements >= 5, `announcements ${st.announcements}`);
    const st3 = await nodes[2].status();
    assert.equal(st3.masterAddress, '203.0.113.2');

    // SIGTERM: g2 resigns with priority 0 and removes the VIP; g3 takes over.
    await nodes[1].stop();
    assert.equal(await holdsVip(g[1]), false);
    await nodes[2].waitForState('Master', 5000);
    await eventually(() => holdsVip(g[2]), 'g3 holds the VIP');
    await nodes[2].stop();
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});
