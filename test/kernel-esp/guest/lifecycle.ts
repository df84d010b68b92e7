/**
 * Guest scenarios on the kernel's ESP under change: rekeys of the child and of the IKE SA while
 * traffic flows; NAT traversal (ESP in UDP, XFRMA_ENCAP) through a masquerading NAT with a
 * rebinding that the XFRM SAs follow in place; routes injected without routes.via/dev, and what
 * a delete removes. Run by ../lifecycle.test.ts.
 */
import assert from 'node:assert/strict';
import { withLab } from '../../../src/lab/lab.js';
import type { IkeSaView } from '../../../src/control/views.js';
import { StrongSwan } from '../../../src/lab/peers/strongswan.js';
import { eventually } from '../../support/eventually.js';
import { oneTunnel, swanView } from '../../interop/support/sas.js';
import { buildTopology, pingCount, type Topology } from '../../interop/support/topology.js';
import { swanBaseStation, swanGateway } from '../../interop/support/configs.js';
import { mark, type Scenario } from './scenario.js';
import { assertEspCounted, bringUp, GCM, saBySpi, setMasquerade, startKernelTunnel } from './tunnel.js';
import { xfrmPolicies, xfrmStates } from './xfrm-show.js';
import { noTunnel } from '../../interop/support/sas.js';
import { moved, worseThanReference, xfrmStat, type Loss, type RekeyKind } from './rekey-loss.js';

/** Echo requests every 50 ms from the base station's LAN for `count`; resolves with sent/received. */
function pingTrain(topo: Topology, count: number): Promise<Loss> {
  const { bs, bsLan, gwLan } = topo;
  return bs
    .exec('ping', ['-c', String(count), '-i', '0.05', '-W', '1', '-I', bsLan.addr, gwLan.addr], { allowFail: true, timeoutMs: count * 200 + 20_000 })
    .then((r) => ({ sent: Number(/(\d+) packets transmitted/.exec(r.stdout)?.[1] ?? 0), received: Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0) }));
}

/** Runs `action` (one rekey, awaited to completion) inside a 3-second ping train; the train's loss. */
async function lossDuring(topo: Topology, action: () => Promise<void>): Promise<Loss> {
  const [gw0, bs0] = [await xfrmStat(topo.gw), await xfrmStat(topo.bs)];
  const train = pingTrain(topo, 60);
  await action();
  const loss = await train;
  return { ...loss, drops: { gw: moved(gw0, await xfrmStat(topo.gw)), bs: moved(bs0, await xfrmStat(topo.bs)) } };
}

/**
 * The four rekeys under a paced iperf3 TCP stream (20 Mbit/s: the guest's one CPU, saturated,
 * would drop echo requests in the veth backlog with or without a rekey), each inside its own
 * ping train, so each loss is attributed to one rekey.
 */
async function rekeyRounds(topo: Topology, rekey: Record<RekeyKind, () => Promise<void>>): Promise<{ loss: Record<RekeyKind, Loss>; tcpBytes: number }> {
  const { gw, bs, bsLan, gwLan } = topo;
  const srv = gw.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', gwLan.addr], { name: 'iperf3-rekey' });
  await srv.waitFor(/Server listening/, 10_000);
  const tcp = bs.exec('iperf3', ['-c', gwLan.addr, '-B', bsLan.addr, '-t', '20', '-b', '20M', '-J'], { timeoutMs: 90_000 });
  const loss = {} as Record<RekeyKind, Loss>;
  for (const [kind, fn] of Object.entries(rekey) as [RekeyKind, () => Promise<void>][]) loss[kind] = await lossDuring(topo, fn);
  const iperf = JSON.parse((await tcp).stdout) as { end: { sum_received: { bytes: number } } };
  await srv.exited;
  return { loss, tcpBytes: iperf.end.sum_received.bytes };
}

