/**
 * The SA tables and the front door for inbound datagrams:
 *
 *   IKE SAs by our SPI (bigint keys); responder half-open SAs by (peer address, SPIi), counted
 *   per peer address and in total; child SAs by inbound SPI and by (peer, outbound SPI); reqids;
 *   the IKE SAs of each connection we initiate (see `byConnection`).
 *
 * IKE_SA_INIT requests: a duplicate is answered from its half-open SA; above the cookie
 * threshold a request without a valid COOKIE gets one, statelessly (§2.6); beyond the half-open
 * limits requests are dropped; the redirect provider is asked (RFC 5685 §4, for requests with
 * REDIRECT_SUPPORTED or REDIRECTED_FROM) before any SA, SPI, DH or nonce is made, and a
 * REDIRECT or a refusal is answered statelessly (./init-redirect.ts). Messages for unknown SPIs are dropped, requests answered with an
 * unprotected INVALID_IKE_SPI (§2.21.4, rate-limited). Nothing here throws on bad input.
 */
import { ExchangeType, HeaderFlag, NotifyError, NotifyStatus, NotifyType, PayloadType, nameOf } from '../constants.js';
import { decodeMessage, encodeMessage, fromInitiator, isResponse, peekInitRequest, type Decoded } from '../codec/index.js';
import type { IkeHeader, IkeMessage, NoncePayload, NotifyPayload } from '../codec/types.js';
import type { KernelIpsec, SaRef } from '../../kernel/types.js';
import type { Logger } from '../../log/index.js';
import { RateLimitedLog } from '../../log/index.js';
import { ipToBytes } from '../../net/ip.js';
import type { IkeDaemonSettings, ResolvedConnection } from '../config.js';
import { isRefusal, type RedirectProvider } from '../redirect/provider.js';
import { encodeRedirect, gatewayIdToString } from '../redirect/notify.js';
import type { GatewayId } from '../redirect/notify.js';
import type { Scheduler } from '../scheduler.js';
import type { Endpoint } from '../../net/endpoint.js';
import type { ChildSa } from './child-sa.js';
import type { IkeEventSink, SaContext, SaTasks } from './context.js';
import { CookieJar } from './cookie.js';
import { Counters, DropReason } from './counters.js';
import { IkeSa } from './ike-sa.js';
import { IkeFlag, randomSpi } from './state.js';
import { handleInbound, reasonOf } from './inbound.js';
import { checkRules } from './wire.js';
import { redirectInput, type InitRedirectInput } from './init-redirect.js';

