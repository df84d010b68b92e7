/**
 * VrrpInstance against in-memory doubles: a LAN hub of VrrpLinks (TTL 255, as the raw socket
 * would deliver), the stub KernelNet, and a manual clock, so elections, failover, announcements
 * and bad input are exact and fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StubKernelNet } from '../../src/kernel/stub/net.js';
import type { VrrpLink, VrrpPacket } from '../../src/kernel/types.js';
import { ANNOUNCE_REPEAT, type Clock, SPLIT_BRAIN_ANNOUNCE_MIN_MS, VrrpInstance } from '../../src/vrrp/instance.js';
import { DEFAULT_VRRP_OPTIONS, type VrrpOptions } from '../../src/vrrp/options.js';
import { encodeAdvert } from '../../src/vrrp/packet.js';
import { captureLog } from '../support/log-capture.js';
import type { Logger } from '../../src/log/index.js';

class ManualClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  /** Runs every timer due within `ms`, in time order, letting promise queues settle between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const due = this.timers[0];
      if (!due || due.at > end) break;
      this.timers.shift();
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    await settle();
  }
}
const settle = () => new Promise<void>((r) => setImmediate(r));

class Hub {
  links: FakeLink[] = [];
  link(addr: string, mac: string): FakeLink {
    const l = new FakeLink(this, addr, mac);
    this.links.push(l);
    return l;
  }
}
class FakeLink implements VrrpLink {
  readonly family = 4 as const;
  readonly interface = 'eth0';
  receiver?: (p: VrrpPacket) => void;
  sent: { data: Buffer; dst: string }[] = [];
  announced: string[][] = [];
  up = true;
  constructor(private hub: Hub, readonly localAddress: string, readonly hardwareAddress: string) {}
  send(data: Buffer, dst: string): void {
    if (!this.up) return;
    this.sent.push({ data, dst });
    for (const l of this.hub.links) {
      if (l !== this && l.up) l.receiver?.({ family: 4, src: this.localAddress, dst, ttl: 255, data });
    }
  }
  setReceiver(r: (p: VrrpPacket) => void): void {
    this.receiver = r;
  }
  announce(a: string[]): void {
    this.announced.push(a);
  }
  transmitVia?: VrrpLink['transmitVia'];
  async close(): Promise<void> {}
}

const VIP = '203.0.113.10/24';
const opts = (o: Partial<VrrpOptions>): VrrpOptions => ({ ...DEFAULT_VRRP_OPTIONS, interface: 'eth0', vrid: 51, vips: [VIP], ...o });

function node(hub: Hub, clock: ManualClock, addr: string, o: Partial<VrrpOptions>, log?: Logger) {
  const link = hub.link(addr, `02:00:00:00:00:0${addr.slice(-1)}`);
  const net = new StubKernelNet();
  const inst = new VrrpInstance(opts(o), { link, net, clock, log });
  return { link, net, inst, holdsVip: () => net.addresses.has(`eth0|${VIP}`) };
}

test('election: the higher priority becomes master and holds the VIP; the other stays backup', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 200 });
  const b = node(hub, clock, '203.0.113.2', { priority: 100 });
  a.inst.start();
  b.inst.start();
  await clock.advance(5000);
  assert.equal(a.inst.state, 'Master');
  assert.equal(b.inst.state, 'Backup');
  assert.equal(a.holdsVip(), true);
  assert.equal(b.holdsVip(), false);
  assert.equal(b.inst.status().masterAddress, '203.0.113.1');
  assert.ok(b.inst.status().advertsIn >= 1);
});

test('failover: a silent master is replaced after Master_Down_Interval; the backup adds the VIP and announces it 5 + 5 times', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 200, advertInterval: 100 });
  const b = node(hub, clock, '203.0.113.2', { priority: 100, advertInterval: 1000 });
  a.inst.start();
  b.inst.start();
  await clock.advance(1000);
  assert.equal(a.inst.state, 'Master');
  // The backup (configured 1 s) adopted the master's advertised interval (100 ms).
  assert.equal(b.inst.status().masterAdverInterval, 100);
  assert.equal(b.inst.status().masterDownInterval, 360.9375);
  a.link.up = false; // crash: no priority 0
  await clock.advance(b.inst.status().masterDownInterval - 1 - 100);
  assert.equal(b.inst.state, 'Backup');
  await clock.advance(200);
  assert.equal(b.inst.state, 'Master');
  assert.equal(b.holdsVip(), true);
  assert.equal(b.link.announced.length, ANNOUNCE_REPEAT);
  assert.deepEqual(b.link.announced[0], ['203.0.113.10']);
  await clock.advance(5000);
  assert.equal(b.link.announced.length, 2 * ANNOUNCE_REPEAT);
});

test('graceful stop sends priority 0: the backup takes over after Skew_Time, not Master_Down_Interval', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 200 });
  const b = node(hub, clock, '203.0.113.2', { priority: 100 });
  a.inst.start();
  b.inst.start();
  await clock.advance(4000);
  await a.inst.stop();
  assert.equal(a.link.sent.at(-1)!.data[2], 0, 'the last advert carries priority 0');
  assert.equal(a.holdsVip(), false);
  await clock.advance(700); // Skew_Time at priority 100, 1 s: 609 ms
  assert.equal(b.inst.state, 'Master');
});

test('preemption: a higher priority that starts later takes over; without preempt it does not', async () => {
  for (const preempt of [true, false]) {
    const hub = new Hub(), clock = new ManualClock();
    const low = node(hub, clock, '203.0.113.1', { priority: 100 });
    low.inst.start();
    await clock.advance(5000);
    assert.equal(low.inst.state, 'Master');
    const high = node(hub, clock, '203.0.113.2', { priority: 200, preempt });
    high.inst.start();
    await clock.advance(10_000);
    assert.equal(high.inst.state, preempt ? 'Master' : 'Backup', `preempt ${preempt}`);
    assert.equal(low.inst.state, preempt ? 'Backup' : 'Master');
    assert.equal(low.holdsVip(), !preempt);
  }
});

test('preempt delay: a returning higher priority waits before taking the VIP back', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const low = node(hub, clock, '203.0.113.1', { priority: 100 });
  low.inst.start();
  await clock.advance(5000);
  const high = node(hub, clock, '203.0.113.2', { priority: 200, preemptDelay: 20_000 });
  high.inst.start();
  await clock.advance(15_000);
  assert.equal(high.inst.state, 'Backup');
  await clock.advance(10_000);
  assert.equal(high.inst.state, 'Master');
});

test('bad packets are dropped and counted by reason; none changes state', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 100 });
  a.inst.start();
  await clock.advance(5000);
  assert.equal(a.inst.state, 'Master');
  const ends = { family: 4 as const, src: '203.0.113.9', dst: '224.0.0.18' };
  const good = encodeAdvert({ vrid: 51, priority: 254, maxAdvertInterval: 100, addresses: ['203.0.113.10'] }, ends, 'rfc9568');
  const bad: [string, Buffer, number][] = [
    ['ttl', good, 64],
    ['length', good.subarray(0, 5), 255],
    ['version', Buffer.from([0x21, ...good.subarray(1)]), 255],
    ['type', Buffer.from([0x3f, ...good.subarray(1)]), 255],
    ['vrid', encodeAdvert({ vrid: 52, priority: 254, maxAdvertInterval: 100, addresses: ['203.0.113.10'] }, ends, 'rfc9568'), 255],
    ['address-count', Buffer.from([...good.subarray(0, 3), 3, ...good.subarray(4)]), 255],
    ['checksum', Buffer.from([...good.subarray(0, 6), 0, 0, ...good.subarray(8)]), 255],
  ];
  for (const [, data, ttl] of bad) a.link.receiver!({ ...ends, ttl, data });
  const st = a.inst.status();
  for (const [reason] of bad) assert.equal(st.drops[reason as keyof typeof st.drops], 1, reason);
  assert.equal(st.advertsIn, 0);
  assert.equal(a.inst.state, 'Master');
  assert.equal(a.holdsVip(), true);
  // The same advert, intact, does make it yield.
  a.link.receiver!({ ...ends, ttl: 255, data: good });
  assert.equal(a.inst.state, 'Backup');
});

test('checksum form mismatch: counted, logged once per peer with the form expected and the one seen', async () => {
  const cap = captureLog();
  {
    const hub = new Hub(), clock = new ManualClock();
    const a = node(hub, clock, '203.0.113.1', { priority: 200, checksum: 'pseudo-header' });
    const b = node(hub, clock, '203.0.113.2', { priority: 100 }, cap.log);
    a.inst.start();
    b.inst.start();
    await clock.advance(10_000);
    // b cannot read a's adverts: both become master (what an operator must be told about).
    assert.equal(b.inst.state, 'Master');
    const st = b.inst.status();
    assert.ok(st.checksumMismatches >= 5, `mismatches ${st.checksumMismatches}`);
    assert.equal(st.drops.checksum, st.checksumMismatches);
    const lines = cap.lines.filter((l) => /checksum mismatch/.test(String(l.msg)));
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0].expected, ['rfc9568']);
    assert.equal(lines[0].seen, 'pseudo-header');
    assert.equal(lines[0].peer, '203.0.113.1');

    // Accepting the legacy form makes them agree.
    const hub2 = new Hub(), clock2 = new ManualClock();
    const c = node(hub2, clock2, '203.0.113.1', { priority: 200, checksum: 'pseudo-header' });
    const d = node(hub2, clock2, '203.0.113.2', { priority: 100, acceptChecksums: ['rfc9568', 'pseudo-header'] });
    c.inst.start();
    d.inst.start();
    await clock2.advance(10_000);
    assert.equal(d.inst.state, 'Backup');
    assert.equal(d.inst.status().checksumMismatches, 0);
  }
});

test('unicast peers: adverts go to each peer; others are dropped as unknown-peer', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 200, unicastPeers: ['203.0.113.2'] });
  const b = node(hub, clock, '203.0.113.2', { priority: 100, unicastPeers: ['203.0.113.1'] });
  const c = node(hub, clock, '203.0.113.3', { priority: 250 }); // multicast, not a peer of b
  a.inst.start();
  b.inst.start();
  c.inst.start();
  await clock.advance(5000);
  assert.ok(a.link.sent.every((s) => s.dst === '203.0.113.2'));
  assert.equal(b.inst.state, 'Backup');
  assert.equal(b.inst.status().masterAddress, '203.0.113.1');
  assert.ok(b.inst.status().drops['unknown-peer'] > 0);
});

test('options are validated with the option named', () => {
  const hub = new Hub();
  const mk = (o: Partial<VrrpOptions>) => () => new VrrpInstance(opts(o), { link: hub.link('203.0.113.1', '02:00:00:00:00:01'), net: new StubKernelNet() });
  assert.throws(mk({ vrid: 0 }), /cluster\.vrrp\.vrid/);
  assert.throws(mk({ advertInterval: 1005 }), /advertInterval/);
  assert.throws(mk({ vips: ['203.0.113.10/24', '2001:db8::1/64'] }), /vips\[1\].*one family/);
  assert.throws(mk({ priority: 0 }), /priority/);
  assert.throws(mk({ acceptChecksums: [] }), /acceptChecksums/);
});

test('a VIP left on the interface by a killed earlier run is removed at startup (a backup holds none)', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 200 });
  const b = node(hub, clock, '203.0.113.2', { priority: 100 });
  await b.net.addAddress({ address: VIP, dev: 'eth0' });
  a.inst.start();
  await clock.advance(5000);
  b.inst.start();
  await clock.advance(100);
  assert.equal(b.inst.state, 'Backup');
  assert.equal(b.holdsVip(), false);
  assert.equal(a.holdsVip(), true);
  assert.equal(b.inst.status().vipErrors, 0);
});

test('split brain healing: a master hearing a lower-priority master re-announces, at most once per interval', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 200 });
  a.inst.start();
  await clock.advance(5000);
  const before = a.link.announced.length;
  const ends = { family: 4 as const, src: '203.0.113.2', dst: '224.0.0.18' };
  const lower = encodeAdvert({ vrid: 51, priority: 100, maxAdvertInterval: 100, addresses: ['203.0.113.10'] }, ends, 'rfc9568');
  for (let i = 0; i < 5; i++) a.link.receiver!({ ...ends, ttl: 255, data: lower });
  await clock.advance(10);
  assert.equal(a.link.announced.length - before, ANNOUNCE_REPEAT, 'one burst for five adverts');
  assert.equal(a.inst.state, 'Master');
  await clock.advance(2500);
  a.link.receiver!({ ...ends, ttl: 255, data: lower });
  await clock.advance(10);
  assert.ok(a.link.announced.length - before >= 2 * ANNOUNCE_REPEAT, 'another burst once the interval passed');
});

test('a split brain that heals and happens again within SPLIT_BRAIN_ANNOUNCE_MIN_MS (a flapping link) is announced each time', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 200, advertInterval: 100 });
  a.inst.start();
  await clock.advance(5000);
  const masterDown = a.inst.status().masterDownInterval;
  assert.ok(masterDown + 200 < SPLIT_BRAIN_ANNOUNCE_MIN_MS, 'the second episode falls inside the rate limit');
  const before = a.link.announced.length;
  const ends = { family: 4 as const, src: '203.0.113.2', dst: '224.0.0.18' };
  const lower = encodeAdvert({ vrid: 51, priority: 100, maxAdvertInterval: 10, addresses: ['203.0.113.10'] }, ends, 'rfc9568');
  a.link.receiver!({ ...ends, ttl: 255, data: lower });
  await clock.advance(10);
  assert.equal(a.link.announced.length - before, ANNOUNCE_REPEAT, 'first healing announced');
  // The same lower master keeps advertising (one episode): no new burst within the limit.
  a.link.receiver!({ ...ends, ttl: 255, data: lower });
  await clock.advance(10);
  assert.equal(a.link.announced.length - before, ANNOUNCE_REPEAT, 'one burst per episode');
  // Silent for more than Master_Down_Interval (it yielded), then master again and heard again.
  await clock.advance(masterDown + 100);
  a.link.receiver!({ ...ends, ttl: 255, data: lower });
  await clock.advance(10);
  assert.equal(a.link.announced.length - before, 2 * ANNOUNCE_REPEAT, 'the second healing announced too');
});

test('split brain healing when the winner speaks first: the yielding master\'s parting advert makes the winner re-announce (GARP)', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const a = node(hub, clock, '203.0.113.1', { priority: 200 });
  const b = node(hub, clock, '203.0.113.2', { priority: 150 });
  a.inst.start();
  await clock.advance(5000);
  // The link between them is cut: b hears no advert and becomes master too.
  b.link.up = false;
  b.inst.start();
  await clock.advance(5000);
  assert.deepEqual([a.inst.state, b.inst.state], ['Master', 'Master']);
  const before = a.link.announced.length;
  // Healed: a's advert reaches b before b's next one goes out (adverts race; here a wins), so
  // b yields at once and a never hears b as master on its own. The LAN's ARP caches still hold
  // b's MAC for the VIP (b announced it while cut off): a must announce again.
  b.link.up = true;
  const ends = { family: 4 as const, src: '203.0.113.1', dst: '224.0.0.18' };
  const advertA = encodeAdvert({ vrid: 51, priority: 200, maxAdvertInterval: 100, addresses: ['203.0.113.10'] }, ends, 'rfc9568');
  b.link.receiver!({ ...ends, ttl: 255, data: advertA });
  await clock.advance(10);
  assert.equal(b.inst.state, 'Backup');
  assert.equal(b.holdsVip(), false);
  assert.equal(a.inst.state, 'Master');
  assert.equal(a.link.announced.length - before, ANNOUNCE_REPEAT, 'the winner re-announced the VIP');
});

test('IPv6: the advert lists the virtual router\'s link-local address first (RFC 9568 §5.2.9), and the master installs it', async () => {
  const link6 = {
    family: 6 as const, interface: 'eth0', localAddress: 'fe80::1', hardwareAddress: '02:00:00:00:00:01',
    sent: [] as Buffer[], announced: [] as string[][],
    send(d: Buffer) { this.sent.push(d); }, setReceiver() {}, announce(a: string[]) { this.announced.push(a); }, async close() {},
  };
  const net = new StubKernelNet();
  const clock = new ManualClock();
  const inst = new VrrpInstance(opts({ vrid: 7, vips: ['2001:db8::10/64'] }), { link: link6, net, clock });
  inst.start();
  await clock.advance(5000);
  assert.equal(inst.state, 'Master');
  const { checkAdvert } = await import('../../src/vrrp/packet.js');
  const r = checkAdvert({ family: 6, src: 'fe80::1', dst: 'ff02::12', ttl: 255, data: link6.sent[0] }, { vrid: 7, acceptChecksums: ['rfc9568'] });
  assert.ok(r.ok);
  assert.deepEqual(r.advert.addresses, ['fe80::200:5eff:fe00:207', '2001:db8::10']);
  assert.deepEqual([...net.addresses.values()].map((a) => [a.address, a.scope]), [['fe80::200:5eff:fe00:207/64', 'link'], ['2001:db8::10/64', 'global']]);
  assert.deepEqual(link6.announced[0], ['fe80::200:5eff:fe00:207', '2001:db8::10']);
});

test('an advert listing other virtual addresses is accepted but counted and logged once per peer (RFC 9568 §7.1)', async () => {
  const cap = captureLog();
  const hub = new Hub(), clock = new ManualClock();
  const b = node(hub, clock, '203.0.113.2', { priority: 100 }, cap.log);
  b.inst.start();
  const ends = { family: 4 as const, src: '203.0.113.9', dst: '224.0.0.18' };
  const other = encodeAdvert({ vrid: 51, priority: 200, maxAdvertInterval: 100, addresses: ['203.0.113.11'] }, ends, 'rfc9568');
  for (let i = 0; i < 3; i++) b.link.receiver!({ ...ends, ttl: 255, data: other });
  const st = b.inst.status();
  assert.equal(st.addressMismatches, 3);
  assert.equal(st.advertsIn, 3);
  assert.equal(st.masterAddress, '203.0.113.9');
  assert.equal(cap.lines.filter((l) => /other virtual addresses/.test(String(l.msg))).length, 1);
});

/** Records the Accept_Mode rule sets as a VipAcceptFilter would install them. */
class FakeFilter {
  readonly sets = new Map<string, string[]>();
  calls: string[] = [];
  async block(name: string, addresses: string[]): Promise<void> {
    this.calls.push(`block ${name}`);
    this.sets.set(name, addresses);
  }
  async unblock(name: string): Promise<boolean> {
    this.calls.push(`unblock ${name}`);
    return this.sets.delete(name);
  }
}

