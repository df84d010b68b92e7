/**
 * The cluster balancer: the RFC 5685 RedirectProvider a cluster member's IKE daemon asks at
 * IKE_SA_INIT (`redirect: init`) or after authenticating the peer in IKE_AUTH (`redirect: auth`).
 * The choice itself is the pure ./balance.ts; this adds who may redirect, the pins, the grants
 * that count at once, and the counters.
 *
 *   peer came with REDIRECTED_FROM   serve here unless this member drains or is above its ceiling
 *                                    (loop safety: a redirected peer is not sent on again lightly)
 *   this member drains               send the peer to the best other member (any role)
 *   not the VRRP master              serve what reaches it
 *   IKE_AUTH, a pin matches          serve here, or redirect to the pinned member if it is live
 *   otherwise                        choose(): the best member; this one serves if it is the best
 *   nobody below its ceiling         refuse with TEMPORARY_FAILURE (see REFUSAL below)
 *
 * Only peers that sent REDIRECT_SUPPORTED or REDIRECTED_FROM reach the provider (the exchange
 * code asks only for them, RFC 5685 §3), so the balancer never sends REDIRECT to a peer that
 * cannot follow it. The exchange code keeps no state for an IKE_SA_INIT answered with REDIRECT.
 *
 * Grants. A redirect granted to a member (or a peer served here) counts for that member at once,
 * until its reports show it: every tunnel a member's report gained since the previous one
 * consumes its oldest grant, and a grant no report has consumed within interval + settleMs
 * (a peer that never arrived) is dropped once a report shows the member gained nothing since
 * the one before. A member whose reports keep gaining keeps its older grants (up to
 * GRANT_MAX_MS): on a loaded member redirected peers wait in its receive queue for seconds, and
 * dropping their grants early makes it look emptier than it is, so it would be sent more than
 * its share (bench/balance and bench/scale measured members 10% apart from that alone).
 * So a burst inside one report interval spreads instead
 * of piling onto the member that looked emptiest, and a peer is not counted twice once its
 * tunnel is in the report. A retransmitted IKE_SA_INIT (same initiator SPI and address) gets the
 * answer the first one got, without a second grant.
 */
import { NotifyError } from '../ike/constants.js';
import { gatewayIdFromString, gatewayIdToString } from '../ike/redirect/notify.js';
import type { RedirectAuthContext, RedirectDecision, RedirectInitContext, RedirectProvider } from '../ike/redirect/provider.js';
import type { RoleSource } from './load.js';
import { ceilingOf, choose, weightedLoad, type BalanceChoice, type BalanceMember, type RefuseReason } from './balance.js';
import type { LoadReport } from './report.js';
import type { MemberEntry, Weights } from './table.js';
import { VIP_LOSS_CAUSES, type ReleaseBalancer, type ReleaseTarget, type VipLossCause } from './vip-release.js';

/**
 * REFUSAL: RFC 7296 has no "busy" code for a new IKE SA. TEMPORARY_FAILURE (§2.25: "try again
 * later") is the one an initiator treats as transient; NO_ADDITIONAL_SAS is about more child SAs
 * on an existing IKE SA, which the balancer does not govern.
 */
export const REFUSAL_NOTIFY = NotifyError.TEMPORARY_FAILURE;

/** Why a peer was redirected (counted per target and reason). */
export type RedirectReason = 'init' | 'auth' | 'pin' | 'loop-overload' | 'draining' | 'drain' | 'vip-stop' | 'vip-lost';
/** Why a peer that reached the provider was served here. */
export type ServeReason = 'best' | 'not-master' | 'redirected-from' | 'pin' | 'no-table';

/** A per-connection rule: peers whose identity matches `peer` (glob, * and ?) go to `member`. */
export interface PinRule {
  /** Only for this connection (absent: any). */
  connection?: string;
  /** Pattern over the peer identity as logs print it ("bs17.example.net", "192.0.2.7", a DN). */
  peer: string;
  /** A member id, or "self": serve here. */
  member: string;
}

