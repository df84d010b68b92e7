/**
 * Releasing the IKE SAs a member serves on the cluster's virtual addresses when it stops holding
 * them (issue 15): a graceful stop (RFC 9568 §6.4.3 Shutdown: priority 0, then the VIPs go) or a
 * master that saw a higher-priority advert (preemption, a healed split brain, a priority change:
 * §6.4.3 transition to Backup). Without this the SAs would stay here: the member can no longer
 * send from the VIP, their peers' packets reach the new master, which has no state, and their
 * injected routes keep pulling the core's return traffic here until DPD gives up.
 *
 *   VIPs still held (a short bounded grace, VIP_RELEASE_GRACE_MS; the VRRP instance waits):
 *     each established SA on a VIP, paced at RELEASE_RATE_PER_SEC:
 *       peer announced REDIRECT_SUPPORTED ─► INFORMATIONAL N(REDIRECT) (RFC 5685 §5) to
 *                                             the best other live member (the balancer's choice),
 *                                             or the VIP itself when there is none (or redirect
 *                                             is off): the peer comes back through the new master
 *       otherwise                         ─► INFORMATIONAL D(IKE): the peer reconnects at once
 *     the grace ends early once every request was answered; meanwhile new IKE_SA_INITs to the
 *     VIPs are dropped unanswered (a peer sent back to the VIP retransmits to the new master)
 *   VIPs gone: every SA still on one of them is removed locally (children, kernel SAs and,
 *     through the daemon's events, injected routes; nothing is sent: the address is gone),
 *     logged at warn with the count.
 *
 * The decision is the pure `releaseStep` (table-tested); `VipReleaser` carries it out.
 */
import type { GatewayId } from '../ike/redirect/notify.js';
import { gatewayIdFromString } from '../ike/redirect/notify.js';
import type { Started } from '../ike/outcome.js';
import type { IkeSa } from '../ike/sa/ike-sa.js';
import { IkeFlag } from '../ike/sa/state.js';
import type { Logger } from '../log/index.js';
import type { BalanceChoice, BalanceMember } from './balance.js';

/**
 * How long a member that lost mastership keeps the VIPs to move its peers. Both members hold
 * the address meanwhile (the new master has announced it, so the LAN's traffic already goes
 * there); one second lets a paced burst of redirects leave without keeping a duplicate address
 * on the LAN for long. Implementation constant, not in RFC 9568.
 */
export const VIP_RELEASE_GRACE_MS = 1000;
/** Redirects and deletes per second while releasing (bounded, like a drain, but faster). */
export const RELEASE_RATE_PER_SEC = 1000;
/** One paced batch every this many ms. */
const TICK_MS = 20;

/** Why the member stops holding the VIPs. */
export type VipLossCause = 'stop' | 'lost';
export const VIP_LOSS_CAUSES: readonly VipLossCause[] = ['stop', 'lost'];

/** The facts about one IKE SA the decision reads. */
export interface ReleaseSaFacts {
  /** Its local address is one of the VIPs being released. */
  onVip: boolean;
  /** Established, not dying, and we are the responder (a base station's SA). */
  served: boolean;
  /** The peer announced REDIRECT_SUPPORTED (RFC 5685 §3). */
  redirectSupported: boolean;
}

/** Where redirected peers go: a member, or the VIP (they come back through the new master). */
export type ReleaseTarget = { kind: 'member'; member: BalanceMember } | { kind: 'vip'; address: string };

export type ReleaseStep = { do: 'redirect'; to: ReleaseTarget } | { do: 'delete' } | { do: 'none' };

/** The target for this release: the balancer's best other member, else the VIP. */
export function releaseTarget(mode: 'init' | 'auth' | 'off', choice: BalanceChoice | undefined, vip: string): ReleaseTarget {
  if (mode === 'off' || !choice?.ok) return { kind: 'vip', address: vip };
  return { kind: 'member', member: choice.member };
}

/** What to do with one SA while the VIPs are still held. */
export function releaseStep(sa: ReleaseSaFacts, target: ReleaseTarget): ReleaseStep {
  if (!sa.onVip || !sa.served) return { do: 'none' };
  if (sa.redirectSupported) return { do: 'redirect', to: target };
  return { do: 'delete' };
}

/** What the releaser needs of the IKE daemon. */
export interface ReleaseDaemon {
  readonly manager: { ikeSaList(): IkeSa[] };
  redirect(sa: IkeSa, to: GatewayId): Promise<Started<void>>;
  terminate(sa: IkeSa): Promise<Started<{ acknowledged: boolean }>>;
  /** Removes an IKE SA locally (children, kernel SAs), sending nothing. */
  drop(sa: IkeSa, reason: string): Promise<void>;
  /** Stops (or resumes) taking new IKE SAs on an address. */
  refuseNewSas(address: string, refuse: boolean): void;
}

