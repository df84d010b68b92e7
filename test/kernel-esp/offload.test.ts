/**
 * ESP offload requests on a kernel with ESP (./guest/offload.ts in the user-mode-linux guest):
 * the guest kernel (6.1, veth, no netdevsim) refuses packet offload and takes crypto offload
 * requests in software, and segw installs every SA regardless. The kernel's answers must be the
 * ones recorded in test/kernel/xfrm/fixtures/offload-answers.json, which
 * test/kernel/xfrm/offload.test.ts replays on every run.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { guestSuite } from './guest.js';
import type { RecordedAnswer } from '../kernel/xfrm/offload-replay.js';

const recorded = JSON.parse(readFileSync(new URL('../kernel/xfrm/fixtures/offload-answers.json', import.meta.url), 'utf8')) as { answers: RecordedAnswer[] };

guestSuite(
  'offload.ts',
  {
    'offload-gateway': (ev) => {
      assert.match(String(ev.reason), /ESP packet offload requested/);
      assert.deepEqual(ev.pings, { toGw: 3, toBs: 3 });
      for (const e of ev.refusals as string[]) assert.match(e, /Unrecognized flags in offload request/);
    },
    'offload-fallback': (ev) => {
      assert.deepEqual(ev.answers, recorded.answers, 'the live kernel answers as recorded');
      const runs = ev.runs as Record<string, unknown>;
      assert.deepEqual(runs.packet, {
        mode: 'packet',
        installed: { crypto: 0, packet: 0, software: 4 },
        notOffered: { 'udp-encap': 1 },
        refused: { 'packet: EINVAL: Unrecognized flags in offload request': 3 },
      });
      assert.deepEqual(runs.crypto, { mode: 'crypto', installed: { crypto: 0, packet: 0, software: 2 }, notOffered: {}, refused: {} });
      assert.ok((ev.ethtool as string[]).includes('esp-hw-offload: off [fixed]'), 'the guest veth offers no ESP offload');
    },
  },
  { timeoutS: 180 },
);
