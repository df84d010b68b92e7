/**
 * The VRRP virtual MAC (RFC 9568 §7.3) and Accept_Mode False (§6.1, §6.4.3) with `segw vrrp`
 * nodes as processes in namespaces on one bridged LAN, and a client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab, type Host } from '../../src/lab/lab.js';
import { SegwVrrp } from '../../src/lab/peers/segw-vrrp.js';
import { vrrpLan } from './support/vrrp-lan.js';
import { eventually } from '../support/eventually.js';

const VIP = '203.0.113.10';
const arpEntry = (client: Host) => client.neighbourMac(VIP);
const VRID = 42;
const VMAC = '00:00:5e:00:01:2a';
const VLINK = `vrrp.${VRID}`;

/** The client's neighbour entry for the VIP (lladdr), or ''. */
/** The virtual MAC link of a node: absent, or up/down and whether it holds the VIP. */
async function vlink(h: Host): Promise<{ present: boolean; up: boolean; vip: boolean; mac: string }> {
  const r = await h.exec('ip', ['-o', 'addr', 'show', 'dev', VLINK], { allowFail: true });
  if (r.code !== 0) return { present: false, up: false, vip: false, mac: '' };
  const l = await h.exec('ip', ['-o', 'link', 'show', 'dev', VLINK]);
  return {
    present: true,
    up: /<[^>]*\bUP\b[^>]*>/.test(l.stdout),
    vip: r.stdout.includes(`${VIP}/24`),
    mac: /link\/ether (\S+)/.exec(l.stdout)?.[1] ?? '',
  };
}
/** The bridge port the switch learned the virtual MAC on. */
async function fdbPort(sw: Host): Promise<string> {
  const r = await sw.exec('bridge', ['fdb', 'show', 'br', 'br0']);
  return new RegExp(`^${VMAC} dev (\\S+)`, 'm').exec(r.stdout)?.[1] ?? '';
}

