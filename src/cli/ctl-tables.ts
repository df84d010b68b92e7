/**
 * Human tables for `segw ctl` answers that are read at a glance (the cluster's `members`,
 * `vrrp`, `redirects`, `drain`, `undrain`); `--json` prints the answer as JSON instead, as for
 * every other method. `--watch SECONDS` redraws one of them (./ctl-watch.ts).
 */
import type { RedirectCounts } from '../cluster/balancer.js';
import type { DrainStatus } from '../cluster/drain.js';
import type { MembersView } from '../cluster/view.js';
import type { VrrpStatus } from '../vrrp/instance.js';

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function drainLines(d: DrainStatus): string {
  return table(
    ['drain', 'rate/s', 'remaining', 'unmovable', 'redirected', 'failed', 'blocked'],
    [[d.state, d.ratePerSec, d.remaining, d.unmovable, d.redirected, d.failed, d.blocked]],
  );
}

function redirectLines(r: RedirectCounts & { drain?: DrainStatus }): string {
  const out = [`node ${r.node ?? '?'}  mode ${r.mode}${r.draining ? '  DRAINING' : ''}`, ''];
  out.push(r.redirects.length ? table(['target', 'address', 'reason', 'count'], r.redirects.map((x) => [x.target, x.address, x.reason, x.count])) : 'no redirects');
  out.push('', table(['served here', 'count'], Object.entries(r.served).filter(([, n]) => n > 0).map(([k, n]) => [k, n])));
  out.push('', table(['refused', 'count'], Object.entries(r.refused).map(([k, n]) => [k, n])));
  if (r.drain) out.push('', drainLines(r.drain));
  return out.join('\n');
}

/** 1234567 -> "9.9 Mbit/s" (the load reports carry bytes per second). */
function bitRate(bytesPerSec: number): string {
  const bits = bytesPerSec * 8;
  if (bits >= 1e9) return `${(bits / 1e9).toFixed(1)} Gbit/s`;
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(1)} Mbit/s`;
  if (bits >= 1e3) return `${(bits / 1e3).toFixed(1)} kbit/s`;
  return `${bits} bit/s`;
}

function reportAge(m: MembersView['members'][number]): string {
  if (m.self) return 'self';
  const age = m.lastReportAgeMs < 10_000 ? `${m.lastReportAgeMs}ms` : `${(m.lastReportAgeMs / 1000).toFixed(0)}s`;
  return m.left ? `${age} (left)` : age;
}

function membersLines(v: MembersView): string {
  const rows = [...v.members].sort((a, b) => a.id.localeCompare(b.id)).map((m) => [
    m.id, m.address, m.role, m.state, m.load.tunnels, m.load.childSas, bitRate(m.load.bytesPerSec),
    `${(m.utilization * 100).toFixed(1)}%`, m.eligible ? 'yes' : 'no', reportAge(m),
  ]);
  const rejected = Object.entries(v.reports.rejected).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return [
    `node ${v.node}  ceiling ${(v.ceiling * 100).toFixed(0)}%`,
    '',
    table(['member', 'address', 'role', 'state', 'tunnels', 'child SAs', 'traffic', 'util', 'eligible', 'last report'], rows),
    '',
    `reports: sent ${v.reports.sent}, send errors ${v.reports.sendErrors}, accepted ${v.reports.accepted}, rejected ${rejected.length ? rejected.join(', ') : 'none'}`,
  ].join('\n');
}

function vrrpLines(s: VrrpStatus & { servedOnVips?: { address: string; port: number }[] }): string {
  const last = s.lastTransition ? `${s.lastTransition.from} -> ${s.lastTransition.to} (${s.lastTransition.reason})` : 'none';
  const drops = Object.entries(s.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  const rows: [string, string | number][] = [
    ['state', s.state],
    ['priority', s.priority],
    ['master', s.masterAddress ?? 'unknown'],
    ['interface', `${s.interface} (IPv${s.family}, local ${s.localAddress}${s.virtualMac ? `, virtual MAC ${s.virtualMac.address} on ${s.virtualMac.interface}` : ''})`],
    ['vrid', s.vrid],
    ['master adver interval', `${s.masterAdverInterval}ms`],
    ['master down interval', `${s.masterDownInterval}ms`],
    ['transitions', `${s.transitions}, last ${last}`],
    ['adverts in / out', `${s.advertsIn} / ${s.advertsOut}`],
    ['checksum mismatches', s.checksumMismatches],
    ['address mismatches', s.addressMismatches],
    ['drops', drops.length ? drops.join(', ') : 'none'],
    ['VIP errors', s.vipErrors],
    ['accept mode', s.accept ? 'on' : `off${s.filtering ? ' (filtering)' : ''}`],
  ];
  if (s.servedOnVips) rows.push(['IKE on the VIPs', s.servedOnVips.length ? s.servedOnVips.map((e) => `${e.address}:${e.port}`).join(', ') : 'none']);
  return table(['vrrp', 'value'], rows);
}

/** The methods `humanTable` prints as a table (the others print JSON). */
export const TABLE_METHODS: readonly string[] = ['members', 'vrrp', 'redirects', 'drain', 'undrain'];

/** The human form of a method's answer, or undefined to print JSON. */
export function humanTable(method: string, result: unknown): string | undefined {
  if (method === 'members') return membersLines(result as MembersView);
  if (method === 'vrrp') return vrrpLines(result as VrrpStatus);
  if (method === 'redirects') return redirectLines(result as RedirectCounts & { drain?: DrainStatus });
  if (method === 'drain' || method === 'undrain') return drainLines(result as DrainStatus);
  return undefined;
}
