/**
 * One IKE SA (RFC 7296 §2): SPIs, role, endpoints, negotiated keys, children, lifetimes, and
 * its task manager. Kept lean for 10k+ SAs: IKE_SA_INIT copies, nonces, SK_p* and DH state
 * live in `auth` only until IKE_AUTH completes; timers are scheduler entries targeting this
 * object (no closures); the reassembler exists only while fragments are in flight.
 *
 * Inbound datagrams and local actions for one SA are serialized through `run()`: kernel
 * calls are asynchronous, and an SA must finish one message before it reads the next.
 */
import { ExchangeType, IKE_NATT_PORT } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import type { IkeKeys, IkeSuite, SkTransform } from '../crypto/types.js';
import { createSkTransform, skStateLength } from '../crypto/index.js';
import { jitteredRekey, type ResolvedConnection, type RetransmitConfig, DEFAULT_RETRANSMIT } from '../config.js';
import type { TimerEntry, TimerTarget } from '../scheduler.js';
import type { Endpoint } from '../../net/endpoint.js';
import type { GatewayId } from '../redirect/notify.js';
import type { Task } from '../tasks/task.js';
import type { SaContext } from './context.js';
import type { ChildSa } from './child-sa.js';
import { TaskManager, headerFlags } from './task-manager.js';
import { SaLog } from './sa-log.js';
import { IkeFlag, IkeState } from './state.js';

// The SA's states and flags are part of its interface; they are declared in the leaf state.ts.
export { IkeFlag, IkeState } from './state.js';

/** What only IKE_SA_INIT -> IKE_AUTH needs; dropped once the peer is authenticated. */
export interface AuthState {
  initRequest?: Buffer;
  initResponse?: Buffer;
  ni: Buffer;
  nr: Buffer;
  skPi: Buffer;
  skPr: Buffer;
  /** CERTREQ CA key hashes the peer sent (20-octet SHA-1 each), for choosing our chain. */
  peerCertReqs?: Buffer[];
  /** SIGNATURE_HASH_ALGORITHMS the peer supports (RFC 7427). */
  peerHashes?: number[];
}

const TIMER_REKEY = 1;
const TIMER_EXPIRE = 2;
const TIMER_DPD = 3;
const TIMER_HALF_OPEN = 4;
const TIMER_DELETE_WAIT = 5;
const TIMER_KEEPALIVE = 6;
/** RFC 3948 §4: NAT-keepalive interval when we are behind a NAT (strongSwan's keep_alive 20 s). */
export const NAT_KEEPALIVE_MS = 20_000;

/** How long a rekeyed (old) IKE SA waits for the peer's delete before deleting itself. */
const REKEYED_DELETE_WAIT_MS = 10_000;
/** Bounds the datagrams waiting while the SA is busy (a flood is dropped, not queued). */
const MAX_PENDING = 16;

export class IkeSa implements TimerTarget {
  state: IkeState = IkeState.CONNECTING;
  flags = 0;
  /** SPIi || SPIr; after the keys are set, a view of one allocation with SK_d (see setKeys). */
  private spis = Buffer.from(new ArrayBuffer(16));