test('virtual MAC: VIP on vrrp.42 (00:00:5e:00:01:2a) on the master only; kill -9 failover changes no client ARP entry; a restart replaces the stale link', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vmac', async (lab) => {
    id = lab.id;
    const sw = await lab.switch('lan');
    const g = [await lab.host('g1'), await lab.host('g2'), await lab.host('g3')];
    const client = await lab.host('client');
    for (const [i, h] of g.entries()) {
      await sw.attach(h, `203.0.113.${i + 1}/24`, { ifname: 'eth0' });
      // Strict reverse-path filtering host-wide: the macvlan's own rp_filter=2 must still let clients in.
      await h.sysctl('net.ipv4.conf.all.rp_filter', 1);
    }
    await sw.attach(client, '203.0.113.100/24', { ifname: 'eth0' });
    const common = { interface: 'eth0', vrid: VRID, advertInterval: 100, vips: [`${VIP}/24`], virtualMac: true };
    const nodes = [
      await SegwVrrp.start(g[0], { ...common, priority: 200 }),
      await SegwVrrp.start(g[1], { ...common, priority: 150 }),
      await SegwVrrp.start(g[2], { ...common, priority: 100 }),
    ];
    await nodes[0].waitForState('Master');
    await nodes[1].waitForState('Backup');
    await nodes[2].waitForState('Backup');
    await eventually(async () => (await vlink(g[0])).vip, 'g1 holds the VIP on vrrp.42');
    assert.deepEqual(await vlink(g[0]), { present: true, up: true, vip: true, mac: VMAC });
    for (const h of [g[1], g[2]]) assert.deepEqual(await vlink(h), { present: true, up: false, vip: false, mac: VMAC }, `${h.name}: vrrp.42 down, no VIP`);
    const eth0 = await g[0].exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.ok(!eth0.stdout.includes(VIP), 'the VIP is not on the parent');

    assert.equal(await client.ping(VIP), true);
    assert.equal(await arpEntry(client), VMAC, 'ARP for the VIP is answered with the virtual MAC (and not by the parent)');
    // The master's adverts leave from the virtual MAC.
    const adverts = await client.exec('tcpdump', ['-n', '-e', '-c', '2', '-i', 'eth0', `ip proto 112 and ether src ${VMAC}`], { timeoutMs: 10_000 });
    assert.match(adverts.stdout, new RegExp(`${VMAC} > 01:00:5e:00:00:12`));
    assert.equal(await fdbPort(sw.host), 'p0', 'the switch learned the virtual MAC on g1\'s port');

    await nodes[0].crash();
    await nodes[1].waitForState('Master');
    await eventually(async () => (await vlink(g[1])).vip, 'g2 holds the VIP on vrrp.42');
    // The switch follows the adverts and GARPs from g2; the client's entry never had to change.
    await eventually(async () => (await fdbPort(sw.host)) === 'p1', { what: 'the switch learned the virtual MAC on g2\'s port', timeoutMs: 5000 });
    assert.equal(await arpEntry(client), VMAC);
    assert.equal(await client.ping(VIP), true);
    assert.equal(await arpEntry(client), VMAC);
    // Re-resolved from scratch, the VIP is still the virtual MAC (g2's parent does not answer with its own).
    await client.exec('ip', ['neigh', 'flush', 'dev', 'eth0']);
    assert.equal(await client.ping(VIP), true);
    assert.equal(await arpEntry(client), VMAC);
    assert.equal(nodes[2].state(), 'Backup');

    // g1 comes back (its killed run left vrrp.42 up with the VIP): the link is replaced, and g1
    // preempts (priority 200) from a clean state.
    assert.equal((await vlink(g[0])).up, true, 'kill -9 left the link up');
    const again = await SegwVrrp.start(g[0], { ...common, priority: 200 }, { name: 'segw-vrrp-g1-again' });
    assert.equal(again.logged(/removed a virtual MAC link left by an earlier run/).length, 1);
    await again.waitForState('Master');
    await nodes[1].waitForState('Backup');
    await eventually(async () => (await fdbPort(sw.host)) === 'p0', { what: 'the switch learned the virtual MAC on g1\'s port again', timeoutMs: 5000 });
    assert.deepEqual(await vlink(g[1]), { present: true, up: false, vip: false, mac: VMAC });
    assert.equal(await client.ping(VIP), true);
    assert.equal(await arpEntry(client), VMAC);

    // SIGTERM: the link goes; a node started clean puts its parent's ARP settings back.
    const arpIgnore = async (h: Host) => (await h.exec('cat', ['/proc/sys/net/ipv4/conf/eth0/arp_ignore'])).stdout.trim();
    assert.equal(await arpIgnore(g[1]), '1');
    await again.stop();
    assert.equal((await vlink(g[0])).present, false);
    await nodes[1].waitForState('Master', 5000);
    for (const n of [nodes[1], nodes[2]]) await n.stop();
    for (const h of [g[1], g[2]]) {
      assert.equal((await vlink(h)).present, false);
      assert.equal(await arpIgnore(h), '0');
    }
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('accept: false: the master answers ARP for the VIP but not a ping to it; accept: true (default) answers; stale rules are cleared', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vaccept', async (lab) => {
    id = lab.id;
    const { nodes: [g1], client } = await vrrpLan(lab, ['g1']);
    const g1mac = (await g1.exec('cat', ['/sys/class/net/eth0/address'])).stdout.trim();
    const table = async () => (await g1.exec('nft', ['list', 'tables'])).stdout.includes('inet segw_vrrp_eth0_42');
    const common = { interface: 'eth0', vrid: VRID, advertInterval: 100, vips: [`${VIP}/24`], priority: 200 };

    const closed = await SegwVrrp.start(g1, { ...common, accept: false }, { name: 'closed' });
    await closed.waitForState('Master');
    await eventually(table, 'the Accept_Mode drop table is in');
    assert.equal(await client.ping(VIP, { count: 2, timeoutS: 1 }), false, 'no echo reply from the VIP');
    assert.equal(await arpEntry(client), g1mac, 'ARP for the VIP is still answered');
    assert.equal(await client.ping('203.0.113.1'), true, 'the node\'s own address is not filtered');
    assert.equal((await closed.status()).filtering, true);

    // kill -9 leaves the table; the next run clears it first.
    await closed.crash();
    assert.equal(await table(), true);
    const open = await SegwVrrp.start(g1, common, { name: 'open' });
    await open.waitForState('Master');
    assert.equal(await table(), false);
    assert.equal(await client.ping(VIP), true, 'accept: true answers on the VIP');
    await open.stop();

    // A graceful stop removes the table.
    const again = await SegwVrrp.start(g1, { ...common, accept: false }, { name: 'again' });
    await again.waitForState('Master');
    await eventually(table, 'the table is back');
    await again.stop();
    assert.equal(await table(), false);
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('virtual MAC: a higher-priority node preempts; the old master hears adverts sent from its own virtual MAC and steps down', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vmacpre', async (lab) => {
    id = lab.id;
    const { nodes: [g1, g2], client } = await vrrpLan(lab, ['g1', 'g2']);
    const common = { interface: 'eth0', vrid: VRID, advertInterval: 100, vips: [`${VIP}/24`], virtualMac: true };
    const low = await SegwVrrp.start(g1, { ...common, priority: 100 });
    await low.waitForState('Master');
    await eventually(async () => (await vlink(g1)).vip, 'g1 holds the VIP');
    assert.equal(await client.ping(VIP), true);
    // g2's adverts leave from 00:00:5e:00:01:2a, the MAC of g1's own (up) macvlan.
    const high = await SegwVrrp.start(g2, { ...common, priority: 200 });
    await high.waitForState('Master');
    await low.waitForState('Backup', 5000);
    await eventually(async () => !(await vlink(g1)).up, 'g1\'s macvlan is down');
    assert.deepEqual(await vlink(g2), { present: true, up: true, vip: true, mac: VMAC });
    assert.equal(await client.ping(VIP), true);
    assert.equal(await arpEntry(client), VMAC);
    await high.stop();
    await low.stop();
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('accept: false, IPv6: no echo reply from the VIP while Neighbor Solicitations for it are answered', { timeout: 120_000 }, async () => {
  const VIP6 = '2001:db8::10';
  let id = '';
  await withLab('vaccept6', async (lab) => {
    id = lab.id;
    const { nodes: [g1], client } = await vrrpLan(lab, ['g1'], { v6: true });
    const g1mac = (await g1.exec('cat', ['/sys/class/net/eth0/address'])).stdout.trim();
    for (const [k, v] of [['base_reachable_time_ms', 500], ['delay_first_probe_time', 1], ['retrans_time_ms', 300]] as const) {
      await client.sysctl(`net.ipv6.neigh.eth0.${k}`, v);
    }
    const n = await SegwVrrp.start(g1, { interface: 'eth0', vrid: 7, advertInterval: 100, vips: [`${VIP6}/64`], priority: 200, accept: false });
    await n.waitForState('Master');
    await eventually(async () => (await g1.exec('nft', ['list', 'tables'])).stdout.includes('inet segw_vrrp_eth0_7'), 'the drop table is in');
    await eventually(async () => (await g1.exec('ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.includes(`${VIP6}/64`), 'g1 holds the VIP');
    assert.equal(await client.ping(VIP6, { count: 2, timeoutS: 1 }), false, 'no echo reply from the VIP');
    const neigh = async () => (await client.exec('ip', ['-6', 'neigh', 'show', VIP6, 'dev', 'eth0'])).stdout;
    assert.match(await neigh(), new RegExp(`lladdr ${g1mac}`), 'the Neighbor Solicitation for the VIP was answered');
    // The first NS went to the solicited-node group; reachability probes (RFC 4861 §7.3.3) go to
    // the VIP itself, which the drop rules must let through too. Short timers make the entry
    // stale, traffic probes it, and only an answered probe makes it REACHABLE again.
    const state = await eventually(async () => /\b(STALE|DELAY|PROBE)\b/.exec(await neigh())?.[1], { what: 'the entry leaves REACHABLE', timeoutMs: 10_000 });
    if (state === 'STALE') assert.equal(await client.ping(VIP6, { count: 1, timeoutS: 1 }), false);
    await eventually(async () => /REACHABLE/.test(await neigh()), { what: 'the unicast probe to the VIP is answered', timeoutMs: 5000 });
    await n.stop();
    assert.equal((await g1.exec('nft', ['list', 'tables'])).stdout.includes('segw_vrrp'), false);
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});
