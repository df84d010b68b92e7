/**
 * Human tables for `segw ctl` answers that are read at a glance (the cluster's `redirects`,
 * `drain`, `undrain`); `--json` prints the answer as JSON instead, as for every other method.
 */
import type { RedirectCounts } from '../cluster/balancer.js';
import type { DrainStatus } from '../cluster/drain.js';

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

/** The human form of a method's answer, or undefined to print JSON. */
export function humanTable(method: string, result: unknown): string | undefined {
  if (method === 'redirects') return redirectLines(result as RedirectCounts & { drain?: DrainStatus });
  if (method === 'drain' || method === 'undrain') return drainLines(result as DrainStatus);
  return undefined;
}
