/** The table bench/ike-setup prints: rates and CPU per SA per proposal, memory at M SAs, goals. */
import type { EstablishReport } from '../../src/initiator/load-generator.js';

export interface RateRow {
  proposal: string;
  responder: 'segw' | 'charon';
  rep: number;
  report: EstablishReport;
  /** Responder CPU (all threads, user + system) during the timed setups, per SA. */
  respCpuMsPerSa: number;
  /** Of which in the kernel (UDP over veth, netlink, page faults). */
  respSysMsPerSa: number;
  /** Of which outside the main thread (segw: V8 GC helpers, freeing of buffers). */
  respOtherThreadsMsPerSa: number;
  genCpuMsPerSa: number;
  rcvbufDrops: number;
}

export interface MemRow {
  responder: 'segw' | 'charon';
  established: number;
  rssPerSa: number;
  /** segw: heapUsed + external after two full GCs. */
  heapPerSa?: number;
  respCpuMsPerSa: number;
  setupsPerSec: number;
}

export interface EngineMem {
  sas: number;
  heapPerSaAt0: number;
  heapPerSaSteady: number;
}

export interface ReportInput {
  n: number;
  c: number;
  m: number;
  k: number;
  repeat: number;
  log: string;
  segwKernel: string;
  cpus: number;
  /** Responder on CPU 0, generator on CPU 1 (unless --shared-cpus). */
  pinned?: boolean;
  /** --responder-cpu: each responder's CPU quota, in cores. */
  responderCpu?: number;
  proposals: string[];
  rates: RateRow[];
  mems: MemRow[];
  engine: EngineMem | undefined;
  load0: number[];
  load1: number[];
}

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const kib = (b: number) => f(b / 1024, 2);

