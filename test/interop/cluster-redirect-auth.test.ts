/**
 * The load-aware RFC 5685 redirect after authentication (§6, `redirect: auth`): the same 3-member
 * cluster as cluster-redirect.test.ts (capacities 100, 200, 300, userspace ESP, gw1 master on the
 * VIP). The master runs IKE_SA_INIT and IKE_AUTH in full, verifies the base station, and answers
 *
 *   <-- IKE_AUTH { IDr, AUTH, N(REDIRECT(member)) }      (no child SA)
 *
 * The initiator verifies the master's AUTH, connects to the member with REDIRECTED_FROM(VIP) and
 * deletes its SA at the master (or the master times it out). Arrivals, each choice from a settled
 * table: strongSwan bs1 is served by gw1 (0/100 = 0/200 = 0/300, smallest id); a `segw
 * basestation` goes to gw2 (tie with gw3 at 0); strongSwan bs2 goes to gw3 (0/300 < 1/200 < 1/100).
 *
 * strongSwan 5.9.8 (Debian 12) aborts ("free(): double free detected in tcache 2") right after it
 * starts following a REDIRECT received in IKE_AUTH: its log shows the master's AUTH verified and
 * "redirected to <member>", then the process dies while it reinitiates. The same charon follows
 * REDIRECT at IKE_SA_INIT and in INFORMATIONAL (cluster-redirect.test.ts). So the last arrival
 * asserts everything up to strongSwan's own redirect (and, should a fixed charon survive, the
 * tunnel on gw3 with traffic), and segw's own initiator proves the whole IKE_AUTH path with traffic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, withLab } from '../../src/lab/lab.js';
import { Capture } from '../../src/lab/peers/tshark.js';
import { ExchangeType, NotifyStatus } from '../../src/ike/constants.js';
import type { IkeSaView } from '../../src/control/views.js';
import { eventually } from '../support/eventually.js';
import {
  VIP, charonLog, expectedMember, initiate, readIkeFrames, redirectsOf, startClusterLab, startSegwBaseStation,
  swanIkeSas, waitEstablishedTo, waitTable, waitTraffic, type Member, type SegwBaseStation,
} from './support/cluster-lab.js';
import { segwView } from './support/sas.js';
import { pingCount, GW_LAN } from './support/topology.js';

const CAPACITIES = [100, 200, 300];

const masterSas = async (gw1: Member) => (await gw1.segw.ctl<{ ikeSas: IkeSaView[] }>('list-sas')).ikeSas;

test('cluster redirect at IKE_AUTH: the master verifies, answers IDr, AUTH, N(REDIRECT); initiators end on the balancer\'s member; the master keeps nothing', { timeout: 180_000 }, async (t) => {
  let labId = '';
  await withLab('clredirauth', async (lab) => {
    labId = lab.id;
    const c = await startClusterLab(lab, { mode: 'auth', capacities: CAPACITIES, basestations: 2 });
    const [gw1, gw2, gw3] = c.members as [Member, Member, Member];
    const [bs1, bs2] = c.bss as [typeof c.bss[0], typeof c.bss[0]];
    const cap = await Capture.start(c.switchHost, 'br0', { filter: 'udp port 500 or udp port 4500', name: 'lan' });
    let sbs: SegwBaseStation | undefined;
    try {
      const tally: Record<string, number> = { gw1: 0, gw2: 0, gw3: 0 };

      // 1. strongSwan bs1: the master is the best member and serves it on the VIP.
      await waitTable(gw1, tally);
      assert.equal(expectedMember(c.members, tally), gw1);
      await initiate(bs1);
      await waitEstablishedTo(bs1, VIP);
      await waitTraffic(bs1);
      tally.gw1 = 1;

      // 2. segw's own base station: redirected after IKE_AUTH to gw2, up there with traffic.
      await waitTable(gw1, tally);
      assert.equal(expectedMember(c.members, tally), gw2);
      sbs = await startSegwBaseStation(c, 2);
      const onGw2 = await eventually(async () => (await segwView(gw2.segw)).find((s) => s.state === 'ESTABLISHED' && (s.raw as IkeSaView).remote.id === sbs!.id && s.children.length === 1), {
        what: `${sbs.name}'s IKE SA and child on gw2`, timeoutMs: 40_000, intervalMs: 300,
      });
      assert.ok(onGw2);
      const sbsSas = (await sbs.segw.ctl<{ ikeSas: IkeSaView[] }>('list-sas')).ikeSas.filter((s) => s.state === 'ESTABLISHED');
      assert.deepEqual(sbsSas.map((s) => s.remote.address), [gw2.address], 'the base station\'s SA is with gw2');
      await eventually(async () => (await pingCount(sbs!.host, sbs!.lanAddr, GW_LAN.addr, 2)) > 0, { what: `a ping through ${sbs.name}'s tunnel on gw2`, timeoutMs: 20_000, intervalMs: 500 });
      tally.gw2 = 1;

      // 3. strongSwan bs2: redirected after IKE_AUTH to gw3.
      await waitTable(gw1, tally);
      assert.equal(expectedMember(c.members, tally), gw3);
      await initiate(bs2);
      await eventually(() => charonLog(bs2, /redirected to 203\.0\.113\.3/).length > 0, { what: 'charon bs2 to follow the REDIRECT to gw3', timeoutMs: 30_000, intervalMs: 300 });
      const log = charonLog(bs2, /./);
      const parsed = log.findIndex((l) => /parsed IKE_AUTH response 1 \[ IDr AUTH N\(REDIR\) \]/.test(l));
      const verified = log.findIndex((l) => /authentication of 'gw\.segw\.example' with pre-shared key successful/.test(l));
      const redirected = log.findIndex((l) => /redirected to 203\.0\.113\.3/.test(l));
      assert.ok(parsed >= 0, 'IKE_AUTH response { IDr, AUTH, N(REDIRECT) }, no child SA payloads');
      assert.ok(verified > parsed && redirected > verified, 'the master\'s AUTH verified before the redirect is followed');
      const fate = await eventually(async () => {
        if (!bs2.ss.process.running) return 'charon aborted';
        const up = (await swanIkeSas(bs2)).some((s) => s.state === 'ESTABLISHED' && s['remote-host'] === gw3.address);
        return up ? 'up on gw3' : undefined;
      }, { what: 'bs2 up on gw3, or charon gone', timeoutMs: 40_000, intervalMs: 300 });
      if (fate === 'up on gw3') {
        await waitEstablishedTo(bs2, gw3.address);
        await waitTraffic(bs2);
      } else {
        // The strongSwan 5.9.8 defect described at the top, and nothing else.
        assert.match(bs2.ss.process.output, /double free detected/, `charon bs2 died otherwise:\n${bs2.ss.process.output.slice(-2000)}`);
        t.diagnostic('strongSwan 5.9.8 aborted (double free) while following the IKE_AUTH REDIRECT to gw3, after verifying the master\'s AUTH');
      }

      const counts = await redirectsOf(gw1);
      assert.deepEqual(counts.redirects.map((r) => [r.target, r.reason, r.count]), [['gw2', 'auth', 1], ['gw3', 'auth', 1]]);
      assert.equal(counts.served.best, 1, 'the master served bs1 itself');
      assert.equal(counts.redirects.filter((r) => r.reason === 'init').length, 0);

      // The master holds only the SA it serves: the redirected peers deleted theirs, or it timed out.
      const left = await eventually(async () => {
        const sas = await masterSas(gw1);
        return sas.length === 1 ? sas : undefined;
      }, { what: 'the master to hold only the SA it serves', timeoutMs: 40_000, intervalMs: 500 });
      assert.equal(left[0]!.remote.id, bs1.id);
      assert.equal(left[0]!.state, 'ESTABLISHED');

      // On the wire: no REDIRECT in any IKE_SA_INIT (it travels encrypted in IKE_AUTH); the
      // follow-up to gw2 carries REDIRECTED_FROM(VIP).
      const frames = await eventually(async () => {
        const f = await readIkeFrames(c.switchHost, cap.file);
        return f.some((x) => x.exchange === ExchangeType.IKE_SA_INIT && !x.response && x.src === sbs!.address && x.dst === gw2.address) ? f : undefined;
      }, { what: `${sbs.name}'s IKE_SA_INIT to gw2 in the capture`, timeoutMs: 20_000, intervalMs: 500 });
      assert.equal(frames.filter((f) => f.exchange === ExchangeType.IKE_SA_INIT && f.notifies.includes(NotifyStatus.REDIRECT)).length, 0);
      const followUp = frames.find((f) => f.exchange === ExchangeType.IKE_SA_INIT && !f.response && f.src === sbs!.address && f.dst === gw2.address)!;
      assert.ok(followUp.notifies.includes(NotifyStatus.REDIRECTED_FROM));
      assert.equal(followUp.redirectedFrom, VIP);
      const toVip = frames.filter((f) => f.exchange === ExchangeType.IKE_AUTH && f.response && f.src === VIP && f.dst === sbs!.address);
      assert.ok(toVip.length >= 1, 'the master answered the segw base station\'s IKE_AUTH');
    } finally {
      await cap.stop().catch(() => []);
      if (sbs) await sbs.segw.stop();
      for (const bs of c.bss) await bs.ss.stop();
      for (const m of c.members) await m.segw.stop();
    }
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
