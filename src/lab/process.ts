/**
 * A process the lab started inside a namespace: output collected (bounded), waitable for a
 * line, stoppable, and always killed at lab teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { LabError } from '../errors.js';

const OUTPUT_LIMIT = 4 * 1024 * 1024;

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also write stdout+stderr to this file (kept for post-mortems). */
  logFile?: string;
}

export class LabProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private out = '';
  private waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  private log?: WriteStream;
  private done = false;

  constructor(
    readonly name: string,
    argv: string[],
    opts: SpawnOptions = {},
  ) {
    this.child = spawn(argv[0], argv.slice(1), {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so stop() reaches its children too
    });
    if (opts.logFile) this.log = createWriteStream(opts.logFile, { flags: 'a' });
    this.child.stdout?.on('data', (d: Buffer) => this.onData(d));
    this.child.stderr?.on('data', (d: Buffer) => this.onData(d));
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.onData(Buffer.from(`\n[lab] spawn failed: ${err.message}\n`));
        this.done = true;
        resolve({ code: -1, signal: null });
      });
      this.child.on('close', (code, signal) => {
        this.done = true;
        this.log?.end();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Everything the process printed so far (the last 4 MiB). */
  get output(): string {
    return this.out;
  }

  private onData(d: Buffer): void {
    this.log?.write(d);
    this.out += d.toString();
    if (this.out.length > OUTPUT_LIMIT) this.out = this.out.slice(-OUTPUT_LIMIT / 2);
    for (const w of [...this.waiters]) {
      const m = this.out.match(w.re);
      if (m) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  /** Resolves when the output matches `re`; rejects on timeout or if the process exits first. */
  waitFor(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const m = this.out.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const w = { re, resolve: (x: RegExpMatchArray) => (clearTimeout(timer), resolve(x)) };
      const fail = (why: string) => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new LabError(`${this.name}: ${why} waiting for ${re}; last output:\n${this.out.slice(-2000)}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      this.waiters.push(w);
      void this.exited.then(({ code, signal }) => {
        if (this.waiters.includes(w)) {
          clearTimeout(timer);
          fail(`exited (${signal ?? code})`);
        }
      });
    });
  }

  /** Signals the process group, waits up to graceMs, then SIGKILLs it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    if (this.done || this.child.pid === undefined) return;
    this.signalGroup(signal);
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Sends a signal to the whole process group (SIGSTOP simulates a hung node). */
  signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      /* already gone */
    }
  }
}
