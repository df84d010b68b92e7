/**
 * Test support: a real `segw gateway` process (the TypeScript sources through tsx) on loopback
 * with the stub kernel, its config written into a temporary directory, its output collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { eventually } from '../support/eventually.js';

const REPO = resolve(import.meta.dirname, '..', '..');

/** Two free UDP ports on 127.0.0.1 (IKE and NAT-T), found by binding port 0. */
export async function freePorts(): Promise<[number, number]> {
  const socks = [createSocket('udp4'), createSocket('udp4')];
  const ports = await Promise.all(socks.map((s) => new Promise<number>((r) => s.bind(0, '127.0.0.1', () => r(s.address().port)))));
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return [ports[0]!, ports[1]!];
}

/** A gateway config for loopback and the stub kernel; `connections` and extra keys from the test. */
export function loopbackConfig(dir: string, port: number, nattPort: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    node: { name: 'gw-loop' },
    log: { level: 'info', file: join(dir, 'gw.log') },
    ike: { listen: ['127.0.0.1'], port, nattPort },
    kernel: { ipsec: 'stub', routes: { enabled: false } },
    control: { socket: join(dir, 'gw.sock') },
    ...over,
  };
}

export class GatewayProcess {
  stdout = '';
  stderr = '';
  exitCode: number | null = null;
  signal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly configFile: string,
    readonly logFile: string | undefined,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        r();
      }),
    );
  }

  /** Writes the config and starts `segw gateway --config` (or `segw basestation`), not waiting for anything. */
  static spawn(dir: string, config: Record<string, unknown>, args: string[] = [], role: 'gateway' | 'basestation' = 'gateway'): GatewayProcess {
    const configFile = join(dir, 'gw.yaml');
    writeConfig(configFile, config);
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), role, '--config', configFile, ...args], {
      cwd: REPO,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = (config.log as { file?: string } | undefined)?.file;
    return new GatewayProcess(child, configFile, log);
  }

  get running(): boolean {
    return this.exitCode === null && this.signal === null;
  }

  /** The log file's JSON lines (or stdout's, without log.file). */
  logLines(): { level: string; msg: string; [k: string]: unknown }[] {
    const text = this.logFile ? (existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '') : this.stdout;
    return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string });
  }

  /** Waits for a log line whose msg matches (and returns it); fails early if the process exits. */
  async waitForLog(msg: RegExp, what = msg.source, after = 0): Promise<{ level: string; msg: string; [k: string]: unknown }> {
    return eventually(
      () => {
        if (!this.running) throw new Error(`segw exited (${this.exitCode ?? this.signal}): ${this.stderr}`);
        return this.logLines().slice(after).find((l) => msg.test(l.msg));
      },
      { what: `log line "${what}"`, timeoutMs: 20_000 },
    );
  }

  kill(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** SIGKILL if still running (teardown), and wait for the exit. */
  async destroy(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }
}

export function writeConfig(file: string, config: Record<string, unknown>): void {
  writeFileSync(file, stringify(config));
}
