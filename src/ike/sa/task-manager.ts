/**
 * The task manager of one IKE SA (RFC 7296 §2.1-§2.3), window size 1:
 *
 *   initiating  queued tasks -> one exchange at a time (active tasks) -> request sent and
 *               retransmitted with exponential back-off until its response arrives or the
 *               give-up time passes (then the IKE SA is torn down).
 *   responding  requests must carry the next expected message ID; the previous ID is a
 *               retransmission and is answered from the cached response (all fragments) when
 *               it is the very datagram answered before (same digest; for a fragmented
 *               request, fragment #1's), so a forged or replayed-with-changes header never
 *               draws the cached response (no reflection amplification); anything else is
 *               dropped and counted. Responses are never answered.
 *
 * The manager is the SA's retransmission timer target (no closures per SA).
 */
import { ExchangeType, HeaderFlag, PayloadType, ProtocolId, nameOf } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import type { TimerEntry, TimerTarget } from '../scheduler.js';
import type { Endpoint } from '../../net/endpoint.js';
import { Status, TaskType, endTask, type Task } from '../tasks/task.js';
import { DropReason } from './counters.js';
import type { IkeSa } from './ike-sa.js';
import { own } from './state.js';
import { errorNotify } from './payloads.js';
import { datagramDigest, encodeOutbound } from './wire.js';

/** Tasks of these types share one exchange with the task before them (IKE_AUTH carries the first child). */
function joins(first: Task, next: Task): boolean {
  return first.exchange === ExchangeType.IKE_AUTH && next.exchange === ExchangeType.IKE_AUTH;
}

const TIMER_RETRANSMIT = 0;
const TIMER_CACHE = 1;
/** How long a response stays cached for retransmitted requests. */
export const RESPONSE_CACHE_MS = 5 * 60_000;

export class TaskManager implements TimerTarget {
  /** Message ID of our next (or outstanding) request. */
  private mid = 0;
  /** Message ID we expect in the peer's next request. */
  private expected = 0;
  private active: Task[] | undefined;
  private queued: Task[] | undefined;
  /** The outstanding request's datagrams, for retransmission. */
  private sent: Buffer[] | undefined;
  private tries = 0;
  private timer: TimerEntry | undefined;
  /** The cached response to request `expected - 1`. */
  private response: Buffer[] | undefined;
  /** Digest of the datagram (fragment #1 if fragmented) of the request `response` answers. */
  private responseTo: Buffer | undefined;
  /** Digest of the expected request's datagram (its fragment #1), until it is answered. */
  private requestDigest: Buffer | undefined;
  private cacheTimer: TimerEntry | undefined;
  /** Set by a task (INVALID_KE, COOKIE) to run IKE_SA_INIT again with message ID 0. */
  restartInit = false;

  constructor(private readonly sa: IkeSa) {}

  get busy(): boolean {
    return this.active !== undefined;
  }

  get nextRequestId(): number {
    return this.mid;
  }

  get expectedRequestId(): number {
    return this.expected;
  }

  activeTasks(): readonly Task[] {
    return this.active ?? [];
  }

  queuedTasks(): readonly Task[] {
    return this.queued ?? [];
  }

  hasTask(type: TaskType): boolean {
    return [...this.activeTasks(), ...this.queuedTasks()].some((t) => t.type === type);
  }

  queue(task: Task): void {
    (this.queued ??= []).push(task);
  }

  /** Drops queued (not active) tasks of a type, e.g. pending rekeys once a delete is queued. */
  unqueue(pred: (t: Task) => boolean): void {
    if (!this.queued) return;
    for (const t of this.queued) if (pred(t)) endTask(t, { status: 'ABORTED', reason: 'superseded by a delete' });
    this.queued = this.queued.filter((t) => !pred(t));
    if (this.queued.length === 0) this.queued = undefined;
  }

  /** Starts the next exchange if none is outstanding (window size 1, §2.3). */
  async initiate(): Promise<void> {
    const sa = this.sa;
    if (this.active || !this.queued || sa.isDead) return;
    const first = this.queued.shift()!;
    const tasks = [first];
    while (this.queued.length > 0 && joins(first, this.queued[0]!)) tasks.push(this.queued.shift()!);
    if (this.queued.length === 0) this.queued = undefined;
    this.active = tasks;
    await this.sendRequest();
  }

