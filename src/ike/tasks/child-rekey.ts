/**
 * Rekeying a child SA (RFC 7296 §1.3.3, §2.8), both roles: a CREATE_CHILD_SA with
 * N(REKEY_SA) naming the old child, then the initiator deletes the old child.
 *
 *   HDR, SK {N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr}  -->
 *                                              <--  HDR, SK {SA, Nr, [KEr,] TSi, TSr}
 *   HDR, SK {D(ESP, old SPI)}  -->  ...
 *
 * Collisions (§2.8.1): when both ends rekey the same child at once, the exchange holding the
 * lowest of the four nonces made a redundant child; its initiator deletes that new child, the
 * other initiator deletes the old one. Rekey vs delete (§2.25.1): a child deleted while we
 * rekey it makes us delete the new child; a rekey request for a child we are deleting is
 * answered TEMPORARY_FAILURE, for an unknown child CHILD_SA_NOT_FOUND. A rekey request for a
 * child our own completed rekey already replaced is answered TEMPORARY_FAILURE too: the peer,
 * which saw the collision, then keeps our new child.
 */
import { ExchangeType, NotifyError, NotifyStatus, ProtocolId } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { ChildState, type ChildSa } from '../sa/child-sa.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { addNotify, notifyOf, readSpi32, spi32 } from '../sa/payloads.js';
import { ChildCreate } from './child-create.js';
import { ChildDelete } from './child-delete.js';
import { Status, TaskType, type Task } from './task.js';

/** Delay before retrying a rekey the peer answered TEMPORARY_FAILURE (§2.25). */
export const REKEY_RETRY_MS = 5_000;

/** What a completed (or colliding) rekey exchange leaves for collision resolution. */
export interface RekeyOutcome {
  ni: Buffer;
  nr: Buffer;
  child: ChildSa;
  /** We initiated this exchange. */
  ours: boolean;
}

/** True if the exchange `a` holds the lowest of the four nonces (so its child is redundant). */
export function holdsLowestNonce(a: { ni: Buffer; nr: Buffer }, b: { ni: Buffer; nr: Buffer }): boolean {
  const lowA = Buffer.compare(a.ni, a.nr) <= 0 ? a.ni : a.nr;
  const lowB = Buffer.compare(b.ni, b.nr) <= 0 ? b.ni : b.nr;
  return Buffer.compare(lowA, lowB) < 0;
}

