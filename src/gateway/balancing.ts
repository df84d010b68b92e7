/**
 * A cluster member's balancing: the RFC 5685 balancer (src/cluster/balancer.ts) the IKE daemon
 * asks, and the drain (src/cluster/drain.ts), made from the config's `cluster:` section. The
 * daemon is made before the membership (the membership samples the daemon's load), so the
 * balancer reads the membership through `membership()`, undefined until it has started.
 */
import { Balancer, type RedirectCounts } from '../cluster/balancer.js';
import { Drainer, type DrainStatus } from '../cluster/drain.js';
import type { RoleSource } from '../cluster/load.js';
import type { ClusterMember } from '../cluster/member.js';
import type { ClusterConfig } from '../config/cluster.js';
import type { BalancingTarget } from '../control/cluster-methods.js';
import type { IkeDaemon } from '../ike/daemon.js';
import type { Logger } from '../log/index.js';

export function clusterBalancer(c: ClusterConfig, member: () => ClusterMember | undefined, role: RoleSource): Balancer {
  return new Balancer({
    settings: {
      mode: c.redirect,
      weights: c.weights,
      ceiling: c.ceiling,
      ceilings: new Map(Object.entries(c.ceilings)),
      pins: c.pins,
    },
    membership: () => member()?.table,
    role,
  });
}

export class Balancing implements BalancingTarget {
  readonly drainer: Drainer;

  constructor(
    readonly balancer: Balancer,
    daemon: IkeDaemon,
    member: ClusterMember,
    c: ClusterConfig,
    log: Logger,
  ) {
    this.drainer = new Drainer(daemon, balancer, (on) => member.setDraining(on), c.drain, log);
  }

  redirects(): RedirectCounts {
    return this.balancer.snapshot();
  }

  drain(ratePerSec?: number): DrainStatus {
    return this.drainer.drain(ratePerSec);
  }

  undrain(): DrainStatus {
    return this.drainer.undrain();
  }

  drainStatus(): DrainStatus {
    return this.drainer.status();
  }
}
