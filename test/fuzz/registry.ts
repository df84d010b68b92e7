/**
 * The JavaScript fuzz targets: every file in ./targets exports `target`, a FuzzTarget. Adding a
 * target is adding one file there; the corpus replay test (./corpus.test.ts) and the
 * bench (bench/fuzz/) find it by its file name.
 *
 * A target takes one input and either returns (the input was handled, whatever the outcome)
 * or throws a FuzzFinding / any exception (a defect: the fuzzer saves the input). Targets must
 * be deterministic and keep no state between inputs that changes their behaviour.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export interface FuzzTarget {
  /** Also the file name in ./targets and the corpus folder (./corpus/NAME). */
  name: string;
  /** What the input is, for the report. */
  input: string;
  /** Text input (YAML): the fuzzer adds words of the seeds as a dictionary. */
  text?: boolean;
  fuzz(data: Buffer): void | Promise<void>;
}

/** A broken invariant: the message says which, so a crash report reads without the code. */
export class FuzzFinding extends Error {
  readonly code = 'SEGW_FUZZ_FINDING';
  constructor(message: string) {
    super(message);
    this.name = 'FuzzFinding';
  }
}

export function invariant(cond: unknown, what: string): asserts cond {
  if (!cond) throw new FuzzFinding(what);
}

export const FUZZ_DIR = fileURLToPath(new URL('.', import.meta.url));
export const CORPUS_DIR = join(FUZZ_DIR, 'corpus');
const TARGETS_DIR = join(FUZZ_DIR, 'targets');

export function targetNames(): string[] {
  return readdirSync(TARGETS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

export async function loadTarget(name: string): Promise<FuzzTarget> {
  if (!targetNames().includes(name)) throw new Error(`no fuzz target "${name}" (have: ${targetNames().join(', ')})`);
  const mod = (await import(join(TARGETS_DIR, `${name}.ts`))) as { target?: FuzzTarget };
  if (!mod.target || mod.target.name !== name) throw new Error(`test/fuzz/targets/${name}.ts must export target with name "${name}"`);
  return mod.target;
}
