// A child SA refused after its inbound SPI was allocated (TS_UNACCEPTABLE, NO_PROPOSAL_CHOSEN)
// deletes that SPI: the engine backend releases the reservation instead of failing with "no
// SA" (which the child's cleanup logged with a stack trace), as XFRM deletes the larval SA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../../src/lab/lab.js';
import { UserspaceIpsec } from '../../../src/kernel/userspace/backend.js';

test('deleting an allocated, never-added SPI releases it; deleting it again is an error', { timeout: 60_000 }, async () => {
  await withLab('espspi', async (lab) => {
    const a = await lab.host('a');
    const ga = UserspaceIpsec.open({ netns: a.ns, udp: [{ address: '127.0.0.1', port: 4500 }] });
    try {
      const spi = await ga.allocateSpi('198.51.100.2', '198.51.100.1', 'esp');
      const ref = { dst: '198.51.100.1', spi, protocol: 'esp' as const };
      await ga.deleteSa(ref);
      await assert.rejects(ga.deleteSa(ref), { code: 'SEGW_ESP' });
    } finally {
      await ga.close();
    }
  });
});
