/**
 * The data-plane source on the real userspace ESP engine, in a lab namespace: ESP-in-UDP for an
 * SPI the engine does not know, sent from the neighbour, shows as an inbound drop with the
 * engine's reason in the scrape (read from the engine's counters, not counted in JavaScript).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../src/lab/lab.js';
import { UserspaceIpsec } from '../../src/kernel/userspace/backend.js';
import { MetricsRegistry, dataPlaneAdapter } from '../../src/metrics/index.js';
import { dataPlaneReader } from '../../src/metrics/dataplane.js';
import { eventually } from '../support/eventually.js';

async function drops(reg: MetricsRegistry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const l of (await reg.render()).split('\n')) {
    const m = /^segw_esp_drops_total\{direction="in",reason="([^"]+)",lane="all"\} (\S+)$/.exec(l);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('ESP for an unknown SPI moves segw_esp_drops_total{direction="in",reason="no-sa"}', { timeout: 60_000 }, async () => {
  await withLab('espmet', async (lab) => {
    const a = await lab.host('a'), b = await lab.host('b');
    await lab.link(a, b, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    const ipsec = UserspaceIpsec.open({ netns: a.ns, udp: [{ address: '198.51.100.1', port: 4500 }] });
    try {
      const read = dataPlaneReader(ipsec);
      assert.ok(read, 'the userspace backend has counters to read');
      const reg = new MetricsRegistry();
      reg.addSource(dataPlaneAdapter, read);
      assert.equal((await drops(reg)).get('no-sa'), 0);
      // ESP header (SPI 0x00c0ffee, sequence 1) and 56 octets of "ciphertext", to UDP 4500 (RFC 3948).
      const esp = `\\000\\300\\377\\356\\000\\000\\000\\001${'\\125'.repeat(56)}`;
      await eventually(async () => {
        await b.exec('bash', ['-c', `printf '${esp}' > /dev/udp/198.51.100.1/4500`]);
        return ((await drops(reg)).get('no-sa') ?? 0) >= 1;
      }, { what: 'the engine counted the unknown SPI', timeoutMs: 10_000 });
      const after = await drops(reg);
      assert.equal(after.get('replay'), 0, 'only the reason that happened moved');
    } finally {
      await ipsec.close();
    }
  });
});
