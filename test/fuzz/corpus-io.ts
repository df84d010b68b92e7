/** Reading a target's corpus: the checked-in seeds (./corpus/NAME) plus what earlier runs found. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS_DIR } from './registry.js';

/** Where fuzz runs keep what they find (not checked in). */
export const RUN_DIR = new URL('../../build/fuzz/', import.meta.url).pathname;

export function readCorpus(dir: string): Buffer[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(join(dir, f)));
}

export function seedsOf(name: string, withFound = true): Buffer[] {
  const seeds = readCorpus(join(CORPUS_DIR, name));
  return withFound ? [...seeds, ...readCorpus(join(RUN_DIR, 'corpus', `js-${name}`))] : seeds;
}
