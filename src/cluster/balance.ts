/**
 * The balancer's choice of a member for a new base station: a pure function of the membership
 * (each member's newest report), the redirects granted to each member since that report, the
 * weights and the ceilings. No clock, no randomness, no I/O, so it is table-tested
 * (test/cluster/balance.test.ts) and every member would choose alike from the same table.
 *
 *   weighted load(m) = utilization(report(m) with tunnels + pending(m))     (./table.ts)
 *                    = (w_sa * tunnels/maxTunnels + w_bw * bits/s / bandwidth + w_cpu * cpu)
 *                      / (w_sa + w_bw + w_cpu)
 *
 * `pending(m)` are the base stations granted to m (redirected there, or served here) that its
 * report cannot show yet: they count at once, so a burst inside one report interval spreads
 * over the members instead of piling onto the one that looked emptiest at the last report.
 *
 * Rules, in order:
 *   1. never chosen: a stale member, a draining one, one in `exclude` (the member asking when it
 *      must not keep the peer);
 *   2. a member at or above its ceiling (with its pending grants) is not chosen;
 *   3. the least weighted load wins; equal loads go to the smaller id (deterministic);
 *   4. nobody left: `refused`, with why (every member full, or none live), never an overload.
 */
import type { LoadReport } from './report.js';
import { utilization, type Weights } from './table.js';

export interface BalanceMember {
  id: string;
  /** Where base stations are redirected to reach it (IPv4, IPv6 or FQDN). */
  address: string;
  report: LoadReport;
  stale: boolean;
}

export interface BalanceInput {
  members: readonly BalanceMember[];
  /** Base stations granted to a member since its newest report (by id; absent = 0). */
  pending: ReadonlyMap<string, number>;
  weights: Weights;
  /** The ceiling of members without their own entry in `ceilings` (0..1). */
  ceiling: number;
  ceilings?: ReadonlyMap<string, number>;
  /** Members that must not be chosen (this one, when draining or full). */
  exclude?: ReadonlySet<string>;
}

export type RefuseReason = 'all-above-ceiling' | 'no-live-member';

export type BalanceChoice = { ok: true; member: BalanceMember; load: number } | { ok: false; reason: RefuseReason };

/** A member's weighted load counting `extra` more tunnels than its report says. */
export function weightedLoad(r: LoadReport, weights: Weights, extra = 0): number {
  return utilization(r, weights, extra);
}

export function ceilingOf(input: Pick<BalanceInput, 'ceiling' | 'ceilings'>, id: string): number {
  return input.ceilings?.get(id) ?? input.ceiling;
}

export function choose(input: BalanceInput): BalanceChoice {
  let best: { member: BalanceMember; load: number } | undefined;
  let live = 0;
  for (const m of input.members) {
    if (m.stale || m.report.draining || m.report.leaving || input.exclude?.has(m.id)) continue;
    live++;
    // The load after taking one more: a member just below its ceiling does not cross it.
    const load = weightedLoad(m.report, input.weights, (input.pending.get(m.id) ?? 0));
    const after = weightedLoad(m.report, input.weights, (input.pending.get(m.id) ?? 0) + 1);
    if (after > ceilingOf(input, m.id)) continue;
    if (!best || load < best.load || (load === best.load && m.id < best.member.id)) best = { member: m, load };
  }
  if (best) return { ok: true, ...best };
  return { ok: false, reason: live === 0 ? 'no-live-member' : 'all-above-ceiling' };
}