test('virtual MAC: the macvlan vrrp.51 (00:00:5e:00:01:33, bridge) is made at start, up with the VIPs only while master, deleted at stop', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const link = hub.link('203.0.113.1', '02:00:00:00:00:01');
  const via: (string | undefined)[] = [];
  link.transmitVia = async (v) => void via.push(v?.hardwareAddress);
  const net = new StubKernelNet();
  // A link of that name left by a killed run is replaced.
  await net.addMacvlan({ name: 'vrrp.51', parent: 'eth0', address: '02:00:00:00:00:99', mode: 'private' });
  await net.setLinkUp('vrrp.51', true);
  const inst = new VrrpInstance(opts({ priority: 200, virtualMac: true }), { link, net, clock });
  await inst.start();
  assert.deepEqual(net.links.get('vrrp.51'), { name: 'vrrp.51', parent: 'eth0', address: '00:00:5e:00:01:33', mode: 'bridge', up: false });
  assert.equal(net.ipv4Conf.get('eth0/arp_ignore'), 1);
  assert.equal(net.ipv4Conf.get('eth0/arp_announce'), 2);
  assert.equal(net.ipv4Conf.get('vrrp.51/arp_ignore'), 1);
  assert.equal(net.ipv4Conf.get('vrrp.51/arp_filter'), 0);
  assert.equal(net.ipv4Conf.get('vrrp.51/rp_filter'), 2);
  assert.equal(inst.state, 'Backup');
  await clock.advance(4000);
  assert.equal(inst.state, 'Master');
  assert.equal(net.links.get('vrrp.51')!.up, true);
  assert.ok(net.addresses.has(`vrrp.51|${VIP}`), 'the VIP is on the macvlan');
  assert.ok(!net.addresses.has(`eth0|${VIP}`));
  assert.deepEqual(via, ['00:00:5e:00:01:33']);
  // A higher-priority router takes over: VIP off, macvlan down, sends back on eth0.
  const other = hub.link('203.0.113.2', '02:00:00:00:00:02');
  other.send(encodeAdvert({ vrid: 51, priority: 250, maxAdvertInterval: 100, addresses: ['203.0.113.10'] }, { family: 4, src: '203.0.113.2', dst: '224.0.0.18' }, 'rfc9568'), '224.0.0.18');
  await clock.advance(10);
  assert.equal(inst.state, 'Backup');
  assert.equal(net.addresses.size, 0);
  assert.equal(net.links.get('vrrp.51')!.up, false);
  assert.deepEqual(via, ['00:00:5e:00:01:33', undefined]);
  await inst.stop();
  assert.equal(net.links.has('vrrp.51'), false);
  // After a killed run the values found were its own, the originals unknown: they stay.
  assert.equal(net.ipv4Conf.get('eth0/arp_ignore'), 1);
  // Started clean, the parent's settings are put back at stop.
  net.ipv4Conf.set('eth0/arp_ignore', 0); // as the operator had it
  const clean = new VrrpInstance(opts({ priority: 200, virtualMac: true }), { link, net, clock });
  await clean.start();
  assert.equal(net.ipv4Conf.get('eth0/arp_ignore'), 1);
  await clean.stop();
  assert.equal(net.ipv4Conf.get('eth0/arp_ignore'), 0, 'the parent\'s settings are put back');
});

