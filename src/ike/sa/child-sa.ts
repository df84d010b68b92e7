/**
 * A child SA (RFC 7296 §1.3): a pair of ESP SAs and their policies, installed through
 * KernelIpsec only. Installation is all-or-nothing: a failure rolls back what was installed,
 * so nothing half-installed is left in the kernel. A rekeyed child keeps its reqid and takes
 * over the policies of the child it replaces (make-before-break).
 *
 * Outbound hand-over on a rekey (RFC 7296 §2.8): the kernel sends on the newest outbound SA of a
 * reqid, so installing one switches the traffic at once. The rekey's initiator does that when the
 * response arrives: the responder installed the new inbound SA before answering. The responder
 * must not: the initiator installs its new inbound SA only once it has processed the response, so
 * packets sent on the new SA before that are dropped by the initiator's kernel (measured: 1-2 echo
 * replies per rekey under load, XfrmInNoStates at the peer). The responder therefore keeps the new
 * outbound SA's keys (`deferOutbound`) and installs it when the old child is removed (the
 * initiator's DELETE, or any other end of the old child); until then it sends on the old SA, which
 * the initiator still receives on.
 */
import { SaLog } from './sa-log.js';
import type { PolicyParams, SaParams, SaRef, TrafficSelector } from '../../kernel/types.js';
import type { ChildKeys } from '../crypto/keys.js';
import { jitteredRekey, type ResolvedChild } from '../config.js';
import type { EspSuite } from '../proposal.js';
import type { TimerEntry, TimerTarget } from '../scheduler.js';
import { tsEqual, tsToString } from '../traffic-selectors.js';
import { addrToBigInt, parseIPv4 } from '../../net/ip.js';
import type { IkeSa } from './ike-sa.js';

export const ChildState = {
  CREATED: 'CREATED',
  INSTALLED: 'INSTALLED',
  /** A rekey of this child is under way (ours or the peer's). */
  REKEYING: 'REKEYING',
  /** Replaced by a new child; deleted once the delete exchange completes. */
  REKEYED: 'REKEYED',
  DELETING: 'DELETING',
  DELETED: 'DELETED',
} as const;
export type ChildState = (typeof ChildState)[keyof typeof ChildState];

const TIMER_REKEY = 1;
const TIMER_EXPIRE = 2;

const INSTALLED_IN = 1;
const INSTALLED_OUT = 2;
const INSTALLED_POLICIES = 4;
/** The inbound SPI is reserved in the kernel (a larval SA to release if we never fill it). */
const SPI_ALLOCATED = 8;
/** Rekey responder: the outbound SA waits in `deferredOut` until the replaced child goes. */
const OUT_DEFERRED = 16;

export class ChildSa implements TimerTarget {
  state: ChildState = ChildState.CREATED;
  /** Our inbound SPI (allocated from the kernel) and the peer's (our outbound). */
  spiIn = 0;
  spiOut = 0;
  localTs: TrafficSelector[] = [];
  remoteTs: TrafficSelector[] = [];
  suite: EspSuite | undefined;
  /** Outer addresses the SAs were installed with (SaRef destinations). */
  private inDst = '';
  private outDst = '';
  private installed = 0;
  /** The outbound keys of a deferred outbound SA (OUT_DEFERRED), zeroed once used or dropped. */
  private deferredOut: { encKey: Buffer; integKey: Buffer } | undefined;
  /** Rekey, then (same entry) hard expiry. */
  private lifeTimer: TimerEntry | undefined;
  private hardAt = 0;
  installedAt = 0;

  constructor(
    public ike: IkeSa,
    readonly cfg: ResolvedChild,
    public reqid: number,
    /** False for a rekeyed child until it takes the old child's policies. */
    public ownsPolicies = true,
  ) {}

  get name(): string {
    return this.cfg.name;
  }

  get log(): SaLog {
    return new SaLog(this.ike.ctx.log, this);
  }

  /** The fields every log line about this child carries (its IKE SA's, then its own). */
  logBindings(): Record<string, unknown> {
    return { ...this.ike.logBindings(), child: this.cfg.name, spiIn: hex(this.spiIn), spiOut: hex(this.spiOut) };
  }

