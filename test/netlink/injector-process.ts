/**
 * Test support: a RouteInjector in its own process inside a lab namespace, driven by JSON lines
 * on stdin, so a test can SIGKILL it (a crashed gateway) and start another.
 *
 *   const p = await InjectorProcess.start(gw, { dev: 'core0' });
 *   await p.send({ op: 'up', id: 'c1', cidrs: ['192.0.2.0/25'] });
 *   p.kill('SIGKILL');
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Host } from '../../src/lab/lab.js';
import type { RouteInjectionConfig } from '../../src/kernel/route-injection.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

const SCRIPT = `
import { createInterface } from 'node:readline';
const { NetlinkKernelNet } = await import(${JSON.stringify(`${ROOT}/src/kernel/net/netlink-net.ts`)});
const { RouteInjector } = await import(${JSON.stringify(`${ROOT}/src/kernel/route-injection.ts`)});
const config = JSON.parse(process.argv[process.argv.length - 1]);
const net = NetlinkKernelNet.open();
const rri = new RouteInjector(net, config);
const ts = (cidr) => {
  const [a, len] = cidr.split('/');
  const n = a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const end = n + 2 ** (32 - Number(len)) - 1;
  const s = (v) => [24, 16, 8, 0].map((b) => Math.floor(v / 2 ** b) % 256).join('.');
  return { family: 4, protocol: 0, startAddr: a, endAddr: s(end), startPort: 0, endPort: 65535 };
};
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
out({ ready: true, pid: process.pid });
for await (const line of createInterface({ input: process.stdin })) {
  const c = JSON.parse(line);
  try {
    if (c.op === 'up') await rri.childUp(c.id, c.cidrs.map(ts));
    else if (c.op === 'down') await rri.childDown(c.id);
    else if (c.op === 'reconcile') { out({ ok: true, result: await rri.reconcile() }); continue; }
    else if (c.op === 'close') { await rri.close(); await net.close(); out({ ok: true }); process.exit(0); }
    out({ ok: true });
  } catch (err) {
    out({ ok: false, error: String(err && err.message || err) });
  }
}
`;

export type InjectorCommand =
  | { op: 'up'; id: string; cidrs: string[] }
  | { op: 'down'; id: string }
  | { op: 'reconcile' }
  | { op: 'close' };

export class InjectorProcess {
  private readonly replies: ((o: Record<string, unknown>) => void)[] = [];
  private stderr = '';

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      this.replies.shift()?.(o);
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  static async start(host: Host, config: RouteInjectionConfig): Promise<InjectorProcess> {
    const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', SCRIPT, JSON.stringify(config)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const p = new InjectorProcess(child);
    const ready = await p.next(15_000);
    if (!ready.ready) throw new Error(`injector did not start: ${JSON.stringify(ready)} ${p.stderr}`);
    return p;
  }

  private next(timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`injector: no answer in ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`)), timeoutMs);
      this.replies.push((o) => {
        clearTimeout(t);
        res(o);
      });
    });
  }

  async send(c: InjectorCommand, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const reply = this.next(timeoutMs);
    this.child.stdin!.write(`${JSON.stringify(c)}\n`);
    const r = await reply;
    if (!r.ok) throw new Error(`injector ${c.op} failed: ${String(r.error)}`);
    return r;
  }

  /** Kills the process (SIGKILL: a crash, nothing withdrawn) and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    // `ip netns exec` execs node, so the child's pid is the injector itself.
    this.child.kill(signal);
    await gone;
  }
}
