/**
 * The SA tables and the front door for inbound datagrams:
 *
 *   IKE SAs by our SPI (bigint keys); responder half-open SAs by (peer address, SPIi), counted
 *   per peer address and in total; child SAs by inbound SPI and by (peer, outbound SPI); reqids.
 *
 * IKE_SA_INIT requests: a duplicate is answered from its half-open SA; above the cookie
 * threshold a request without a valid COOKIE gets one, statelessly (§2.6); beyond the half-open
 * limits requests are dropped. Messages for unknown SPIs are dropped, requests answered with an
 * unprotected INVALID_IKE_SPI (§2.21.4, rate-limited). Nothing here throws on bad input.
 */
import { ExchangeType, HeaderFlag, NotifyError, NotifyStatus, PayloadType } from '../constants.js';
import { decodeMessage, encodeMessage, fromInitiator, isResponse, peekInitRequest, type Decoded } from '../codec/index.js';
import type { IkeHeader, IkeMessage, NoncePayload, NotifyPayload } from '../codec/types.js';
import type { KernelIpsec, SaRef } from '../../kernel/types.js';
import type { Logger } from '../../log/index.js';
import { RateLimitedLog } from '../../log/index.js';
import type { IkeDaemonSettings, ResolvedConnection } from '../config.js';
import type { RedirectProvider } from '../redirect/provider.js';
import type { GatewayId } from '../redirect/notify.js';
import type { Scheduler } from '../scheduler.js';
import type { Endpoint } from '../transport/types.js';
import type { ChildSa } from './child-sa.js';
import type { IkeEventSink, SaContext } from './context.js';
import { CookieJar } from './cookie.js';
import { Counters, DropReason } from './counters.js';
import { IkeSa, IkeState, randomSpi } from './ike-sa.js';
import { handleInbound, reasonOf } from './inbound.js';
import { checkRules } from './wire.js';

export interface SaManagerOptions {
  kernel: KernelIpsec;
  scheduler: Scheduler;
  settings: IkeDaemonSettings;
  redirect: RedirectProvider;
  log: Logger;
  events: IkeEventSink;
  connections: () => readonly ResolvedConnection[];
  send: (packets: readonly Buffer[], local: Endpoint, remote: Endpoint) => void;
  sendKeepalive?: (local: Endpoint, remote: Endpoint) => void;
  hasSocket: (local: Endpoint) => boolean;
  followRedirect: (sa: IkeSa, to: GatewayId) => void;
}

const spiKey = (spi: Buffer): bigint => spi.readBigUInt64BE(0);
const ZERO = Buffer.alloc(8);
/** INVALID_IKE_SPI answers per second at most (they are unauthenticated). */
const INVALID_SPI_RATE = 50;

