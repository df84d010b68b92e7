/**
 * rtnetlink requests byte for byte against iproute2: the same `ip route` / `ip addr` command
 * under strace in a lab namespace, sequence number and port id zeroed. The interface index in
 * segw's message is the one iproute2 looked up (the same interface).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type Host } from '../../../src/lab/lab.js';
import { NLM_F } from '../../../src/netlink/constants.js';
import { describeRtnetlink } from '../../../src/netlink/describe.js';
import { encodeMessage } from '../../../src/netlink/message.js';
import * as msg from '../../../src/kernel/net/messages.js';
import type { AddressParams, RouteParams } from '../../../src/kernel/types.js';
import { captureSendmsg, findMessage, normalise } from '../../netlink/strace-capture.js';

let lab: Lab;
let gw: Host;
let oif = 0;
before(async () => {
  lab = await Lab.create('rtbytes');
  gw = await lab.host('gw');
  const core = await lab.host('core');
  await lab.link(gw, core, { aIf: 'core0', a: ['198.51.100.1/24', '2001:db8::1/64'], b: ['198.51.100.2/24', '2001:db8::2/64'] });
  oif = Number((await gw.exec('cat', ['/sys/class/net/core0/ifindex'])).stdout);
});
after(async () => lab?.close());

async function compare(r: msg.RtRequest, argv: string[]): Promise<void> {
  const c = await captureSendmsg(gw, ['ip', ...argv]);
  const found = findMessage(c, r.type);
  assert.ok(found, `iproute2 sent no message of type ${r.type}: ${c.stderr}`);
  const full = encodeMessage({ type: r.type, flags: NLM_F.NLM_F_REQUEST | NLM_F.NLM_F_ACK | r.flags }, r.payload);
  const ours = normalise(full.subarray(0, full.readUInt32LE(0)));
  const theirs = normalise(found.bytes);
  assert.ok(
    ours.equals(theirs),
    `${argv.join(' ')}\nsegw:     ${JSON.stringify(describeRtnetlink(ours))}\niproute2: ${JSON.stringify(describeRtnetlink(theirs))}`,
  );
}

const ROUTES: [string, RouteParams, string[]][] = [
  ['via, table 100, metric 50', { dst: '192.0.2.0/25', via: '198.51.100.2', table: 100, metric: 50 }, ['192.0.2.0/25', 'via', '198.51.100.2', 'metric', '50', 'table', '100']],
  ['dev only (scope link), main table', { dst: '192.0.2.128/26', dev: 'core0' }, ['192.0.2.128/26']],
  ['table above 255 (RTA_TABLE), preferred source', { dst: '203.0.113.0/24', via: '198.51.100.2', src: '198.51.100.1', table: 1000 }, ['203.0.113.0/24', 'src', '198.51.100.1', 'via', '198.51.100.2', 'table', '1000']],
  ['IPv6 dev only', { dst: '2001:db8:6::/64', dev: 'core0' }, ['2001:db8:6::/64']],
  ['IPv6 via and dev', { dst: '2001:db8:5::/64', via: '2001:db8::2', dev: 'core0', metric: 1024 }, ['2001:db8:5::/64', 'via', '2001:db8::2', 'metric', '1024']],
];

for (const [name, route, args] of ROUTES) {
  test(`RTM_NEWROUTE and RTM_DELROUTE bytes equal iproute2: ${name}`, async () => {
    const dev = route.dev ? ['dev', route.dev] : [];
    const family = route.dst.includes(':') ? ['-6'] : [];
    await compare(msg.addRoute(route, route.dev ? oif : undefined), [...family, 'route', 'add', ...args, 'proto', 'segw', ...dev]);
    await compare(msg.deleteRoute(route, route.dev ? oif : undefined), [...family, 'route', 'del', ...args, 'proto', 'segw', ...dev]);
  });
}

const ADDRESSES: [string, AddressParams, string[]][] = [
  ['IPv4 VIP /32, no prefix route', { address: '203.0.113.10/32', dev: 'core0', noPrefixRoute: true }, ['203.0.113.10/32', 'dev', 'core0', 'noprefixroute']],
  ['IPv6 VIP, no DAD', { address: '2001:db8::10/64', dev: 'core0', noDad: true }, ['2001:db8::10/64', 'dev', 'core0', 'nodad']],
  ['IPv6 VIP, no DAD and no prefix route', { address: '2001:db8::11/64', dev: 'core0', noDad: true, noPrefixRoute: true }, ['2001:db8::11/64', 'dev', 'core0', 'nodad', 'noprefixroute']],
  ['link scope', { address: '203.0.113.11/24', dev: 'core0', scope: 'link' }, ['203.0.113.11/24', 'dev', 'core0', 'scope', 'link']],
];

for (const [name, a, args] of ADDRESSES) {
  test(`RTM_NEWADDR and RTM_DELADDR bytes equal iproute2: ${name}`, async () => {
    await compare(msg.addAddress(a, oif), ['addr', 'add', ...args]);
    await compare(msg.deleteAddress(a, oif), ['addr', 'del', a.address, 'dev', a.dev]);
  });
}

// The VRRP virtual MAC (RFC 9568 §7.3) on a macvlan: created, set up and down, deleted.
for (const mode of ['private', 'bridge'] as const) {
  test(`RTM_NEWLINK (macvlan ${mode}), link up/down and RTM_DELLINK bytes equal iproute2`, async () => {
    const m = { name: 'vrrp.51', parent: 'core0', address: '00:00:5e:00:01:33', mode };
    await compare(msg.addMacvlan(m, oif), ['link', 'add', 'link', 'core0', 'name', 'vrrp.51', 'address', '00:00:5e:00:01:33', 'type', 'macvlan', 'mode', mode]);
    const index = Number((await gw.exec('cat', ['/sys/class/net/vrrp.51/ifindex'])).stdout);
    assert.match((await gw.exec('ip', ['-d', 'link', 'show', 'vrrp.51'])).stdout, new RegExp(`00:00:5e:00:01:33.*macvlan mode ${mode}`, 's'));
    await compare(msg.setLinkUp('vrrp.51', index, true), ['link', 'set', 'dev', 'vrrp.51', 'up']);
    await compare(msg.setLinkUp('vrrp.51', index, false), ['link', 'set', 'dev', 'vrrp.51', 'down']);
    await compare(msg.deleteLink('vrrp.51', index), ['link', 'del', 'vrrp.51']);
  });
}
