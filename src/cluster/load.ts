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
 * Child SAs whose counters are read per second at most: a full pass over 30,000 children
 * (60,000 queries) every one-second report took most of a loaded member's CPU, so with many
 * children the byte rate is measured over a longer window (30,000 children: every 6 s) and the
 * reports in between repeat it. Tunnels, child SAs and CPU are fresh in every report.
 */
export const COUNTED_CHILDREN_PER_SEC = 5000;

/**
 * Tunnels = established IKE SAs and those being set up as responder (`committed`); child SAs = installed ones; bytes/s = the growth of the
 * installed SAs' byte counters (both directions) since the previous sample, a new SA counting
 * from zero and a deleted one no longer counting; CPU = this process's CPU time (every thread:
 * IKE, the userspace ESP engine's workers) over the wall time, across all cores.
 *
 * Cost: two counter queries per child SA per interval, or per children / COUNTED_CHILDREN_PER_SEC
 * seconds when that is longer (cheap for the userspace engine and the stub; a netlink round trip
 * each on XFRM). Kept between samples: one number per child SA that
 * has carried traffic (keyed by the child itself: outbound SPIs are the peers' choice, so two
 * base stations behind one NAT address may pick the same one), none for an idle child, whose
 * previous count is zero anyway: at 100,000 tunnels this is memory per SA.
 */
export class DaemonLoadSource implements LoadSource {
  private lastBytes = new Map<ChildSa, number>();
  /** When the counters were last read, and the rate measured then. */
  private bytesAt: number | undefined;
  private bytesPerSec = 0;
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
    const windowMs = (children.length / COUNTED_CHILDREN_PER_SEC) * 1000;
    if (this.bytesAt === undefined || this.now() - this.bytesAt >= windowMs) await this.countBytes(children);
    const at = this.now();
    const cpuNow = process.cpuUsage();
    let cpu = 0;
    if (this.lastAt !== undefined && at > this.lastAt) {
      const usedUs = cpuNow.user - this.lastCpu.user + (cpuNow.system - this.lastCpu.system);
      cpu = Math.min(1, Math.max(0, usedUs / 1000 / (at - this.lastAt) / availableParallelism()));
    }
    this.lastAt = at;
    this.lastCpu = cpuNow;
    return { tunnels, childSas: children.length, bytesPerSec: this.bytesPerSec, cpu };
  }

  /** Reads every child's counters: the byte rate since the previous reading. */
  private async countBytes(children: ChildSa[]): Promise<void> {
    const bytes = await this.bytesBySa(children);
    const at = this.now();
    if (this.bytesAt !== undefined && at > this.bytesAt) {
      let grown = 0;
      for (const [c, b] of bytes) {
        const before = this.lastBytes.get(c) ?? 0;
        if (b > before) grown += b - before;
      }
      this.bytesPerSec = grown / ((at - this.bytesAt) / 1000);
    }
    this.lastBytes = bytes;
    this.bytesAt = at;
  }

  /** Octets of both directions per child SA that carried any (a number: exact below 2^53). */
  private async bytesBySa(children: ChildSa[]): Promise<Map<ChildSa, number>> {
    const out = new Map<ChildSa, number>();
    const query = (c: ChildSa) => Promise.all([this.kernel.querySa(c.inRef).catch(() => undefined), this.kernel.querySa(c.outRef).catch(() => undefined)]);
    for (let i = 0; i < children.length; i += QUERY_BATCH / 2) {
      const batch = children.slice(i, i + QUERY_BATCH / 2);
      const counters = await Promise.all(batch.map(query));
      batch.forEach((c, j) => {
        const [inC, outC] = counters[j]!;
        const b = Number(inC?.bytes ?? 0n) + Number(outC?.bytes ?? 0n);
        if (b > 0) out.set(c, b);
      });
    }
    return out;
  }
}
