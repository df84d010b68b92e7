/**
 * What the benchmark reads about a process from /proc: CPU time (utime + stime of all its
 * threads, proc(5) /proc/<pid>/stat fields 14 and 15, in clock ticks), resident set size
 * (/proc/<pid>/status VmRSS), and the UDP receive-buffer drops of a namespace
 * (/proc/net/snmp Udp: RcvbufErrors) that would make a run measure retransmissions.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import type { Host } from '../../src/lab/lab.js';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU milliseconds the process has used so far (all threads): user, system, total. */
export function cpuTimes(pid: number): { user: number; system: number; total: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: fields resume after its closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = (Number(rest[11]) * 1000) / CLK_TCK;
  const system = (Number(rest[12]) * 1000) / CLK_TCK;
  return { user, system, total: user + system };
}

export function cpuMs(pid: number): number {
  return cpuTimes(pid).total;
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The process named `name` inside a lab namespace (after `ip netns exec` / `unshare` exec it). */
export function pidIn(host: Host, name: string): number {
  const list = execFileSync('ip', ['netns', 'pids', host.ns]).toString();
  for (const p of list.split(/\s+/).filter(Boolean).map(Number)) if (comm(p) === name) return p;
  throw new Error(`no process "${name}" in namespace ${host.ns}`);
}

/** UDP datagrams the namespace dropped for a full receive buffer, so far. */
export async function udpRcvbufErrors(host: Host): Promise<number> {
  const r = await host.exec('cat', ['/proc/net/snmp']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return 0;
  const names = lines[0]!.split(/\s+/);
  const vals = lines[1]!.split(/\s+/);
  const i = names.indexOf('RcvbufErrors');
  return i > 0 ? Number(vals[i]) : 0;
}

/** CPU milliseconds of a process's main thread and of its other threads (GC helpers, I/O pool, workers). */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      // Node names every thread "node": tell the main (event-loop) thread from the others by tid.
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const name = tid === String(pid) ? `${comm}:main` : `${comm}:other`;
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
      out.set(name, (out.get(name) ?? 0) + ms);
    } catch {
      // thread gone
    }
  }
  return out;
}

/** Per-thread-name CPU between two samples, largest first, as "name ms". */
export function threadDelta(a: Map<string, number>, b: Map<string, number>): [string, number][] {
  return [...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
}