export interface BalancerSettings {
  mode: 'init' | 'auth' | 'off';
  weights: Weights;
  /** This member's ceiling, and the default for members not in `ceilings`. */
  ceiling: number;
  ceilings?: ReadonlyMap<string, number>;
  pins?: readonly PinRule[];
  /** Time a redirected peer takes to reach its member, beyond a report interval (default 2000 ms). */
  settleMs?: number;
}

/** What the balancer reads of the membership: every member's newest report (this one included). */
export interface MembershipView {
  readonly selfId: string;
  entries(now: number): MemberEntry[];
}

export interface BalancerOptions {
  settings: BalancerSettings;
  /** Undefined until the membership has started (the daemon starts first): peers are served here. */
  membership: () => MembershipView | undefined;
  role: RoleSource;
  /** Milliseconds, the membership's clock (default performance.now). */
  now?: () => number;
}

/** The counters as a plain snapshot (the `redirects` control method, metrics). */
export interface RedirectCounts {
  node: string | null;
  mode: BalancerSettings['mode'];
  draining: boolean;
  redirects: { target: string; address: string; reason: RedirectReason; count: number }[];
  served: Record<ServeReason, number>;
  refused: Record<RefuseReason, number>;
  /** Grants not yet visible in each member's report. */
  pending: Record<string, number>;
  /**
   * SAs served on the VIPs when this member stopped holding them, by cause (`stop`: graceful
   * stop; `lost`: a higher-priority master): deleted with the peer (no REDIRECT_SUPPORTED), and
   * removed locally once the address was gone. Their redirects are in `redirects`
   * (reason vip-stop / vip-lost; target "vip" when sent back to the virtual address).
   */
  vipRelease: Record<VipLossCause, { deleted: number; removed: number }>;
}

const SERVE_REASONS: readonly ServeReason[] = ['best', 'not-master', 'redirected-from', 'pin', 'no-table'];
const DEFAULT_SETTLE_MS = 2000;
/**
 * The longest a grant counts while its member keeps gaining tunnels: past a redirected base
 * station's IKE_SA_INIT retransmissions (strongSwan's first four take 4 + 7.2 + 13 + 23 s).
 */
export const GRANT_MAX_MS = 45_000;

/** A case-insensitive whole-string glob (* any run, ? one character). */
export function globMatches(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'is').test(text);
}

/** Recent IKE_SA_INIT decisions remembered for retransmissions. */
const RECENT_DECISIONS = 4096;

interface Grants {
  /** Grant times, oldest first. */
  times: number[];
  /** The member's tunnels in the newest report seen, and that report. */
  tunnels: number;
  report: LoadReport | undefined;
}

export class Balancer implements RedirectProvider, ReleaseBalancer {
  private readonly grants = new Map<string, Grants>();
  private readonly recent = new Map<string, RedirectDecision>();
  private readonly redirectCounts = new Map<string, { target: string; address: string; reason: RedirectReason; count: number }>();
  private readonly served = Object.fromEntries(SERVE_REASONS.map((r) => [r, 0])) as Record<ServeReason, number>;
  private readonly refused: Record<RefuseReason, number> = { 'all-above-ceiling': 0, 'no-live-member': 0 };
  private readonly vipRelease = Object.fromEntries(VIP_LOSS_CAUSES.map((c) => [c, { deleted: 0, removed: 0 }])) as Record<VipLossCause, { deleted: number; removed: number }>;
  private readonly now: () => number;
  /** This member takes no new peers (set at once by a drain, before its next report says so). */
  draining = false;

