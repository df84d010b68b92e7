/**
 * The load-aware RFC 5685 redirect against real strongSwan 5.9.8 base stations (issue 12): a
 * 3-member segw cluster (capacities 100, 200, 300 tunnels; userspace ESP) on a VRRP LAN, the
 * master gw1 holding the VIP with `redirect: init`. Four base stations, each in its own
 * namespace with its own identity and subnet, connect to the VIP one after the other:
 *
 *   bsN  IKE_SA_INIT { SA, KE, Ni, N(REDIRECT_SUPPORTED) }  --> VIP (gw1)
 *        <-- IKE_SA_INIT { N(REDIRECT(member, Ni)) }         (or the full answer when gw1 is best)
 *        IKE_SA_INIT { ..., N(REDIRECTED_FROM(VIP)) }        --> member
 *
 * Each ends on the member the balancer's rule names (least tunnels/capacity, ties to the smaller
 * id; computed here by `expectedMember`), swanctl --list-sas shows that member's address, a ping
 * crosses the tunnel, the master's `redirects` counts them and a capture on the LAN shows the
 * REDIRECT carrying the request's Ni and the follow-up carrying REDIRECTED_FROM(VIP). Then the
 * member with two peers is drained (`segw ctl drain`, the CLI): its peers get INFORMATIONAL
 * N(REDIRECT) (§5), come up on the others with traffic, it ends with no IKE SA, and undrain makes
 * it the choice again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { Lab, withLab } from '../../src/lab/lab.js';
import { Capture } from '../../src/lab/peers/tshark.js';
import { ExchangeType, NotifyStatus } from '../../src/ike/constants.js';
import type { MembersView } from '../../src/cluster/view.js';
import { eventually } from '../support/eventually.js';
import {
  VIP, charonLog, establishedOn, expectedMember, ikeSaCountOn, initiate, readIkeFrames, redirectsOf, startClusterLab, swanIkeSas,
  waitEstablishedTo, waitTable, waitTraffic, type BaseStation, type ClusterLab, type IkeFrame, type Member,
} from './support/cluster-lab.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const CAPACITIES = [100, 200, 300];

/** The IKE_SA_INIT request of `bs` to the VIP whose answer was a REDIRECT, that answer, and the follow-up to the member. */
function redirectedInit(frames: IkeFrame[], bs: BaseStation, to: Member): { request?: IkeFrame; answer?: IkeFrame; followUp?: IkeFrame } {
  const init = frames.filter((f) => f.exchange === ExchangeType.IKE_SA_INIT);
  const answer = init.find((f) => f.response && f.src === VIP && f.dst === bs.address && f.notifies.includes(NotifyStatus.REDIRECT) && f.redirectTo === to.address);
  const request = answer && init.find((f) => !f.response && f.src === bs.address && f.dst === VIP && f.ispi === answer.ispi && f.frame < answer.frame);
  const followUp = answer && init.find((f) => !f.response && f.src === bs.address && f.dst === to.address && f.frame > answer.frame);
  return { request, answer, followUp };
}

