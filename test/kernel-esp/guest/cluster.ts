/**
 * Guest scenario: the segw cluster (VRRP VIP, RFC 5685 redirect in IKE_SA_INIT) on the kernel's
 * XFRM data plane, with strongSwan base stations on kernel-netlink (the kernel does ESP on both
 * ends). The lab is the interop cluster's (test/interop/support/cluster-lab.ts) with two members,
 * the guest having one CPU:
 *
 *   LAN 203.0.113.0/24:  gw1 .1 (VRRP priority 200)  gw2 .2 (150)  VIP .10   bs1 .100  bs2 .101
 *
 *   bs1 IKE_SA_INIT --> VIP (gw1, master, least loaded: serves it itself)
 *   bs2 IKE_SA_INIT --> VIP  <-- N(REDIRECT(gw2));  IKE_SA_INIT { N(REDIRECTED_FROM(VIP)) } --> gw2
 *   kill -9 gw1: gw2 takes the VIP; bs1's DPD finds gw1 dead, it connects to the VIP again (gw2)
 *   bs2 deletes its IKE SA: gw2's kernel drops that tunnel's SAs, policies and route, keeps bs1's
 *
 * Run by ../cluster.test.ts through scripts/uml-run; the host checks the evidence again.
 */
import assert from 'node:assert/strict';
import { withLab } from '../../../src/lab/lab.js';
import { mark, type Scenario } from './scenario.js';
import { eventually } from '../../support/eventually.js';
import { pingCount, GW_LAN } from '../../interop/support/topology.js';
import { segwView } from '../../interop/support/sas.js';
import {
  VIP, expectedMember, initiate, startClusterLab, vrrpState, waitEstablishedTo, waitTable, waitTraffic,
  type BaseStation, type ClusterLab, type Member,
} from '../../interop/support/cluster-lab.js';
import { xfrmPolicies, xfrmStates, type ShownPolicy, type ShownSa } from './xfrm-show.js';

/** What one member's kernel holds, beside the tunnels segw says it serves. */
export interface MemberKernel {
  /** segw's children (`list-sas`): the SPIs it negotiated. */
  children: { remoteTs: string; spiIn: string; spiOut: string }[];
  states: ShownSa[];
  policies: ShownPolicy[];
  /** `ip route show proto segw` (200), trimmed. */
  routes: string;
}

async function memberKernel(m: Member): Promise<MemberKernel> {
  const children = (await segwView(m.segw)).flatMap((ike) => ike.children).map((c) => ({ remoteTs: String(c.remoteTs), spiIn: c.spiIn, spiOut: c.spiOut }));
  return {
    children,
    states: await xfrmStates(m.host),
    policies: await xfrmPolicies(m.host),
    routes: (await m.host.exec('ip', ['route', 'show', 'proto', '200'])).stdout.trim(),
  };
}

/** Pings both ways between a base station's subnet and the core side of the member serving it. */
async function pingsBothWays(bs: BaseStation, m: Member): Promise<{ toGw: number; toBs: number }> {
  await waitTraffic(bs);
  return { toGw: await pingCount(bs.host, bs.lanAddr, GW_LAN.addr), toBs: await pingCount(m.host, GW_LAN.addr, bs.lanAddr) };
}

/** Connects `bs` to the VIP and waits until it is served by the member the balancer's rule names. */
async function arrive(c: ClusterLab, master: Member, bs: BaseStation, tunnels: Record<string, number>, exclude: string[] = []): Promise<Member> {
  await waitTable(master, tunnels);
  const want = expectedMember(c.members, tunnels, exclude);
  await initiate(bs);
  // The master serves on the VIP it was reached at; another member on its own address.
  await waitEstablishedTo(bs, want === master ? VIP : want.address);
  return want;
}

/**
 * Every SA in the member's kernel is one of the children segw serves (both directions each),
 * and every policy's template carries the reqid of one of those SAs: nothing left of a tunnel
 * that is gone.
 */
