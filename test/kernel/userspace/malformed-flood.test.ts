// Malformed ESP flooded at a live segw tunnel (issue 15): bad SPIs, bad ICVs, truncated
// packets, replays and wrong lengths sent at b's ESP-in-UDP socket as fast as one sender
// thread goes, while a pings b through the tunnel. b drops and counts every kind under its own
// reason, and the pings pass during the flood. Bounded: at most 400,000 datagrams and 8 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { withLab } from '../../../src/lab/lab.js';
import { eventually } from '../../support/eventually.js';
import { segwTunnel } from '../../support/esp-tunnel.js';
import { EXPECTED_REASON, MALFORMED_KINDS, malformedEsp } from '../../support/malformed-esp.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const PINGS = 10;

test('malformed ESP at line rate: dropped and counted by reason, and pings through the tunnel pass during the flood', { timeout: 120_000 }, async () => {
  await withLab('espflood', async (lab) => {
    const { a, b } = await segwTunnel(lab);
    try {
      // Sequence numbers 1..3 are then behind b's window edge for a's SA: replays of them are old.
      assert.ok(await a.host.ping(b.inner, { count: 3, timeoutS: 2 }), 'the tunnel passes traffic before the flood');
      const sets = malformedEsp({ spi: a.out.spi, encryptionKey: a.out.encryptionKey, esn: a.out.esn, innerSrc: a.inner, innerDst: b.inner, replayUpTo: 3 }, 8);
      // Interleaved, so every reason is hit throughout the flood.
      const payloads = sets[0]!.packets.flatMap((_, i) => sets.map((s) => s.packets[i]!.toString('hex')));
      const before = await b.ipsec.stats();
      assert.ok(before.available);

      const spec = { source: a.outer, target: b.outer, port: 4500, payloads, rate: 0, seconds: 8, count: 400_000 };
      const flood = a.host.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/support/udp-flood.ts'), JSON.stringify(spec)], { cwd: REPO, name: 'esp-flood' });
      let pingOut = '';
      try {
        await flood.waitFor(/"started":true/, 20_000);
        // The flood is reaching b's engine before the pings start...
        await eventually(async () => {
          const s = await b.ipsec.stats();
          return s.available && (s.drops.in['no-sa'] ?? 0) > (before.drops.in['no-sa'] ?? 0) + 1000;
        }, { what: 'the flood counted at b', timeoutMs: 10_000, intervalMs: 50 });
        const ping = await a.host.exec('ping', ['-c', String(PINGS), '-i', '0.2', '-W', '2', '-q', b.inner], { allowFail: true, timeoutMs: 30_000 });
        pingOut = ping.stdout;
        // ...and still running when they are done.
        assert.ok(flood.running, 'the flood outlasted the pings');
      } finally {
        await flood.stop('SIGKILL', 2000);
      }
      const received = Number(/(\d+) received/.exec(pingOut)?.[1] ?? -1);
      assert.equal(received, PINGS, `every echo through the tunnel answered during the flood: ${pingOut}`);

      const after = await b.ipsec.stats();
      assert.ok(after.available);
      const moved = (reason: string) => (after.drops.in[reason] ?? 0) - (before.drops.in[reason] ?? 0);
      for (const kind of MALFORMED_KINDS) {
        assert.ok(moved(EXPECTED_REASON[kind]) > 100, `${kind}: counted as ${EXPECTED_REASON[kind]} (${moved(EXPECTED_REASON[kind])})`);
      }
      // Nothing malformed was taken for traffic: the tunnel's inbound SA counts only real packets.
      const [inSa] = b.ipsec.queryMany([b.in]);
      const [outSa] = a.ipsec.queryMany([a.out]);
      assert.equal(inSa!.packets, outSa!.packets, 'b received exactly what a sent through the tunnel');
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
});
