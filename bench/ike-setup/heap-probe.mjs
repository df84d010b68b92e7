// Preloaded into the segw gateway under test (NODE_OPTIONS="--expose-gc --import=<this file>"):
// on SIGUSR2, two full garbage collections, then one JSON line with the process's memory on
// stderr, numbered so the benchmark can wait for the answer to its own signal. With
// SEGW_BENCH_HEAP_SNAPSHOT=DIR it also writes a heap snapshot per probe into DIR (diagnosis:
// what an SA is made of). Plain .mjs: it loads before tsx does.
import { writeHeapSnapshot } from 'node:v8';
import { join } from 'node:path';

let seq = 0;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  const n = ++seq;
  const dir = process.env.SEGW_BENCH_HEAP_SNAPSHOT;
  const snapshot = dir ? writeHeapSnapshot(join(dir, `segw-${process.pid}-${n}.heapsnapshot`)) : undefined;
  process.stderr.write(
    `${JSON.stringify({ msg: 'heap-probe', seq: n, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, gc: typeof globalThis.gc === 'function', snapshot })}\n`,
  );
});