  get inRef(): SaRef {
    return { dst: this.inDst || this.ike.local.address, spi: this.spiIn, protocol: 'esp' };
  }

  get outRef(): SaRef {
    return { dst: this.outDst || this.ike.remote.address, spi: this.spiOut, protocol: 'esp' };
  }

  /** Both SAs are in place, the outbound one possibly deferred (see the file comment). */
  get isInstalled(): boolean {
    return (this.installed & INSTALLED_IN) !== 0 && (this.installed & (INSTALLED_OUT | OUT_DEFERRED)) !== 0;
  }

  /** The outbound SA waits for the replaced child's removal (rekey responder). */
  get outboundDeferred(): boolean {
    return (this.installed & OUT_DEFERRED) !== 0;
  }

  /** Reserves the inbound SPI in the kernel (before the SA payload is built). */
  async allocateSpi(): Promise<boolean> {
    try {
      this.spiIn = await this.ike.ctx.kernel.allocateSpi(this.ike.remote.address, this.ike.local.address, 'esp');
      this.inDst = this.ike.local.address;
      this.installed |= SPI_ALLOCATED;
      return true;
    } catch (err) {
      this.ike.log.warn({ err }, 'kernel could not allocate an SPI');
      return false;
    }
  }

  private saParams(direction: 'in' | 'out', encKey: Buffer, integKey: Buffer): SaParams {
    const ike = this.ike;
    const s = this.suite!;
    const inbound = direction === 'in';
    const p: SaParams = {
      dst: inbound ? ike.local.address : ike.remote.address,
      src: inbound ? ike.remote.address : ike.local.address,
      spi: inbound ? this.spiIn : this.spiOut,
      protocol: 'esp',
      direction,
      mode: this.cfg.mode,
      reqid: this.reqid,
      encryption: s.encryption,
      encryptionKey: encKey,
      esn: s.esn,
      replayWindow: inbound ? this.cfg.replayWindow : 0,
      lifetime: { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n },
      localTs: this.localTs,
      remoteTs: this.remoteTs,
    };
    if (s.integrity) {
      p.integrity = s.integrity;
      p.integrityKey = integKey;
    }
    if (ike.natDetected) {
      p.encap = inbound
        ? { sport: ike.remote.port, dport: ike.local.port }
        : { sport: ike.local.port, dport: ike.remote.port };
    }
    return p;
  }

  private policies(): PolicyParams[] {
    const ike = this.ike;
    const out: PolicyParams[] = [];
    for (const l of this.localTs) {
      for (const r of this.remoteTs) {
        if (l.family !== r.family) continue;
        const priority = policyPriority(l, r);
        const { reqid } = this;
        const { mode } = this.cfg;
        const loc = ike.local.address;
        const rem = ike.remote.address;
        // Plain literals: a spread followed by new properties costs µs per object on V8 11.3
        // (a map transition from a fresh clone every time), measured as a hot spot.
        out.push({ reqid, mode, priority, direction: 'out', src: l, dst: r, tmplSrc: loc, tmplDst: rem });
        out.push({ reqid, mode, priority, direction: 'in', src: r, dst: l, tmplSrc: rem, tmplDst: loc });
        out.push({ reqid, mode, priority, direction: 'fwd', src: r, dst: l, tmplSrc: rem, tmplDst: loc });
      }
    }
    return out;
  }