  private async sendRequest(): Promise<void> {
    const sa = this.sa;
    const tasks = this.active!;
    const msg = sa.newMessage(tasks[0]!.exchange, this.mid, false);
    for (const t of [...tasks]) {
      const st = await t.build(msg);
      if (sa.isDead) return;
      if (st === Status.FAILED || st === Status.DESTROY) {
        endTask(t, { status: st, reason: `${t.type} build ${st}` });
        await sa.destroy(`${t.type} build ${st}`);
        return;
      }
      if (st === Status.SUCCESS) this.finished(tasks, t);
    }
    if (tasks.length === 0) {
      // Every task finished without needing an exchange.
      this.active = undefined;
      await this.initiate();
      return;
    }
    const packets = encodeOutbound(msg, sa.skOut, sa.fragmentSizeFor(msg.header.exchangeType), sa.outboundOptions());
    if (msg.header.exchangeType === ExchangeType.IKE_SA_INIT) sa.recordInit('request', packets[0]!);
    this.sent = packets;
    this.tries = 0;
    sa.transmit(packets);
    this.armRetransmit();
  }

  private armRetransmit(): void {
    const r = this.sa.retransmitConfig;
    const interval = Math.min(r.timeoutMs * Math.pow(r.base, this.tries), r.maxIntervalMs);
    this.timer = this.sa.ctx.scheduler.reschedule(this.timer, interval, this, TIMER_RETRANSMIT);
  }

  /** Retransmission timer (RFC 7296 §2.1), and the response cache's expiry. */
  onTimer(kind: number): void {
    if (kind === TIMER_CACHE) {
      this.cacheTimer = undefined;
      this.response = undefined;
      this.responseTo = undefined;
      return;
    }
    this.timer = undefined;
    const sa = this.sa;
    if (!this.sent || sa.isDead) return;
    if (this.tries >= sa.retransmitConfig.tries) {
      sa.log.info({ mid: this.mid, tries: this.tries }, 'giving up on request, peer is dead');
      if (this.active) countExchange(sa, this.active[0]!.exchange, 'initiator', 'timeout');
      void sa.run(() => sa.destroy('retransmit give-up'));
      return;
    }
    this.tries++;
    sa.transmit(this.sent);
    this.armRetransmit();
  }

  /** A decrypted, reassembled response from the peer. */
  async processResponse(msg: IkeMessage): Promise<void> {
    const sa = this.sa;
    if (!this.active || msg.header.messageId !== this.mid || msg.header.exchangeType !== this.active[0]!.exchange) {
      sa.ctx.counters.inc(DropReason.UNEXPECTED_RESPONSE);
      return;
    }
    if (!this.isAnswer(msg)) {
      // Not an answer to our request (a forgery, RFC 5685 §4): the timer keeps running.
      sa.ctx.counters.inc(DropReason.BAD_RESPONSE);
      return;
    }
    this.timer = sa.ctx.scheduler.cancel(this.timer);
    this.sent = undefined;
    const tasks = this.active;
    countExchange(sa, msg.header.exchangeType, 'initiator', errorNotify(msg) ? 'failed' : 'ok');
    for (const t of [...tasks]) {
      const st = await t.process(msg);
      if (sa.isDead) return;
      if (st === Status.SUCCESS) this.finished(tasks, t);
      else if (st === Status.FAILED || st === Status.DESTROY) {
        // The unfinished tasks (e.g. the child of a failed IKE_AUTH) release their SPIs.
        endTask(t, { status: st, reason: `${t.type} ${st === Status.FAILED ? 'failed' : 'done'}` });
        await sa.destroy(`${t.type} ${st === Status.FAILED ? 'failed' : 'done'}`);
        return;
      }
    }
    if (this.restartInit) {
      // COOKIE or INVALID_KE_PAYLOAD: IKE_SA_INIT again, message ID 0 (§2.6, §1.2).
      this.restartInit = false;
      this.mid = 0;
      await this.sendRequest();
      return;
    }
    this.mid++;
    sa.afterResponse();
    if (tasks.length > 0) {
      // Tasks that need another exchange (IKE_AUTH after IKE_SA_INIT is queued separately).
      await this.sendRequest();
      return;
    }
    this.active = undefined;
    await this.initiate();
  }