test('accept: false: drop rules for the VIPs while master (installed before the VIPs, removed after), stale ones cleared at start', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const link = hub.link('203.0.113.1', '02:00:00:00:00:01');
  const net = new StubKernelNet();
  const filter = new FakeFilter();
  filter.sets.set('vrrp_eth0_51', ['203.0.113.10']); // left by a killed run
  const inst = new VrrpInstance(opts({ priority: 200, accept: false }), { link, net, clock, filter });
  await inst.start();
  assert.equal(filter.sets.size, 0);
  await clock.advance(4000);
  assert.equal(inst.state, 'Master');
  assert.deepEqual(filter.sets.get('vrrp_eth0_51'), ['203.0.113.10']);
  assert.equal(inst.status().filtering, true);
  await inst.stop();
  assert.equal(filter.sets.size, 0);
  assert.deepEqual(filter.calls, ['unblock vrrp_eth0_51', 'block vrrp_eth0_51', 'unblock vrrp_eth0_51']);
  assert.equal(net.addresses.size, 0);
});

test('accept: false is moot for the address owner (RFC 9568 §6.4.3: the owner accepts), and needs a filter otherwise', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const filter = new FakeFilter();
  const owner = new VrrpInstance(opts({ priority: 255, accept: false }), { link: hub.link('203.0.113.1', '02:00:00:00:00:01'), net: new StubKernelNet(), clock, filter });
  await owner.start();
  await clock.advance(10);
  assert.equal(owner.state, 'Master');
  assert.deepEqual(filter.calls, ['unblock vrrp_eth0_51'], 'only the start-up clean-up, no drop rules');
  await owner.stop();
  assert.throws(() => new VrrpInstance(opts({ accept: false }), { link: hub.link('203.0.113.2', '02:00:00:00:00:02'), net: new StubKernelNet(), clock }), /needs deps\.filter/);
});