  constructor(private readonly opts: BalancerOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  get settings(): BalancerSettings {
    return this.opts.settings;
  }

  /**
   * New weights, ceilings and pins (a config reload): the next decision uses them. Grants
   * already counted stay; the mode does not change here (a restart-only key).
   */
  reconfigure(s: Pick<BalancerSettings, 'weights' | 'ceiling' | 'ceilings' | 'pins'>): void {
    this.opts.settings = { ...this.opts.settings, ...s };
  }

  onInit(ctx: RedirectInitContext): RedirectDecision {
    if (this.settings.mode !== 'init') return undefined;
    const key = `${ctx.remote.address}|${ctx.spiI}`;
    if (this.recent.has(key)) return this.recent.get(key);
    const d = this.decide('init', ctx.redirectedFrom !== undefined);
    this.recent.set(key, d);
    if (this.recent.size > RECENT_DECISIONS) this.recent.delete(this.recent.keys().next().value!);
    return d;
  }

  onAuth(ctx: RedirectAuthContext): RedirectDecision {
    if (this.settings.mode !== 'auth') return undefined;
    return this.decide('auth', ctx.redirectedFrom !== undefined, ctx);
  }

  private decide(at: 'init' | 'auth', redirectedFrom: boolean, auth?: RedirectAuthContext): RedirectDecision {
    const view = this.opts.membership();
    const now = this.now();
    const entries = view?.entries(now) ?? [];
    const self = entries.find((e) => e.self);
    if (!view || !self) return this.serve('no-table');
    const members = this.members(entries);
    const selfFull = this.draining || this.aboveCeiling(self);
    if (redirectedFrom && !selfFull) return this.serve('redirected-from', self);
    if (redirectedFrom || this.draining) {
      return this.elsewhere(members, view.selfId, this.draining ? 'draining' : 'loop-overload');
    }
    if (this.opts.role.role() !== 'master') return this.serve('not-master', self);
    if (auth) {
      const pinned = this.pinned(auth, members, self);
      if (pinned !== null) return pinned;
    }
    const c = choose(this.input(members));
    if (!c.ok) return this.refuse(c.reason);
    if (c.member.id === view.selfId) return this.serve('best', self);
    return this.redirect(c.member, at);
  }

  /** The best member other than this one for a peer that must not stay here. */
  chooseElsewhere(): BalanceChoice | undefined {
    const view = this.opts.membership();
    if (!view) return undefined;
    const now = this.now();
    return choose({ ...this.input(this.members(view.entries(now))), exclude: new Set([view.selfId]) });
  }

  /** Counts a redirect made outside IKE_SA_INIT/IKE_AUTH (a drain), as a grant to its member. */
  granted(member: BalanceMember, reason: RedirectReason): void {
    this.grant(member);
    this.count(member, reason);
  }

  /** Counts a redirect of a peer served on a VIP this member gives up (./vip-release.ts). */
  released(to: ReleaseTarget, cause: VipLossCause): void {
    const reason: RedirectReason = cause === 'stop' ? 'vip-stop' : 'vip-lost';
    if (to.kind === 'member') this.granted(to.member, reason);
    else this.count({ id: 'vip', address: to.address }, reason);
  }

  releaseCounted(what: 'deleted' | 'removed', cause: VipLossCause, n: number): void {
    this.vipRelease[cause][what] += n;
  }

  private elsewhere(members: BalanceMember[], selfId: string, reason: RedirectReason): RedirectDecision {
    const c = choose({ ...this.input(members), exclude: new Set([selfId]) });
    if (!c.ok) return this.refuse(c.reason);
    return this.redirect(c.member, reason);
  }

  private pinned(ctx: RedirectAuthContext, members: BalanceMember[], self: MemberEntry): RedirectDecision | null {
    const selfId = self.report.nodeId;
    const rule = this.settings.pins?.find((p) => (p.connection === undefined || p.connection === ctx.connection) && globMatches(p.peer, ctx.peerId));
    if (!rule) return null;
    if (rule.member === 'self' || rule.member === selfId) return this.serve('pin', self);
    const m = members.find((x) => x.id === rule.member);
    // A pinned member that is gone or draining: balance the peer like any other.
    if (!m || m.stale || m.report.draining || m.report.leaving) return null;
    return this.redirect(m, 'pin');
  }

  private input(members: BalanceMember[]) {
    const s = this.settings;
    const pending = new Map(members.map((m) => [m.id, this.pendingOf(m.id)]));
    return { members, pending, weights: s.weights, ceiling: s.ceiling, ...(s.ceilings && { ceilings: s.ceilings }) };
  }

  /**
   * The members as the choice sees them. While this member is master, another member whose
   * newest report still says master is the master this one took over from: VRRP made this one
   * master because that one fell silent (killed, cut off), which VRRP notices within
   * Master_Down_Interval (RFC 9568 §6.1, ~3.6 adverts), well before its load reports go stale
   * (K intervals). It gets no peers until it reports again in another role (it resigned,
   * restarted, or came back as backup).
   */
  private members(entries: MemberEntry[]): BalanceMember[] {
    const settle = this.settings.settleMs ?? DEFAULT_SETTLE_MS;
    const selfMaster = this.opts.role.role() === 'master';
    return entries.map((e) => {
      const r = e.report;
      const g = this.grants.get(r.nodeId);
      if (g && g.report !== r) {
        // Tunnels the report gained consume the oldest grants (see Grants at the top).
        const gained = Math.max(0, r.load.tunnels - g.tunnels);
        g.times.splice(0, gained);
        g.tunnels = r.load.tunnels;
        g.report = r;
        // A member still taking peers is working through its queue: its grants wait for it
        // (up to GRANT_MAX_MS); one that gained nothing has shown all it will (see Grants).
        const expired = gained > 0 ? e.lastAt - GRANT_MAX_MS : e.lastAt - r.intervalMs - settle;
        g.times.splice(0, countBefore(g.times, expired));
      }
      return { id: r.nodeId, address: r.address, report: r, stale: e.stale || (selfMaster && !e.self && r.role === 'master') };
    });
  }

  private aboveCeiling(self: MemberEntry): boolean {
    const s = this.settings;
    return weightedLoad(self.report, s.weights, this.pendingOf(self.report.nodeId) + 1) > ceilingOf(s, self.report.nodeId);
  }

  private pendingOf(id: string): number {
    return this.grants.get(id)?.times.length ?? 0;
  }

  /** A grant to `member`, against the report the choice saw. */
  private grant(m: { id: string; report?: LoadReport }): void {
    const g = this.grants.get(m.id);
    if (g) g.times.push(this.now());
    else this.grants.set(m.id, { times: [this.now()], tunnels: m.report?.load.tunnels ?? 0, report: m.report });
  }

  private serve(reason: ServeReason, self?: MemberEntry): undefined {
    this.served[reason]++;
    if (self) this.grant({ id: self.report.nodeId, report: self.report });
    return undefined;
  }

  private refuse(reason: RefuseReason): RedirectDecision {
    this.refused[reason]++;
    return { refuse: REFUSAL_NOTIFY };
  }

  private redirect(m: BalanceMember, reason: RedirectReason): RedirectDecision {
    this.grant(m);
    this.count(m, reason);
    return gatewayIdFromString(m.address);
  }

  private count(m: Pick<BalanceMember, 'id' | 'address'>, reason: RedirectReason): void {
    const key = `${m.id}|${reason}`;
    const c = this.redirectCounts.get(key);
    if (c) c.count++;
    else this.redirectCounts.set(key, { target: m.id, address: gatewayIdToString(gatewayIdFromString(m.address)), reason, count: 1 });
  }

  snapshot(): RedirectCounts {
    const view = this.opts.membership();
    return {
      node: view?.selfId ?? null,
      mode: this.settings.mode,
      draining: this.draining,
      redirects: [...this.redirectCounts.values()].map((c) => ({ ...c })).sort((a, b) => (a.target === b.target ? (a.reason < b.reason ? -1 : 1) : a.target < b.target ? -1 : 1)),
      served: { ...this.served },
      refused: { ...this.refused },
      pending: Object.fromEntries([...this.grants].filter(([, g]) => g.times.length > 0).map(([id, g]) => [id, g.times.length])),
      vipRelease: Object.fromEntries(VIP_LOSS_CAUSES.map((c) => [c, { ...this.vipRelease[c] }])) as RedirectCounts['vipRelease'],
    };
  }
}

/**
 * How many of the ascending `times` are before `t` (binary search). Grants are dropped with one
 * splice: under an IKE_SA_INIT flood tens of thousands are pending, and shift() one at a time
 * copies the array each time once it is too large for V8 to trim in place.
 */
export function countBefore(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