  /** Whether every active task takes `msg` as the answer to the outstanding request (Task.answers). */
  isAnswer(msg: IkeMessage): boolean {
    return (this.active ?? []).every((t) => t.answers?.(msg) ?? true);
  }

  /**
   * The datagram that carries the expected request (unfragmented, or its fragment #1), once
   * its integrity is verified: its retransmissions are recognized by this digest.
   */
  noteRequest(datagram: Buffer): void {
    this.requestDigest = datagramDigest(datagram);
  }

  /**
   * A retransmission check, before any decryption: true when `mid` is the previous request's
   * ID (handled: the cached response was resent, or nothing is to be sent because the
   * datagram is a fragment other than #1 or not the request that was answered).
   */
  answerRetransmit(mid: number, datagram: Buffer, fragmentNumber: number, remote: Endpoint): boolean {
    if (mid !== this.expected - 1 || !this.response) return false;
    const counters = this.sa.ctx.counters;
    if (fragmentNumber > 1) {
      counters.inc(DropReason.RETRANSMIT_FRAGMENT);
      return true;
    }
    if (!this.responseTo || !datagramDigest(datagram).equals(this.responseTo)) {
      counters.inc(DropReason.RETRANSMIT_MISMATCH);
      return true;
    }
    counters.inc(DropReason.RETRANSMIT_ANSWERED);
    this.sa.transmit(this.response, remote);
    return true;
  }

  /**
   * Answers the expected request with an error notify outside any task (INVALID_SYNTAX for a
   * verified request that breaks the payload rules, §2.21.2), caching it like any response.
   */
  answerError(mid: number, exchangeType: number, notifyType: number, data: Buffer): void {
    const sa = this.sa;
    const resp = sa.newMessage(exchangeType, mid, true);
    resp.payloads.push({ type: 41, protocol: 0, spi: Buffer.alloc(0), notifyType, data });
    const packets = encodeOutbound(resp, sa.skOut, sa.fragmentSizeFor(exchangeType), sa.outboundOptions());
    this.expected = mid + 1;
    this.cacheResponse(packets);
    sa.transmit(packets);
  }

  /** Whether a request with this message ID is the one we expect now. */
  acceptsRequest(mid: number): boolean {
    return mid === this.expected;
  }

  /** A decrypted, reassembled request with the expected message ID. */
  async processRequest(msg: IkeMessage): Promise<void> {
    const sa = this.sa;
    const tasks = sa.ctx.tasks.forRequest(sa, msg);
    if (tasks.length === 0) {
      sa.ctx.counters.inc(DropReason.INVALID_SYNTAX);
      return;
    }
    const resp = sa.newMessage(msg.header.exchangeType, msg.header.messageId, true);
    let destroyAfter: string | undefined;
    for (const t of [...tasks]) {
      const st = await t.process(msg);
      if (sa.isDead) return;
      if (st === Status.SUCCESS) tasks.splice(tasks.indexOf(t), 1);
      else if (st === Status.FAILED || st === Status.DESTROY) {
        // Nothing can be answered (e.g. undecodable content): drop the SA silently.
        await sa.destroy(`${t.type} process ${st}`);
        return;
      }
    }
    sa.ctx.tasks.handleCollisions(tasks, this.activeTasks());
    for (const t of [...tasks]) {
      const st = await t.build(resp);
      if (sa.isDead) return;
      if (st === Status.FAILED || st === Status.DESTROY) destroyAfter ??= t.destroyReason ?? `${t.type} ${st === Status.FAILED ? 'failed' : 'done'}`;
    }
    const packets = encodeOutbound(resp, sa.skOut, sa.fragmentSizeFor(resp.header.exchangeType), sa.outboundOptions());
    if (resp.header.exchangeType === ExchangeType.IKE_SA_INIT) sa.recordInit('response', packets[0]!);
    this.expected = msg.header.messageId + 1;
    this.cacheResponse(packets);
    sa.transmit(packets);
    countExchange(sa, resp.header.exchangeType, 'responder', errorNotify(resp) ? 'failed' : 'ok');
    if (destroyAfter) {
      sa.answeredWith = errorNotify(resp)?.notifyType;
      await sa.destroy(destroyAfter);
      return;
    }
    sa.afterResponse();
    await this.initiate();
  }

