/**
 * One VRRP instance: the pure state machine (./state-machine.ts) driven by timers and received
 * adverts, its actions carried out on a VrrpLink (send, announce) and KernelNet (the VIPs).
 *
 *   link packet ─► checkAdvert (§7.1) ─► step(Advertisement) ─► actions
 *   timer expiry ───────────────────────► step(Adver_Timer | Master_Down_Timer) ─► actions
 *
 * Actions run in the order the machine gives them. Sends and timers are immediate; VIP changes
 * and announcements go through one promise queue, so a gratuitous ARP never precedes the address
 * it announces and a removal never overtakes an addition.
 *
 * Two options wrap the VIP changes in that queue: virtualMac (./virtual-mac.ts: the macvlan comes
 * up before the VIPs go on it, adverts and announcements leave from it while master, it goes down
 * after they are removed) and accept: false (RFC 9568 §6.1 Accept_Mode: a VipAcceptFilter's drop
 * rules go in before the VIPs and out after them; the address owner always accepts).
 */
import { EventEmitter } from 'node:events';
import { logger, RateLimitedLog, type Logger } from '../log/index.js';
import type { AddressParams, KernelNet, VipAcceptFilter, VrrpLink, VrrpPacket } from '../kernel/types.js';
import { type ChecksumForm, PRIORITY_OWNER, VRRP_GROUP_V4, VRRP_GROUP_V6, type VrrpState, virtualLinkLocal } from './constants.js';
import type { VrrpOptions } from './options.js';
import { validateVrrpOptions } from './options.js';
import { checkAdvert, DROP_REASONS, type DropReason, encodeAdvert } from './packet.js';
import {
  currentMasterDownMs,
  initialState,
  step,
  type MachineConfig,
  type MachineState,
  type TimerName,
  type VrrpAction,
  type VrrpEvent,
} from './state-machine.js';
import { VirtualMacLink } from './virtual-mac.js';

/** keepalived's defaults (garp_master_repeat 5, garp_master_delay 5 s): 5 at once, 5 more 5 s later. */
export const ANNOUNCE_REPEAT = 5;
export const ANNOUNCE_SECOND_BURST_MS = 5000;
/** A master re-announces after a healed split brain at most this often. */
export const SPLIT_BRAIN_ANNOUNCE_MIN_MS = 2000;

export type InstanceDropReason = DropReason | 'unknown-peer';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, Math.ceil(ms))),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface VrrpTransition {
  from: VrrpState;
  to: VrrpState;
  reason: string;
  /** Clock time (ms). */
  at: number;
}

export interface VrrpStatus {
  interface: string;
  vrid: number;
  family: 4 | 6;
  state: VrrpState;
  priority: number;
  localAddress: string;
  /** The current master's address (ours when master), if known. */
  masterAddress?: string;
  /** Master_Adver_Interval and Master_Down_Interval in ms. */
  masterAdverInterval: number;
  masterDownInterval: number;
  transitions: number;
  lastTransition?: VrrpTransition;
  advertsIn: number;
  advertsOut: number;
  announcements: number;
  checksumMismatches: number;
  /** Adverts accepted whose address list differs from ours (RFC 9568 §7.1: logged, not dropped). */
  addressMismatches: number;
  drops: Record<InstanceDropReason, number>;
  vipErrors: number;
  /** The virtual MAC's link (virtualMac: true). */
  virtualMac?: { interface: string; address: string };
  /** Accept_Mode (RFC 9568 §6.1); `filtering`: the drop rules are in (a master, not the owner). */
  accept: boolean;
  filtering: boolean;
}

export interface VrrpInstanceDeps {
  link: VrrpLink;
  net: KernelNet;
  /** Needed for accept: false (RFC 9568 §6.1 Accept_Mode) unless the priority is 255. */
  filter?: VipAcceptFilter;
  clock?: Clock;
  log?: Logger;
  /**
   * Called while the VIPs are still held, just before a master removes them (Shutdown, or a
   * higher-priority advert: RFC 9568 §6.4.3), not by the startup clean-up: what serves the VIPs
   * moves its clients away. The removal waits for it at most `graceMs` (a duplicate address on
   * the LAN meanwhile: keep it short).
   */
  release?: VipReleaseHook;
}

/** Why a master gives up its VIPs: it stops (priority 0 sent), or another router won (§6.4.3). */
export type VipReleaseReason = 'shutdown' | 'superseded';

