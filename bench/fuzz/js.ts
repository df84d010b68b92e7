/**
 * Fuzz bench, JavaScript part: runs each target in test/fuzz/targets under the coverage-guided
 * engine (test/fuzz/engine) for RUNS inputs or SECONDS, whichever comes first, and prints one
 * line per target: inputs, execs/s, corpus size, coverage features, result. A finding (an
 * exception, a broken invariant, a hang) stops that target; its input is saved in
 * build/fuzz/crashes/js-TARGET/ and the bench exits 1.
 *
 *   node --import tsx bench/fuzz/js.ts [--runs N] [--seconds S] [--seed N] [TARGET...]
 * Defaults: 10,000,000 inputs, 1800 s per target.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuzz } from '../../test/fuzz/engine/fuzzer.js';
import { RUN_DIR, seedsOf } from '../../test/fuzz/corpus-io.js';
import { loadTarget, targetNames } from '../../test/fuzz/registry.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '10000000' }, seconds: { type: 'string', default: '1800' }, seed: { type: 'string' } },
});
const names = positionals.length ? positionals : targetNames();
console.log(`${'target'.padEnd(12)} ${'inputs'.padStart(11)} ${'execs/s'.padStart(8)} ${'corpus'.padStart(7)} ${'features'.padStart(9)}  result`);
let failed = false;
for (const name of names) {
  const t = await loadTarget(name);
  const s = await fuzz(t, seedsOf(name), {
    runs: Number(values.runs),
    seconds: Number(values.seconds),
    ...(values.seed !== undefined && { seed: Number(values.seed) }),
    corpusOut: join(RUN_DIR, 'corpus', `js-${name}`),
    crashDir: join(RUN_DIR, 'crashes', `js-${name}`),
    progress: (l) => process.stderr.write(`${l}\n`),
  });
  const result = s.finding ? `FINDING (${s.finding.file}): ${s.finding.message.split('\n')[0]}` : 'clean';
  if (s.finding) {
    failed = true;
    process.stderr.write(`${s.finding.message}\n`);
  }
  console.log(
    `${name.padEnd(12)} ${String(s.inputs).padStart(11)} ${String(Math.round(s.inputs / s.seconds)).padStart(8)} ${String(s.corpus).padStart(7)} ${String(s.features).padStart(9)}  ${result}`,
  );
}
process.exit(failed ? 1 : 0);