test('virtual MAC: a link named vrrp.51 that is not a macvlan on the interface is left alone and the start fails, saying so', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const net = new StubKernelNet();
  await net.addMacvlan({ name: 'vrrp.51', parent: 'eth1', address: '02:00:00:00:00:99', mode: 'bridge' });
  const inst = new VrrpInstance(opts({ virtualMac: true }), { link: hub.link('203.0.113.1', '02:00:00:00:00:01'), net, clock });
  await assert.rejects(inst.start(), (e: Error & { code?: string }) => e.code === 'SEGW_VRRP_VMAC' && /vrrp\.51 exists and is not a macvlan on eth0/.test(e.message));
  assert.equal(net.links.get('vrrp.51')!.parent, 'eth1');
  assert.equal(inst.state, 'Initialize');
});

test('losing the VIP: the release hook runs while the VIP is still held, with why; the VIP goes after it, or after its grace if it hangs', async () => {
  for (const hang of [false, true]) {
    const hub = new Hub(), clock = new ManualClock();
    const calls: { addresses: string[]; reason: string; heldDuring: boolean; at: number }[] = [];
    let finish: () => void = () => {};
    const link = hub.link('203.0.113.1', '02:00:00:00:00:01');
    const net = new StubKernelNet();
    const holds = () => net.addresses.has(`eth0|${VIP}`);
    const low = new VrrpInstance(opts({ priority: 100 }), {
      link, net, clock,
      release: { graceMs: 1000, run: (addresses, reason) => { calls.push({ addresses, reason, heldDuring: holds(), at: clock.t }); return new Promise<void>((r) => (finish = r)); } },
    });
    low.start();
    await clock.advance(5000);
    assert.equal(low.state, 'Master');
    assert.equal(calls.length, 0, 'the startup clean-up does not call it');
    const high = node(hub, clock, '203.0.113.2', { priority: 200 });
    high.inst.start();
    for (let i = 0; i < 200 && low.state === 'Master'; i++) await clock.advance(50); // Master_Down_Interval, then preemption
    assert.equal(low.state, 'Backup');
    assert.deepEqual(calls.map((c) => [c.addresses, c.reason, c.heldDuring]), [[['203.0.113.10'], 'superseded', true]], `hang ${hang}`);
    assert.equal(holds(), true, 'kept while the hook runs');
    if (!hang) finish();
    await clock.advance(hang ? calls[0]!.at + 999 - clock.t : 0);
    assert.equal(holds(), hang, hang ? 'a hung hook holds it until the grace' : 'removed once the hook is done');
    await clock.advance(1);
    assert.equal(holds(), false);
  }
});

test('graceful stop: priority 0 is sent, then the release hook runs (reason shutdown) before the VIP goes', async () => {
  const hub = new Hub(), clock = new ManualClock();
  const link = hub.link('203.0.113.1', '02:00:00:00:00:01');
  const net = new StubKernelNet();
  const seen: string[] = [];
  const a = new VrrpInstance(opts({ priority: 200 }), {
    link, net, clock,
    release: { graceMs: 1000, run: async (_a, reason) => { seen.push(`${reason} prio0=${link.sent.at(-1)!.data[2] === 0} held=${net.addresses.has(`eth0|${VIP}`)}`); } },
  });
  a.start();
  await clock.advance(4000);
  await a.stop();
  assert.deepEqual(seen, ['shutdown prio0=true held=true']);
  assert.equal(net.addresses.has(`eth0|${VIP}`), false);
});