export interface VipReleaseHook {
  graceMs: number;
  run(addresses: string[], reason: VipReleaseReason): Promise<void>;
}

export interface VrrpInstanceEvents {
  state: [VrrpTransition];
  /** The VIPs were added (present) or are about to be removed: what serves them follows. */
  vips: [{ present: boolean; addresses: string[] }];
}

export class VrrpInstance extends EventEmitter<VrrpInstanceEvents> {
  private readonly cfg: MachineConfig;
  private s: MachineState;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly limited: RateLimitedLog;
  private readonly timers = new Map<TimerName | 'announce', unknown>();
  private readonly family: 4 | 6;
  private readonly vips: { cidr: string; address: string }[];
  private readonly mismatchLogged = new Set<string>();
  private readonly addressMismatchLogged = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private lastSplitBrainAnnounce = -Infinity;
  /** When a lower-priority master was last heard (split-brain episodes, see announce()). */
  private lastLowerMasterSeen = -Infinity;
  private readonly counters = { advertsIn: 0, advertsOut: 0, announcements: 0, checksumMismatches: 0, addressMismatches: 0, transitions: 0, vipErrors: 0 };
  private readonly drops = Object.fromEntries([...DROP_REASONS, 'unknown-peer'].map((r) => [r, 0])) as Record<InstanceDropReason, number>;
  private lastTransition: VrrpTransition | undefined;
  private readonly vmac: VirtualMacLink | undefined;
  /** The Accept_Mode False drop rules' name (with a filter); `blocking`: installed while master. */
  private readonly filterName: string | undefined;
  private readonly blocking: boolean;
  private filtering = false;

  constructor(
    readonly options: VrrpOptions,
    private readonly deps: VrrpInstanceDeps,
  ) {
    super();
    this.family = validateVrrpOptions(options);
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? logger('vrrp', { vrid: options.vrid, interface: options.interface });
    this.limited = new RateLimitedLog(this.log);
    this.vips = options.vips.map((cidr) => ({ cidr, address: cidr.split('/')[0] }));
    // RFC 9568 §5.2.9: an IPv6 virtual router's first address is its link-local one.
    if (this.family === 6 && !/^fe[89ab][0-9a-f]:/i.test(this.vips[0].address)) {
      const lla = virtualLinkLocal(options.vrid);
      this.vips.unshift({ cidr: `${lla}/64`, address: lla });
    }
    this.cfg = {
      priority: options.priority,
      advertIntervalCs: options.advertInterval / 10,
      preempt: options.preempt,
      preemptDelayMs: options.preemptDelay,
      primaryAddress: deps.link.localAddress,
    };
    this.s = initialState(this.cfg);
    if (options.virtualMac) this.vmac = new VirtualMacLink(deps.net, options.interface, options.vrid, this.family, this.log);
    // RFC 9568 §6.4.3: the owner always accepts; others only in Accept_Mode.
    this.blocking = !options.accept && options.priority !== PRIORITY_OWNER;
    if (this.blocking && !deps.filter) throw new TypeError('VrrpInstance: accept: false needs deps.filter (a VipAcceptFilter)');
    if (deps.filter) this.filterName = `vrrp_${options.interface}_${options.vrid}`;
    deps.link.setReceiver((p) => this.receive(p));
  }

  get state(): VrrpState {
    return this.s.state;
  }

  /**
   * RFC 9568 §6.4.1 Startup. With a virtual MAC or Accept_Mode False, what a killed run left is
   * cleared and the macvlan made first (the returned promise rejects if that fails: nothing
   * started); otherwise the machine starts at once.
   */
  start(): Promise<void> {
    if (!this.vmac && !this.filterName) {
      this.dispatch({ type: 'Startup', now: this.clock.now() });
      return Promise.resolve();
    }
    return (async () => {
      if (this.filterName) await this.clearStaleFilter(this.filterName);
      await this.vmac?.prepare();
      this.dispatch({ type: 'Startup', now: this.clock.now() });
    })();
  }

  /**
   * RFC 9568 §6.4 Shutdown: a master sends priority 0 and removes its VIPs. Resolves once the
   * VIPs are gone; the link stays open (the caller closes it).
   */
  async stop(): Promise<void> {
    this.dispatch({ type: 'Shutdown' });
    for (const name of [...this.timers.keys()]) this.cancel(name);
    await this.queue;
    await this.vmac?.remove();
  }

