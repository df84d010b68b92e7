/**
 * The short fuzz pass CI runs, so a regression in a fuzzed path fails a test:
 *   - every JavaScript target (test/fuzz/targets) replays its whole corpus (seeds from real
 *     captures, plus the inputs of past findings) and then fuzzes for a few seconds from it;
 *   - every native libFuzzer target (native/fuzz, ASan + UBSan) is built by
 *     scripts/fuzz-native.sh and runs a few seconds on its corpus.
 * The long runs are bench/fuzz/ (10 million inputs per target).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fuzz } from './engine/fuzzer.js';
import { seedsOf } from './corpus-io.js';
import { CORPUS_DIR, loadTarget, targetNames } from './registry.js';

const root = new URL('../../', import.meta.url).pathname;
const SECONDS = Number(process.env.SEGW_FUZZ_SECONDS ?? 4);

for (const name of targetNames()) {
  test(`fuzz target ${name}: the corpus replays cleanly, then ${SECONDS} s of fuzzing find nothing`, async () => {
    const t = await loadTarget(name);
    const seeds = seedsOf(name, false);
    assert.ok(seeds.length > 0, `test/fuzz/corpus/${name} has no seeds`);
    for (const [i, s] of seeds.entries()) {
      try {
        await t.fuzz(s);
      } catch (err) {
        assert.fail(`corpus input ${i} of ${name}: ${(err as Error).stack ?? String(err)}`);
      }
    }
    const s = await fuzz(t, seeds, { runs: 1_000_000, seconds: SECONDS, seed: 1 });
    assert.equal(s.finding, undefined, s.finding && `${name}: ${s.finding.message}\ninput (hex): ${s.finding.input.toString('hex')}`);
    assert.ok(s.inputs > seeds.length, `${name}: the fuzzer ran no mutated input`);
  });
}

const clang = spawnSync('clang++', ['--version']).status === 0;
test('native fuzz targets (libFuzzer, ASan, UBSan) run clean on their corpus', { skip: !clang && 'clang++ not installed (scripts/install-test-deps.sh installs it)' }, () => {
  const script = join(root, 'scripts/fuzz-native.sh');
  const build = spawnSync('bash', [script, 'build'], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, `fuzz-native build failed:\n${build.stderr.slice(-4000)}`);
  const names = spawnSync('bash', [script, 'list'], { cwd: root, encoding: 'utf8' }).stdout.trim().split('\n');
  assert.ok(names.length >= 3, `native targets: ${names.join(', ')}`);
  for (const t of names) {
    const seeds = join(CORPUS_DIR, `native-${t}`);
    const r = spawnSync('bash', [script, 'run', t, `-max_total_time=${SECONDS}`, '-print_final_stats=1'], {
      cwd: root,
      encoding: 'utf8',
      timeout: (SECONDS + 60) * 1000,
    });
    const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(r.stderr)?.[1];
    assert.equal(r.status, 0, `${t} failed (seeds ${seeds}):\n${r.stderr.slice(-4000)}`);
    assert.doesNotMatch(r.stderr, /ERROR: |runtime error|fuzz invariant failed/, `${t}: sanitizer report`);
    assert.ok(Number(runs) > 0, `${t} ran no input`);
  }
});
