/**
 * The Accept_Mode False rules (src/kernel/nft/vip-filter.ts): the scripts nft accepts, applied in
 * a lab namespace with NftVipFilter run there through `ip netns exec`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type Host } from '../../../src/lab/lab.js';
import { NftVipFilter, blockScript, tableName } from '../../../src/kernel/nft/vip-filter.js';

let lab: Lab;
let h: Host;
let filter: NftVipFilter;
before(async () => {
  lab = await Lab.create('nft');
  h = await lab.host('gw');
  // NftVipFilter runs `nft`; this wrapper runs it inside the lab namespace.
  const wrapper = join(lab.dir, 'nft-in-ns');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${h.ns} nft "$@"\n`);
  chmodSync(wrapper, 0o755);
  filter = new NftVipFilter({ binary: wrapper });
});
after(async () => lab?.close());

const ruleset = async () => (await h.exec('nft', ['list', 'ruleset'])).stdout;

test('IPv4: one table per set, traffic to the VIPs dropped, lo accepted; replaced in place; removed', async () => {
  await filter.block('vrrp_eth0_51', ['203.0.113.10', '203.0.113.11']);
  let r = await ruleset();
  assert.match(r, /table inet segw_vrrp_eth0_51/);
  assert.match(r, /hook input priority filter; policy accept;/);
  assert.match(r, /iif "lo" accept/);
  assert.match(r, /ip daddr \{ 203\.0\.113\.10, 203\.0\.113\.11 \} counter packets \d+ bytes \d+ drop/);
  await filter.block('vrrp_eth0_51', ['203.0.113.12']);
  r = await ruleset();
  assert.equal(r.match(/table inet segw_vrrp_eth0_51/g)?.length, 1);
  assert.doesNotMatch(r, /203\.0\.113\.10/);
  assert.equal(await filter.unblock('vrrp_eth0_51'), true);
  assert.equal(await filter.unblock('vrrp_eth0_51'), false);
  assert.doesNotMatch(await ruleset(), /segw_vrrp/);
});

test('IPv6: Neighbor Solicitations and Advertisements to the VIPs pass (RFC 9568 §6.4.3), the rest is dropped', async () => {
  await filter.block('vrrp_eth0_7', ['fe80::200:5eff:fe00:207', '2001:db8::10']);
  const r = await ruleset();
  assert.match(r, /ip6 daddr \{ 2001:db8::10, fe80::200:5eff:fe00:207 \} icmpv6 type \{ nd-neighbor-solicit, nd-neighbor-advert \} accept/);
  assert.match(r, /ip6 daddr \{ 2001:db8::10, fe80::200:5eff:fe00:207 \} counter packets \d+ bytes \d+ drop/);
  assert.equal(await filter.unblock('vrrp_eth0_7'), true);
});

test('names become nft identifiers; mixed families are refused', () => {
  assert.equal(tableName('vrrp_eth0.100_51'), 'segw_vrrp_eth0_100_51');
  assert.throws(() => blockScript('x', ['203.0.113.10', '2001:db8::10']), /one family/);
  assert.throws(() => blockScript('x', []), /no addresses/);
});