function columns(widths: number[], left: number): (cells: string[]) => string {
  return (cells) => cells.map((s, i) => (i < left ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ').trimEnd();
}

/** Cores a responder used during the timed setups: CPU per setup times setups per second. */
const busy = (a: { cpu: number; rate: number }) => (a.cpu * a.rate) / 1000;

export function table(r: ReportInput): string {
  const out: string[] = [];
  const segwName = r.segwKernel === 'userspace' ? 'segw (userspace engine)' : 'segw (stub kernel)';
  out.push(`bench/ike-setup: N=${r.n} setups per run, C=${r.c} in flight, ${r.k} generator addresses, ${r.repeat} run(s) each (median), log ${r.log}; ${r.cpus} CPUs shared with other work${r.pinned ? '; pinned: responder on CPU 0, generator on CPU 1' : ''}${r.responderCpu ? `; each responder limited to ${r.responderCpu} of a core (cgroup quota)` : ''}`);
  out.push(`load average before ${r.load0.map((x) => x.toFixed(2)).join(' ')}, after ${r.load1.map((x) => x.toFixed(2)).join(' ')}`);
  out.push(`responders: ${segwName} vs charon 5.9.8 (kernel-libipsec); generator: src/initiator (segw's initiator, null kernel)`);
  out.push('');
  // What a responder could use: its quota, one core when pinned, else the machine.
  const budget = r.responderCpu ?? (r.pinned ? 1 : r.cpus);
  const row = columns([30, 24, 9, 10, 14, 10, 10, 13, 7, 7, 7], 2);
  out.push(row(['proposal', 'responder', 'setups/s', 'resp busy', 'resp CPU ms/SA', 'of which', 'of which', 'gen CPU ms/SA', 'p50 ms', 'p99 ms', 'failed']));
  out.push(row(['', '', '', `of ${f(budget, 2)}`, '', 'kernel', 'other thr', '', '', '', '']));
  const verdicts: string[] = [];
  for (const p of r.proposals) {
    const agg = (who: 'segw' | 'charon') => {
      const rows = r.rates.filter((x) => x.proposal === p && x.responder === who);
      return {
        rate: median(rows.map((x) => x.report.setupsPerSec)),
        cpu: median(rows.map((x) => x.respCpuMsPerSa)),
        sys: median(rows.map((x) => x.respSysMsPerSa)),
        other: median(rows.map((x) => x.respOtherThreadsMsPerSa)),
        gen: median(rows.map((x) => x.genCpuMsPerSa)),
        p50: median(rows.map((x) => x.report.latency.p50Ms)),
        p99: median(rows.map((x) => x.report.latency.p99Ms)),
        failed: rows.reduce((a, x) => a + x.report.failed, 0),
        drops: rows.reduce((a, x) => a + x.rcvbufDrops, 0),
      };
    };
    if (!r.rates.some((x) => x.proposal === p)) continue; // --mem-only
    const s = agg('segw');
    const c = agg('charon');
    const measured = r.rates.some((x) => x.proposal === p && x.responder === 'charon') ? [[segwName, s], ['charon (libipsec)', c]] as const : [[segwName, s]] as const;
    for (const [name, a] of measured) {
      out.push(row([name === segwName ? p : '', name, f(a.rate, 0), f(busy(a), 2), f(a.cpu, 3), f(a.sys, 3), f(a.other, 3), f(a.gen, 3), f(a.p50), f(a.p99),
        `${a.failed}${a.drops ? ` (${a.drops} UDP drops)` : ''}`]));
    }
    if (measured.length < 2) continue; // --segw-only
    out.push(row(['', 'segw/charon', `${f(s.rate / c.rate, 2)}x`, '', `${f(s.cpu / c.cpu, 2)}x`, '', '', '', '', '', '']));
    // A rate ratio says something about the responders only if both used their whole budget.
    const limited = ([[segwName, s], ['charon', c]] as const).filter(([, a]) => busy(a) < 0.9 * budget).map(([n]) => n);
    verdicts.push(`${p}: wall-clock setup rate ${f(s.rate / c.rate, 2)}x charon's (goal >= 2x: ${s.rate / c.rate >= 2 ? 'met' : 'MISSED'}); ` +
      `responder CPU ${f(s.cpu, 3)} vs ${f(c.cpu, 3)} ms/SA, i.e. ${f(c.cpu / s.cpu, 2)}x charon's setups per CPU second` +
      (limited.length ? `; NOT saturated (below 90% of ${f(budget, 2)} cores, so the generator or the machine set the rate): ${limited.join(', ')}` : '; both responders saturated'));
  }
  if (r.mems.length || r.engine) {
    out.push('');
    out.push(`memory per established IKE SA + child SA at ${r.m} SAs (${r.proposals[0]}), fresh responders, +1 s after the last setup:`);
    const mrow = columns([44, 8, 11, 15, 13, 9], 1);
    out.push(mrow(['responder', 'SAs up', 'RSS KiB/SA', 'JS heap KiB/SA', 'CPU ms/SA@M', 'setups/s']));
    for (const m of r.mems) {
      const name = m.responder === 'segw' ? `${segwName} gateway` : 'charon (libipsec)';
      out.push(mrow([name, String(m.established), kib(m.rssPerSa), m.heapPerSa === undefined ? '-' : kib(m.heapPerSa), f(m.respCpuMsPerSa, 3), f(m.setupsPerSec, 0)]));
    }
    const s = r.mems.find((m) => m.responder === 'segw');
    const c = r.mems.find((m) => m.responder === 'charon');
    if (s && c) out.push(mrow(['segw/charon', '', `${f(s.rssPerSa / c.rssPerSa, 2)}x`, '', `${f(s.respCpuMsPerSa / c.respCpuMsPerSa, 2)}x`, '']));
    if (r.engine) {
      out.push(mrow(['segw IKE engine alone (null kernel), +0 s', String(r.engine.sas), '', kib(r.engine.heapPerSaAt0), '', '']));
      out.push(mrow(['  ... after the 5-min response cache expiry', '', '', kib(r.engine.heapPerSaSteady), '', '']));
      const e = r.engine.heapPerSaAt0;
      verdicts.push(`memory: segw IKE engine ${kib(e)} KiB/SA JS heap (${kib(r.engine.heapPerSaSteady)} steady) (goal <= 4 KiB: ${e <= 4096 ? 'met' : 'MISSED'})` +
        (s ? `; the ${segwName} gateway holds ${kib(s.heapPerSa ?? NaN)} KiB/SA heap, ${kib(s.rssPerSa)} KiB/SA RSS` : '') +
        (c ? `; charon ${kib(c.rssPerSa)} KiB/SA RSS` : ''));
    }
  }
  out.push('');
  out.push(...verdicts.map((v) => `goal check: ${v}`));
  return out.join('\n');
}
