/**
 * segw's XFRM data plane under change, in the user-mode-linux guest (./guest/lifecycle.ts):
 * child and IKE rekeys under traffic, NAT-T with ESP in UDP and a NAT rebinding, routes without
 * routes.via/dev and a delete. One test per
 * guest scenario; the evidence from the guest's `ip -s xfrm state` is checked again here.
 */
import assert from 'node:assert/strict';
import { guestSuite } from './guest.js';
import type { ShownSa } from './guest/xfrm-show.js';
import { worseThanReference, type Loss } from './guest/rekey-loss.js';

interface ChildView { spiIn: string; spiOut: string }
interface Peer { address: string; port: number }

guestSuite(
  'lifecycle.ts',
  {
    'nat-t-rebinding': (ev) => {
      const child = ev.child as ChildView;
      const peer = ev.peer as Peer;
      assert.equal(peer.address, '203.0.113.254', 'the base station is seen as the NAT');
      const before = (ev.gwSas as ShownSa[]).find((s) => s.spi === child.spiOut)!;
      assert.deepEqual(before.encap, { type: 'espinudp', sport: 4500, dport: peer.port }, 'XFRMA_ENCAP towards the NAT mapping');
      const after = (ev.gwSasAfter as ShownSa[]).find((s) => s.spi === child.spiOut)!;
      const peerAfter = ev.peerAfter as Peer;
      assert.notEqual(peerAfter.port, peer.port, 'the NAT gave a new port');
      assert.deepEqual(after.encap, { type: 'espinudp', sport: 4500, dport: peerAfter.port }, 'the same SA now sends there');
      assert.deepEqual(ev.pingsAfter, { toGw: 3, toBs: 3 });
    },
    'rekey-under-traffic': (ev) => {
      const loss = ev.loss as Record<string, Loss>;
      const ref = ev.referenceLoss as Record<string, Loss>;
      assert.deepEqual(Object.keys(loss).sort(), ['IKE by base station', 'IKE by gateway', 'child by base station', 'child by gateway']);
      assert.notEqual((ev.child as ChildView).spiIn, (ev.first as ChildView).spiIn, 'the child ends on new SPIs');
      for (const [kind, l] of Object.entries(loss)) assert.ok(l.sent > 0 && ref[kind]!.sent > 0, `${kind}: pings sent`);
      for (const [kind, l] of Object.entries({ ...loss, ...ref })) assert.ok(l.drops?.gw && l.drops.bs, `${kind}: XFRM drop counters read at both ends`);
      // Child rekeys: before, segw as the rekey responder sent on its new SA at once and the
      // initiator's kernel dropped it (XfrmAcquireError: the SPI still larval), 15 packets a rekey.
      // Charon's own outbound drops (XfrmOutPolBlock at the base station) are not the gateway's:
      // see worseThanReference.
      const kinds = ['child by gateway', 'child by base station', 'IKE by gateway', 'IKE by base station'] as const;
      assert.deepEqual(worseThanReference(loss, ref, kinds), [], 'no rekey costs more than between two charons');
      assert.ok((ev.tcpBytes as number) > 0);
    },
    'routes-from-kernel': (ev) => {
      assert.equal(ev.chosenDev, 'eth0', 'no routes.via/dev: the device of ike.listen');
      assert.equal(ev.routes, '192.0.2.0/25 dev eth0 scope link');
      assert.deepEqual(ev.pings, { toGw: 3, toBs: 3 });
      assert.equal(ev.routesAfterDelete, '', 'withdrawn when the peer deleted the IKE SA');
      assert.deepEqual(ev.statesAfterDelete, [], 'delete: no SA left');
      assert.deepEqual(ev.policiesAfterDelete, [], 'delete: no policy left');
    },
  },
  { timeoutS: 600 },
);
