/**
 * `segw vrrp` as a lab peer: one VRRP instance in its own process inside a namespace, so a
 * test or the bench can SIGKILL it. Its JSON log gives the state and, on SIGUSR1, the status.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Host } from '../lab.js';
import type { LabProcess } from '../process.js';
import { eventually } from '../eventually.js';
import type { VrrpOptions } from '../../vrrp/options.js';
import type { VrrpStatus } from '../../vrrp/instance.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');

export class SegwVrrp {
  private constructor(
    readonly host: Host,
    readonly name: string,
    readonly process: LabProcess,
  ) {}

  static async start(host: Host, options: Partial<VrrpOptions> & Pick<VrrpOptions, 'interface' | 'vrid' | 'vips'>, opts: { name?: string } = {}): Promise<SegwVrrp> {
    const name = opts.name ?? `segw-vrrp-${host.name}`;
    const file = join(host.lab.dir, `${name}.yaml`);
    writeFileSync(file, stringify({ cluster: { vrrp: options } }));
    const proc = host.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'vrrp', '--config', file], {
      name,
      cwd: REPO,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: undefined },
      logFile: join(host.lab.dir, `${name}.log`),
    });
    await proc.waitFor(/"msg":"vrrp started"/, 20_000);
    return new SegwVrrp(host, name, proc);
  }

  private lines(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const l of this.process.output.split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* a partial line */
      }
    }
    return out;
  }

  /** The state the node last logged entering ('Initialize' before any transition). */
  state(): string {
    const t = this.lines().filter((l) => typeof l.to === 'string' && /^VRRP \w+ -> \w+$/.test(String(l.msg)));
    return t.length ? String(t[t.length - 1].to) : 'Initialize';
  }

  async waitForState(state: 'Master' | 'Backup', timeoutMs = 15_000): Promise<void> {
    await eventually(() => this.state() === state, { what: `${this.name} in ${state}`, timeoutMs });
  }

  /** Asks for the status (SIGUSR1) and returns the line it logs. */
  async status(): Promise<VrrpStatus> {
    const before = this.lines().filter((l) => l.msg === 'vrrp status').length;
    this.process.signalGroup('SIGUSR1');
    const line = await eventually(() => this.lines().filter((l) => l.msg === 'vrrp status')[before], { what: `${this.name} status`, timeoutMs: 5000 });
    return line.status as VrrpStatus;
  }

  /** Log lines whose msg matches. */
  logged(re: RegExp): Record<string, unknown>[] {
    return this.lines().filter((l) => re.test(String(l.msg)));
  }

  /** Graceful: SIGTERM, the node resigns with priority 0. */
  async stop(): Promise<void> {
    await this.process.stop('SIGTERM', 5000);
  }

  /** A crash: SIGKILL, nothing sent. */
  async crash(): Promise<void> {
    this.process.signalGroup('SIGSTOP');
    await this.process.stop('SIGKILL', 1000);
  }
}
