/**
 * segw's XFRM data plane on a kernel with ESP: a user-mode-linux guest (scripts/uml-run) runs
 * the scenarios of ./guest/gateway.ts, segw gateway against strongSwan on kernel-netlink; each
 * scenario is one test here, and its evidence (what `ip -s xfrm state` / `ip xfrm policy`
 * showed in the guest) is checked again on the host.
 */
import assert from 'node:assert/strict';
import { guestSuite } from './guest.js';
import type { ShownPolicy, ShownSa } from './guest/xfrm-show.js';
import { ReqidMap, SEGW_REQID_BASE } from '../../src/kernel/xfrm/ownership.js';

const segwReqids = new ReqidMap(SEGW_REQID_BASE);

interface ChildView { spiIn: string; spiOut: string }

/** Both SPIs of the agreed child counted ESP packets in both kernels. */
function checkCounters(ev: Record<string, unknown>): void {
  const child = ev.child as ChildView;
  const counted = (sas: ShownSa[], spi: string) => {
    const sa = sas.find((s) => s.spi === spi);
    assert.ok(sa, `SA ${spi} listed`);
    assert.equal(sa.proto, 'esp');
    assert.ok(BigInt(sa.packets) > 0n, `SA ${spi} counted packets`);
  };
  for (const spi of [child.spiIn, child.spiOut]) {
    counted(ev.gwSas as ShownSa[], spi);
    counted(ev.bsSas as ShownSa[], spi);
  }
  assert.deepEqual(ev.pings, { toGw: 3, toBs: 3 });
}

guestSuite(
  'gateway.ts',
  {
    'xfrm-psk': (ev) => {
      assert.equal(ev.dataPlane, 'xfrm');
      checkCounters(ev);
      // The policies `ip xfrm policy` shows are segw's (its reqid range), and the SAs carry the same reqid.
      const policies = ev.gwPolicies as ShownPolicy[];
      const dirs = policies.map((p) => `${p.dir} ${p.src} ${p.dst} ${p.tmpl?.proto} ${p.tmpl?.mode}`).sort();
      assert.deepEqual(dirs, [
        'fwd 192.0.2.0/25 192.0.2.128/25 esp tunnel',
        'in 192.0.2.0/25 192.0.2.128/25 esp tunnel',
        'out 192.0.2.128/25 192.0.2.0/25 esp tunnel',
      ]);
      const reqids = new Set([...policies.map((p) => p.tmpl!.reqid), ...(ev.gwSas as ShownSa[]).map((s) => s.reqid)]);
      assert.equal(reqids.size, 1, 'policies and SAs share one reqid');
      assert.ok(segwReqids.owns([...reqids][0]!), 'in segw\'s reqid range');
    },
    'auto-certs': (ev) => {
      assert.equal(ev.dataPlane, 'xfrm', 'kernel.ipsec: auto chose XFRM: the probe found ESP');
      assert.match(String(ev.reason), /kernel installs ESP SAs/);
      assert.equal(ev.peerId, 'bs1.segw.example', 'authenticated by its certificate');
      checkCounters(ev);
    },
    'sigkill-restart': (ev) => {
      const child = ev.child as ChildView;
      const killed = ev.afterKill as { spis: string[]; routes: string };
      assert.ok(killed.spis.includes(child.spiIn), 'the kill left the SAs (what the restart must clean)');
      assert.match(killed.routes, /^192\.0\.2\.0\/25 /, 'and the proto segw route');
      const after = ev.afterRestart as { states: ShownSa[]; policies: ShownPolicy[]; segwRoutes: string; staticRoutes: string };
      assert.deepEqual(after.states.map((s) => s.spi), ['00000777'], 'only the other daemon\'s SA');
      assert.deepEqual(after.policies.map((p) => p.tmpl?.reqid), [7], 'only the other daemon\'s policy');
      assert.equal(after.segwRoutes, '');
      assert.notEqual(after.staticRoutes, '');
      assert.deepEqual(ev.pingAfterRestart, { toGw: 3, toBs: 3 }, 'the restarted gateway carries traffic');
    },
    'dpd-dead-peer': (ev) => {
      assert.deepEqual(ev.before, { states: 2, policies: 3 }, 'the tunnel was in the kernel');
      assert.deepEqual(ev.after, { states: [], policies: [], routes: '' }, 'DPD removed SAs, policies and the route');
    },
  },
  { timeoutS: 600 },
);
