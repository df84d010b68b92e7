/**
 * Coverage feedback from V8's own block coverage (the inspector's Profiler domain, the data
 * behind NODE_V8_COVERAGE): every executed block range of segw's source is a feature. Why this
 * and not Jazzer.js: its prebuilt addon needs glibc 2.38 (this Debian has 2.36) and its older
 * releases download the addon or LLVM's sources at install time, which cannot work offline.
 *
 * Binary block coverage (callCount: false) costs the least. V8 then reports, for a function run
 * since the last snapshot, its own range and only the blocks that did NOT run (a run block has
 * its parent's count and is left out). So the blocks of a function are learnt as they show up
 * unexecuted, and a known block counts as covered when a later snapshot runs its function
 * without listing the block (or anything around it) as unexecuted.
 *
 * takePreciseCoverage returns what ran since the last call and resets it. Taking it costs
 * milliseconds, so the engine runs inputs in batches and takes one snapshot per batch; only a
 * batch that reached something new is replayed input by input (see ./fuzzer.ts).
 */
import { Session } from 'node:inspector';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  scriptId: string;
  url: string;
  functions: { functionName: string; ranges: Range[] }[];
}

export class Coverage {
  private readonly session = new Session();
  /** Features seen so far: `${url}:${start}:${end}`. */
  readonly seen = new Set<string>();
  /** Blocks learnt per function (`${url}:${start}`): start and end offsets. */
  private readonly blocks = new Map<string, [number, number][]>();

  /** `include`: which script URLs count (segw's own source, not node_modules). */
  constructor(private readonly include: (url: string) => boolean) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
  }

  /** Features executed since the last call (block ranges with a non-zero count). */
  take(): string[] {
    const r = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    const out: string[] = [];
    for (const s of r.result) {
      if (!this.include(s.url)) continue;
      for (const f of s.functions) {
        const fn = f.ranges[0];
        if (!fn || fn.count === 0) continue;
        const key = `${s.url}:${fn.startOffset}`;
        out.push(key);
        const zeros = f.ranges.filter((r) => r.count === 0);
        let known = this.blocks.get(key);
        if (!known) this.blocks.set(key, (known = []));
        for (const z of zeros) if (!known.some(([a, b]) => a === z.startOffset && b === z.endOffset)) known.push([z.startOffset, z.endOffset]);
        for (const [a, b] of known) {
          if (!zeros.some((z) => z.startOffset <= a && b <= z.endOffset)) out.push(`${key}:${a}:${b}`);
        }
      }
    }
    return out;
  }

  /** How many of `features` are new; with `record`, they are added to what was seen. */
  novel(features: string[], record: boolean): number {
    let n = 0;
    for (const f of features) {
      if (this.seen.has(f)) continue;
      n++;
      if (record) this.seen.add(f);
    }
    return n;
  }

  close(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }

  // Session.post answers synchronously on the thread it inspects.
  private post(method: string, params?: object): unknown {
    let out: unknown;
    let error: Error | null = null;
    let answered = false;
    this.session.post(method, params, (err, res) => {
      error = err;
      out = res;
      answered = true;
    });
    if (!answered) throw new Error(`inspector ${method}: no synchronous answer`);
    if (error) throw error;
    return out;
  }
}