export interface SaManagerOptions {
  /** The exchanges (tasks/index.ts ikeTasks): the SA layer does not import them. */
  tasks: SaTasks;
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

/**
 * Half-open admission (RFC 7296 §2.6 leaves the policy to us). A cookie proves only that the
 * source can receive at its address, so an attacker with many real addresses can still fill
 * the half-open table; what bounds it:
 *   - per source: IPv4 per address; IPv6 per /64, since one host is routinely given a whole
 *     /64 and per-address counting would let it present 2^64 "peers" (settings.halfOpenPerPeer);
 *   - in total: settings.halfOpenMax, beyond which unknown sources are refused, while sources
 *     that completed IKE_AUTH before (remembered, most recent KNOWN_PEERS_MAX addresses) may use
 *     a further reserve of a tenth of halfOpenMax: base stations that were connected get back
 *     in during a flood of cookie-returning strangers.
 */
const KNOWN_PEERS_MAX = 100_000;
const KNOWN_PEER_RESERVE_SHARE = 0.1;

/** The unit half-open SAs are counted per: an IPv4 address, or an IPv6 /64. */
export function halfOpenSourceKey(address: string): string {
  if (!address.includes(':')) return address;
  return `${ipToBytes(address).subarray(0, 8).toString('hex')}/64`;
}
const ZERO = Buffer.alloc(8);
/** INVALID_IKE_SPI answers per second at most (they are unauthenticated). */
const INVALID_SPI_RATE = 50;

export class SaManager implements SaContext {
  readonly counters = new Counters();
  readonly exchanges = new Counters();
  readonly kernel: KernelIpsec;
  readonly scheduler: Scheduler;
  readonly settings: IkeDaemonSettings;
  readonly redirect: RedirectProvider;
  readonly log: Logger;
  readonly events: IkeEventSink;
  readonly tasks: SaTasks;
  private readonly ikeSas = new Map<bigint, IkeSa>();
  private readonly halfOpen = new Map<string, IkeSa>();
  /** Half-open SAs per source (halfOpenSourceKey). */
  private readonly halfOpenPerPeer = new Map<string, number>();
  /** Addresses that completed IKE_AUTH, oldest first (Map order; refreshed on each success). */
  private readonly knownPeers = new Map<string, true>();
  /** Established SAs by peer identity: the SA itself, a Set only for the rare peer with several. */
  private readonly byPeerId = new Map<string, IkeSa | Set<IkeSa>>();
  /** Established IKE SAs per connection with ownIdentity (IkeFlag.CONN_COUNTED marks them). */
  private readonly establishedOfConn = new Map<ResolvedConnection, number>();
  /**
   * IKE SAs by connection name, for the connections this node initiates (SAs we started, and
   * established or rekeyed SAs of a connection whose remote.addrs names a peer): a base station's
   * keeper asks "does this connection have a live SA?" per attempt and per loss, which must not
   * walk every SA of a 100,000-base-station simulator. A responder-only connection (%any: a
   * gateway's, holding all its SAs) is not indexed, so a gateway pays nothing per SA for it.
   * The SA itself, a Set only while a connection has several (a rekey, a redirect being followed).
   */
  private readonly byConnection = new Map<string, IkeSa | Set<IkeSa>>();
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
    this.tasks = o.tasks;
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

  /**
   * A datagram could not be sent (no route to the peer, EPERM from a firewall or under packet
   * loss, a full socket buffer). Like a datagram lost on the wire, it is left to the
   * retransmission schedule (RFC 7296 §2.1): the SA is kept. Counted, and logged at warn with
   * the peer, rate limited (a route flap fails every send for a while).
   */
  sendFailed(err: Error, local: Endpoint, remote: Endpoint | undefined): void {
    this.counters.inc(DropReason.SEND_ERROR);
    const peer = remote ? `${remote.address}:${remote.port}` : undefined;
    this.rl.warn('send-error', { peer, local: `${local.address}:${local.port}`, error: err.message }, 'cannot send an IKE datagram; retransmission will retry');
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
    this.ikeAuthenticated(sa);
    const conn = sa.conn;
    if (conn?.ownIdentity && !(sa.flags & IkeFlag.CONN_COUNTED)) {
      sa.flags |= IkeFlag.CONN_COUNTED;
      this.establishedOfConn.set(conn, (this.establishedOfConn.get(conn) ?? 0) + 1);
    }
    if (sa.peerId) multiAdd(this.byPeerId, sa.peerId, sa);
    if (sa.conn && initiates(sa.conn)) multiAdd(this.byConnection, sa.conn.name, sa);
  }

  ikeAuthenticated(sa: IkeSa): void {
    this.leaveHalfOpen(sa);
    this.rememberPeer(sa.remote.address);
  }

  ikeDestroyed(sa: IkeSa): void {
    if (this.ikeSas.get(sa.spiKey) === sa) this.ikeSas.delete(sa.spiKey);
    this.leaveHalfOpen(sa);
    if (sa.flags & IkeFlag.CONN_COUNTED) {
      sa.flags &= ~IkeFlag.CONN_COUNTED;
      const n = (this.establishedOfConn.get(sa.conn!) ?? 1) - 1;
      if (n > 0) this.establishedOfConn.set(sa.conn!, n);
      else this.establishedOfConn.delete(sa.conn!);
    }
    if (sa.peerId) multiDelete(this.byPeerId, sa.peerId, sa);
    if (sa.conn) multiDelete(this.byConnection, sa.conn.name, sa);
  }

