/**
 * The control methods a cluster member adds (ControlServerOptions.methods): `redirects` (the
 * balancer's counters: redirects per target and reason, peers served here, refusals), `drain`
 * and `undrain` (src/cluster/drain.ts). `segw ctl --node gw2 drain` prints them as tables.
 */
import type { RedirectCounts } from '../cluster/balancer.js';
import type { DrainStatus } from '../cluster/drain.js';
import { ControlError, ControlErrorCode } from './protocol.js';
import type { MethodSpec } from './methods.js';

/** What the cluster methods drive (the Gateway holds both for a cluster member). */
export interface BalancingTarget {
  redirects(): RedirectCounts;
  drain(ratePerSec?: number): DrainStatus;
  undrain(): DrainStatus;
  drainStatus(): DrainStatus;
}

export function clusterMethods(b: BalancingTarget): Record<string, MethodSpec> {
  return {
    redirects: {
      description: 'the balancer: RFC 5685 redirects granted per target member and reason, peers served here, peers refused',
      params: '{}',
      run: async () => ({ ...b.redirects(), drain: b.drainStatus() }),
    },
    drain: {
      description: 'drain this member: no new base stations, its IKE SAs redirected to the other members at `rate` per second',
      params: '{rate?}',
      run: async (_t, p) => {
        const rate = p.rate;
        if (rate !== undefined && (typeof rate !== 'number' || !(rate >= 0.1 && rate <= 100000))) {
          throw new ControlError(ControlErrorCode.INVALID_PARAMS, '`rate` must be a number of redirects per second, 0.1..100000');
        }
        return b.drain(rate as number | undefined);
      },
    },
    undrain: {
      description: 'end a drain: this member takes new base stations again',
      params: '{}',
      run: async () => b.undrain(),
    },
  };
}
