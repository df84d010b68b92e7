/**
 * bench/esp --kernel: segw's XFRM data plane against charon's on the same kernel path, in the
 * user-mode-linux guest (scripts/uml-run; see ./kernel-guest.ts for the rows). Prints a table:
 * median Gbit/s and CPU µs per MB per row, and the ratios to charon-xfrm and to veth.
 *
 *   node --import tsx bench/esp/kernel.ts        (or: node --import tsx bench/esp/run.ts --kernel)
 *   RUNS=5 SECONDS_PER_RUN=8 node --import tsx bench/esp/kernel.ts
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
const env = [`RUNS=${process.env.RUNS ?? 3}`, `SECONDS_PER_RUN=${process.env.SECONDS_PER_RUN ?? 5}`, 'SEGW_LAB_DIST=1'];
let out: string;
try {
  out = execFileSync(resolve(REPO, 'scripts/uml-run'), ['--build', '--timeout', '1200', '--mem', '768M', ...env.flatMap((e) => ['--env', e]), '--',
    process.execPath, '--import', 'tsx', 'bench/esp/kernel-guest.ts'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
} catch (err) {
  const e = err as { status?: number; stdout?: string };
  console.error(`bench/esp --kernel: the guest run failed (exit ${e.status})${e.status === 77 ? ': the guest cannot boot here' : ''}`);
  console.error(String(e.stdout ?? '').slice(-3000));
  process.exit(1);
}
const line = out.split('\n').find((l) => l.startsWith('SEGW-BENCH '));
if (!line) {
  console.error(`bench/esp --kernel: no result from the guest:\n${out.slice(-3000)}`);
  process.exit(1);
}
type Sample = { bps: number; usPerMb: number };
const r = JSON.parse(line.slice('SEGW-BENCH '.length)) as { secs: number; runs: number; samples: Record<string, Sample[]>; errors: Record<string, string> };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const med = (k: string, f: keyof Sample) => median((r.samples[k] ?? []).map((s) => s[f]));
const ref = med('charon-xfrm', 'bps');
const veth = med('veth', 'bps');
console.log(`bench/esp --kernel: user-mode-linux guest (1 CPU, generic GCM), iperf3 TCP ${r.secs} s, ${r.runs} runs, medians`);
console.log('| row | Gbit/s (min / median / max) | CPU µs/MB | vs charon-xfrm | vs veth |');
console.log('|---|---|---|---|---|');
for (const k of ['veth', 'segw-xfrm', 'charon-xfrm', 'segw-userspace']) {
  const bps = (r.samples[k] ?? []).map((s) => s.bps / 1e9).sort((a, b) => a - b);
  if (bps.length === 0) {
    console.log(`| ${k} | failed: ${r.errors[k] ?? 'no sample'} | | | |`);
    continue;
  }
  const m = med(k, 'bps');
  console.log(`| ${k} | ${bps[0]!.toFixed(3)} / ${(m / 1e9).toFixed(3)} / ${bps[bps.length - 1]!.toFixed(3)} | ${med(k, 'usPerMb').toFixed(0)} | ${(m / ref).toFixed(2)}x | ${(m / veth).toFixed(3)}x |`);
}
const goal = med('segw-xfrm', 'bps') / ref;
console.log(`goal segw-xfrm >= 0.98x charon-xfrm: ${goal.toFixed(2)}x ${goal >= 0.98 ? 'met' : 'NOT met'}`);