  conn: ResolvedConnection | undefined;
  suite: IkeSuite | undefined;
  skD: Buffer | undefined;
  skIn: SkTransform | undefined;
  skOut: SkTransform | undefined;
  auth: AuthState | undefined;
  /** Our ID payload (type, data) as sent, and the peer's identity as text (after IKE_AUTH). */
  peerId: string | undefined;
  /** Replaced, never grown in place (exact-size arrays; see addChild). */
  children: readonly ChildSa[] = [];
  readonly tm: TaskManager;
  /** Initiator: the gateway that redirected us here (sent as REDIRECTED_FROM, RFC 5685 §5). */
  redirectedFrom: GatewayId | undefined;
  /** Time of the last authenticated message from the peer (DPD). */
  lastInbound = 0;
  establishedAt = 0;
  /** Initiator: the error notify the peer refused our IKE_SA_INIT or IKE_AUTH with (RFC 7296 §3.10.1). */
  refusedWith: number | undefined;
  /** Responder: the error notify our last response carried before the SA was torn down. */
  answeredWith: number | undefined;
  /** Scheduler time the SA was made (the first IKE_SA_INIT sent or received): setup latency. */
  readonly createdAt: number;
  /** Deleted because our side asked for it (IkeDaemon.terminate: an operator, a shutdown), not lost. */
  closeRequested = false;
  /** Rekey, then (same entry) hard expiry: one timer for the whole lifetime. */
  private lifeTimer: TimerEntry | undefined;
  private hardAt = 0;
  private dpdTimer: TimerEntry | undefined;
  /** NAT-keepalives, only when we are behind a NAT. */
  private keepaliveTimer: TimerEntry | undefined;
  /** Half-open timeout or the rekeyed SA's delete wait (never both). */
  private auxTimer: TimerEntry | undefined;
  private chain: Promise<void> | undefined;
  private pending = 0;
  /** RFC 7383 reassembly state while fragments of a message are in flight (owned by wire.ts). */
  reassembly: unknown;

  constructor(
    readonly ctx: SaContext,
    /** We are the original initiator (the I flag in every header we send, §3.1). */
    readonly initiator: boolean,
    spiI: Buffer,
    spiR: Buffer,
    public local: Endpoint,
    public remote: Endpoint,
    conn?: ResolvedConnection,
  ) {
    spiI.copy(this.spis, 0, 0, 8);
    spiR.copy(this.spis, 8, 0, 8);
    this.conn = conn;
    this.createdAt = ctx.scheduler.now();
    this.tm = new TaskManager(this);
  }

  get spiI(): Buffer {
    return this.spis.subarray(0, 8);
  }

  get spiR(): Buffer {
    return this.spis.subarray(8, 16);
  }

  set spiR(v: Buffer) {
    v.copy(this.spis, 8, 0, 8);
  }

  /** Our own SPI (the table key). */
  get spi(): Buffer {
    return this.initiator ? this.spiI : this.spiR;
  }

  /** Our own SPI as the SA tables' key (no Buffer view made). */
  get spiKey(): bigint {
    return this.spis.readBigUInt64BE(this.initiator ? 0 : 8);
  }

  get name(): string {
    return `${this.spiI.toString('hex')}_${this.spiR.toString('hex')}`;
  }

  /** A logger bound to this SA; its bindings are built only for lines that are written. */
  get log(): SaLog {
    return new SaLog(this.ctx.log, this);
  }

  /** The fields every log line about this SA carries. */
  logBindings(): Record<string, unknown> {
    return { ike: this.name, peer: `${this.remote.address}:${this.remote.port}` };
  }

  get isDead(): boolean {
    return this.state === IkeState.DESTROYED;
  }

  get established(): boolean {
    return this.state === IkeState.ESTABLISHED;
  }

  get natDetected(): boolean {
    return (this.flags & (IkeFlag.NAT_LOCAL | IkeFlag.NAT_REMOTE)) !== 0;
  }

  has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  get retransmitConfig(): RetransmitConfig {
    return this.conn?.retransmit ?? DEFAULT_RETRANSMIT;
  }

  /** Serializes work on this SA; rejects work beyond MAX_PENDING (returns false). */
  run(fn: () => Promise<void>): Promise<void> {
    if (this.pending >= MAX_PENDING) return Promise.resolve();
    this.pending++;
    const prev = this.chain ?? Promise.resolve();
    const p = prev.then(fn).catch((err) => this.bug(err)).finally(() => {
      this.pending--;
      if (this.chain === p) this.chain = undefined;
    });
    this.chain = p;
    return p;
  }

  get queueFull(): boolean {
    return this.pending >= MAX_PENDING;
  }

  /** A throw out of a task or handler is a bug (I/O failures never reach here: see net/endpoint.ts). */
  private async bug(err: unknown): Promise<void> {
    this.log.error({ err }, 'bug while handling the IKE SA; deleting it');
    try {
      if (!this.isDead) this.tm.tellPeerDeleted();
      await this.destroy('internal error');
    } catch (e) {
      this.log.error({ err: e }, 'teardown after bug failed');
    }
  }