  /** Drop rules a killed run left would hide the VIPs even in accept mode: removed first. */
  private async clearStaleFilter(name: string): Promise<void> {
    try {
      if (await this.deps.filter!.unblock(name)) this.log.warn({ table: name }, 'removed Accept_Mode drop rules left by an earlier run');
    } catch (err) {
      if (this.blocking) throw err;
      this.log.warn({ err: String(err) }, 'cannot look for Accept_Mode drop rules left by an earlier run');
    }
  }

  status(): VrrpStatus {
    return {
      interface: this.options.interface,
      vrid: this.options.vrid,
      family: this.family,
      state: this.s.state,
      priority: this.cfg.priority,
      localAddress: this.deps.link.localAddress,
      masterAddress: this.s.masterAddress,
      masterAdverInterval: this.s.masterAdverIntervalCs * 10,
      masterDownInterval: currentMasterDownMs(this.cfg, this.s),
      transitions: this.counters.transitions,
      lastTransition: this.lastTransition,
      advertsIn: this.counters.advertsIn,
      advertsOut: this.counters.advertsOut,
      announcements: this.counters.announcements,
      checksumMismatches: this.counters.checksumMismatches,
      addressMismatches: this.counters.addressMismatches,
      drops: { ...this.drops },
      vipErrors: this.counters.vipErrors,
      ...(this.vmac && { virtualMac: { interface: this.vmac.name, address: this.vmac.address } }),
      accept: this.options.accept,
      filtering: this.filtering,
    };
  }

  private dispatch(e: VrrpEvent): void {
    const r = step(this.cfg, this.s, e);
    this.s = r.state;
    for (const a of r.actions) this.perform(a);
  }

  private perform(a: VrrpAction): void {
    switch (a.type) {
      case 'Transition':
        return this.transition(a.from, a.to, a.reason);
      case 'SendAdvertisement':
        return this.sendAdvert(a.priority);
      case 'StartTimer':
        this.cancel(a.timer);
        this.timers.set(a.timer, this.clock.setTimeout(() => this.expire(a.timer), a.ms));
        return;
      case 'CancelTimer':
        return this.cancel(a.timer);
      case 'AddVips':
        return this.enqueue(() => this.addVips());
      case 'RemoveVips': {
        this.cancel('announce');
        // dispatch() set the new state first: Initialize after Shutdown, Backup after losing.
        const reason: VipReleaseReason = this.s.state === 'Initialize' ? 'shutdown' : 'superseded';
        return this.enqueue(() => this.removeVips(a.cleanup ?? false, reason));
      }
      case 'Announce':
        return this.announce(a.reason);
    }
  }

  private expire(timer: TimerName): void {
    this.timers.delete(timer);
    this.dispatch({ type: timer });
  }

  private cancel(name: TimerName | 'announce'): void {
    const h = this.timers.get(name);
    if (h !== undefined) this.clock.clearTimeout(h);
    this.timers.delete(name);
  }

  private transition(from: VrrpState, to: VrrpState, reason: string): void {
    const t = { from, to, reason, at: this.clock.now() };
    this.counters.transitions++;
    this.lastTransition = t;
    this.log.info({ from, to, reason, priority: this.cfg.priority }, `VRRP ${from} -> ${to}`);
    this.emit('state', t);
  }

  private sendAdvert(priority: number): void {
    const link = this.deps.link;
    const dsts = this.options.unicastPeers?.length ? this.options.unicastPeers : [this.family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6];
    const advert = {
      vrid: this.options.vrid,
      priority,
      maxAdvertInterval: this.cfg.advertIntervalCs,
      addresses: this.vips.map((v) => v.address),
    };
    for (const dst of dsts) {
      const data = encodeAdvert(advert, { family: this.family, src: link.localAddress, dst }, this.options.checksum);
      try {
        link.send(data, dst);
        this.counters.advertsOut++;
      } catch (err) {
        this.limited.warn('send', { dst, err: String(err) }, 'VRRP advert not sent');
      }
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task, task);
  }

  private addressParams(cidr: string): AddressParams {
    const linkLocal = /^fe[89ab][0-9a-f]:/i.test(cidr);
    return { address: cidr, dev: this.vmac?.name ?? this.options.interface, noDad: this.family === 6, scope: linkLocal ? 'link' : 'global', noPrefixRoute: linkLocal };
  }

