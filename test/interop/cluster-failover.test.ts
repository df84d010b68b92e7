/**
 * A 3-gateway segw cluster in namespaces (issue 11): each `segw gateway` runs VRRPv3 for the
 * cluster's VIP and sends HMAC-authenticated load reports to the others. A base station
 * (`segw basestation`) reaches the cluster at the VIP. kill -9 of the master: the backup with
 * the highest priority takes the VIP, its gratuitous ARP moves the client's ARP entry to its
 * MAC, its `members` shows every member's load (the dead one stale), and the base station's
 * tunnel comes back on it through the VIP.
 *
 * The gateways use the stub kernel (IKE only): what is tested is the cluster's control plane.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Lab, withLab, type Host } from '../../src/lab/lab.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import type { MembersView } from '../../src/cluster/view.js';
import { vrrpLan } from './support/vrrp-lan.js';
import { eventually } from '../support/eventually.js';
import { segwConfig, type TunnelSpec } from './support/configs.js';
import { segwView } from './support/sas.js';

const VIP = '203.0.113.10';
const holdsVip = (h: Host) => h.hasAddress(`${VIP}/24`);
const mac = (h: Host) => h.mac();
const arpEntry = (client: Host) => client.neighbourMac(VIP);
const addr = (i: number) => `203.0.113.${i + 1}`;
const PRIORITIES = [200, 150, 100];

const SPEC: TunnelSpec = {
  ike: 'aes128gcm16-prfsha256-ecp256',
  esp: 'aes128gcm16',
  // A quick DPD and give-up so the base station notices the dead master within seconds.
  segw: { dpd: 1, retransmit: { timeout: 0.5, base: 1.5, tries: 2 } },
};

const vrrpState = async (g: SegwProcess) => (await g.ctl<{ state: string }>('vrrp')).state;
const ikeSas = async (g: SegwProcess) => (await segwView(g)).filter((s) => s.state === 'ESTABLISHED').length;

function gatewayConfig(i: number): Record<string, unknown> {
  const base = segwConfig(SPEC, 'gateway', addr(i)).config;
  const others = [0, 1, 2].filter((j) => j !== i).map(addr);
  return {
    ...base,
    node: { name: `gw${i + 1}` },
    kernel: { ipsec: 'stub' },
    cluster: {
      address: addr(i),
      vips: [`${VIP}/24`],
      // The master serves base stations itself: what is tested is where the VIP goes (the
      // balancer's redirects have their own tests).
      redirect: 'off',
      keyFile: 'cluster.key',
      capacity: { maxTunnels: 100 * (i + 1), bandwidth: '1G' },
      reports: { listen: addr(i), interval: '200ms', staleAfter: 3, peers: others },
      vrrp: { interface: 'eth0', vrid: 51, priority: PRIORITIES[i], advertInterval: '100ms' },
    },
  };
}

test('3-gateway cluster: kill -9 the master; the next takes the VIP and GARPs, shows every member, and the base station comes back through the VIP', { timeout: 180_000 }, async () => {
  let labId = '';
  await withLab('cluster3', async (lab) => {
    labId = lab.id;
    const { nodes: hosts, client } = await vrrpLan(lab, ['g1', 'g2', 'g3']);
    await client.sysctl('net.ipv4.conf.eth0.arp_accept', 1);
    const key = { 'cluster.key': randomBytes(32).toString('hex') + '\n' };

    const gws: SegwProcess[] = [];
    for (const [i, h] of hosts.entries()) gws.push(await SegwProcess.start(h, 'gateway', gatewayConfig(i), { files: key }));
    await eventually(async () => (await vrrpState(gws[0]!)) === 'Master', 'gw1 is VRRP master');
    await eventually(async () => (await Promise.all(gws.slice(1).map(vrrpState))).every((s) => s === 'Backup'), 'gw2 and gw3 are backups');
    assert.deepEqual(await Promise.all(hosts.map(holdsVip)), [true, false, false]);

    // The base station reaches the cluster at the VIP: the master serves it (redirect: off).
    const b = segwConfig(SPEC, 'basestation', '203.0.113.100', VIP);
    const bs = await SegwProcess.start(client, 'basestation', { ...b.config, kernel: { ipsec: 'stub' }, reconnect: { initial: '300ms', max: '1s' } });
    await eventually(async () => (await ikeSas(gws[0]!)) === 1, { what: 'the base station\'s IKE SA on gw1', timeoutMs: 30_000 });
    assert.equal(await arpEntry(client), await mac(hosts[0]!));

    // Every member holds the whole table: gw3 sees gw1 (master, 1 tunnel) and gw2 (backup).
    await eventually(async () => {
      const rows = (await gws[2]!.ctl<MembersView>('members')).members;
      const gw1 = rows.find((r) => r.id === 'gw1');
      const gw2 = rows.find((r) => r.id === 'gw2');
      return gw1?.role === 'master' && gw1.load.tunnels === 1 && !gw1.stale && gw2?.role === 'backup' && !gw2.stale;
    }, { what: 'gw3 sees gw1 as master with 1 tunnel and gw2 as backup', timeoutMs: 10_000 });

    await gws[0]!.kill();
    await eventually(async () => (await vrrpState(gws[1]!)) === 'Master', { what: 'gw2 (priority 150) becomes master', timeoutMs: 10_000 });
    await eventually(() => holdsVip(hosts[1]!), 'gw2 holds the VIP');
    assert.equal(await vrrpState(gws[2]!), 'Backup');
    assert.equal(await holdsVip(hosts[2]!), false);
    const g2mac = await mac(hosts[1]!);
    await eventually(async () => (await arpEntry(client)) === g2mac, { what: "the client's ARP entry for the VIP moves to gw2's MAC (GARP)", timeoutMs: 5000 });

    // The new master's table: gw3 live with its load; gw1 stale.
    await eventually(async () => {
      const rows = (await gws[1]!.ctl<MembersView>('members')).members;
      const gw1 = rows.find((r) => r.id === 'gw1');
      const gw3 = rows.find((r) => r.id === 'gw3');
      return gw1?.stale === true && gw3 !== undefined && !gw3.stale && gw3.role === 'backup' && gw3.capacity.maxTunnels === 300;
    }, { what: 'gw2 sees gw1 stale and gw3 live with its load', timeoutMs: 10_000 });

    // DPD finds the IKE SA dead; the base station initiates again to the VIP, now gw2's.
    await eventually(async () => (await ikeSas(gws[1]!)) === 1, { what: "the base station's IKE SA re-made on gw2", timeoutMs: 30_000 });
    assert.equal(await ikeSas(gws[2]!), 0);

    await bs.stop();
    for (const g of gws.slice(1)) await g.stop();
    // A clean stop resigns and removes the VIP.
    assert.equal(await holdsVip(hosts[1]!), false);
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