  /** A message skeleton with this SA's SPIs and our flags. */
  newMessage(exchangeType: number, messageId: number, response: boolean): IkeMessage {
    return {
      header: {
        spiI: this.spiI,
        spiR: this.spiR,
        majorVersion: 2,
        minorVersion: 0,
        exchangeType,
        flags: headerFlags(this.initiator, response),
        messageId,
      },
      payloads: [],
    };
  }

  /** Fragment size for outbound messages, or 0 (RFC 7383: only after IKE_SA_INIT, if both support it). */
  fragmentSizeFor(exchangeType: number): number {
    if (exchangeType === ExchangeType.IKE_SA_INIT || !this.conn?.fragmentation) return 0;
    if (!this.has(IkeFlag.PEER_FRAGMENTATION)) return 0;
    return this.conn.fragmentSize;
  }

  outboundOptions(): { ipVersion: 4 | 6; natT: boolean } {
    return { ipVersion: this.remote.address.includes(':') ? 6 : 4, natT: this.local.port === IKE_NATT_PORT };
  }

  recordInit(which: 'request' | 'response', raw: Buffer): void {
    if (!this.auth) return;
    if (which === 'request') this.auth.initRequest = Buffer.from(raw);
    else this.auth.initResponse = Buffer.from(raw);
  }

  /** Sends datagrams to the peer (or to `to`, the source of a retransmitted request). */
  transmit(packets: readonly Buffer[], to: Endpoint = this.remote): void {
    this.ctx.send(packets, this.local, to);
  }

  /** Installs SK_* (RFC 7296 §2.14) for our direction and the peer's; keeps SK_p* for AUTH. */
  setKeys(suite: IkeSuite, keys: IkeKeys, nonces?: { ni: Buffer; nr: Buffer }): void {
    this.suite = suite;
    // SPIs, SK_d and the SK transforms' state (AES-GCM) live as long as the SA: one allocation
    // for all (an ArrayBuffer is ~0.1 KiB of heap beside its octets; 3 fewer per SA).
    const d = 16 + keys.skD.length;
    const sk = skStateLength(suite);
    const mem = Buffer.from(new ArrayBuffer(d + 2 * sk));
    this.spis.copy(mem, 0, 0, 16);
    keys.skD.copy(mem, 16);
    this.spis = mem.subarray(0, 16);
    this.skD = mem.subarray(16, d);
    keys.skD.fill(0);
    const skI = createSkTransform(suite, keys.skEi, keys.skAi, sk > 0 ? mem.subarray(d, d + sk) : undefined);
    const skR = createSkTransform(suite, keys.skEr, keys.skAr, sk > 0 ? mem.subarray(d + sk, d + 2 * sk) : undefined);
    this.skOut = this.initiator ? skI : skR;
    this.skIn = this.initiator ? skR : skI;
    if (nonces) {
      this.auth = { ...this.auth, ni: nonces.ni, nr: nonces.nr, skPi: keys.skPi, skPr: keys.skPr };
    }
  }

  /** RFC 7296 §2.23: after NAT is detected, the initiator moves to port 4500. */
  floatToNatT(): void {
    if (this.local.port === IKE_NATT_PORT) return;
    const local = { address: this.local.address, port: IKE_NATT_PORT };
    if (!this.ctx.hasSocket(local)) return;
    this.local = local;
    if (this.remote.port !== IKE_NATT_PORT) this.remote = { address: this.remote.address, port: IKE_NATT_PORT };
  }

  /**
   * An authenticated message arrived from `from`: record liveness and, when the peer is behind
   * a NAT, follow its address/port (RFC 7296 §2.23).
   */
  authenticatedFrom(from: Endpoint, local: Endpoint): void {
    this.lastInbound = this.ctx.scheduler.now();
    this.follow(from, local);
  }

  /**
   * A child's inbound ESP, authenticated and not replayed, came from `from` (the data plane's
   * NAT mapping event): the IKE SA and every child move there as for an IKE message, so traffic
   * towards the peer resumes without waiting for its next IKE exchange.
   */
  espFrom(from: Endpoint): void {
    if (this.state !== IkeState.ESTABLISHED) return;
    this.follow(from, this.local);
  }