/** `segw ctl --socket SOCK METHOD --json` as an operator runs it. */
async function segwCtl(m: Member, method: string): Promise<Record<string, unknown>> {
  const r = await m.host.exec(process.execPath, [join(REPO, 'bin/segw.mjs'), 'ctl', '--socket', m.segw.controlSocket, method, '--json'], { timeoutMs: 60_000 });
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function connectExpected(c: ClusterLab, bs: BaseStation, tally: Record<string, number>, draining: string[] = []): Promise<Member> {
  const master = c.members[0]!;
  await waitTable(master, tally);
  const want = expectedMember(c.members, tally, draining);
  await initiate(bs);
  // The master serves on the VIP it was reached at; another member on its own address.
  const where = want === master ? VIP : want.address;
  const sa = await waitEstablishedTo(bs, where);
  assert.equal(sa['remote-host'], where, `${bs.name} on ${want.id}`);
  assert.equal(sa['local-id'], bs.id);
  tally[want.id] = (tally[want.id] ?? 0) + 1;
  await waitTraffic(bs);
  return want;
}

test('cluster redirect at IKE_SA_INIT: strongSwan base stations end on the balancer\'s member, with traffic; drain and undrain', { timeout: 240_000 }, async () => {
  let labId = '';
  await withLab('clredir', async (lab) => {
    labId = lab.id;
    const c = await startClusterLab(lab, { mode: 'init', capacities: CAPACITIES, basestations: 4 });
    const [gw1, gw2, gw3] = c.members as [Member, Member, Member];
    const cap = await Capture.start(c.switchHost, 'br0', { filter: 'udp port 500 or udp port 4500', name: 'lan' });
    try {
      // Arrivals one at a time, each choice made from a settled table: with 0/100, 0/200, 0/300
      // gw1 (smallest id) serves the first itself; then gw2, gw3, gw3 (1/300 < 1/200 < 1/100).
      const tally: Record<string, number> = { gw1: 0, gw2: 0, gw3: 0 };
      const placed: Member[] = [];
      for (const bs of c.bss) placed.push(await connectExpected(c, bs, tally));
      assert.deepEqual(placed.map((m) => m.id), ['gw1', 'gw2', 'gw3', 'gw3'], 'the rule, as computed from the capacities');
      assert.deepEqual([await establishedOn(gw1), await establishedOn(gw2), await establishedOn(gw3)], [1, 1, 2]);
      assert.equal(await ikeSaCountOn(gw1), 1, 'the master kept nothing of the IKE_SA_INITs it redirected');

      const counts = await redirectsOf(gw1);
      assert.deepEqual(counts.redirects.map((r) => [r.target, r.address, r.reason, r.count]), [['gw2', gw2.address, 'init', 1], ['gw3', gw3.address, 'init', 2]]);
      assert.equal(counts.served.best, 1, 'the master served the first base station itself');
      assert.equal((await redirectsOf(gw2)).served['redirected-from'], 1, 'gw2 served the peer that came with REDIRECTED_FROM');

      // On the wire: each REDIRECT carries the Ni of the request it answers, nothing else; the
      // follow-up to the member carries REDIRECTED_FROM(VIP).
      for (const [i, bs] of c.bss.entries()) {
        if (placed[i] === gw1) continue;
        const w = await eventually(async () => {
          const r = redirectedInit(await readIkeFrames(c.switchHost, cap.file), bs, placed[i]!);
          return r.request && r.answer && r.followUp ? r : undefined;
        }, { what: `${bs.name}'s redirected IKE_SA_INIT in the capture`, timeoutMs: 20_000, intervalMs: 500 });
        assert.ok(w.request!.notifies.includes(NotifyStatus.REDIRECT_SUPPORTED), 'strongSwan announced REDIRECT_SUPPORTED');
        assert.ok(w.request!.nonce.length >= 32, 'Ni is in the request');
        assert.equal(w.answer!.redirectNonce, w.request!.nonce, 'the REDIRECT\'s nonce data is the initiator\'s Ni');
        assert.deepEqual(w.answer!.notifies, [NotifyStatus.REDIRECT], 'a bare N(REDIRECT)');
        assert.ok(w.followUp!.notifies.includes(NotifyStatus.REDIRECTED_FROM));
        assert.equal(w.followUp!.redirectedFrom, VIP, 'REDIRECTED_FROM names the VIP');
        assert.ok(charonLog(bs, /redirect/i).length > 0, 'charon logged the redirect');
      }

      // Drain gw3 with the CLI: its two peers are sent on (INFORMATIONAL N(REDIRECT)), to the
      // least loaded others: gw2 (1/200), then gw1 and gw2 tie at 1/100 = 2/200 -> gw1.
      const moved = c.bss.filter((_b, i) => placed[i] === gw3);
      const started = await segwCtl(gw3, 'drain');
      assert.equal(started.state, 'draining');
      const targets = await Promise.all(moved.map((bs) => eventually(async () => {
        const sas = await swanIkeSas(bs);
        const up = sas.filter((s) => s.state === 'ESTABLISHED' && s['remote-host'] !== gw3.address);
        return sas.length === 1 && up.length === 1 ? String(up[0]!['remote-host']) : undefined;
      }, { what: `${bs.name} re-established away from gw3`, timeoutMs: 40_000, intervalMs: 300 })));
      assert.deepEqual(targets.sort(), [gw1.address, gw2.address].sort(), 'one to gw2, then one to gw1');
      for (const bs of moved) {
        assert.ok(charonLog(bs, /parsed INFORMATIONAL request \d+ \[ N\(REDIR\) \]/).length > 0, `${bs.name} got INFORMATIONAL { N(REDIRECT) }`);
        await waitTraffic(bs);
      }
      await eventually(async () => (await ikeSaCountOn(gw3)) === 0, { what: 'gw3 holds no IKE SA', timeoutMs: 20_000 });
      const drained = await eventually(async () => {
        const s = (await redirectsOf(gw3)).drain;
        return s.state === 'drained' ? s : undefined;
      }, { what: 'gw3 reports drained', timeoutMs: 10_000 });
      assert.equal(drained.remaining, 0);
      const drainCounts = (await redirectsOf(gw3)).redirects.filter((r) => r.reason === 'drain');
      assert.deepEqual(drainCounts.map((r) => [r.target, r.count]).sort(), [['gw1', 1], ['gw2', 1]]);

      // Drained, gw3 takes no new base station although it is the emptiest: bs2 leaves gw2 and
      // comes back through the VIP, to gw2 again (1/200 against gw1's 2/100). bs2, not a base
      // station of gw1: the master's grant for the peer the drain moved to gw1 must be seen
      // consumed first (a known limit of the grant accounting, see the report of this branch:
      // an arrival and a departure at one member between two decisions leave its grant pending
      // until it expires).
      const gw3Draining = (on: boolean) => eventually(async () => (await gw1.segw.ctl<MembersView>('members')).members.find((r) => r.id === 'gw3')?.draining === on, `the master sees gw3 ${on ? '' : 'no longer '}draining`);
      await gw3Draining(true);
      const bs2 = c.bss[1]!;
      const reconnect = async (draining: string[]) => {
        await bs2.ss.swanctl(['--terminate', '--ike', 'tun'], { allowFail: true });
        await eventually(async () => (await swanIkeSas(bs2)).length === 0, `${bs2.name} has no IKE SA`);
        return connectExpected(c, bs2, { gw1: 2, gw2: 1, gw3: 0 }, draining);
      };
      assert.equal((await reconnect(['gw3'])).id, 'gw2', 'a drained member is never chosen');

      // Undrain: gw3 (0 tunnels) is the choice again.
      const after = await segwCtl(gw3, 'undrain');
      assert.equal(after.state, 'idle');
      await gw3Draining(false);
      assert.equal((await reconnect([])).id, 'gw3', 'undrained gw3 is chosen again');
      assert.equal(await establishedOn(gw3), 1);
    } finally {
      await cap.stop().catch(() => []);
      for (const bs of c.bss) await bs.ss.stop();
      for (const m of c.members) await m.segw.stop();
    }
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