/** What the releaser needs of the balancer: the choice, and the counters. */
export interface ReleaseBalancer {
  readonly settings: { mode: 'init' | 'auth' | 'off' };
  chooseElsewhere(): BalanceChoice | undefined;
  /** Counts a redirect (a grant to a member, or one to the VIP) under the cause's reason. */
  released(to: ReleaseTarget, cause: VipLossCause): void;
  /** Counts the SAs deleted with the peer, and those removed locally. */
  releaseCounted(what: 'deleted' | 'removed', cause: VipLossCause, n: number): void;
}

export interface ReleaseSettings {
  graceMs: number;
  ratePerSec: number;
}

export class VipReleaser {
  private readonly settings: ReleaseSettings;

  constructor(
    private readonly daemon: ReleaseDaemon,
    private readonly balancer: ReleaseBalancer,
    private readonly log: Logger,
    settings: Partial<ReleaseSettings> = {},
  ) {
    this.settings = { graceMs: VIP_RELEASE_GRACE_MS, ratePerSec: RELEASE_RATE_PER_SEC, ...settings };
  }

  get graceMs(): number {
    return this.settings.graceMs;
  }

  /**
   * While the VIPs are still held: asks every peer served on them to move (redirect, else
   * delete), paced; resolves when all answered or the grace is over, whichever is first.
   */
  async release(addresses: readonly string[], cause: VipLossCause): Promise<void> {
    const vips = new Set(addresses);
    // No new SA on an address about to go: the peers sent back to the VIP must reach the new master.
    for (const a of addresses) this.daemon.refuseNewSas(a, true);
    const sas = this.daemon.manager.ikeSaList().filter((sa) => vips.has(sa.local.address) && isServed(sa));
    if (sas.length === 0) return;
    const started = performance.now();
    const deadline = started + this.settings.graceMs;
    const perTick = Math.max(1, Math.ceil((this.settings.ratePerSec * TICK_MS) / 1000));
    const outcomes: Promise<unknown>[] = [];
    const counts = { redirected: 0, deleted: 0 };
    for (let i = 0; i < sas.length && performance.now() < deadline; i += perTick) {
      if (i > 0) await sleep(TICK_MS);
      for (const sa of sas.slice(i, i + perTick)) {
        const o = await this.ask(sa, cause);
        if (!o) continue;
        counts[o.kind]++;
        outcomes.push(o.outcome);
      }
    }
    const left = deadline - performance.now();
    if (left > 0) await Promise.race([Promise.allSettled(outcomes), sleep(left)]);
    if (counts.deleted > 0) this.balancer.releaseCounted('deleted', cause, counts.deleted);
    this.log.info(
      { cause, vips: addresses, redirected: counts.redirected, deleted: counts.deleted, asked: sas.length, ms: Math.round(performance.now() - started) },
      'cluster: moved the base stations served on the virtual addresses before giving them up',
    );
  }

  /**
   * After the VIPs are gone: every SA still on one of them is removed here, nothing sent
   * (returns how many). Its peer, if it did not follow, reconnects through the new master.
   */
  async dropUnheld(addresses: readonly string[], cause: VipLossCause): Promise<number> {
    const vips = new Set(addresses);
    // The address is gone (its sockets close next); when this member is master again it takes new SAs there.
    for (const a of addresses) this.daemon.refuseNewSas(a, false);
    const sas = this.daemon.manager.ikeSaList().filter((sa) => vips.has(sa.local.address) && !sa.isDead);
    if (sas.length === 0) return 0;
    for (const sa of sas) await this.daemon.drop(sa, 'the virtual address moved to another member');
    this.balancer.releaseCounted('removed', cause, sas.length);
    this.log.warn({ cause, vips: addresses, count: sas.length }, `cluster: removed ${sas.length} IKE SA(s) left on virtual addresses this member no longer holds (nothing sent)`);
    return sas.length;
  }

  private async ask(sa: IkeSa, cause: VipLossCause): Promise<{ kind: 'redirected' | 'deleted'; outcome: Promise<unknown> } | undefined> {
    const mode = this.balancer.settings.mode;
    const target = releaseTarget(mode, mode === 'off' ? undefined : this.balancer.chooseElsewhere(), sa.local.address);
    const step = releaseStep({ onVip: true, served: isServed(sa), redirectSupported: sa.has(IkeFlag.PEER_REDIRECT) }, target);
    try {
      if (step.do === 'redirect') {
        const address = step.to.kind === 'member' ? step.to.member.address : step.to.address;
        const s = await this.daemon.redirect(sa, gatewayIdFromString(address));
        this.balancer.released(step.to, cause);
        return { kind: 'redirected', outcome: s.outcome };
      }
      if (step.do === 'delete') return { kind: 'deleted', outcome: (await this.daemon.terminate(sa)).outcome };
    } catch (err) {
      this.log.warn({ ike: sa.name, err: String(err) }, 'cluster: cannot move a base station off the virtual address');
    }
    return undefined;
  }
}

function isServed(sa: IkeSa): boolean {
  return sa.established && !sa.isDead && !sa.initiator;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