  private follow(from: Endpoint, local: Endpoint): void {
    if (!this.has(IkeFlag.NAT_REMOTE) && !this.has(IkeFlag.NAT_LOCAL)) return;
    // §2.23: "A host behind a NAT SHOULD NOT do this type of dynamic address update" (it would
    // let anyone who can replay a packet move the SA). An initiator behind a NAT moves to 4500
    // itself (floatToNatT); a responder follows, its own NAT taken to be static (as strongSwan).
    if (this.initiator && this.has(IkeFlag.NAT_LOCAL)) return;
    const peerMoved = from.address !== this.remote.address || from.port !== this.remote.port;
    if (!peerMoved && local.port === this.local.port) return;
    const was = this.remote;
    this.remote = { ...from };
    this.local = { ...local };
    // Once children exist, their ESP must follow too: in place, or by a rekey (the context's tasks).
    if (peerMoved && this.establishedAt > 0 && this.children.length > 0) {
      this.log.info({ from: `${was.address}:${was.port}`, to: `${from.address}:${from.port}` }, 'peer moved (NAT mapping changed)');
      void this.run(() => this.ctx.tasks.peerMoved(this, from.address !== was.address));
    }
  }

  queueTask(task: Task): void {
    this.tm.queue(task);
  }

  /** Queues and starts the next exchange if none is outstanding (serialized). */
  initiate(): Promise<void> {
    return this.run(() => this.tm.initiate());
  }

  /** Called after every exchange: IKE_SA_INIT copies, nonces and SK_p* go once IKE_AUTH is done. */
  afterResponse(): void {
    if (this.state !== IkeState.CONNECTING) this.auth = undefined;
  }

  /** The peer is authenticated and IKE_AUTH is complete (both roles). */
  establish(): void {
    this.state = IkeState.ESTABLISHED;
    this.establishedAt = this.ctx.scheduler.now();
    this.lastInbound = this.establishedAt;
    this.auxTimer = this.ctx.scheduler.cancel(this.auxTimer);
    this.armLifetimes();
    this.armDpd();
    this.armKeepalive();
    this.ctx.ikeEstablished(this);
    this.ctx.events.ikeUp?.(this);
    const log = this.log;
    if (log.enabled('info')) log.info({ peerId: this.peerId, children: this.children.length }, 'IKE SA established');
  }

  /** Rekey (soft, with jitter) then hard expiry (strongSwan: hard = rekey + over time), one entry. */
  armLifetimes(): void {
    const l = this.conn?.ikeLifetime;
    if (!l) return;
    const now = this.ctx.scheduler.now();
    this.hardAt = l.lifeMs > 0 ? now + l.lifeMs : 0;
    if (l.rekeyMs > 0) this.lifeTimer = this.ctx.scheduler.reschedule(this.lifeTimer, jitteredRekey(l), this, TIMER_REKEY);
    else if (this.hardAt) this.lifeTimer = this.ctx.scheduler.reschedule(this.lifeTimer, l.lifeMs, this, TIMER_EXPIRE);
  }

  armDpd(): void {
    const d = this.conn?.dpdMs ?? 0;
    if (d > 0) this.dpdTimer = this.ctx.scheduler.reschedule(this.dpdTimer, d, this, TIMER_DPD);
  }

  /** Rekey again after `ms` (the peer answered TEMPORARY_FAILURE), if before the hard expiry. */
  retryRekey(ms: number): void {
    const now = this.ctx.scheduler.now();
    if (this.hardAt && now + ms >= this.hardAt) return;
    this.lifeTimer = this.ctx.scheduler.reschedule(this.lifeTimer, ms, this, TIMER_REKEY);
  }

  /** Responder half-open timeout (the SA is destroyed if IKE_AUTH does not complete). */
  armHalfOpen(ms: number): void {
    this.auxTimer = this.ctx.scheduler.reschedule(this.auxTimer, ms, this, TIMER_HALF_OPEN);
  }

