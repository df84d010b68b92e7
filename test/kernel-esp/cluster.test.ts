/**
 * The segw cluster (VRRP VIP, redirect in IKE_SA_INIT) on the kernel's XFRM data plane, in the
 * user-mode-linux guest (./guest/cluster.ts): strongSwan base stations on kernel ESP land on the
 * balancer's member, whose kernel holds and counts the child's SAs and segw's policies and route;
 * kill -9 of the master moves the VIP and the dead master's base station to the live member; a
 * deleted tunnel leaves nothing in the live member's kernel. The guest's evidence is checked again here.
 */
import assert from 'node:assert/strict';
import { guestSuite } from './guest.js';
import { assertKernelMatchesChildren, type MemberKernel } from './guest/cluster.js';

type Pings = Record<string, { toGw: number; toBs: number }>;

/** Every SA of the member counted ESP, and each base station's subnet has a `proto segw` route. */
function assertCounted(k: MemberKernel, nets: string[], who: string): void {
  assertKernelMatchesChildren(k, who);
  for (const s of k.states) {
    assert.equal(s.proto, 'esp', `${who}: ESP`);
    assert.ok(BigInt(s.packets) > 0n, `${who}: SA ${s.spi} counted packets`);
  }
  for (const net of nets) assert.match(k.routes, new RegExp(`^${net.replace(/\./g, '\\.')} dev eth0`, 'm'), `${who}: proto segw route to ${net}`);
}

guestSuite(
  'cluster.ts',
  {
    'cluster-failover': (ev) => {
      const nets = ev.nets as { bs1: string; bs2: string };
      assert.deepEqual(ev.dataPlanes, ['xfrm', 'xfrm']);
      assert.deepEqual(ev.placed, { bs1: 'gw1', bs2: 'gw2' }, 'least load: bs1 on the master, bs2 redirected to gw2');
      const both = { toGw: 3, toBs: 3 };
      assert.deepEqual(ev.pings as Pings, { bs1: both, bs2: both });
      const k = ev.kernels as { gw1: MemberKernel; gw2: MemberKernel };
      assert.equal(k.gw1.children.length, 1);
      assert.equal(k.gw2.children.length, 1);
      assertCounted(k.gw1, [nets.bs1], 'gw1');
      assertCounted(k.gw2, [nets.bs2], 'gw2');
      assert.deepEqual(ev.orphans, ['bs1'], "bs1 was on the dead master");
      assert.deepEqual(ev.pingsAfter as Pings, { bs1: both, bs2: both });
      const after = ev.gw2After as MemberKernel;
      assert.equal(after.children.length, 2, 'gw2 serves both base stations');
      assertCounted(after, [nets.bs1, nets.bs2], 'gw2 after failover');
      const del = ev.gw2AfterDelete as MemberKernel;
      assertKernelMatchesChildren(del, 'gw2 after bs2 deleted');
      assert.equal(del.children.length, 1);
      assert.ok(!del.routes.includes(nets.bs2), 'bs2\'s route withdrawn');
      assert.match(del.routes, new RegExp(nets.bs1.replace(/\./g, '\\.')));
      assert.equal(ev.bs1AfterDelete, 3, 'bs1 still carries traffic');
    },
  },
  { timeoutS: 420 },
);
