/**
 * A member that stops holding the VIP moves the base stations it serves there (issue 15): a
 * 3-member segw cluster (userspace ESP, route injection, `redirect: off`, preempt on), a
 * strongSwan 5.9.8 base station and a `segw basestation`, both served by the master on the VIP.
 *
 *   1. SIGTERM of the master gw1: before the VIP goes it sends each peer INFORMATIONAL
 *      N(REDIRECT(VIP)) (RFC 5685 §5); gw2 (priority 150) takes the VIP and both come back on
 *      it through the VIP, with traffic.
 *   2. gw1 (priority 200) returns and preempts gw2: gw2 sends the same redirect while it still
 *      holds the VIP, both come back on gw1 with traffic, and gw2 keeps no IKE SA and no
 *      `proto segw` route for them.
 *
 * Each re-home time (from the member's command to both tunnels up) is printed for the report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab, type Host } from '../../src/lab/lab.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import { childSas } from '../../src/lab/peers/vici-raw.js';
import { eventually } from '../support/eventually.js';
import {
  VIP, charonLog, establishedOn, gatewayConfig, ikeSaCountOn, initiate, redirectsOf, startClusterLab, startSegwBaseStation, vrrpState,
  swanIkeSas, waitEstablishedTo, waitTraffic, type BaseStation, type ClusterLab, type Member, type SegwBaseStation,
} from './support/cluster-lab.js';

const CAPACITIES = [100, 100, 100];
const segwRoutes = async (h: Host) => (await h.exec('ip', ['route', 'show', 'proto', 'segw'])).stdout.trim();

/** The segw base station as the ping helper sees it (its host and protected address). */
const asPinger = (s: SegwBaseStation) => ({ name: s.name, host: s.host, lanAddr: s.lanAddr }) as unknown as BaseStation;

/**
 * strongSwan up again through the VIP: one ESTABLISHED IKE SA with an INSTALLED child. The SA it
 * was redirected from may still be listed DELETING: charon's Delete for it goes to the VIP, now
 * the new master's, which has no such SA, so it waits for its retransmissions to give up.
 */
async function swanBack(bs: BaseStation): Promise<void> {
  await eventually(async () => {
    const sas = await swanIkeSas(bs);
    const up = sas.filter((s) => s.state === 'ESTABLISHED' && s['remote-host'] === VIP && childSas(s).some((ch) => ch.state === 'INSTALLED'));
    const others = sas.filter((s) => !up.includes(s));
    if (up.length !== 1 || others.some((s) => s.state !== 'DELETING')) throw new Error(JSON.stringify(sas.map((s) => [s.state, s['remote-host']])));
    return true;
  }, { what: `${bs.name} re-established through the VIP`, timeoutMs: 60_000, intervalMs: 200 });
}

/** Both base stations up on `m` through the VIP, with traffic; returns ms since `t0`. */
async function backOn(c: ClusterLab, m: Member, bs: BaseStation, sbs: SegwBaseStation, t0: number): Promise<number> {
  await swanBack(bs);
  await eventually(async () => (await establishedOn(m)) === 2, { what: `both base stations' IKE SAs on ${m.id}`, timeoutMs: 60_000, intervalMs: 200 });
  const ms = performance.now() - t0;
  await waitTraffic(bs);
  // The segw base station's Delete of the SA it was redirected from goes to the VIP too, and is
  // not answered either: its new child took the policies over (child-sa.ts), so its traffic
  // passes on the new tunnel meanwhile.
  await waitTraffic(asPinger(sbs));
  return ms;
}

test('a member giving up the VIP (SIGTERM, then preempted) moves the base stations it serves there: back with traffic, nothing left behind', { timeout: 240_000 }, async () => {
  let labId = '';
  await withLab('vipre', async (lab) => {
    labId = lab.id;
    const c = await startClusterLab(lab, { mode: 'off', capacities: CAPACITIES, basestations: 1 });
    const [gw1, gw2] = c.members as [Member, Member, Member];
    const bs = c.bss[0]!;
    let sbs: SegwBaseStation | undefined;
    let gw1again: SegwProcess | undefined;
    try {
      await initiate(bs);
      await waitEstablishedTo(bs, VIP);
      sbs = await startSegwBaseStation(c, 1);
      await eventually(async () => (await establishedOn(gw1)) === 2, { what: 'both base stations served by gw1 on the VIP', timeoutMs: 40_000 });
      await waitTraffic(bs);
      await waitTraffic(asPinger(sbs));

      // 1. Graceful stop of the master.
      const t1 = performance.now();
      await gw1.segw.stop();
      await eventually(async () => (await vrrpState(gw2)) === 'Master', { what: 'gw2 takes the VIP', timeoutMs: 10_000 });
      const stopMs = await backOn(c, gw2, bs, sbs, t1);
      assert.ok(charonLog(bs, /parsed INFORMATIONAL request \d+ \[ N\(REDIR\) \]/).length > 0, 'strongSwan got INFORMATIONAL { N(REDIRECT) } from the stopping master');
      assert.equal(await segwRoutes(gw1.host), '', 'the stopped member left no proto segw route');

      // 2. gw1 returns (priority 200, preempt) and takes the VIP back from gw2.
      const t2 = performance.now();
      gw1again = await SegwProcess.start(gw1.host, 'gateway', gatewayConfig(0, 'off', CAPACITIES), { files: c.key, name: 'gw1-again', timeoutMs: 40_000 });
      const back = { ...gw1, segw: gw1again };
      await eventually(async () => (await vrrpState(back)) === 'Master', { what: 'gw1 preempts gw2', timeoutMs: 20_000 });
      const preemptMs = await backOn(c, back, bs, sbs, t2);
      await eventually(async () => (await ikeSaCountOn(gw2)) === 0, { what: 'gw2 holds no IKE SA', timeoutMs: 10_000 });
      await eventually(async () => (await segwRoutes(gw2.host)) === '', { what: 'gw2 holds no proto segw route', timeoutMs: 10_000 });
      assert.equal(await establishedOn(back), 2);

      const counts = await redirectsOf(gw2);
      const lost = counts.redirects.filter((r) => r.reason === 'vip-lost');
      assert.deepEqual(lost.map((r) => [r.target, r.address]), [['vip', VIP]], 'redirect off: sent back to the VIP, counted as vip-lost');
      assert.equal(lost[0]!.count, 2);
      assert.equal(counts.drain.remaining, 0, 'a drain of gw2 would find nothing left');
      console.log(`re-home: SIGTERM of the master ${Math.round(stopMs)} ms; preempted master ${Math.round(preemptMs)} ms (both base stations up again)`);
    } finally {
      await sbs?.segw.stop().catch(() => {});
      await bs.ss.stop();
      await gw1again?.stop().catch(() => {});
      for (const m of c.members) await m.segw.stop().catch(() => {});
    }
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
