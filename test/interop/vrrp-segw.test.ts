/**
 * segw VRRP nodes as separate processes in namespaces on one LAN: election, the VIP and its
 * gratuitous ARP, and a 3-node failover after kill -9 of the master, checked in a client's ARP cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, Lab, type Host } from '../../src/lab/lab.js';
import { SegwVrrp } from '../../src/lab/peers/segw-vrrp.js';
import { Capture } from '../../src/lab/peers/tshark.js';
import { decodeVrrp } from '../../src/lab/peers/tshark-vrrp.js';
import { encodeAdvert } from '../../src/vrrp/packet.js';
import { loadAddon } from '../../src/native/addon.js';
import { vrrpLan } from './support/vrrp-lan.js';
import { eventually } from '../support/eventually.js';

const VIP = '203.0.113.10';
const holdsVip = (h: Host, ifname = 'eth0') => h.hasAddress(`${VIP}/24`, ifname);
const mac = (h: Host) => h.mac();
const arpEntry = (client: Host) => client.neighbourMac(VIP);

/** The client's neighbour entry for the VIP (lladdr), or ''. */

test('3 segw VRRP nodes: kill -9 the master; the next priority takes the VIP and GARPs; the client ARP cache follows', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vrrp3', async (lab) => {
    id = lab.id;
    const { nodes: g, client } = await vrrpLan(lab, ['g1', 'g2', 'g3']);
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

test('IPv6: ff02::12 adverts with hop limit 255 from link-local; failover moves the VIP and the unsolicited NA moves the client\'s neighbour entry', { timeout: 120_000 }, async () => {
  const VIP6 = '2001:db8::10';
  let id = '';
  await withLab('vrrp6', async (lab) => {
    id = lab.id;
    const { nodes: [g1, g2], client } = await vrrpLan(lab, ['g1', 'g2'], { v6: true });
    const cap = await Capture.start(client, 'eth0', { filter: 'ip6 proto 112', name: 'vrrp6' });
    const common = { interface: 'eth0', vrid: 7, advertInterval: 100, vips: [`${VIP6}/64`] };
    const n1 = await SegwVrrp.start(g1, { ...common, priority: 200 });
    await n1.waitForState('Master');
    const n2 = await SegwVrrp.start(g2, { ...common, priority: 100 });
    await n2.waitForState('Backup');
    const holds = async (h: Host) => (await h.exec('ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.includes(`${VIP6}/64`);
    const neigh = async () => /lladdr (\S+)/.exec((await client.exec('ip', ['-6', 'neigh', 'show', VIP6, 'dev', 'eth0'])).stdout)?.[1] ?? '';
    await eventually(() => holds(g1), 'g1 holds the IPv6 VIP');
    assert.equal(await client.ping(VIP6), true);
    assert.equal(await neigh(), await mac(g1));
    await eventually(async () => (await n2.status()).advertsIn >= 5, 'g2 hears g1');
    const st2 = await n2.status();
    assert.match(String(st2.masterAddress), /^fe80:/, 'the master advertises from its link-local address');

    await n1.crash();
    await n2.waitForState('Master');
    await eventually(() => holds(g2), 'g2 holds the IPv6 VIP');
    const g2mac = await mac(g2);
    await eventually(async () => (await neigh()) === g2mac, { what: "client's neighbour entry = g2's MAC", timeoutMs: 5000 });
    assert.equal(await client.ping(VIP6), true);
    await n2.stop();
    assert.equal(await holds(g2), false);

    await cap.stop();
    const frames = await decodeVrrp(cap.file, { checksum: 'rfc9568' });
    assert.ok(frames.length >= 10);
    for (const f of frames) assert.deepEqual([f.checksum, f.malformed, f.expert, f.hopLimit, f.vrid], ['good', false, [], 255, 7]);
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('unicast peers: adverts go only to the listed peer; failover works without multicast', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vrrpuc', async (lab) => {
    id = lab.id;
    const { nodes: [g1, g2], client } = await vrrpLan(lab, ['g1', 'g2']);
    const cap = await Capture.start(client, 'eth0', { filter: 'proto 112', name: 'vrrpuc' });
    const common = { interface: 'eth0', vrid: 9, advertInterval: 100, vips: [`${VIP}/24`] };
    const n1 = await SegwVrrp.start(g1, { ...common, priority: 200, unicastPeers: ['203.0.113.2'] });
    await n1.waitForState('Master');
    const n2 = await SegwVrrp.start(g2, { ...common, priority: 100, unicastPeers: ['203.0.113.1'] });
    await n2.waitForState('Backup');
    await eventually(async () => (await n2.status()).advertsIn >= 5, 'g2 hears g1 by unicast');
    await n1.crash();
    await n2.waitForState('Master');
    await eventually(() => holdsVip(g2), 'g2 holds the VIP');
    await n2.stop();
    await cap.stop();
    const frames = await decodeVrrp(cap.file, { checksum: 'rfc9568' });
    // The bridge floods unicast to the client until it learns the MACs; whatever it saw is unicast.
    const dsts = new Set((await client.exec('tshark', ['-n', '-r', cap.file, '-Y', 'vrrp', '-T', 'fields', '-e', 'ip.dst'])).stdout.split('\n').filter(Boolean));
    assert.ok(![...dsts].includes('224.0.0.18'), `destinations ${[...dsts].join(',')}`);
    for (const f of frames) assert.equal(f.checksum, 'good');
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('split brain: while adverts are lost both nodes are master; when it heals the lower one yields and the higher re-announces, so the client points back at it', { timeout: 120_000 }, async () => {
  let id = '';
  await withLab('vrrpsplit', async (lab) => {
    id = lab.id;
    const { nodes: [g1, g2], client } = await vrrpLan(lab, ['g1', 'g2']);
    await client.sysctl('net.ipv4.conf.eth0.arp_accept', 1);
    const common = { interface: 'eth0', vrid: 11, advertInterval: 100, vips: [`${VIP}/24`] };
    const n1 = await SegwVrrp.start(g1, { ...common, priority: 200 });
    await n1.waitForState('Master');
    const n2 = await SegwVrrp.start(g2, { ...common, priority: 100 });
    await n2.waitForState('Backup');
    assert.equal(await client.ping(VIP), true);

    // g2 stops hearing VRRP: it takes over too, and its GARP moves the client to it.
    await g2.exec('nft', ['-f', '-'], { input: 'table inet vrrpsplit { chain input { type filter hook input priority 0; ip protocol 112 drop; }; }' });
    await n2.waitForState('Master');
    await eventually(async () => (await arpEntry(client)) === (await mac(g2)), { what: 'client follows the split-brain master g2', timeoutMs: 15_000 });
    assert.equal(n1.state(), 'Master');

    // Healed: g2 yields to the higher priority; g1, seeing a lower-priority master, re-announces.
    await g2.exec('nft', ['delete', 'table', 'inet', 'vrrpsplit']);
    await n2.waitForState('Backup');
    await eventually(async () => !(await holdsVip(g2)), 'g2 removed the VIP');
    const g1mac = await mac(g1);
    await eventually(async () => (await arpEntry(client)) === g1mac, { what: "client's ARP entry back on g1", timeoutMs: 15_000 });
    assert.equal(n1.logged(/split brain/).length >= 1, true, 'g1 logged the healed split brain');
    assert.equal(await client.ping(VIP), true);
    await n1.stop();
    await n2.stop();
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});

test('bad adverts on the wire (TTL 64, bad checksum, another version) are dropped and counted by a running node; the same advert intact preempts it', { timeout: 60_000 }, async () => {
  let id = '';
  await withLab('vrrpbad', async (lab) => {
    id = lab.id;
    const sw = await lab.switch('lan');
    const g1 = await lab.host('g1');
    const rogue = await lab.host('rogue');
    await sw.attach(g1, '203.0.113.1/24', { ifname: 'eth0' });
    await sw.attach(rogue, '203.0.113.2/24', { ifname: 'eth0' });
    const n1 = await SegwVrrp.start(g1, { interface: 'eth0', vrid: 13, priority: 100, advertInterval: 100, vips: [`${VIP}/24`] });
    await n1.waitForState('Master');
    const ends = { family: 4 as const, src: '203.0.113.2', dst: '224.0.0.18' };
    const good = encodeAdvert({ vrid: 13, priority: 254, maxAdvertInterval: 100, addresses: [VIP] }, ends, 'rfc9568');
    const badSum = Buffer.from(good);
    badSum.writeUInt16BE(good.readUInt16BE(6) ^ 0xffff, 6);
    const v2 = Buffer.from(good);
    v2[0] = 0x21;
    // A raw IP socket in the rogue namespace (the addon's generic socket), multicast TTL as given;
    // the kernel writes the IP header.
    type RawSock = { setsockopt(l: number, n: number, v: number | Buffer): void; send(d: Buffer, to: Buffer): number; close(): void };
    const { sock } = loadAddon() as unknown as { sock: { Socket: new (d: number, t: number, p: number, o: object) => RawSock } };
    const AF_INET = 2, SOCK_RAW = 3, IPPROTO_IP = 0, IP_MULTICAST_IF = 32, IP_MULTICAST_TTL = 33;
    const to = Buffer.alloc(16);
    to.writeUInt16LE(AF_INET, 0);
    Buffer.from([224, 0, 0, 18]).copy(to, 4);
    const send = async (data: Buffer, ttl: number) => {
      const s = new sock.Socket(AF_INET, SOCK_RAW, 112, { netns: `/run/netns/${rogue.ns}` });
      try {
        s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, ttl);
        s.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, Buffer.from([203, 0, 113, 2]));
        assert.equal(s.send(data, to), data.length);
      } finally {
        s.close();
      }
    };
    await send(good, 64);
    await send(badSum, 255);
    await send(v2, 255);
    const st = await eventually(async () => {
      const s = await n1.status();
      return s.drops.ttl >= 1 && s.drops.checksum >= 1 && s.drops.version >= 1 ? s : undefined;
    }, 'the three drops counted');
    assert.equal(st.state, 'Master');
    assert.equal(st.advertsIn, 0);
    assert.equal(await holdsVip(g1), true);
    await send(good, 255);
    await n1.waitForState('Backup', 5000);
    await n1.stop();
  });
  assert.deepEqual(await Lab.leftovers(id), { namespaces: [], links: [] });
});
