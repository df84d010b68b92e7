/**
 * The fuzzing engine itself (test/fuzz/engine): coverage guidance finds what blind mutation
 * would not (a three-octet magic behind nested branches), a throw is reported with its input,
 * and an input that loops forever is caught by the watchdog, saved, and ends the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzz } from './engine/fuzzer.js';
import { magicTarget } from './engine-fixture.js';

test('coverage guidance reaches a bug behind three nested one-octet checks', async () => {
  const s = await fuzz(magicTarget, [Buffer.from('hello')], { runs: 2_000_000, seconds: 60, seed: 42, include: (url) => url.endsWith('/engine-fixture.ts') });
  assert.ok(s.finding, `not found in ${s.inputs} inputs (corpus ${s.corpus})`);
  assert.match(s.finding.message, /magic reached/);
  assert.deepEqual([...s.finding.input.subarray(0, 3)], [0x49, 0x4b, 0x45]);
});

test('an input that never returns is saved and ends the run (exit 137)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segw-fuzz-'));
  try {
    const script = join(dir, 'hang.mts');
    const engine = new URL('./engine/fuzzer.ts', import.meta.url).pathname;
    writeFileSync(
      script,
      `import { fuzz } from ${JSON.stringify(engine)};\n` +
        `await fuzz({ name: 'hang', input: 'octets', fuzz(d) { if (d[0] === 0x41) for (;;) {} } }, [Buffer.from('Ahang')],` +
        ` { runs: 10, seconds: 30, timeoutMs: 250, crashDir: ${JSON.stringify(dir)} });\nconsole.log('returned');\n`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, 'SIGKILL', `status ${r.status}, stdout ${r.stdout}, stderr ${r.stderr}`);
    assert.match(r.stderr, /hang: an input ran over 500 ms \(hang\), saved as /);
    const saved = readdirSync(dir).filter((f) => f.startsWith('crash-hang-'));
    assert.equal(saved.length, 1);
    assert.equal(readFileSync(join(dir, saved[0]!), 'utf8'), 'Ahang');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
