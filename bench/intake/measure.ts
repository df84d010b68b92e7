/**
 * What bench/intake and bench/flood share: the spoofed IKE_SA_INIT flood (flood.ts, run in the
 * generator's namespace) and the responder-side readings (UDP counters of its namespace, its
 * port-500 receive queue).
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Host } from '../../src/lab/lab.js';
import type { AnswerKind } from './answer-kind.js';

const REPO = resolve(import.meta.dirname, '..', '..');

/** /proc/net/snmp `Udp:` counters of a namespace (InDatagrams, OutDatagrams, RcvbufErrors...). */
export function udpSnmp(host: Host): Record<string, number> {
  const out = execFileSync('ip', ['netns', 'exec', host.ns, 'cat', '/proc/net/snmp']).toString();
  const [names, vals] = out.split('\n').filter((l) => l.startsWith('Udp:')).map((l) => l.split(/\s+/));
  return Object.fromEntries(names!.slice(1).map((n, i) => [n, Number(vals![i + 1])]));
}

/** Bytes queued on the namespace's UDP port-500 sockets (0: the responder has read everything). */
export async function recvQueue(host: Host): Promise<number> {
  const r = await host.exec('ss', ['-Hlun', 'sport = :500'], { allowFail: true });
  return r.stdout.split('\n').filter(Boolean).reduce((n, l) => n + Number(l.split(/\s+/)[1] ?? 0), 0);
}

export interface FloodSpec {
  target: string;
  /** Source addresses, each configured on the generator's interface (answers come back). */
  sources: string[];
  /** IKE_SA_INIT per second, for `seconds`; bounded by rate * seconds datagrams. */
  rate: number;
  seconds: number;
  /** The IKE proposal of the captured request (strongSwan syntax). */
  proposal: string;
}

export interface FloodResult {
  sent: number;
  /** Answers (N(COOKIE) or IKE_SA_INIT responses) the flood's sockets received. */
  answered: number;
  /** The same answers by what they are (./answer-kind.ts). */
  kinds: Record<AnswerKind, number>;
  sendErrors: number;
  seconds: number;
}

/**
 * Runs bench/intake/flood.ts inside `gen`; resolves when the flood is over. `cpu`: pin the
 * generator to that core (taskset), apart from a responder pinned to another.
 */
export async function runFlood(gen: Host, spec: FloodSpec, opts: { cpu?: number } = {}): Promise<FloodResult> {
  const argv = [process.execPath, '--import', 'tsx', join(REPO, 'bench/intake/flood.ts'), JSON.stringify(spec)];
  const pinned = opts.cpu === undefined ? argv : ['taskset', '-c', String(opts.cpu), ...argv];
  const r = await gen.exec(pinned[0]!, pinned.slice(1), {
    timeoutMs: (spec.seconds + 60) * 1000,
  });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as FloodResult;
}
