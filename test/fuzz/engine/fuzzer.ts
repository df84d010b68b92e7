/**
 * A coverage-guided fuzzing loop for the targets in ../targets (libFuzzer's loop, in
 * JavaScript): pick a corpus entry, mutate it, run the target; an input that reaches a block
 * no earlier input reached joins the corpus. Coverage is V8's block coverage (./coverage.ts),
 * taken once per batch of inputs; a batch that found something new is replayed input by input
 * to find which ones did. An exception out of the target, or an input that does not finish
 * within `timeoutMs` (an async one that does not settle, or a synchronous loop: ./watchdog.ts),
 * is a finding: the input is saved and the run stops.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FuzzTarget } from '../registry.js';
import { Coverage } from './coverage.js';
import { Mutator, Rng } from './mutate.js';
import { Watchdog } from './watchdog.js';

export interface FuzzOptions {
  /** Stop after this many inputs (seeds included) ... */
  runs: number;
  /** ... or after this many seconds, whichever comes first. */
  seconds: number;
  seed?: number;
  maxLen?: number;
  /** Inputs per coverage snapshot at first; it doubles (up to 16x) while batches find nothing. */
  batch?: number;
  timeoutMs?: number;
  /** Where new corpus entries and findings are written (none if unset). */
  corpusOut?: string;
  crashDir?: string;
  /** Which script URLs give coverage (default: segw's src/). */
  include?: (url: string) => boolean;
  /** Progress lines (every ~10 s). */
  progress?: (line: string) => void;
}

export interface FuzzStats {
  inputs: number;
  seconds: number;
  corpus: number;
  features: number;
  finding?: { message: string; file?: string; input: Buffer };
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/** Words of text seeds (YAML keys, values) for the dictionary. */
export function dictionaryOf(seeds: Buffer[]): Buffer[] {
  const words = new Set<string>([': ', '\n', '\n  ', '\n    ', '- ', '[', ']', '{', '}', '"', "'", '&a ', '*a', '<<: ', '!!', '#']);
  for (const s of seeds) for (const w of s.toString('latin1').match(/[A-Za-z0-9_.%:/-]{2,40}/g) ?? []) words.add(w);
  return [...words].map((w) => Buffer.from(w, 'latin1'));
}

export async function fuzz(t: FuzzTarget, seeds: Buffer[], o: FuzzOptions): Promise<FuzzStats> {
  const started = Date.now();
  const rng = new Rng(o.seed ?? (Date.now() & 0xffffffff));
  const maxLen = o.maxLen ?? 4096;
  const mut = new Mutator(rng, t.text ? dictionaryOf(seeds) : [], maxLen);
  const cov = new Coverage(o.include ?? ((url) => url.includes('/src/') && !url.includes('/node_modules/')));
  const corpus: Buffer[] = [];
  const minBatch = o.batch ?? 64;
  let batchSize = minBatch;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const dog = new Watchdog({ target: t.name, timeoutMs: timeoutMs * 2, maxLen: Math.max(maxLen, ...seeds.map((s) => s.length)), crashDir: o.crashDir });
  let inputs = 0;
  let lastProgress = started;

  const stats = (finding?: FuzzStats['finding']): FuzzStats => ({
    inputs,
    seconds: (Date.now() - started) / 1000,
    corpus: corpus.length,
    features: cov.seen.size,
    ...(finding && { finding }),
  });

  /** Runs one input; returns the finding's message, or null. */
  const run = async (data: Buffer): Promise<string | null> => {
    inputs++;
    dog.begin(data);
    try {
      const r = t.fuzz(data);
      if (r instanceof Promise) {
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not settle within ${timeoutMs} ms (hang)`)), timeoutMs);
        });
        try {
          await Promise.race([r, hang]);
        } finally {
          clearTimeout(timer);
        }
      }
      return null;
    } catch (err) {
      const e = err as Error;
      return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}\n${e?.stack ?? ''}`;
    }
  };

  const found = (input: Buffer, message: string): FuzzStats => {
    let file: string | undefined;
    if (o.crashDir) {
      mkdirSync(o.crashDir, { recursive: true });
      file = join(o.crashDir, `crash-${sha1(input)}`);
      writeFileSync(file, input);
    }
    cov.close();
    dog.stop();
    return stats({ message, file, input });
  };

  const keep = (input: Buffer) => {
    corpus.push(input);
    if (o.corpusOut) {
      mkdirSync(o.corpusOut, { recursive: true });
      writeFileSync(join(o.corpusOut, sha1(input)), input);
    }
  };

  cov.take();
  for (const s of seeds.length > 0 ? seeds : [Buffer.alloc(0)]) {
    const f = await run(s);
    if (f) return found(s, f);
    cov.novel(cov.take(), true);
    corpus.push(s);
  }

  const deadline = started + o.seconds * 1000;
  while (inputs < o.runs && Date.now() < deadline) {
    const n = Math.min(batchSize, o.runs - inputs);
    const batch: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const base = corpus[rng.below(corpus.length)]!;
      const x = mut.mutate(base, corpus[rng.below(corpus.length)]!);
      batch.push(x);
      const f = await run(x);
      if (f) return found(x, f);
    }
    const feats = cov.take();
    dog.alive();
    const novel = cov.novel(feats, false) > 0;
    // Snapshots cost milliseconds: fewer of them while nothing new turns up.
    batchSize = novel ? minBatch : Math.min(batchSize * 2, minBatch * 16);
    if (novel) {
      for (const x of batch) {
        inputs--; // a replay is not a new input
        const f = await run(x);
        if (f) return found(x, f);
        if (cov.novel(cov.take(), true) > 0) keep(x);
      }
      cov.novel(feats, true);
    }
    if (o.progress && Date.now() - lastProgress > 10_000) {
      lastProgress = Date.now();
      const s = stats();
      o.progress(`${t.name}: ${s.inputs} inputs, ${Math.round(s.inputs / s.seconds)}/s, corpus ${s.corpus}, features ${s.features}`);
    }
  }
  cov.close();
  dog.stop();
  return stats();
}