  private async addVips(): Promise<void> {
    if (!(await this.vipsLinkUp())) return;
    for (const v of this.vips) {
      try {
        await this.deps.net.addAddress(this.addressParams(v.cidr));
      } catch (err) {
        // EEXIST: already there (an address owner, or left by an earlier run): what we want.
        if ((err as { errno?: string }).errno === 'EEXIST') continue;
        this.counters.vipErrors++;
        this.log.error({ vip: v.cidr, err: String(err) }, 'cannot add the virtual address');
      }
    }
    if (this.vmac) await this.viaVirtualMac(true);
    // The addresses are in: what serves them (the gateway's IKE sockets on the VIP) may bind now.
    this.emit('vips', { present: true, addresses: this.vips.map((v) => v.address) });
  }

  private async removeVips(cleanup: boolean, reason: VipReleaseReason): Promise<void> {
    if (!cleanup && this.deps.release) await this.releaseWithin(this.deps.release, reason);
    // Whatever serves the VIPs lets go first, so no socket is left bound to a vanished address.
    if (!cleanup) this.emit('vips', { present: false, addresses: this.vips.map((v) => v.address) });
    // The address owner (priority 255) keeps its own addresses (RFC 9568 §6.4.3 leaves them).
    if (this.cfg.priority === PRIORITY_OWNER) return;
    if (this.vmac && !cleanup) await this.viaVirtualMac(false);
    for (const v of this.vips) {
      try {
        await this.deps.net.deleteAddress(this.addressParams(v.cidr));
        if (cleanup) this.log.warn({ vip: v.cidr }, 'removed a virtual address left by an earlier run');
      } catch (err) {
        // Absent: what a backup wants (and the normal case of the startup clean-up).
        if (cleanup || (err as { errno?: string }).errno === 'EADDRNOTAVAIL') continue;
        this.counters.vipErrors++;
        this.log.error({ vip: v.cidr, err: String(err) }, 'cannot remove the virtual address');
      }
    }
    if (!cleanup) await this.vipsLinkDown();
  }

  /** The release hook, bounded by its grace on this instance's clock; its failure is only logged. */
  private async releaseWithin(hook: VipReleaseHook, reason: VipReleaseReason): Promise<void> {
    let timer: unknown;
    const grace = new Promise<void>((r) => (timer = this.clock.setTimeout(r, hook.graceMs)));
    const run = hook.run(this.vips.map((v) => v.address), reason).catch((err: unknown) => {
      this.log.error({ err: String(err) }, 'moving the clients of the virtual addresses failed; removing them anyway');
    });
    await Promise.race([run, grace]);
    this.clock.clearTimeout(timer);
  }

  /**
   * Before the VIPs go in: Accept_Mode False's drop rules (so the VIPs never accept in between),
   * then the virtual MAC's link up. False (nothing added) if the link cannot come up.
   */
  private async vipsLinkUp(): Promise<boolean> {
    if (this.blocking && this.filterName) {
      try {
        await this.deps.filter!.block(this.filterName, this.vips.map((v) => v.address));
        this.filtering = true;
      } catch (err) {
        this.counters.vipErrors++;
        this.log.error({ err: String(err) }, 'cannot install the Accept_Mode drop rules (accept: false): the VIPs would accept traffic, so they are not added');
        return false;
      }
    }
    if (!this.vmac) return true;
    try {
      await this.vmac.up();
      return true;
    } catch (err) {
      this.counters.vipErrors++;
      this.log.error({ link: this.vmac.name, err: String(err) }, 'cannot bring the virtual MAC link up: the VIPs are not added');
      return false;
    }
  }

  /** After the VIPs went: the virtual MAC's link down, the drop rules out. */
  private async vipsLinkDown(): Promise<void> {
    if (this.vmac) {
      await this.vmac.down().catch((err: unknown) => {
        this.counters.vipErrors++;
        this.log.error({ link: this.vmac!.name, err: String(err) }, 'cannot bring the virtual MAC link down');
      });
    }
    if (this.filterName && this.filtering) {
      await this.deps.filter!.unblock(this.filterName).then(
        () => (this.filtering = false),
        (err: unknown) => this.log.error({ err: String(err) }, 'cannot remove the Accept_Mode drop rules'),
      );
    }
  }

  /** Adverts and announcements from the virtual MAC (RFC 9568 §7.3) while master, else the interface's. */
  private async viaVirtualMac(on: boolean): Promise<void> {
    const link = this.deps.link;
    if (!link.transmitVia) {
      if (on) this.log.warn({}, 'this VRRP link cannot send from the virtual MAC: adverts keep the interface MAC');
      return;
    }
    try {
      await link.transmitVia(on ? { interface: this.vmac!.name, hardwareAddress: this.vmac!.address } : undefined);
    } catch (err) {
      this.log.error({ link: this.vmac!.name, err: String(err) }, 'cannot send from the virtual MAC link: adverts keep the interface MAC');
    }
  }