  /** After an IKE rekey: the old SA waits briefly for the peer's delete, then deletes itself. */
  armDeleteWait(): void {
    this.auxTimer = this.ctx.scheduler.reschedule(this.auxTimer, REKEYED_DELETE_WAIT_MS, this, TIMER_DELETE_WAIT);
  }

  private cancelTimers(): void {
    const sch = this.ctx.scheduler;
    this.lifeTimer = sch.cancel(this.lifeTimer);
    this.dpdTimer = sch.cancel(this.dpdTimer);
    this.auxTimer = sch.cancel(this.auxTimer);
    this.keepaliveTimer = sch.cancel(this.keepaliveTimer);
  }

  /** Keeps our NAT mapping open (RFC 3948 §2.3) while we are behind a NAT. */
  armKeepalive(): void {
    if (!this.has(IkeFlag.NAT_LOCAL)) return;
    this.keepaliveTimer = this.ctx.scheduler.reschedule(this.keepaliveTimer, NAT_KEEPALIVE_MS, this, TIMER_KEEPALIVE);
  }

  onTimer(kind: number): void {
    if (this.isDead) return;
    switch (kind) {
      case TIMER_HALF_OPEN:
        if (this.state === IkeState.CONNECTING) void this.run(() => this.destroy('half-open timeout'));
        return;
      case TIMER_DPD:
        void this.run(() => this.ctx.tasks.dpd(this));
        return;
      case TIMER_REKEY:
        if (this.hardAt) this.lifeTimer = this.ctx.scheduler.schedule(Math.max(0, this.hardAt - this.ctx.scheduler.now()), this, TIMER_EXPIRE);
        void this.run(() => this.ctx.tasks.rekeyIke(this));
        return;
      case TIMER_EXPIRE:
        void this.run(() => this.ctx.tasks.expireIke(this));
        return;
      case TIMER_KEEPALIVE:
        this.ctx.sendKeepalive(this.local, this.remote);
        this.armKeepalive();
        return;
      case TIMER_DELETE_WAIT:
        void this.run(() => this.ctx.tasks.deleteRekeyed(this));
        return;
    }
  }

  addChild(child: ChildSa): void {
    // concat, not push: an array grown by push from empty reserves 17 slots, kept for the SA's life.
    if (!this.children.includes(child)) this.children = this.children.concat(child);
  }

  removeChild(child: ChildSa): void {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children = this.children.filter((c) => c !== child);
  }

  findChild(spiInOrOut: number, inbound: boolean): ChildSa | undefined {
    return this.children.find((c) => (inbound ? c.spiIn : c.spiOut) === spiInOrOut);
  }

  /**
   * Tears the SA down locally: timers, unfinished tasks, children (removed from the kernel),
   * tables. Sends nothing (deleting with the peer is the IKE_DELETE task's job).
   */
  async destroy(reason: string): Promise<void> {
    if (this.isDead) return;
    const wasUp = this.establishedAt > 0 && this.state !== IkeState.REKEYED;
    this.state = IkeState.DESTROYED;
    this.cancelTimers();
    await this.tm.abort(`IKE SA destroyed: ${reason}`);
    this.tm.dropCaches();
    for (const child of [...this.children]) await child.remove(reason);
    this.auth = undefined;
    this.reassembly = undefined;
    this.ctx.ikeDestroyed(this);
    if (wasUp) this.ctx.events.ikeDown?.(this, reason);
    else if (this.initiator && this.establishedAt === 0) this.ctx.events.ikeFailed?.(this, reason);
    else if (this.establishedAt === 0) this.ctx.events.halfOpenFailed?.(this, reason);
    // A responder SA that never came up exists because of an unauthenticated IKE_SA_INIT: at
    // info, a flood of those would be a flood of lines (the refusal itself is rate limited).
    if (this.initiator || this.establishedAt > 0 || this.peerId !== undefined) this.log.info({ reason }, 'IKE SA destroyed');
    else this.log.debug({ reason }, 'half-open IKE SA destroyed');
  }
}
