/**
 * A load generator in another process (inside a lab namespace, or one per core later), driven
 * over its stdin/stdout with one JSON object per line:
 *
 *   parent ── {"id":1,"op":"create","args":{...LoadGeneratorOptions}} ──> child
 *          <── {"id":1,"ok":true,"result":{...}} ──────────────────────
 *          <── {"id":2,"ok":false,"error":{"code":"SEGW_INITIATOR","message":"..."}}
 *
 * Operations: create, establish, teardown, counts, counters, usage, close (the generator; a new
 * one may be created after). The child's logs go to stderr; stdout carries only replies. The
 * child closes its generator and exits when stdin ends, so it never outlives its parent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { SegwError } from '../errors.js';
import {
  LoadGenerator,
  type EstablishOptions,
  type EstablishReport,
  type LoadGeneratorOptions,
  type TeardownOptions,
  type TeardownReport,
} from './load-generator.js';
import { InitiatorError } from './population.js';

/** LoadGeneratorOptions without the parts that cannot cross a process boundary. */
export type RemoteGeneratorOptions = Omit<LoadGeneratorOptions, 'kernel' | 'log' | 'population'> & {
  population: Omit<LoadGeneratorOptions['population'], 'identity'>;
};

export interface ProcessUsage {
  pid: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  rssBytes: number;
  heapUsedBytes: number;
}

interface Request {
  id: number;
  op: string;
  args?: unknown;
}

/** Child side: serves generators (one at a time) over `input`/`output` until end of input. */
export async function serveGenerator(input: Readable, output: Writable): Promise<void> {
  let gen: LoadGenerator | undefined;
  const reply = (o: unknown) => output.write(JSON.stringify(o) + '\n');
  const ops: Record<string, (args: unknown) => Promise<unknown>> = {
    create: async (args) => {
      if (gen) throw new InitiatorError('create: a generator exists already in this process');
      gen = await LoadGenerator.create(args as LoadGeneratorOptions);
      return { endpoints: gen.endpoints().map((e) => e.ike), count: gen.population.count };
    },
    establish: async (args) => need(gen).establish(args as EstablishOptions),
    teardown: async (args) => need(gen).teardown(args as TeardownOptions),
    counts: async () => ({ ...need(gen).counts(), lost: need(gen).lost }),
    counters: async () => need(gen).daemonCounters(),
    usage: async () => usage(),
    close: async () => {
      await gen?.close();
      gen = undefined;
      return {};
    },
  };
  const rl = createInterface({ input, crlfDelay: Infinity });
  // Requests run one at a time, in order.
  for await (const line of rl) {
    if (!line.trim()) continue;
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      reply({ id: -1, ok: false, error: { code: 'SEGW_INITIATOR', message: 'request is not JSON' } });
      continue;
    }
    const op = ops[req.op];
    try {
      if (!op) throw new InitiatorError(`unknown operation "${req.op}"`);
      reply({ id: req.id, ok: true, result: await op(req.args) });
    } catch (err) {
      const e = err as Error & { code?: string };
      reply({ id: req.id, ok: false, error: { code: e.code ?? 'SEGW_INITIATOR', message: e.message } });
    }
  }
  await gen?.close();
}

function need(g: LoadGenerator | undefined): LoadGenerator {
  if (!g) throw new InitiatorError('no generator: send "create" first');
  return g;
}

function usage(): ProcessUsage {
  const c = process.cpuUsage();
  const m = process.memoryUsage();
  return { pid: process.pid, cpuUserMs: c.user / 1000, cpuSystemMs: c.system / 1000, rssBytes: m.rss, heapUsedBytes: m.heapUsed };
}

/** An error the remote generator reported (its code and message kept). */
export class RemoteGeneratorError extends SegwError {}

/** Parent side: a generator process started from `argv` (e.g. `ip netns exec NS node ... main.ts`). */
export class GeneratorProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderrTail = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    const rl = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    rl.on('line', (line) => this.onLine(line));
    child.stderr!.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code) => {
        const err = new InitiatorError(`generator process exited (${code}) with requests pending; its stderr:\n${this.stderrTail}`);
        for (const w of this.waiting.values()) w.reject(err);
        this.waiting.clear();
        resolve(code);
      });
    });
  }

  static start(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): GeneratorProcess {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    return new GeneratorProcess(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last 4 KB the process wrote to stderr (its logs). */
  get stderr(): string {
    return this.stderrTail;
  }

  private onLine(line: string): void {
    let msg: { id: number; ok: boolean; result?: unknown; error?: { code: string; message: string } };
    try {
      msg = JSON.parse(line);
    } catch {
      return; // not a reply (a stray print): ignored
    }
    const w = this.waiting.get(msg.id);
    if (!w) return;
    this.waiting.delete(msg.id);
    if (msg.ok) w.resolve(msg.result);
    else w.reject(new RemoteGeneratorError(msg.error?.code ?? 'SEGW_INITIATOR', msg.error?.message ?? 'remote generator failed'));
  }

  call<T>(op: string, args?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  create(o: RemoteGeneratorOptions): Promise<{ endpoints: { address: string; port?: number }[]; count: number }> {
    return this.call('create', o);
  }

  establish(o: Omit<EstablishOptions, 'onOutcome' | 'indices'> & { indices?: number[] }): Promise<EstablishReport> {
    return this.call('establish', o);
  }

  teardown(o: TeardownOptions): Promise<TeardownReport> {
    return this.call('teardown', o);
  }

  counts(): Promise<Record<string, number>> {
    return this.call('counts');
  }

  counters(): Promise<Record<string, number>> {
    return this.call('counters');
  }

  usage(): Promise<ProcessUsage> {
    return this.call('usage');
  }

  /** Closes the generator (SAs dropped locally, sockets closed); `create` may follow. */
  reset(): Promise<void> {
    return this.call('close');
  }

  /** Closes the generator and waits for the process to exit. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      await Promise.race([this.reset(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    } catch {
      // exited already
    }
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
