/**
 * Hang detection for synchronous targets: an input that loops forever blocks the thread, so no
 * timer of that thread can notice. A worker thread watches a counter the fuzzing loop bumps per
 * input, with the current input in shared memory; when the counter stands still for
 * `timeoutMs`, the worker writes that input as a finding (crash-hang-SHA1), says so on stderr
 * and kills the process (exit status 137), as libFuzzer does with -timeout.
 */
import { Worker } from 'node:worker_threads';

const WORKER = `
const { workerData } = require('node:worker_threads');
const { writeFileSync, writeSync, mkdirSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { join } = require('node:path');
const meta = new Int32Array(workerData.meta);   // [counter, input length, stopped]
const data = new Uint8Array(workerData.data);
let last = -1, since = Date.now();
setInterval(() => {
  if (Atomics.load(meta, 2)) process.exit(0);
  const c = Atomics.load(meta, 0);
  if (c !== last) { last = c; since = Date.now(); return; }
  if (Date.now() - since < workerData.timeoutMs) return;
  const input = Buffer.from(data.subarray(0, Atomics.load(meta, 1)));
  let where = '';
  if (workerData.crashDir) {
    mkdirSync(workerData.crashDir, { recursive: true });
    where = join(workerData.crashDir, 'crash-hang-' + createHash('sha1').update(input).digest('hex'));
    writeFileSync(where, input);
  }
  // Synchronously to fd 2: a worker's process.stderr goes through the blocked main thread.
  writeSync(2, 'fuzz: ' + workerData.target + ': an input ran over ' + workerData.timeoutMs + ' ms (hang)' + (where ? ', saved as ' + where : '') + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, Math.min(1000, workerData.timeoutMs / 4));
`;

export class Watchdog {
  private readonly meta = new Int32Array(new SharedArrayBuffer(12));
  private readonly data: Uint8Array;
  private readonly worker: Worker;

  constructor(opts: { target: string; timeoutMs: number; maxLen: number; crashDir?: string }) {
    this.data = new Uint8Array(new SharedArrayBuffer(opts.maxLen));
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { meta: this.meta.buffer, data: this.data.buffer, timeoutMs: opts.timeoutMs, crashDir: opts.crashDir, target: opts.target },
    });
    this.worker.unref();
  }

  /** Called before each input runs. */
  begin(input: Buffer): void {
    const n = Math.min(input.length, this.data.length);
    this.data.set(input.subarray(0, n));
    Atomics.store(this.meta, 1, n);
    Atomics.add(this.meta, 0, 1);
  }

  /** Long pauses of the loop itself (coverage snapshots) count as progress too. */
  alive(): void {
    Atomics.add(this.meta, 0, 1);
  }

  stop(): void {
    Atomics.store(this.meta, 2, 1);
    void this.worker.terminate();
  }
}