  /**
   * Installs both SAs and, when this child owns them, the policies. `weInitiated`: we sent the
   * request of the exchange that made the keys (so the *I keys protect what we send).
   * `deferOutbound` (rekey responder): the outbound SA is installed only by installOutbound(),
   * when the replaced child is removed. Returns false after rolling back on any kernel failure.
   */
  async install(keys: ChildKeys, weInitiated: boolean, opts: { deferOutbound?: boolean } = {}): Promise<boolean> {
    const k = this.ike.ctx.kernel;
    const inKeys = weInitiated ? [keys.encrR, keys.integR] : [keys.encrI, keys.integI];
    const outKeys = weInitiated ? [keys.encrI, keys.integI] : [keys.encrR, keys.integR];
    const installedPolicies: PolicyParams[] = [];
    try {
      const inSa = this.saParams('in', inKeys[0]!, inKeys[1]!);
      await k.updateSa(inSa);
      this.inDst = inSa.dst;
      this.installed |= INSTALLED_IN;
      if (opts.deferOutbound) {
        this.deferredOut = { encKey: Buffer.from(outKeys[0]!), integKey: Buffer.from(outKeys[1]!) };
        this.installed |= OUT_DEFERRED;
      } else {
        const outSa = this.saParams('out', outKeys[0]!, outKeys[1]!);
        await k.addSa(outSa);
        this.outDst = outSa.dst;
        this.installed |= INSTALLED_OUT;
      }
      if (this.ownsPolicies) {
        try {
          for (const p of this.policies()) {
            await k.addPolicy(p);
            installedPolicies.push(p);
          }
        } catch (err) {
          // Looked for only when the kernel refuses: nothing is scanned on the common path.
          const holder = this.ike.ctx.policyHolder(this);
          if (!holder) throw err;
          await this.takeOverPolicies(holder, installedPolicies);
        }
        this.installed |= INSTALLED_POLICIES;
      }
    } catch (err) {
      this.log.warn({ err }, 'kernel refused the child SA; rolling back');
      for (const p of installedPolicies.reverse()) await this.quiet(() => k.deletePolicy(p));
      await this.removeSas();
      this.installed = 0;
      this.dropDeferredOut();
      return false;
    }
    this.state = ChildState.INSTALLED;
    this.installedAt = this.ike.ctx.scheduler.now();
    this.ike.ctx.registerChild(this);
    this.armLifetimes();
    const log = this.log;
    if (log.enabled('info')) {
      const outbound = this.outboundDeferred ? 'deferred until the rekeyed child is deleted' : 'installed';
      log.info({ local: this.localTs.map(tsToString), remote: this.remoteTs.map(tsToString), reqid: this.reqid, outbound }, 'child SA installed');
    }
    return true;
  }

  /**
   * Installs the deferred outbound SA (rekey responder; no-op otherwise), on the IKE SA's
   * current addresses and ports: from now on the kernel sends on it. On a kernel failure the
   * child is rekeyed (the initiator's side installs both SAs at once) and false is returned.
   */
  async installOutbound(): Promise<boolean> {
    const keys = this.deferredOut;
    if (!keys || this.state === ChildState.DELETED) return true;
    const outSa = this.saParams('out', keys.encKey, keys.integKey);
    try {
      await this.ike.ctx.kernel.addSa(outSa);
    } catch (err) {
      this.log.warn({ err }, 'kernel refused the deferred outbound SA; rekeying the child');
      const ike = this.ike;
      void ike.run(() => ike.ctx.tasks.rekeyChild(this));
      return false;
    }
    this.outDst = outSa.dst;
    this.installed = (this.installed & ~OUT_DEFERRED) | INSTALLED_OUT;
    this.dropDeferredOut();
    this.log.info('outbound SA installed: traffic moves to the new child');
    return true;
  }

  private dropDeferredOut(): void {
    this.deferredOut?.encKey.fill(0);
    this.deferredOut?.integKey.fill(0);
    this.deferredOut = undefined;
    this.installed &= ~OUT_DEFERRED;
  }

  /** Before this child's SAs go: the children that rekeyed it and wait to send take over. */
  private async releaseSuccessors(): Promise<void> {
    if (!(this.installed & INSTALLED_OUT)) return;
    for (const c of this.ike.children) {
      if (c !== this && c.outboundDeferred && c.reqid === this.reqid && c.sameSelectors(this)) await c.installOutbound();
    }
  }

  private async quiet(f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (err) {
      this.ike.log.debug({ err }, 'kernel cleanup step failed');
    }
  }

  private async removeSas(): Promise<void> {
    const k = this.ike.ctx.kernel;
    // An allocated inbound SPI is released even when the SA was never filled in.
    if (this.installed & (INSTALLED_IN | SPI_ALLOCATED)) await this.quiet(() => k.deleteSa(this.inRef));
    if (this.installed & INSTALLED_OUT) await this.quiet(() => k.deleteSa(this.outRef));
    this.installed &= ~(INSTALLED_IN | INSTALLED_OUT | SPI_ALLOCATED);
    this.dropDeferredOut();
  }

