/**
 * segw itself as a lab peer: `segw gateway` or `segw basestation` started inside a namespace
 * from a config object (written as YAML into the lab's directory), with its JSON log parsed.
 * Runs the TypeScript sources through tsx, so tests always exercise the working tree; or, with
 * `dist: true` (or SEGW_LAB_DIST=1 in the environment), the compiled `dist/cli/main.js`, which
 * starts in a fraction of the time where transpiling is slow (the user-mode-linux guest of
 * test/kernel-esp, whose runner `scripts/uml-run --build` rebuilds dist/ when it is stale).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Host } from '../lab.js';
import type { LabProcess } from '../process.js';
import { LabError } from '../../errors.js';
import { ControlClient } from '../../control/client.js';
import { eventually } from '../eventually.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');

export interface SegwLogLine {
  level: string;
  sub: string;
  msg: string;
  [k: string]: unknown;
}

export class SegwProcess {
  private constructor(
    readonly host: Host,
    readonly name: string,
    readonly configFile: string,
    readonly process: LabProcess,
    /** The node's control socket (in the lab's directory unless the config names one). */
    readonly controlSocket: string,
  ) {}

  /**
   * Writes `config` and starts `segw <role> --config` in `host`; resolves once the node logged
   * that it started (or rejects with its output).
   */
  static async start(
    host: Host,
    role: 'gateway' | 'basestation',
    config: Record<string, unknown>,
    opts: {
      name?: string; files?: Record<string, string>; env?: NodeJS.ProcessEnv; timeoutMs?: number; dist?: boolean;
      /**
       * How to tell it started: its "gateway started" log line (default), or its control socket
       * answering `status` (a node whose log goes to a log.file, not to the output).
       */
      readyBy?: 'log' | 'control';
    } = {},
  ): Promise<SegwProcess> {
    const name = opts.name ?? `${role}-${host.name}`;
    const dir = host.lab.dir;
    for (const [f, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, f), content);
    const configFile = join(dir, `${name}.yaml`);
    // Each node of each lab gets its own control socket (never the shared /run/segw default).
    const control = { socket: join(dir, `${name}.sock`), ...(config.control as Record<string, unknown> | undefined) };
    config = { ...config, control };
    writeFileSync(configFile, stringify(config));
    const dist = opts.dist ?? process.env.SEGW_LAB_DIST === '1';
    const entry = dist ? [join(REPO, 'dist/cli/main.js')] : ['--import', 'tsx', join(REPO, 'src/cli/main.ts')];
    if (dist && !existsSync(entry[0]!)) throw new LabError(`${entry[0]} not found: run npm run build`);
    const proc = host.spawn(process.execPath, [...entry, role, '--config', configFile], {
      name,
      cwd: REPO,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: undefined, ...opts.env },
      logFile: join(dir, `${name}.log`),
    });
    const p = new SegwProcess(host, name, configFile, proc, String(control.socket));
    const timeoutMs = opts.timeoutMs ?? 20_000;
    if (opts.readyBy === 'control') await p.controlReady(timeoutMs);
    else await proc.waitFor(/"msg":"gateway started"/, timeoutMs);
    return p;
  }

  /** Resolves once the control socket answers; rejects with the output if the process exits or time runs out. */
  private async controlReady(timeoutMs: number): Promise<void> {
    const seen = await eventually(async () => {
      if (!this.process.running) return 'exited';
      await this.ctl('status');
      return 'answered';
    }, { what: `${this.name}'s control socket`, timeoutMs, intervalMs: 100 }).catch((err: Error) => err.message);
    if (seen !== 'answered') throw new LabError(`${this.name}: ${seen === 'exited' ? 'exited while starting' : seen}; last output:\n${this.process.output.slice(-2000)}`);
  }

  /** The JSON log lines so far. */
  logLines(): SegwLogLine[] {
    return this.process.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as SegwLogLine];
        } catch {
          return [];
        }
      });
  }

  /** Waits for a log line whose msg matches. */
  async waitForLog(msg: RegExp, timeoutMs = 15_000): Promise<void> {
    await this.process.waitFor(new RegExp(`"msg":"${msg.source}`), timeoutMs);
  }

  /**
   * One request to the node's control socket (src/control): resolves with the result, rejects
   * with ControlError carrying the daemon's error code.
   */
  async ctl<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const c = await ControlClient.connect(this.controlSocket);
    try {
      return await c.call<T>(method, params);
    } finally {
      c.close();
    }
  }

  /** Graceful stop (SIGTERM: peers told, routes withdrawn). */
  async stop(): Promise<void> {
    await this.process.stop('SIGTERM', 8000);
  }

  /** A crash: SIGKILL, nothing cleaned up. */
  async kill(): Promise<void> {
    await this.process.stop('SIGKILL', 1000);
  }
}