export class SaManager implements SaContext {
  readonly counters = new Counters();
  readonly kernel: KernelIpsec;
  readonly scheduler: Scheduler;
  readonly settings: IkeDaemonSettings;
  readonly redirect: RedirectProvider;
  readonly log: Logger;
  readonly events: IkeEventSink;
  private readonly ikeSas = new Map<bigint, IkeSa>();
  private readonly halfOpen = new Map<string, IkeSa>();
  private readonly halfOpenPerPeer = new Map<string, number>();
  /** Established SAs by peer identity: the SA itself, a Set only for the rare peer with several. */
  private readonly byPeerId = new Map<string, IkeSa | Set<IkeSa>>();
  private readonly childrenIn = new Map<number, ChildSa>();
  private readonly childrenOut = new Map<string, ChildSa>();
  private readonly freeReqids: number[] = [];
  private nextReqid = 1;
  readonly cookies: CookieJar;
  private readonly rl: RateLimitedLog;
  readonly unauthenticatedLog: RateLimitedLog;
  private invalidSpiWindow = { start: 0, count: 0 };
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: SaManagerOptions) {
    this.kernel = o.kernel;
    this.scheduler = o.scheduler;
    this.settings = o.settings;
    this.redirect = o.redirect;
    this.log = o.log;
    this.events = o.events;
    this.cookies = new CookieJar(o.scheduler.clock, o.settings.cookieSecretLifetimeMs);
    this.rl = new RateLimitedLog(o.log);
    this.unauthenticatedLog = new RateLimitedLog(o.log);
  }

  // ---- SaContext ----

  send(packets: readonly Buffer[], local: Endpoint, remote: Endpoint): void {
    this.o.send(packets, local, remote);
  }

  sendKeepalive(local: Endpoint, remote: Endpoint): void {
    this.o.sendKeepalive?.(local, remote);
  }

  hasSocket(local: Endpoint): boolean {
    return this.o.hasSocket(local);
  }

  newIkeSpi(): Buffer {
    for (;;) {
      const spi = randomSpi();
      if (!this.ikeSas.has(spiKey(spi))) return spi;
    }
  }

  connections(): readonly ResolvedConnection[] {
    return this.o.connections();
  }

  followRedirect(sa: IkeSa, to: GatewayId): void {
    this.o.followRedirect(sa, to);
  }

  ikeEstablished(sa: IkeSa): void {
    this.leaveHalfOpen(sa);
    if (sa.peerId) {
      const cur = this.byPeerId.get(sa.peerId);
      if (!cur) this.byPeerId.set(sa.peerId, sa);
      else if (cur instanceof Set) cur.add(sa);
      else if (cur !== sa) this.byPeerId.set(sa.peerId, new Set([cur, sa]));
    }
  }

  ikeDestroyed(sa: IkeSa): void {
    if (this.ikeSas.get(sa.spiKey) === sa) this.ikeSas.delete(sa.spiKey);
    this.leaveHalfOpen(sa);
    const cur = sa.peerId ? this.byPeerId.get(sa.peerId) : undefined;
    if (cur === sa) {
      this.byPeerId.delete(sa.peerId!);
    } else if (cur instanceof Set) {
      cur.delete(sa);
      if (cur.size === 1) this.byPeerId.set(sa.peerId!, cur.values().next().value!);
      else if (cur.size === 0) this.byPeerId.delete(sa.peerId!);
    }
  }

  ikeAdopt(sa: IkeSa): void {
    this.ikeSas.set(sa.spiKey, sa);
    this.ikeEstablished(sa);
  }

  sasOfPeer(peerId: string, except: IkeSa): IkeSa[] {
    const cur = this.byPeerId.get(peerId);
    const all = cur === undefined ? [] : cur instanceof Set ? [...cur] : [cur];
    return all.filter((s) => s !== except && !s.isDead);
  }

  hasSaOfPeer(peerId: string, except: IkeSa): boolean {
    const cur = this.byPeerId.get(peerId);
    if (cur === undefined) return false;
    if (!(cur instanceof Set)) return cur !== except && !cur.isDead;
    // Stops at the first: a load generator holds thousands of SAs with the same gateway.
    for (const s of cur) if (s !== except && !s.isDead) return true;
    return false;
  }

  registerChild(child: ChildSa): void {
    this.childrenIn.set(child.spiIn >>> 0, child);
    this.childrenOut.set(outKey(child.outRef), child);
  }

  unregisterChild(child: ChildSa): void {
    if (this.childrenIn.get(child.spiIn >>> 0) === child) this.childrenIn.delete(child.spiIn >>> 0);
    const k = outKey(child.outRef);
    if (this.childrenOut.get(k) === child) this.childrenOut.delete(k);
  }

  allocReqid(): number {
    return this.freeReqids.pop() ?? this.nextReqid++;
  }

  releaseReqid(reqid: number): void {
    if (reqid > 0) this.freeReqids.push(reqid);
  }

  // ---- tables ----

  /** Registers an SA we initiate. */
  addInitiator(sa: IkeSa): void {
    this.ikeSas.set(sa.spiKey, sa);
  }

  get ikeSaCount(): number {
    return this.ikeSas.size;
  }

  get halfOpenCount(): number {
    return this.halfOpen.size;
  }

  get childSaCount(): number {
    return this.childrenIn.size;
  }

  ikeSaList(): IkeSa[] {
    return [...this.ikeSas.values()];
  }

  findIkeSa(spi: Buffer): IkeSa | undefined {
    return spi.length === 8 ? this.ikeSas.get(spiKey(spi)) : undefined;
  }

  /** The child an SA reference belongs to (kernel expiry events). */
  childFor(ref: SaRef): ChildSa | undefined {
    return this.childrenIn.get(ref.spi >>> 0) ?? this.childrenOut.get(outKey(ref));
  }

  private leaveHalfOpen(sa: IkeSa): void {
    const k = halfOpenKey(sa.remote.address, sa.spiI);
    if (this.halfOpen.get(k) !== sa) return;
    this.halfOpen.delete(k);
    const n = (this.halfOpenPerPeer.get(sa.remote.address) ?? 1) - 1;
    if (n <= 0) this.halfOpenPerPeer.delete(sa.remote.address);
    else this.halfOpenPerPeer.set(sa.remote.address, n);
  }

  // ---- inbound ----

  /** Resolves once no inbound or timer work is running (tests step with it). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      if (this.inflight === 0) {
        await new Promise((r) => setImmediate(r));
        if (this.inflight === 0) return;
      }
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  /** Tracks work for idle(). */
  track(p: Promise<void>): void {
    this.inflight++;
    p.finally(() => {
      if (--this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  /** One received datagram (marker already removed). Never throws. */
  dispatch(data: Buffer, remote: Endpoint, local: Endpoint): void {
    try {
      this.dispatchUnsafe(data, remote, local);
    } catch (err) {
      this.counters.inc(DropReason.MALFORMED);
      this.rl.warn('dispatch-bug', { err }, 'bug while dispatching an IKE datagram');
    }
  }

  private dispatchUnsafe(data: Buffer, remote: Endpoint, local: Endpoint): void {
    if (this.halfOpen.size >= this.settings.cookieThreshold && this.cookieBeforeDecode(data, remote, local)) return;
    const dec = decodeMessage(data);
    if (!dec.ok) {
      this.counters.inc(reasonOf(dec.error));
      const h = dec.error.header;
      // §2.5: unprotected answers only to IKE_SA_INIT requests (version, critical payload).
      if (dec.error.notify && h && !isResponse(h) && h.exchangeType === ExchangeType.IKE_SA_INIT) {
        this.answerUnprotected(h, dec.error.notify.notifyType, dec.error.notify.data, remote, local);
      }
      return;
    }
    const h = dec.message.header;
    if (h.exchangeType === ExchangeType.IKE_SA_INIT && !isResponse(h) && h.spiR.equals(ZERO)) {
      // The raw bytes are copied only once an SA is made: a flood answered with cookies allocates no copy.
      this.initRequest({ message: dec.message, raw: dec.raw }, remote, local);
      return;
    }
    const d: Decoded = { message: dec.message, raw: Buffer.from(dec.raw) };
    const ours = fromInitiator(h) ? h.spiR : h.spiI;
    const sa = this.ikeSas.get(spiKey(ours));
    if (!sa) {
      this.counters.inc(DropReason.UNKNOWN_SPI);
      if (!isResponse(h) && this.settings.answerInvalidSpi && h.exchangeType !== ExchangeType.IKE_SA_INIT) {
        this.answerInvalidSpi(h, remote, local);
      }
      return;
    }
    if (sa.queueFull) {
      this.counters.inc(DropReason.BUSY);
      return;
    }
    this.track(sa.run(() => handleInbound(sa, d, remote, local)));
  }

  private initRequest(d: Decoded, remote: Endpoint, local: Endpoint): void {
    const h = d.message.header;
    if (h.messageId !== 0 || !(h.flags & HeaderFlag.INITIATOR)) {
      this.counters.inc(DropReason.MALFORMED);
      return;
    }
    const dup = this.halfOpen.get(halfOpenKey(remote.address, h.spiI));
    if (dup) {
      this.track(dup.run(async () => {
        if (!dup.tm.answerRetransmit(0, 1, remote)) this.counters.inc(DropReason.RETRANSMIT_ANSWERED);
      }));
      return;
    }
    const bad = checkRules(d.message);
    if (bad) {
      this.counters.inc(reasonOf(bad));
      return;
    }
    const conn = this.ikeConfigFor(local, remote);
    if (!conn) {
      this.counters.inc(DropReason.NO_CONFIG);
      return;
    }
    const s = this.settings;
    if (this.halfOpen.size >= s.halfOpenMax || (this.halfOpenPerPeer.get(remote.address) ?? 0) >= s.halfOpenPerPeer) {
      this.counters.inc(DropReason.HALF_OPEN_LIMIT);
      return;
    }
    if (this.halfOpen.size >= s.cookieThreshold && !this.cookieOk(d.message, remote, local)) return;
    // The SA copies both SPIs into memory of its own.
    const sa = new IkeSa(this, false, h.spiI, this.newIkeSpi(), { ...local }, { ...remote }, conn);
    this.ikeSas.set(sa.spiKey, sa);
    this.halfOpen.set(halfOpenKey(remote.address, sa.spiI), sa);
    this.halfOpenPerPeer.set(remote.address, (this.halfOpenPerPeer.get(remote.address) ?? 0) + 1);
    sa.armHalfOpen(s.halfOpenTimeoutMs);
    sa.auth = { ni: Buffer.alloc(0), nr: Buffer.alloc(0), skPi: Buffer.alloc(0), skPr: Buffer.alloc(0), initRequest: Buffer.from(d.raw) };
    this.track(sa.run(() => sa.tm.processRequest(d.message)));
  }

  /**
   * §2.6 under cookie pressure, before any decoding: an IKE_SA_INIT request without a valid
   * cookie is answered with N(COOKIE) from its header, Ni and leading notify alone. False (the
   * full path decides) for a valid cookie, a retransmission of a half-open SA, a peer no
   * connection admits, and anything that is not a well-formed IKE_SA_INIT request.
   */
  private cookieBeforeDecode(data: Buffer, remote: Endpoint, local: Endpoint): boolean {
    const p = peekInitRequest(data);
    if (!p) return false;
    const h = p.header;
    if (p.cookie && this.cookies.verify(p.cookie, p.nonce, remote.address, h.spiI)) return false;
    if (this.halfOpen.has(halfOpenKey(remote.address, h.spiI)) || !this.ikeConfigFor(local, remote)) return false;
    if (p.cookie) this.counters.inc(DropReason.COOKIE_INVALID);
    this.counters.inc(DropReason.COOKIE_SENT);
    this.answerUnprotected(h, NotifyStatus.COOKIE, this.cookies.make(p.nonce, remote.address, h.spiI), remote, local, true);
    return true;
  }

  /** §2.6: true if the request carries a valid cookie; otherwise answers N(COOKIE). */
  private cookieOk(msg: IkeMessage, remote: Endpoint, local: Endpoint): boolean {
    const first = msg.payloads[0];
    const nonce = msg.payloads.find((p): p is NoncePayload => p.type === PayloadType.NONCE)!;
    const h = msg.header;
    const cookie = first?.type === PayloadType.NOTIFY && !('unknown' in first) ? (first as NotifyPayload) : undefined;
    if (cookie?.notifyType === NotifyStatus.COOKIE) {
      if (this.cookies.verify(cookie.data, nonce.data, remote.address, h.spiI)) return true;
      this.counters.inc(DropReason.COOKIE_INVALID);
    }
    this.counters.inc(DropReason.COOKIE_SENT);
    this.answerUnprotected(h, NotifyStatus.COOKIE, this.cookies.make(nonce.data, remote.address, h.spiI), remote, local, true);
    return false;
  }

  /** An unprotected response with one notify (COOKIE, INVALID_MAJOR_VERSION, INVALID_IKE_SPI...). */
  private answerUnprotected(h: IkeHeader, notifyType: number, data: Buffer, remote: Endpoint, local: Endpoint, zeroSpiR = false): void {
    const msg: IkeMessage = {
      header: {
        spiI: h.spiI,
        spiR: zeroSpiR ? ZERO : h.spiR,
        majorVersion: 2,
        minorVersion: 0,
        exchangeType: h.exchangeType,
        flags: HeaderFlag.RESPONSE | (h.flags & HeaderFlag.INITIATOR ? 0 : HeaderFlag.INITIATOR),
        messageId: h.messageId,
      },
      payloads: [{ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType, data }],
    };
    this.send([encodeMessage(msg)], local, remote);
  }

  private answerInvalidSpi(h: IkeHeader, remote: Endpoint, local: Endpoint): void {
    const now = this.scheduler.now();
    const w = this.invalidSpiWindow;
    if (now - w.start >= 1000) {
      w.start = now;
      w.count = 0;
    }
    if (++w.count > INVALID_SPI_RATE) return;
    this.answerUnprotected(h, NotifyError.INVALID_IKE_SPI, Buffer.alloc(0), remote, local);
  }

  /** The connection whose addresses admit this local/remote pair (config order). */
  ikeConfigFor(local: Endpoint, remote: Endpoint): ResolvedConnection | undefined {
    const ok = (list: readonly string[] | undefined, a: string) => !list || list.length === 0 || list.includes('%any') || list.includes(a);
    return this.connections().find((c) => ok(c.cfg.local.addrs, local.address) && ok(c.cfg.remote.addrs, remote.address));
  }

  /** Destroys every SA (daemon stop): children leave the kernel. */
  async destroyAll(reason: string): Promise<void> {
    for (const sa of [...this.ikeSas.values()]) await sa.run(() => sa.destroy(reason));
  }

  /** Whether a child with this state belongs to a live SA (tests). */
  liveChildren(): ChildSa[] {
    return [...this.childrenIn.values()];
  }

  stateCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const sa of this.ikeSas.values()) out[sa.state] = (out[sa.state] ?? 0) + 1;
    return out;
  }
}

function halfOpenKey(addr: string, spiI: Buffer): string {
  return `${addr}|${spiI.toString('hex')}`;
}

function outKey(ref: SaRef): string {
  return `${ref.dst}|${ref.spi >>> 0}`;
}

export { IkeState };