  /**
   * The peer's NAT mapping changed (RFC 7296 §2.23): moves both SAs to the IKE SA's current
   * ports in place, keys, sequence numbers and replay window kept. False when that cannot be
   * done here (the peer's address changed, the backend has no in-place update, or it failed):
   * the caller then rekeys the child, whose new SAs take the new endpoints.
   */
  async followPeer(): Promise<boolean> {
    const ike = this.ike;
    const k = ike.ctx.kernel;
    if (!this.isInstalled || !ike.natDetected || !k.updateSaEncap) return false;
    // A deferred outbound SA is not in the kernel yet: it takes the current ports when installed.
    const outInKernel = (this.installed & INSTALLED_OUT) !== 0;
    if (this.inDst !== ike.local.address || (outInKernel && this.outDst !== ike.remote.address)) return false;
    try {
      if (outInKernel) await k.updateSaEncap(this.outRef, { sport: ike.local.port, dport: ike.remote.port });
      await k.updateSaEncap(this.inRef, { sport: ike.remote.port, dport: ike.local.port });
    } catch (err) {
      this.log.warn({ err }, 'kernel could not move the child SA to the new NAT mapping; rekeying it');
      return false;
    }
    this.log.info({ port: ike.remote.port }, 'child SA follows the peer');
    return true;
  }

  /**
   * The peer's address changed: the policies this child owns are replaced in one step with
   * templates on the IKE SA's current addresses (XFRM matches a tunnel SA to its policy by
   * them). A backend without updatePolicy does not read templates: nothing to do (the userspace
   * engine has one, for takeOverPolicies, and here replaces a policy by an equal one).
   */
  async retemplatePolicies(): Promise<void> {
    const k = this.ike.ctx.kernel;
    if (!(this.installed & INSTALLED_POLICIES) || !k.updatePolicy) return;
    try {
      for (const p of this.policies()) await k.updatePolicy(p);
    } catch (err) {
      this.log.warn({ err }, "kernel could not move the policies to the peer's new address");
    }
  }

  /**
   * The kernel's policies for these selectors belong to `holder`, a child of an older IKE SA of
   * the same peer (see the file comment): each is replaced in place with this child's template,
   * or removed and added again where the backend cannot replace one. From here on the holder's
   * removal leaves them; a failure later in install() removes them with this child's.
   */
  private async takeOverPolicies(holder: ChildSa, done: PolicyParams[]): Promise<void> {
    const k = this.ike.ctx.kernel;
    holder.installed &= ~INSTALLED_POLICIES;
    done.length = 0;
    for (const p of this.policies()) {
      if (k.updatePolicy) await k.updatePolicy(p);
      else {
        await this.quiet(() => k.deletePolicy(p));
        await k.addPolicy(p);
      }
      done.push(p);
    }
    this.log.info({ from: holder.ike.name, reqid: holder.reqid }, "took over the policies of an older IKE SA's child with the same selectors");
  }

  /** Whether this child's policies in the kernel are the ones `other` (another child) needs. */
  holdsPoliciesFor(other: ChildSa): boolean {
    return this !== other && this.state !== ChildState.DELETED && (this.installed & INSTALLED_POLICIES) !== 0 && this.sameSelectors(other);
  }

  /** Same selectors as another child (a rekey can then share the policies). */
  sameSelectors(other: ChildSa): boolean {
    const eq = (a: TrafficSelector[], b: TrafficSelector[]) => a.length === b.length && a.every((x, i) => tsEqual(x, b[i]!));
    return eq(this.localTs, other.localTs) && eq(this.remoteTs, other.remoteTs);
  }

  /**
   * Rekey hand-over: the policies (same reqid and selectors) now belong to `next`, so removing
   * this child leaves them in place.
   */
  handOverPolicies(next: ChildSa): void {
    if (!(this.installed & INSTALLED_POLICIES)) return;
    this.installed &= ~INSTALLED_POLICIES;
    this.ownsPolicies = false;
    next.installed |= INSTALLED_POLICIES;
    next.ownsPolicies = true;
  }

