/**
 * Rekeying the IKE SA (RFC 7296 §1.3.2, §2.18), both roles:
 *
 *   HDR, SK {SA(IKE, new SPIi), Ni, KEi}  -->
 *                                   <--  HDR, SK {SA(IKE, new SPIr), Nr, KEr}
 *   (new SA: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr))
 *   then the rekey initiator deletes the old IKE SA: HDR(old), SK {D(IKE)} -->
 *
 * The children move to the new SA; whoever initiated the rekey is the new SA's original
 * initiator. Collisions (§2.8.2): the exchange with the lowest nonce made a redundant IKE SA,
 * which its initiator deletes; the winner's initiator deletes the old SA. A rekey request while
 * we create/rekey/delete a child, or after the SA was already rekeyed or is being deleted, is
 * answered TEMPORARY_FAILURE (§2.25.2).
 */
import { DhGroup, ExchangeType, NotifyError, NotifyType, PayloadType, ProtocolId, nameOf } from '../constants.js';
import type { IkeMessage, Proposal } from '../codec/types.js';
import type { KeyExchange } from '../crypto/types.js';
import { createKeyExchange, deriveRekeyedIkeKeys, isSupportedDhGroup } from '../crypto/index.js';
import { answerKe, requestedKeGroup } from './key-exchange.js';
import { firstDhGroup, ikeSuiteOf, offersDhGroup, selectProposal, verifyChosen, withDhFirst } from '../proposal.js';
import { IkeSa } from '../sa/ike-sa.js';
import { IkeState, newNonce } from '../sa/state.js';
import { addNotify, errorNotify, payloadOf } from '../sa/payloads.js';
import { ChildRekey, holdsLowestNonce } from './child-rekey.js';
import { ChildDelete } from './child-delete.js';
import { IkeDelete } from './ike-delete.js';
import { Status, TaskType, endTask, type Task } from './task.js';

/** Retry delay after TEMPORARY_FAILURE (§2.25). */
export const IKE_REKEY_RETRY_MS = 5_000;

/** Task types whose outstanding exchange makes us refuse an IKE rekey (§2.25.2). */
const BLOCKING: ReadonlySet<string> = new Set([TaskType.CHILD_CREATE, TaskType.CHILD_REKEY, TaskType.CHILD_DELETE, TaskType.IKE_DELETE]);