/** strongSwan's own loss on the same path: charon (kernel-netlink) as the gateway too. */
async function charonReference(ev: Record<string, unknown>): Promise<Record<RekeyKind, Loss>> {
  return withLab('krekeyref', async (lab) => {
    const topo = await buildTopology(lab);
    const lans = { bs: topo.bsLan, gw: topo.gwLan };
    const gwSs = await StrongSwan.start(topo.gw, { name: 'gw', swanctl: swanGateway(GCM, topo.gwAddr, lans), libipsec: false });
    const bsSs = await StrongSwan.start(topo.bs, { name: 'bs', swanctl: swanBaseStation(GCM, topo.bsAddr, topo.gwAddr, lans), libipsec: false });
    try {
      await bsSs.initiate('net', { ike: 'tun', timeoutS: 20 });
      const view = async () => (await swanView(gwSs))[0];
      const changed = async (pick: (v: Awaited<ReturnType<typeof swanView>>[0] | undefined) => string | undefined) => {
        const before = pick(await view());
        return async () => {
          await eventually(async () => {
            const v = await view();
            return v?.state === 'ESTABLISHED' && v.children.length === 1 && pick(v) !== before && pick(v) !== undefined;
          }, { timeoutMs: 20_000 });
        };
      };
      const child = (v: Awaited<ReturnType<typeof swanView>>[0] | undefined) => v?.children.filter((c) => c.state === 'INSTALLED')[0]?.spiIn;
      const ike = (v: Awaited<ReturnType<typeof swanView>>[0] | undefined) => (v ? `${v.spiI}_${v.spiR}` : undefined);
      const run = (ss: StrongSwan, args: string[], pick: typeof child) => async () => {
        const done = await changed(pick);
        await ss.swanctl(args);
        await done();
      };
      const r = await rekeyRounds(topo, {
        'child by gateway': run(gwSs, ['--rekey', '--child', 'net'], child),
        'child by base station': run(bsSs, ['--rekey', '--child', 'net'], child),
        'IKE by gateway': run(gwSs, ['--rekey', '--ike', 'tun'], ike),
        'IKE by base station': run(bsSs, ['--rekey', '--ike', 'tun'], ike),
      });
      ev.referenceTcpBytes = r.tcpBytes;
      return r.loss;
    } finally {
      await bsSs.stop();
      await gwSs.stop();
    }
  });
}

/**
 * segw's gateway rekeys the child and the IKE SA, strongSwan's base station does too, under
 * traffic; every rekey installs new ESP SAs in both kernels, the child ends on new SPIs with the
 * traffic on them, and no rekey loses more echo requests than the same rekey loses between two
 * charons on the same kernel path (the reference, measured in the same boot).
 */
const rekeyUnderTraffic: Scenario = async (ev) => {
  await withLab('krekey', async (lab) => {
    const kt = await startKernelTunnel(lab, { ipsec: 'xfrm' }, ev);
    const { gw, bs, bsLan, gwLan } = kt.topo;
    try {
      const t0 = await bringUp(kt);
      mark(ev, 'tunnel up');
      const first = t0.segw.children[0]!;
      const now = () => oneTunnel(kt.ss, kt.segw);
      const r = await rekeyRounds(kt.topo, {
        'child by gateway': async () => {
          const c = (await now()).segw.children[0]!;
          await kt.segw.ctl('rekey-child', { child: c.spiIn, timeoutMs: 20_000 });
        },
        'child by base station': async () => {
          const c = (await now()).segw.children[0]!;
          await kt.ss.swanctl(['--rekey', '--child', 'net']);
          await oneTunnel(kt.ss, kt.segw, { pred: (t) => t.segw.children[0]!.spiIn !== c.spiIn });
        },
        'IKE by gateway': async () => {
          await kt.segw.ctl<{ ike: IkeSaView }>('rekey-ike', { ike: (await now()).segwSa.name, timeoutMs: 20_000 });
        },
        'IKE by base station': async () => {
          const name = (await now()).segwSa.name;
          await kt.ss.swanctl(['--rekey', '--ike', 'tun']);
          await oneTunnel(kt.ss, kt.segw, { pred: (t) => t.segwSa.name !== name });
        },
      });
      mark(ev, 'rekeys done');
      ev.loss = r.loss;
      ev.tcpBytes = r.tcpBytes;
      const last = await now();
      const child = last.segw.children[0]!;
      ev.first = first;
      ev.child = child;
      assert.notEqual(child.spiIn, first.spiIn, 'the child ends on new SPIs');
      assert.ok(r.tcpBytes > 0, 'TCP flowed across the rekeys');
      // New traffic on the last SAs: counted by both kernels.
      assert.equal(await pingCount(bs, bsLan.addr, gwLan.addr), 3);
      assert.equal(await pingCount(gw, gwLan.addr, bsLan.addr), 3);
      ev.gwSas = await xfrmStates(gw);
      ev.bsSas = await xfrmStates(bs);
      assertEspCounted({ gwSas: ev.gwSas as never, bsSas: ev.bsSas as never }, last);
    } finally {
      await kt.ss.stop();
      await kt.segw.stop();
    }
  });
  const reference = await charonReference(ev);
  ev.referenceLoss = reference;
  mark(ev, 'reference done');
  // No rekey may cost more than between two charons: echoes lost, or packets XFRM dropped.
  const worse = worseThanReference(ev.loss as Record<RekeyKind, Loss>, reference, ['child by gateway', 'child by base station', 'IKE by gateway', 'IKE by base station']);
  assert.deepEqual(worse, [], 'segw rekeys lose no more than charon');
};

/**
 * NAT-T: strongSwan behind a masquerading NAT. The XFRM SAs carry UDP encapsulation (XFRMA_ENCAP,
 * espinudp, 4500 <-> the NAT's port); ping both ways counted on them. Then the NAT loses its
 * mappings and gives the base station a new random port: the kernel reports the new source
 * (XFRM_MSG_MAPPING), segw moves its SAs there in place (same SPIs), and traffic flows again.
 */