  /**
   * Removes the child from the kernel and the tables (delete completed, IKE SA gone, install
   * failed). Kernel errors are logged, never thrown; the reqid is released with the policies.
   */
  async remove(reason: string): Promise<void> {
    if (this.state === ChildState.DELETED) return;
    const wasUp = this.state === ChildState.INSTALLED || this.state === ChildState.REKEYING || this.state === ChildState.DELETING;
    const wasOwner = this.ownsPolicies;
    this.state = ChildState.DELETED;
    this.cancelTimers();
    const k = this.ike.ctx.kernel;
    await this.releaseSuccessors();
    // A sibling with the same reqid and selectors (a rekey) keeps the policies and the reqid.
    const heir = this.ike.children.find((c) => c !== this && c.reqid === this.reqid && c.isInstalled && c.sameSelectors(this));
    if (heir && this.installed & INSTALLED_POLICIES) this.handOverPolicies(heir);
    if (this.installed & INSTALLED_POLICIES) {
      for (const p of this.policies()) await this.quiet(() => k.deletePolicy(p));
      this.installed &= ~INSTALLED_POLICIES;
    }
    if (this.installed) await this.removeSas();
    if (wasOwner && !heir) this.ike.ctx.releaseReqid(this.reqid);
    this.ike.ctx.unregisterChild(this);
    this.ike.removeChild(this);
    if (wasUp) this.ike.ctx.events.childDown?.(this, reason);
    this.log.info({ reason }, 'child SA removed');
  }

  armLifetimes(): void {
    const l = this.cfg.lifetime;
    const sch = this.ike.ctx.scheduler;
    this.hardAt = l.lifeMs > 0 ? sch.now() + l.lifeMs : 0;
    if (l.rekeyMs > 0) this.lifeTimer = sch.reschedule(this.lifeTimer, jitteredRekey(l), this, TIMER_REKEY);
    else if (this.hardAt) this.lifeTimer = sch.reschedule(this.lifeTimer, l.lifeMs, this, TIMER_EXPIRE);
  }

  cancelTimers(): void {
    this.lifeTimer = this.ike.ctx.scheduler.cancel(this.lifeTimer);
  }

  /** Rekey again after `ms` (the peer answered TEMPORARY_FAILURE), if before the hard expiry. */
  retryRekey(ms: number): void {
    const sch = this.ike.ctx.scheduler;
    if (this.hardAt && sch.now() + ms >= this.hardAt) return;
    this.lifeTimer = sch.reschedule(this.lifeTimer, ms, this, TIMER_REKEY);
  }

  onTimer(kind: number): void {
    this.lifeTimer = undefined;
    if (this.state === ChildState.DELETED) return;
    const ike = this.ike;
    const sch = ike.ctx.scheduler;
    if (kind === TIMER_REKEY && this.hardAt) this.lifeTimer = sch.schedule(Math.max(0, this.hardAt - sch.now()), this, TIMER_EXPIRE);
    if (kind === TIMER_REKEY) void ike.run(() => ike.ctx.tasks.rekeyChild(this));
    else if (kind === TIMER_EXPIRE) void ike.run(() => ike.ctx.tasks.expireChild(this));
  }
}

/** floor(log2(size of the selector's address range)). IPv4 in plain numbers: on every install and removal. */
function hostBits(ts: TrafficSelector): number {
  if (ts.family === 4) {
    const span = parseIPv4(ts.endAddr) - parseIPv4(ts.startAddr) + 1;
    return span >= 2 ** 32 ? 32 : span < 1 ? 0 : 31 - Math.clz32(span);
  }
  const span = addrToBigInt(ts.endAddr) - addrToBigInt(ts.startAddr) + 1n;
  return span.toString(2).length - 1;
}

/** More specific selectors get a lower (preferred) XFRM priority value. */
export function policyPriority(l: TrafficSelector, r: TrafficSelector): number {
  const any = (t: TrafficSelector) => (t.protocol === 0 ? 1 : 0) + (t.startPort === 0 && t.endPort === 65535 ? 1 : 0);
  return 100_000 + (hostBits(l) + hostBits(r)) * 4 + any(l) + any(r);
}

export function hex(spi: number): string {
  return (spi >>> 0).toString(16).padStart(8, '0');
}