export function assertKernelMatchesChildren(k: MemberKernel, who: string): void {
  const spis = k.children.flatMap((c) => [c.spiIn, c.spiOut]).sort();
  assert.deepEqual(k.states.map((s) => s.spi).sort(), spis, `${who}: the kernel's SAs are exactly segw's children's`);
  const reqids = new Set(k.states.map((s) => s.reqid));
  assert.equal(k.policies.length, 3 * k.children.length, `${who}: in, fwd and out policy per child`);
  for (const p of k.policies) assert.ok(p.tmpl && reqids.has(p.tmpl.reqid), `${who}: policy ${p.dir} ${p.src} -> ${p.dst} belongs to a live SA`);
}

const clusterFailover: Scenario = async (ev) => {
  await withLab('kclu', async (lab) => {
    mark(ev, 'lab');
    const c = await startClusterLab(lab, { mode: 'init', capacities: [10, 10], basestations: 2, dataPlane: 'xfrm', libipsec: false, dpdS: 2 });
    const [gw1, gw2] = c.members as [Member, Member];
    const [bs1, bs2] = c.bss as [BaseStation, BaseStation];
    try {
      mark(ev, 'cluster up');
      const dataPlanes = c.members.map((m) => String(m.segw.logLines().find((l) => l.msg === 'gateway started')?.dataPlane));
      ev.dataPlanes = dataPlanes;
      assert.deepEqual(dataPlanes, ['xfrm', 'xfrm']);
      const on1 = await arrive(c, gw1, bs1, { gw1: 0, gw2: 0 });
      const on2 = await arrive(c, gw1, bs2, { gw1: on1 === gw1 ? 1 : 0, gw2: on1 === gw2 ? 1 : 0 });
      ev.placed = { bs1: on1.id, bs2: on2.id };
      mark(ev, 'both placed');
      ev.pings = { bs1: await pingsBothWays(bs1, on1), bs2: await pingsBothWays(bs2, on2) };
      ev.kernels = { gw1: await memberKernel(gw1), gw2: await memberKernel(gw2) };
      mark(ev, 'traffic');

      await gw1.segw.kill();
      await eventually(async () => (await vrrpState(gw2)) === 'Master', { what: 'gw2 becomes VRRP master', timeoutMs: 10_000 });
      await eventually(() => gw2.host.hasAddress(`${VIP}/24`), 'gw2 holds the VIP');
      mark(ev, 'failover');
      // The dead master's base stations find it dead by DPD (charon, dpd_action = restart) and
      // connect to the VIP again by themselves: the test does not touch them.
      const orphans = [bs1, bs2].filter((_, i) => [on1, on2][i] === gw1);
      ev.orphans = orphans.map((b) => b.name);
      for (const bs of orphans) await waitEstablishedTo(bs, VIP, 60_000);
      mark(ev, 'back on gw2');
      ev.pingsAfter = { bs1: await pingsBothWays(bs1, gw2), bs2: await pingsBothWays(bs2, gw2) };
      ev.gw2After = await memberKernel(gw2);

      // bs2 deletes its IKE SA: gw2's kernel keeps bs1's tunnel only.
      await bs2.ss.swanctl(['--terminate', '--ike', 'tun'], { allowFail: true, timeoutMs: 20_000 });
      ev.gw2AfterDelete = await eventually(async () => {
        const k = await memberKernel(gw2);
        if (k.children.length !== 1 || k.states.length !== 2 || k.routes.includes(bs2.net)) throw new Error(JSON.stringify(k));
        return k;
      }, { what: "gw2's kernel drops bs2's tunnel", timeoutMs: 15_000 });
      ev.bs1AfterDelete = await pingCount(bs1.host, bs1.lanAddr, GW_LAN.addr);
      ev.nets = { bs1: bs1.net, bs2: bs2.net };
      mark(ev, 'deleted');
    } finally {
      await Promise.all(c.bss.map((b) => b.ss.stop()));
      await Promise.all(c.members.map((m) => m.segw.stop()));
    }
  });
};

export const scenarios: Record<string, Scenario> = {
  'cluster-failover': clusterFailover,
};
