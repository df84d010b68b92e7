// XFRM's drop counters (/proc/net/xfrm_stat) as IpsecStats, named like the userspace engine's
// verdicts where they mean the same; a kernel without them, or another namespace, says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseXfrmStat, readXfrmStats } from '../../../src/kernel/xfrm/stats.js';
import { StubKernelIpsec } from '../../../src/kernel/stub/ipsec.js';

const SAMPLE = [
  'XfrmInError             \t0',
  'XfrmInNoStates          \t4',
  'XfrmInStateProtoError   \t7',
  'XfrmInStateSeqError     \t3',
  'XfrmInStateMismatch     \t1',
  'XfrmFwdHdrError         \t2',
  'XfrmOutNoStates         \t5',
  'XfrmOutStateSeqError    \t6',
  'XfrmOutPolBlock         \t8',
  'XfrmAcquireError        \t9',
  'garbage line',
  '',
].join('\n');

test('kernel counters map to the engine reasons (replay, integrity, no-sa, ...) and the rest keep their names', () => {
  assert.deepEqual(parseXfrmStat(SAMPLE), {
    in: { error: 0, 'no-sa': 4, integrity: 7, replay: 3, 'state-mismatch': 1, 'fwd-hdr-error': 2, 'acquire-error': 9 },
    out: { 'no-sa': 5, 'seq-overflow': 6, 'pol-block': 8 },
  });
});

test('readXfrmStats: the file, a kernel without CONFIG_XFRM_STATISTICS, another namespace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'segw-xfrmstat-'));
  try {
    writeFileSync(join(dir, 'xfrm_stat'), SAMPLE);
    const ok = await readXfrmStats(undefined, join(dir, 'xfrm_stat'));
    assert.equal(ok.available, true);
    assert.equal(ok.available && ok.drops.in.replay, 3);
    const missing = await readXfrmStats(undefined, join(dir, 'absent'));
    assert.equal(missing.available, false);
    assert.match(!missing.available ? missing.reason : '', /CONFIG_XFRM_STATISTICS/);
    const other = await readXfrmStats('/run/netns/x', join(dir, 'xfrm_stat'));
    assert.equal(other.available, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the stub kernel answers stats() from the SA counters set on it', async () => {
  const k = new StubKernelIpsec();
  const ref = { dst: '192.0.2.1', spi: 0xc0000001, protocol: 'esp' as const };
  k.setCounters(ref, { replayDrops: 2n, integrityFailures: 5n });
  assert.deepEqual(await k.stats(), { available: true, drops: { in: { replay: 2, integrity: 5, other: 0 }, out: {} } });
});
