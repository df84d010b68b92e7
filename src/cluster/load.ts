/**
 * Where a member's load report gets its numbers and its role: two small interfaces the gateway
 * hands in (the membership never reads the IKE daemon or VRRP itself), and the implementation
 * the gateway uses by default, over the IKE daemon's SA tables and the data plane's counters.
 */
import { availableParallelism } from 'node:os';
import type { ChildSa } from '../ike/sa/child-sa.js';
import type { IkeSa } from '../ike/sa/ike-sa.js';
import { IkeState } from '../ike/sa/state.js';
import type { KernelIpsec } from '../kernel/types.js';
import type { MemberLoad, MemberRoleName } from './report.js';

/** This member's load, sampled once per report interval. */
export interface LoadSource {
  sample(): MemberLoad | Promise<MemberLoad>;
}

/** This member's VRRP role (src/vrrp provides it; `unknown` until it does). */
export interface RoleSource {
  role(): MemberRoleName;
}

export const unknownRole: RoleSource = { role: () => 'unknown' };

/** What DaemonLoadSource reads of the IKE daemon (IkeDaemon has it). */
export interface SaTables {
  readonly manager: { ikeSaList(): IkeSa[]; liveChildren(): ChildSa[] };
}

/**
 * A tunnel this member has taken on: an established IKE SA, or one a peer is setting up with it
 * (a responder SA between IKE_SA_INIT and IKE_AUTH). Counting the second kind is what lets the
 * master's grants meet the report soon: a redirected peer's IKE_SA_INIT reaches its member one
 * round trip after the redirect, while its IKE_AUTH may complete seconds later on a loaded
 * machine, after the grant for it expired (src/cluster/balancer.ts, Grants). A setup that fails
 * leaves the count again at the next sample.
 */
export function committed(sa: Pick<IkeSa, 'established' | 'isDead' | 'initiator' | 'state'>): boolean {
  if (sa.isDead) return false;
  return sa.established || (!sa.initiator && sa.state === IkeState.CONNECTING);
}

/** Child SAs whose counters are queried at once (bounds the requests in flight to the kernel). */
const QUERY_BATCH = 64;

/**
 * Tunnels = established IKE SAs and those being set up as responder (`committed`); child SAs = installed ones; bytes/s = the growth of the
 * installed SAs' byte counters (both directions) since the previous sample, a new SA counting
 * from zero and a deleted one no longer counting; CPU = this process's CPU time (every thread:
 * IKE, the userspace ESP engine's workers) over the wall time, across all cores.
 *
 * Cost: two counter queries per child SA per interval (cheap for the userspace engine and the
 * stub; a netlink round trip each on XFRM).
 */
export class DaemonLoadSource implements LoadSource {
  private lastBytes = new Map<string, bigint>();
  private lastAt: number | undefined;
  private lastCpu = process.cpuUsage();

  constructor(
    private readonly daemon: SaTables,
    private readonly kernel: Pick<KernelIpsec, 'querySa'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async sample(): Promise<MemberLoad> {
    const m = this.daemon.manager;
    const tunnels = m.ikeSaList().filter(committed).length;
    const children = m.liveChildren().filter((c) => c.isInstalled);
    const bytes = await this.bytesBySa(children);
    const at = this.now();
    const cpuNow = process.cpuUsage();
    let bytesPerSec = 0;
    let cpu = 0;
    if (this.lastAt !== undefined && at > this.lastAt) {
      const secs = (at - this.lastAt) / 1000;
      let grown = 0n;
      for (const [k, b] of bytes) {
        const before = this.lastBytes.get(k) ?? 0n;
        if (b > before) grown += b - before;
      }
      bytesPerSec = Number(grown) / secs;
      const usedUs = cpuNow.user - this.lastCpu.user + (cpuNow.system - this.lastCpu.system);
      cpu = Math.min(1, Math.max(0, usedUs / 1000 / (at - this.lastAt) / availableParallelism()));
    }
    this.lastBytes = bytes;
    this.lastAt = at;
    this.lastCpu = cpuNow;
    return { tunnels, childSas: children.length, bytesPerSec, cpu };
  }

  private async bytesBySa(children: ChildSa[]): Promise<Map<string, bigint>> {
    const refs = children.flatMap((c) => [c.inRef, c.outRef]);
    const out = new Map<string, bigint>();
    for (let i = 0; i < refs.length; i += QUERY_BATCH) {
      const batch = refs.slice(i, i + QUERY_BATCH);
      const counters = await Promise.all(batch.map((r) => this.kernel.querySa(r).catch(() => undefined)));
      batch.forEach((r, j) => {
        const c = counters[j];
        if (c) out.set(`${r.dst}/${r.spi >>> 0}`, c.bytes);
      });
    }
    return out;
  }
}