export class ChildRekey implements Task {
  readonly type = TaskType.CHILD_REKEY;
  readonly exchange = ExchangeType.CREATE_CHILD_SA;
  private inner: ChildCreate | undefined;
  /** The peer's colliding rekey of the same child (set while our request is outstanding). */
  private collision: ChildRekey | undefined;
  private error: number | undefined;
  /** Initiator, once done: the child that replaced `old` (ours, or the peer's after a collision we lost). */
  successor: ChildSa | undefined;
  /** Initiator, once done: the delete that finishes the rekey (of `old`, or of our redundant child). */
  followUp: ChildDelete | undefined;

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
    /** Initiator: the child to rekey. Responder: found from N(REKEY_SA). */
    public old: ChildSa | undefined,
  ) {}

  /** The peer's rekey of `old` arrived while ours is outstanding. */
  collide(peer: ChildRekey): void {
    this.collision = peer;
  }

  /** Answers the request with an error notify instead (§2.25.2 TEMPORARY_FAILURE). */
  refuse(type: number): void {
    this.error = type;
    void this.inner?.release();
  }

  /** The nonces of this exchange once it made a child (collision resolution). */
  outcome(): RekeyOutcome | undefined {
    const i = this.inner;
    return i?.child?.isInstalled && i.ni && i.nr ? { ni: i.ni, nr: i.nr, child: i.child, ours: this.initiator } : undefined;
  }

  get newChild(): ChildSa | undefined {
    return this.inner?.child;
  }

  /** The error notify the peer refused our rekey with. */
  get peerError(): number | undefined {
    return this.inner?.peerError;
  }

  async build(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    if (this.initiator) {
      const old = this.old!;
      if (old.state !== ChildState.INSTALLED || !sa.children.includes(old)) return Status.SUCCESS;
      old.state = ChildState.REKEYING;
      this.inner ??= new ChildCreate(sa, true, old.cfg, { rekeying: old });
      addNotify(msg, NotifyStatus.REKEY_SA, Buffer.alloc(0), ProtocolId.ESP, spi32(old.spiIn));
      return this.inner.build(msg);
    }
    if (this.error !== undefined) {
      addNotify(msg, this.error);
      return Status.SUCCESS;
    }
    const st = await this.inner!.build(msg);
    const child = this.inner!.child;
    if (child?.isInstalled) this.completeResponder(child);
    return st;
  }

  async process(msg: IkeMessage): Promise<Status> {
    return this.initiator ? this.processResponse(msg) : this.processRequest(msg);
  }

  private async processRequest(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    const n = notifyOf(msg, NotifyStatus.REKEY_SA);
    const spi = n && readSpi32(n.spi);
    const old = spi === undefined ? undefined : sa.findChild(spi, false);
    if (!old || old.state === ChildState.DELETED) {
      this.error = NotifyError.CHILD_SA_NOT_FOUND;
      return Status.NEED_MORE;
    }
    // Being deleted, or already replaced by our own completed rekey (the peer then keeps ours).
    if (old.state === ChildState.DELETING || old.state === ChildState.REKEYED) {
      this.error = NotifyError.TEMPORARY_FAILURE;
      return Status.NEED_MORE;
    }
    this.old = old;
    this.inner = new ChildCreate(sa, false, old.cfg, { rekeying: old });
    return this.inner.process(msg);
  }

  private completeResponder(child: ChildSa): void {
    const old = this.old!;
    if (old.state === ChildState.INSTALLED) old.state = ChildState.REKEYED;
    this.sa.ctx.events.childRekeyed?.(old, child);
  }

  private async processResponse(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    const old = this.old!;
    const st = await this.inner!.process(msg);
    if (st === Status.NEED_MORE) return st;
    const child = this.inner!.child;
    if (!child?.isInstalled) {
      if (old.state === ChildState.REKEYING) old.state = ChildState.INSTALLED;
      if (this.inner!.failedWith === NotifyError.CHILD_SA_NOT_FOUND) this.followUp = queueDelete(sa, old, 'peer lost the child');
      else if (old.state === ChildState.INSTALLED) old.retryRekey(REKEY_RETRY_MS);
      return Status.SUCCESS;
    }
    sa.ctx.events.childRekeyed?.(old, child);
    if (old.state === ChildState.DELETED) {
      // The peer deleted the old child while we rekeyed it (§2.25.1): the new one goes too.
      this.followUp = queueDelete(sa, child, 'old child deleted during rekey');
      return Status.SUCCESS;
    }
    const ours: RekeyOutcome = { ni: this.inner!.ni!, nr: this.inner!.nr!, child, ours: true };
    const peer = this.collision?.outcome();
    old.state = ChildState.REKEYED;
    if (peer && holdsLowestNonce(ours, peer)) {
      sa.log.info('rekey collision: our new child is redundant, deleting it');
      this.successor = peer.child;
      this.followUp = queueDelete(sa, child, 'redundant rekey');
      return Status.SUCCESS;
    }
    this.successor = child;
    this.followUp = queueDelete(sa, old, 'rekeyed');
    return Status.SUCCESS;
  }

  async abort(): Promise<void> {
    await this.inner?.abort();
  }
}

function queueDelete(sa: IkeSa, child: ChildSa, reason: string): ChildDelete {
  const t = new ChildDelete(sa, true, [child], reason);
  sa.queueTask(t);
  return t;
}