  /**
   * RFC 7296 §2.1 keeps a response until the next request; we keep it at most
   * RESPONSE_CACHE_MS (far beyond any initiator's retransmission give-up) so idle SAs do not
   * carry their last IKE_AUTH response (certificates included) for hours.
   */
  private cacheResponse(packets: Buffer[]): void {
    this.response = packets.map(own);
    this.responseTo = this.requestDigest;
    this.requestDigest = undefined;
    this.cacheTimer = this.sa.ctx.scheduler.reschedule(this.cacheTimer, RESPONSE_CACHE_MS, this, TIMER_CACHE);
  }

  /** The response cache is not needed once the SA is replaced or gone. */
  dropCaches(): void {
    this.response = undefined;
    this.responseTo = undefined;
    this.requestDigest = undefined;
    this.sent = undefined;
    this.cacheTimer = this.sa.ctx.scheduler.cancel(this.cacheTimer);
  }

  /**
   * Best effort, once, no retransmission: INFORMATIONAL { D(IKE) } (RFC 7296 §1.4.1) before the
   * SA is dropped for an internal error, so the peer does not keep SAs that lead nowhere. The
   * message ID is our next one (or the outstanding request's, which the peer has not answered).
   */
  tellPeerDeleted(): void {
    const sa = this.sa;
    if (!sa.skOut || sa.establishedAt === 0) return;
    try {
      const msg = sa.newMessage(ExchangeType.INFORMATIONAL, this.mid, false);
      msg.payloads.push({ type: PayloadType.DELETE, protocol: ProtocolId.IKE, spis: [] });
      sa.transmit(encodeOutbound(msg, sa.skOut, sa.fragmentSizeFor(ExchangeType.INFORMATIONAL), sa.outboundOptions()));
    } catch (err) {
      sa.log.error({ err }, 'could not tell the peer the IKE SA is deleted');
    }
  }

  /** A task returned SUCCESS: it leaves the exchange, and its watcher learns so. */
  private finished(tasks: Task[], t: Task): void {
    tasks.splice(tasks.indexOf(t), 1);
    endTask(t, { status: Status.SUCCESS });
  }

  /** SA teardown: cancel the timer and let unfinished tasks release what they hold. */
  async abort(reason = 'IKE SA destroyed'): Promise<void> {
    this.timer = this.sa.ctx.scheduler.cancel(this.timer);
    const tasks = [...this.activeTasks(), ...this.queuedTasks()];
    this.active = undefined;
    this.queued = undefined;
    this.sent = undefined;
    for (const t of tasks) {
      try {
        await t.abort?.();
      } catch (err) {
        this.sa.log.error({ err, task: t.type }, 'task abort failed');
      }
      endTask(t, { status: 'ABORTED', reason });
    }
  }

  /** Moves queued tasks (and unfinished active ones that can be replayed) to another SA (IKE rekey). */
  takeQueued(): Task[] {
    const q = this.queued ?? [];
    this.queued = undefined;
    return q;
  }

  describe(): string {
    return `mid ${this.mid} expected ${this.expected} active [${this.activeTasks().map((t) => t.type)}] ` +
      `queued [${this.queuedTasks().map((t) => t.type)}] ${this.active ? nameOf(ExchangeType, this.active[0]!.exchange) : ''}`;
  }
}

/** Header flags for a message: I when we are the original initiator, R on responses. */
export function headerFlags(originalInitiator: boolean, response: boolean): number {
  return (originalInitiator ? HeaderFlag.INITIATOR : 0) | (response ? HeaderFlag.RESPONSE : 0);
}

/** One exchange completed (metrics): `IKE_AUTH responder ok`. */
function countExchange(sa: IkeSa, exchange: number, role: 'initiator' | 'responder', result: 'ok' | 'failed' | 'timeout'): void {
  sa.ctx.exchanges?.inc(`${nameOf(ExchangeType, exchange)} ${role} ${result}`);
}
