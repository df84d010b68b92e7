/**
 * Latency summaries for the load generator: per-SA setup times are kept in a Float64Array
 * (8 octets per base station, 800 KB at 100k) and summarized once per run.
 */

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

const EMPTY: LatencySummary = { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summarizes the samples (NaN entries, i.e. SAs that did not finish, are skipped). */
export function summarize(samples: Float64Array | number[]): LatencySummary {
  const vals = Float64Array.from(samples).filter((v) => !Number.isNaN(v));
  if (vals.length === 0) return { ...EMPTY };
  vals.sort();
  let sum = 0;
  for (const v of vals) sum += v;
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    count: vals.length,
    minMs: r(vals[0]!),
    meanMs: r(sum / vals.length),
    p50Ms: r(percentile(vals, 50)),
    p90Ms: r(percentile(vals, 90)),
    p99Ms: r(percentile(vals, 99)),
    maxMs: r(vals[vals.length - 1]!),
  };
}

/** Counts outcomes by reason (failure reasons are a handful of stable strings). */
export class OutcomeCounts {
  private readonly m = new Map<string, number>();
  inc(reason: string, n = 1): void {
    this.m.set(reason, (this.m.get(reason) ?? 0) + n);
  }
  get total(): number {
    let t = 0;
    for (const v of this.m.values()) t += v;
    return t;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.m].sort((a, b) => b[1] - a[1]));
  }
}