  /** A burst of ANNOUNCE_REPEAT now (after the VIPs are in), another ANNOUNCE_SECOND_BURST_MS later. */
  private announce(reason: 'became-master' | 'split-brain'): void {
    if (reason === 'split-brain') {
      const now = this.clock.now();
      // A lower-priority master that keeps advertising (it cannot hear us) gets a burst at most
      // every SPLIT_BRAIN_ANNOUNCE_MIN_MS; one heard again after a Master_Down_Interval of
      // silence is a new split brain (a link that flaps), whose healing is announced at once.
      const newEpisode = now - this.lastLowerMasterSeen > currentMasterDownMs(this.cfg, this.s);
      this.lastLowerMasterSeen = now;
      if (!newEpisode && now - this.lastSplitBrainAnnounce < SPLIT_BRAIN_ANNOUNCE_MIN_MS) return;
      this.lastSplitBrainAnnounce = now;
      this.log.warn({}, 'another master with lower priority seen (split brain healing): re-announcing the VIPs');
    }
    const burst = () =>
      this.enqueue(async () => {
        if (this.s.state !== 'Master') return;
        const addrs = this.vips.map((v) => v.address);
        for (let i = 0; i < ANNOUNCE_REPEAT; i++) {
          try {
            this.deps.link.announce(addrs);
            this.counters.announcements++;
          } catch (err) {
            this.limited.warn('announce', { err: String(err) }, 'gratuitous ARP / NA not sent');
          }
        }
      });
    burst();
    this.cancel('announce');
    this.timers.set(
      'announce',
      this.clock.setTimeout(() => {
        this.timers.delete('announce');
        burst();
      }, ANNOUNCE_SECOND_BURST_MS),
    );
  }

  private receive(p: VrrpPacket): void {
    if (p.src === this.deps.link.localAddress) return; // our own advert (multicast loop is off; belt and braces)
    const peers = this.options.unicastPeers;
    if (peers?.length && !peers.includes(p.src)) return this.dropped('unknown-peer', p.src, `not one of the unicast peers`);
    const r = checkAdvert(p, { vrid: this.options.vrid, acceptChecksums: this.options.acceptChecksums });
    if (!r.ok) {
      if (r.reason === 'checksum') this.checksumMismatch(p.src, r.seenForm);
      return this.dropped(r.reason, p.src, r.detail);
    }
    this.counters.advertsIn++;
    if (r.advert.priority !== 0) this.checkAddresses(p.src, r.advert.addresses);
    this.dispatch({ type: 'Advertisement', src: p.src, priority: r.advert.priority, maxAdvertIntervalCs: r.advert.maxAdvertInterval, now: this.clock.now() });
  }

  private dropped(reason: InstanceDropReason, src: string, detail: string): void {
    this.drops[reason]++;
    // Other VRIDs on a shared LAN are normal traffic, not faults.
    if (reason !== 'vrid') this.limited.warn(`drop-${reason}`, { src, reason, detail }, 'VRRP packet dropped');
  }

  /** RFC 9568 §7.1: a differing address list is a misconfiguration to log (once per peer), not a drop. */
  private checkAddresses(src: string, addresses: string[]): void {
    const ours = this.vips.map((v) => v.address);
    if (addresses.length === ours.length && addresses.every((a, i) => a === ours[i])) return;
    this.counters.addressMismatches++;
    if (this.addressMismatchLogged.has(src)) return;
    this.addressMismatchLogged.add(src);
    this.log.warn({ peer: src, theirs: addresses, ours }, `VRRP advert from ${src} lists other virtual addresses than this router: check both configurations`);
  }

  private checksumMismatch(src: string, seen: ChecksumForm | undefined): void {
    this.counters.checksumMismatches++;
    if (this.mismatchLogged.has(src)) return;
    this.mismatchLogged.add(src);
    this.log.warn(
      { peer: src, expected: this.options.acceptChecksums, seen: seen ?? 'none of the known forms' },
      `VRRP checksum mismatch from ${src}: expected ${this.options.acceptChecksums.join(' or ')}, seen ${seen ?? 'none of the known forms'}` +
        (seen ? ` (add '${seen}' to acceptChecksums to interoperate)` : ''),
    );
  }
}
