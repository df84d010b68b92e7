/**
 * The simulator on a terminal: a live progress line (rewritten in place on a TTY, one plain line
 * per interval otherwise) and the final report as a table. Plain text, no dependency: ANSI
 * "erase line" and a carriage return are all a TTY needs for one line.
 */
import type { LatencySummary } from './stats.js';
import type { SimProgress, SimReport } from './simulator.js';

const pct = (a: number, b: number) => (b > 0 ? ((a / b) * 100).toFixed(1) : '0.0');

/**
 * "12.3s up 950/1000 (95.0%) connecting 30 retrying 20 waiting 0 | 812.3/s | 192.0.2.10 600, 192.0.2.11 350 | ETA 1s"
 * and with traffic base stations " | traffic 10/10 passing, 118/120 answered".
 */
export function progressLine(p: SimProgress): string {
  const gws = Object.entries(p.perGateway).map(([g, n]) => `${g} ${n}`).join(', ') || '-';
  const eta = p.etaS === null ? '?' : `${p.etaS}s`;
  const t = p.traffic;
  return (
    `${(p.elapsedMs / 1000).toFixed(1)}s up ${p.up}/${p.count} (${pct(p.up, p.count)}%) connecting ${p.connecting} ` +
    `retrying ${p.retrying} waiting ${p.waiting} | ${p.upPerSec}/s | ${gws} | ETA ${eta}` +
    (t ? ` | traffic ${t.passing}/${t.baseStations} passing, ${t.received}/${t.sent} answered` : '')
  );
}

/** Writes progress lines: in place on a TTY, appended otherwise. */
export class ProgressWriter {
  constructor(private readonly out: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean }) {}
  write(p: SimProgress): void {
    if (this.out.isTTY) this.out.write(`\r\x1b[2K${progressLine(p)}`);
    else this.out.write(`${progressLine(p)}\n`);
  }
  /** Ends the in-place line (before other output). */
  done(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((x, c) => (c === 0 ? x.padEnd(w[c]!) : x.padStart(w[c]!))).join('  ')).join('\n');
}

function latencyRow(name: string, l: LatencySummary): string[] {
  return [name, String(l.count), ...[l.minMs, l.p50Ms, l.p90Ms, l.p99Ms, l.maxMs].map((v) => v.toFixed(1))];
}

function counts(title: string, m: Record<string, number>): string {
  const e = Object.entries(m);
  if (e.length === 0) return `${title}: none`;
  return `${title}:\n${table([['', 'count'], ...e.map(([k, v]) => [`  ${k}`, String(v)])])}`;
}

/** The report as text tables. */
export function reportText(r: SimReport): string {
  return [
    `base stations: ${r.count}, up ${r.up}, not up ${r.notUp}; all up after ${r.allUpMs === null ? '(not all came up)' : `${(r.allUpMs / 1000).toFixed(1)} s`}` +
      `, ${r.setupsPerSec} setups/s; losses ${r.losses}, cluster moves ${r.clusterMoves}`,
    table([['latency (ms)', 'n', 'min', 'p50', 'p90', 'p99', 'max'], latencyRow('setup', r.setupLatency), latencyRow('recovery', r.recoveryLatency)]),
    counts('final distribution per gateway', r.distribution),
    counts('redirects per target gateway', r.redirects),
    counts('failures by reason', r.failures),
    ...(r.traffic ? [trafficText(r.traffic)] : []),
  ].join('\n\n');
}

/** The traffic base stations: totals, then one row each. */
function trafficText(t: NonNullable<SimReport['traffic']>): string {
  const s = t.summary;
  const rows = t.baseStations.map((b) => [
    `  bs ${b.index}`, b.address, b.gateway ?? '(down)', String(b.sent), String(b.received), String(b.lost), String(b.sendErrors),
    b.lastRttMs === null ? '-' : b.lastRttMs.toFixed(1), `${b.tunnelsPassed}/${b.tunnels}`, b.passing ? 'yes' : 'no',
  ]);
  return (
    `traffic: ${s.baseStations} base stations, ${s.passing} passing; probes sent ${s.sent}, answered ${s.received}, lost ${s.lost}\n` +
    table([['', 'inner address', 'gateway', 'sent', 'received', 'lost', 'send errors', 'last rtt ms', 'tunnels passed', 'passing'], ...rows])
  );
}