export class IkeRekey implements Task {
  readonly type = TaskType.IKE_REKEY;
  readonly exchange = ExchangeType.CREATE_CHILD_SA;
  private ke: KeyExchange | undefined;
  private group = 0;
  private ni: Buffer | undefined;
  private nr: Buffer | undefined;
  private chosen: Proposal | undefined;
  private secret: Buffer | undefined;
  private error: { type: number; data?: Buffer } | undefined;
  /** The new IKE SA this exchange made. */
  newSa: IkeSa | undefined;
  private collision: IkeRekey | undefined;
  /** Initiator, once done: the IKE SA that replaced ours (our new one, or the peer's after a collision we lost). */
  successor: IkeSa | undefined;
  /** Initiator, once done: the delete that finishes the rekey (of the old SA, or of our redundant new one). */
  followUp: IkeDelete | undefined;
  peerError: number | undefined;

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
  ) {}

  collide(peer: IkeRekey): void {
    this.collision = peer;
  }

  private outcome(): { ni: Buffer; nr: Buffer } | undefined {
    return this.newSa && this.ni && this.nr ? { ni: this.ni, nr: this.nr } : undefined;
  }

  async build(msg: IkeMessage): Promise<Status> {
    return this.initiator ? this.buildRequest(msg) : this.buildResponse(msg);
  }

  async process(msg: IkeMessage): Promise<Status> {
    return this.initiator ? this.processResponse(msg) : this.processRequest(msg);
  }

  private newIkeSa(initiator: boolean, spiI: Buffer, spiR: Buffer): IkeSa {
    const old = this.sa;
    const n = new IkeSa(old.ctx, initiator, spiI, spiR, old.local, old.remote, old.conn);
    n.flags = old.flags;
    n.peerId = old.peerId;
    return n;
  }

  // ---- initiator ----

  private buildRequest(msg: IkeMessage): Status {
    const sa = this.sa;
    if (sa.state !== IkeState.ESTABLISHED) return Status.SUCCESS;
    const conn = sa.conn!;
    if (!this.group) this.group = offersDhGroup(conn.ikeProposals, sa.suite!.dh) ? sa.suite!.dh : firstDhGroup(conn.ikeProposals) ?? DhGroup.NONE;
    if (!this.ke || this.ke.group !== this.group) this.ke = createKeyExchange(this.group);
    this.newSa ??= this.newIkeSa(true, sa.ctx.newIkeSpi(), Buffer.alloc(8));
    this.ni = newNonce();
    const proposals = withDhFirst(conn.ikeProposals, this.group).map((p) => ({ ...p, spi: this.newSa!.spiI }));
    msg.payloads.push({ type: PayloadType.SA, proposals });
    msg.payloads.push({ type: PayloadType.NONCE, data: this.ni });
    msg.payloads.push({ type: PayloadType.KE, group: this.group, data: this.ke.publicValue });
    return Status.NEED_MORE;
  }

  private async processResponse(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    const err = errorNotify(msg);
    if (err) return this.refused(err.notifyType, err.data);
    const saP = payloadOf(msg, PayloadType.SA);
    const ke = payloadOf(msg, PayloadType.KE);
    const nonce = payloadOf(msg, PayloadType.NONCE);
    const chosen = saP && verifyChosen(sa.conn!.ikeProposals, saP.proposals);
    if (!chosen || chosen.protocol !== ProtocolId.IKE || chosen.spi.length !== 8 || !ke || !nonce || ke.group !== this.group) {
      sa.log.warn('IKE rekey response unusable; keeping the old IKE SA');
      return this.retryLater();
    }
    const secret = this.ke!.computeSecret(ke.data);
    if (!secret) return this.retryLater();
    this.nr = Buffer.from(nonce.data);
    const n = this.newSa!;
    n.spiR = Buffer.from(chosen.spi);
    this.derive(n, ikeSuiteOf(chosen), secret);
    const peer = this.collision?.outcome();
    if (peer && holdsLowestNonce({ ni: this.ni!, nr: this.nr }, peer)) {
      // Ours is redundant: the peer's new SA takes the children; we delete ours (§2.8.2).
      sa.log.info('IKE rekey collision: our new IKE SA is redundant, deleting it');
      this.collision!.adoptChildren();
      sa.armDeleteWait(); // the winner deletes the old SA; if it never does, we do
      sa.ctx.ikeAdopt(n);
      n.state = IkeState.ESTABLISHED;
      this.successor = this.collision!.newSa;
      this.followUp = new IkeDelete(n, true);
      n.queueTask(this.followUp);
      void n.initiate();
      return Status.SUCCESS;
    }
    this.switchTo(n);
    this.successor = n;
    this.followUp = new IkeDelete(sa, true);
    sa.queueTask(this.followUp);
    return Status.SUCCESS;
  }

  private refused(type: number, data: Buffer): Status {
    const sa = this.sa;
    this.peerError = type;
    const g = type === NotifyError.INVALID_KE_PAYLOAD ? requestedKeGroup(data) : undefined;
    if (g !== undefined) {
      if (g !== this.group && isSupportedDhGroup(g) && offersDhGroup(sa.conn!.ikeProposals, g)) {
        this.group = g;
        this.ke = undefined;
        return Status.NEED_MORE;
      }
    }
    sa.log.info({ notify: nameOf(NotifyType, type) }, 'IKE rekey refused by the peer');
    return this.retryLater();
  }

  private retryLater(): Status {
    this.newSa = undefined;
    this.ke = undefined;
    if (this.sa.state === IkeState.ESTABLISHED) this.sa.retryRekey(IKE_REKEY_RETRY_MS);
    return Status.SUCCESS;
  }

  private derive(n: IkeSa, suite: ReturnType<typeof ikeSuiteOf>, secret: Buffer): void {
    const old = this.sa;
    const keys = deriveRekeyedIkeKeys(suite, {
      sharedSecret: secret,
      ni: this.ni!,
      nr: this.nr!,
      spiI: n.spiI,
      spiR: n.spiR,
      oldPrf: old.suite!.prf,
      oldSkD: old.skD!,
    });
    secret.fill(0);
    n.setKeys(suite, keys);
    keys.skPi.fill(0);
    keys.skPr.fill(0);
    this.ke = undefined;
  }

  /** The new SA replaces the old one: tables, children, queued work, timers. */
  private switchTo(n: IkeSa): void {
    const old = this.sa;
    old.ctx.ikeAdopt(n);
    n.state = IkeState.ESTABLISHED;
    for (const c of [...old.children]) {
      old.removeChild(c);
      c.ike = n;
      n.addChild(c);
    }
    for (const t of old.tm.takeQueued()) {
      const moved = rebind(t, n);
      if (!moved) {
        endTask(t, { status: 'ABORTED', reason: 'the IKE SA was rekeyed before this ran' });
        continue;
      }
      moved.onEnd = t.onEnd;
      t.onEnd = undefined;
      n.queueTask(moved);
    }
    old.state = IkeState.REKEYED;
    n.establishedAt = old.ctx.scheduler.now();
    n.lastInbound = n.establishedAt;
    n.armLifetimes();
    n.armDpd();
    n.armKeepalive();
    old.ctx.events.ikeRekeyed?.(old, n);
    old.log.info({ newSa: n.name }, 'IKE SA rekeyed');
    void n.initiate();
  }

  // ---- responder ----

  private processRequest(msg: IkeMessage): Status {
    const sa = this.sa;
    const busy = sa.tm.activeTasks().some((t) => BLOCKING.has(t.type));
    if (sa.state !== IkeState.ESTABLISHED || busy) {
      this.error = { type: NotifyError.TEMPORARY_FAILURE };
      return Status.NEED_MORE;
    }
    const saP = payloadOf(msg, PayloadType.SA)!;
    const ke = payloadOf(msg, PayloadType.KE);
    const nonce = payloadOf(msg, PayloadType.NONCE);
    const offered = saP.proposals.filter((p) => p.protocol === ProtocolId.IKE && p.spi.length === 8);
    this.chosen = selectProposal(sa.conn!.ikeProposals, offered, ke?.group);
    if (!this.chosen || !nonce) {
      this.error = { type: NotifyError.NO_PROPOSAL_CHOSEN };
      return Status.NEED_MORE;
    }
    const suite = ikeSuiteOf(this.chosen);
    const answer = answerKe(suite.dh, ke);
    if ('error' in answer) {
      this.error = answer.error;
      return Status.NEED_MORE;
    }
    this.ke = answer.ke;
    this.secret = answer.secret;
    this.ni = Buffer.from(nonce.data);
    return Status.NEED_MORE;
  }

  private buildResponse(msg: IkeMessage): Status {
    const sa = this.sa;
    if (this.error) {
      addNotify(msg, this.error.type, this.error.data);
      return Status.SUCCESS;
    }
    const n = this.newIkeSa(false, Buffer.from(this.chosen!.spi), sa.ctx.newIkeSpi());
    this.newSa = n;
    this.nr = newNonce();
    const ke = this.ke!;
    this.derive(n, ikeSuiteOf(this.chosen!), this.secret!);
    this.secret = undefined;
    msg.payloads.push({ type: PayloadType.SA, proposals: [{ ...this.chosen!, spi: n.spiR }] });
    msg.payloads.push({ type: PayloadType.NONCE, data: this.nr });
    msg.payloads.push({ type: PayloadType.KE, group: ke.group, data: ke.publicValue });
    const ours = sa.tm.activeTasks().find((t): t is IkeRekey => t instanceof IkeRekey && t.initiator);
    if (ours) {
      // Collision: our own rekey's response decides (§2.8.2); until then this SA waits.
      ours.collide(this);
      sa.ctx.ikeAdopt(n);
      n.state = IkeState.ESTABLISHED;
      this.pendingSwitch = n;
      return Status.SUCCESS;
    }
    this.switchTo(n);
    sa.armDeleteWait();
    return Status.SUCCESS;
  }

  private pendingSwitch: IkeSa | undefined;

  /**
   * Collision outcome on the responder side, called by our initiator task's resolution: when
   * the peer's exchange won, its SA takes the children.
   */
  adoptChildren(): void {
    if (this.pendingSwitch) this.switchTo(this.pendingSwitch);
  }

  async abort(): Promise<void> {
    this.ke = undefined;
    this.secret?.fill(0);
  }
}

/** Queued child work moves to the new IKE SA (re-created there); the rest is dropped. */
function rebind(t: Task, n: IkeSa): Task | undefined {
  if (t instanceof ChildRekey && t.initiator && t.old) return new ChildRekey(n, true, t.old);
  if (t instanceof ChildDelete && t.initiator) return new ChildDelete(n, true, [...t.targets]);
  return undefined;
}