const natTraversal: Scenario = async (ev) => {
  await withLab('knat', async (lab) => {
    const kt = await startKernelTunnel(lab, { ipsec: 'xfrm', nat: true }, ev);
    const { gw, bs, bsLan, gwLan } = kt.topo;
    const nat = kt.topo.nat!;
    try {
      const t = await bringUp(kt);
      const child = t.segw.children[0]!;
      ev.child = child;
      ev.peer = t.segwSa.remote;
      ev.pings = { toGw: await pingCount(bs, bsLan.addr, gwLan.addr), toBs: await pingCount(gw, gwLan.addr, bsLan.addr) };
      assert.deepEqual(ev.pings, { toGw: 3, toBs: 3 });
      const before = await xfrmStates(gw);
      ev.gwSas = before;
      const inSa = saBySpi(before, child.spiIn);
      const outSa = saBySpi(before, child.spiOut);
      assert.equal(inSa.encap?.type, 'espinudp');
      assert.equal(outSa.encap?.sport, 4500);
      assert.equal(outSa.encap?.dport, t.segwSa.remote.port, 'out SA sends to the NAT\'s mapped port');
      assert.ok(inSa.packets > 0n && outSa.packets > 0n, 'ESP in UDP counted both ways');
      // The NAT reboots: mappings gone, new ones on random ports.
      await setMasquerade(nat, true);
      await nat.exec('conntrack', ['-D', '-p', 'udp'], { allowFail: true });
      mark(ev, 'rebinding');
      // The base station's ESP makes the new mapping; a reply may leave on the old port while
      // the move is on its way.
      const firstAfter = await pingCount(bs, bsLan.addr, gwLan.addr);
      ev.firstAfterRebind = firstAfter;
      const moved = await oneTunnel(kt.ss, kt.segw, { pred: (x) => x.segwSa.remote.port !== t.segwSa.remote.port });
      ev.peerAfter = moved.segwSa.remote;
      ev.pingsAfter = { toGw: await pingCount(bs, bsLan.addr, gwLan.addr), toBs: await pingCount(gw, gwLan.addr, bsLan.addr) };
      assert.deepEqual(ev.pingsAfter, { toGw: 3, toBs: 3 }, 'traffic through the new mapping');
      const after = await xfrmStates(gw);
      ev.gwSasAfter = after;
      const out2 = saBySpi(after, child.spiOut);
      assert.equal(moved.segw.children[0]!.spiIn, child.spiIn, 'the same child: moved in place, not rekeyed');
      assert.equal(out2.encap?.dport, moved.segwSa.remote.port, 'the out SA now sends to the new port');
      assert.ok(out2.packets > outSa.packets, 'and counted the traffic after the move');
    } finally {
      await kt.ss.stop();
      await kt.segw.stop();
    }
  });
};

/**
 * Route injection on XFRM with neither routes.via nor routes.dev: segw takes the device of
 * ike.listen; the injected route is there while the child is, traffic flows, and it goes with
 * the child.
 */
const routesFromKernel: Scenario = async (ev) => {
  await withLab('kroute', async (lab) => {
    const kt = await startKernelTunnel(lab, { ipsec: 'xfrm', routes: {} }, ev);
    const { gw, bs, bsLan, gwLan } = kt.topo;
    try {
      const chosen = kt.segw.logLines().find((l) => /injected routes take the device/.test(l.msg));
      ev.chosenDev = chosen?.dev ?? null;
      const t = await bringUp(kt);
      ev.child = t.segw.children[0];
      await eventually(async () => {
        ev.routes = (await gw.exec('ip', ['route', 'show', 'proto', '200'])).stdout.trim();
        assert.equal(ev.routes, '192.0.2.0/25 dev eth0 scope link');
        return true;
      });
      ev.pings = { toGw: await pingCount(bs, bsLan.addr, gwLan.addr), toBs: await pingCount(gw, gwLan.addr, bsLan.addr) };
      assert.deepEqual(ev.pings, { toGw: 3, toBs: 3 });
      const sas = await xfrmStates(gw);
      ev.gwSas = sas;
      await kt.ss.swanctl(['--terminate', '--ike', 'tun']);
      await noTunnel(kt.ss, kt.segw);
      await eventually(async () => {
        ev.routesAfterDelete = (await gw.exec('ip', ['route', 'show', 'proto', '200'])).stdout.trim();
        assert.equal(ev.routesAfterDelete, '', 'withdrawn with the child');
        return true;
      });
      // Delete: SAs and policies of the child are gone from the kernel too.
      ev.statesAfterDelete = await xfrmStates(gw);
      ev.policiesAfterDelete = await xfrmPolicies(gw);
      assert.deepEqual(ev.statesAfterDelete, []);
      assert.deepEqual(ev.policiesAfterDelete, []);
    } finally {
      await kt.ss.stop();
      await kt.segw.stop();
    }
  });
};

export const scenarios: Record<string, Scenario> = {
  'rekey-under-traffic': rekeyUnderTraffic,
  'nat-t-rebinding': natTraversal,
  'routes-from-kernel': routesFromKernel,
};