  ikeAdopt(sa: IkeSa): void {
    this.ikeSas.set(sa.spiKey, sa);
    this.ikeEstablished(sa);
  }

  /**
   * The IKE SAs of a connection this node initiates, in any state (dead ones are gone once
   * destroyed). O(the connection's SAs). For a responder-only connection (remote %any): none.
   */
  ikeSasOfConnection(name: string): IkeSa[] {
    const cur = this.byConnection.get(name);
    return cur === undefined ? [] : cur instanceof Set ? [...cur] : [cur];
  }

  sasOfPeer(peerId: string, except: IkeSa): IkeSa[] {
    const cur = this.byPeerId.get(peerId);
    const all = cur === undefined ? [] : cur instanceof Set ? [...cur] : [cur];
    return all.filter((s) => s !== except && !s.isDead);
  }

  hasSaOfConnection(conn: ResolvedConnection, except: IkeSa): boolean {
    const n = this.establishedOfConn.get(conn) ?? 0;
    return n - (except.conn === conn && except.flags & IkeFlag.CONN_COUNTED ? 1 : 0) > 0;
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

  policyHolder(child: ChildSa): ChildSa | undefined {
    const ike = child.ike;
    const peers = ike.initiator && ike.conn ? this.byConnection.get(ike.conn.name) : ike.peerId ? this.byPeerId.get(ike.peerId) : undefined;
    if (peers === undefined) return undefined;
    for (const sa of peers instanceof Set ? peers : [peers]) {
      if (sa === ike || sa.isDead) continue;
      for (const c of sa.children) if (c.holdsPoliciesFor(child)) return c;
    }
    return undefined;
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
    if (sa.conn) multiAdd(this.byConnection, sa.conn.name, sa);
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
    const src = halfOpenSourceKey(sa.remote.address);
    const n = (this.halfOpenPerPeer.get(src) ?? 1) - 1;
    if (n <= 0) this.halfOpenPerPeer.delete(src);
    else this.halfOpenPerPeer.set(src, n);
  }

  private rememberPeer(address: string): void {
    this.knownPeers.delete(address);
    this.knownPeers.set(address, true);
    if (this.knownPeers.size > KNOWN_PEERS_MAX) this.knownPeers.delete(this.knownPeers.keys().next().value!);
  }

  /** Why a new half-open SA from `address` is refused, or undefined to admit it (see above). */
  private halfOpenRefusal(address: string): string | undefined {
    const s = this.settings;
    if ((this.halfOpenPerPeer.get(halfOpenSourceKey(address)) ?? 0) >= s.halfOpenPerPeer) {
      return address.includes(':') ? 'halfOpenPerPeer reached for this /64' : 'halfOpenPerPeer reached for this address';
    }
    if (this.halfOpen.size < s.halfOpenMax) return undefined;
    if (this.knownPeers.has(address) && this.halfOpen.size < s.halfOpenMax + Math.ceil(s.halfOpenMax * KNOWN_PEER_RESERVE_SHARE)) return undefined;
    return 'halfOpenMax reached';
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
        this.answerUnprotected(h, dec.error.notify.notifyType, dec.error.notify.data, remote, local, data.length);
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
      // §2.21.4 is about encrypted requests: a bare header (28 octets) would draw a larger
      // answer (36), a reflection at a spoofed source; a real request carries SK or SKF.
      if (!isResponse(h) && this.settings.answerInvalidSpi && h.exchangeType !== ExchangeType.IKE_SA_INIT && isProtected(d.message)) {
        this.answerInvalidSpi(h, data.length, remote, local);
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
      // Answered only if it is the same request (digest), not any datagram with its SPIi.
      this.track(dup.run(async () => {
        if (!dup.tm.answerRetransmit(0, d.raw, 1, remote)) this.counters.inc(DropReason.INVALID_MESSAGE_ID);
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
    const refused = this.halfOpenRefusal(remote.address);
    if (refused) {
      this.counters.inc(DropReason.HALF_OPEN_LIMIT);
      this.unauthenticatedLog.warn(
        `half-open:${refused}`,
        { peer: remote.address, halfOpen: this.halfOpen.size, halfOpenMax: s.halfOpenMax, halfOpenPerPeer: s.halfOpenPerPeer },
        `IKE_SA_INIT refused: ${refused} (half-open IKE SAs exhausted: a flood, or too low a limit)`,
      );
      return;
    }
    if (this.halfOpen.size >= s.cookieThreshold && !this.cookieOk(d.message, d.raw.length, remote, local)) return;
    const redirect = redirectInput(d.message);
    if (redirect && this.answeredByRedirectProvider(h, redirect, d.raw.length, remote, local)) return;
    // The SA copies both SPIs into memory of its own.
    const sa = new IkeSa(this, false, h.spiI, this.newIkeSpi(), { ...local }, { ...remote }, conn);
    if (redirect) sa.flags |= IkeFlag.PEER_REDIRECT;
    this.ikeSas.set(sa.spiKey, sa);
    this.halfOpen.set(halfOpenKey(remote.address, sa.spiI), sa);
    const src = halfOpenSourceKey(remote.address);
    this.halfOpenPerPeer.set(src, (this.halfOpenPerPeer.get(src) ?? 0) + 1);
    if (this.halfOpen.size > s.halfOpenMax) this.counters.inc(DropReason.HALF_OPEN_RESERVE);
    sa.armHalfOpen(s.halfOpenTimeoutMs);
    sa.auth = { ni: Buffer.alloc(0), nr: Buffer.alloc(0), skPi: Buffer.alloc(0), skPr: Buffer.alloc(0), initRequest: Buffer.from(d.raw) };
    this.track(sa.run(() => {
      sa.tm.noteRequest(d.raw);
      return sa.tm.processRequest(d.message);
    }));
  }

  /**
   * RFC 5685 §4: asks the provider about a new IKE SA before anything is allocated for it. A
   * target is answered with a bare N(REDIRECT) carrying the request's Ni, a refusal with its
   * error notify (TEMPORARY_FAILURE); both from here, in the receive batch (one sendmmsg for the
   * batch's answers), leaving no SA behind: on a cluster master this is the answer to nearly
   * every new base station. False: serve the peer here.
   */
  private answeredByRedirectProvider(h: IkeHeader, r: InitRedirectInput, requestLength: number, remote: Endpoint, local: Endpoint): boolean {
    const decision = this.redirect.onInit({
      remote,
      local,
      spiI: h.spiI.toString('hex'),
      ...(r.redirectedFrom ? { redirectedFrom: r.redirectedFrom } : {}),
    });
    if (decision === undefined) return false;
    if (isRefusal(decision)) {
      this.unauthenticatedLog.info('init-refused', { peer: remote.address, notify: nameOf(NotifyType, decision.refuse) }, 'new IKE SA refused by the redirect provider');
      this.counters.inc(DropReason.INIT_REFUSED);
      this.answerUnprotected(h, decision.refuse, Buffer.alloc(0), remote, local, requestLength, true);
      return true;
    }
    // Unauthenticated and, on a cluster master, the normal answer to every new base station:
    // a burst of lines and then the count of the ones left out, not one line per request.
    this.unauthenticatedLog.info('init-redirect', { peer: remote.address, to: gatewayIdToString(decision) }, 'redirecting at IKE_SA_INIT');
    this.counters.inc(DropReason.INIT_REDIRECTED);
    this.answerUnprotected(h, NotifyStatus.REDIRECT, encodeRedirect(decision, r.nonce), remote, local, requestLength, true);
    return true;
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
    this.answerUnprotected(h, NotifyStatus.COOKIE, this.cookies.make(p.nonce, remote.address, h.spiI), remote, local, data.length, true);
    return true;
  }

  /** §2.6: true if the request carries a valid cookie; otherwise answers N(COOKIE). */
  private cookieOk(msg: IkeMessage, requestLength: number, remote: Endpoint, local: Endpoint): boolean {
    const first = msg.payloads[0];
    const nonce = msg.payloads.find((p): p is NoncePayload => p.type === PayloadType.NONCE)!;
    const h = msg.header;
    const cookie = first?.type === PayloadType.NOTIFY && !('unknown' in first) ? (first as NotifyPayload) : undefined;
    if (cookie?.notifyType === NotifyStatus.COOKIE) {
      if (this.cookies.verify(cookie.data, nonce.data, remote.address, h.spiI)) return true;
      this.counters.inc(DropReason.COOKIE_INVALID);
    }
    this.counters.inc(DropReason.COOKIE_SENT);
    this.answerUnprotected(h, NotifyStatus.COOKIE, this.cookies.make(nonce.data, remote.address, h.spiI), remote, local, requestLength, true);
    return false;
  }

  /**
   * An unprotected response with one notify (COOKIE, INVALID_MAJOR_VERSION, INVALID_IKE_SPI...),
   * never larger than the unauthenticated request that drew it (`requestLength`): the source
   * may be spoofed, and the gateway must not amplify traffic towards it.
   */
  private answerUnprotected(h: IkeHeader, notifyType: number, data: Buffer, remote: Endpoint, local: Endpoint, requestLength: number, zeroSpiR = false): void {
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
    const out = encodeMessage(msg);
    if (out.length > requestLength) {
      this.counters.inc(DropReason.ANSWER_LARGER);
      return;
    }
    this.send([out], local, remote);
  }

  private answerInvalidSpi(h: IkeHeader, requestLength: number, remote: Endpoint, local: Endpoint): void {
    const now = this.scheduler.now();
    const w = this.invalidSpiWindow;
    if (now - w.start >= 1000) {
      w.start = now;
      w.count = 0;
    }
    if (++w.count > INVALID_SPI_RATE) return;
    this.answerUnprotected(h, NotifyError.INVALID_IKE_SPI, Buffer.alloc(0), remote, local, requestLength);
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

/** Whether a connection names a peer to initiate to (not only %any): its SAs are indexed by name. */
function initiates(conn: ResolvedConnection): boolean {
  return conn.cfg.remote.addrs?.some((a) => a !== '%any') ?? false;
}

/** A multimap of one value, or a Set of several (most keys hold one: no Set per key). */
function multiAdd<K>(m: Map<K, IkeSa | Set<IkeSa>>, key: K, sa: IkeSa): void {
  const cur = m.get(key);
  if (!cur) m.set(key, sa);
  else if (cur instanceof Set) cur.add(sa);
  else if (cur !== sa) m.set(key, new Set([cur, sa]));
}

function multiDelete<K>(m: Map<K, IkeSa | Set<IkeSa>>, key: K, sa: IkeSa): void {
  const cur = m.get(key);
  if (cur === sa) {
    m.delete(key);
  } else if (cur instanceof Set) {
    cur.delete(sa);
    if (cur.size === 1) m.set(key, cur.values().next().value!);
    else if (cur.size === 0) m.delete(key);
  }
}

function isProtected(msg: IkeMessage): boolean {
  const last = msg.payloads[msg.payloads.length - 1];
  return last?.type === PayloadType.SK || last?.type === PayloadType.SKF;
}

function halfOpenKey(addr: string, spiI: Buffer): string {
  return `${addr}|${spiI.toString('hex')}`;
}

function outKey(ref: SaRef): string {
  return `${ref.dst}|${ref.spi >>> 0}`;
}
