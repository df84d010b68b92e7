/**
 * segw's XFRM data plane on a kernel with ESP: a user-mode-linux guest (scripts/uml-run) runs
 * the scenarios of ./guest/gateway.ts, segw gateway against strongSwan on kernel-netlink; each
 * scenario is one test here, and its evidence (what `ip -s xfrm state` / `ip xfrm policy`
 * showed in the guest) is checked again on the host.
 */
import assert from 'node:assert/strict';
import { guestSuite } from './guest.js';
import type { ShownPolicy, ShownSa } from './guest/xfrm-show.js';

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
      const dirs = (ev.gwPolicies as ShownPolicy[]).map((p) => `${p.dir} ${p.src} ${p.dst}`).sort();
      assert.deepEqual(dirs, ['fwd 192.0.2.0/25 192.0.2.128/25', 'in 192.0.2.0/25 192.0.2.128/25', 'out 192.0.2.128/25 192.0.2.0/25']);
    },
  },
  { timeoutS: 300 },
);
