/**
 * Creating a child SA (RFC 7296 §1.3.1, §2.9, §2.17), both roles; in IKE_AUTH (the first
 * child, nonces and no KE of its own) or in CREATE_CHILD_SA (own nonces, optional PFS KE).
 * Child rekeying (child-rekey.ts) runs one of these with N(REKEY_SA).
 *
 *   HDR, SK {[N(REKEY_SA),] SA, Ni, [KEi,] TSi, TSr}  -->
 *                                <--  HDR, SK {SA, Nr, [KEr,] TSi, TSr}
 *   (in IKE_AUTH: SAi2, TSi, TSr / SAr2, TSi, TSr, next to the authentication payloads)
 *
 * Child errors (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE, INVALID_KE_PAYLOAD) are answered as
 * notifies and keep the IKE SA. A kernel install failure tears the IKE SA down (IKE_DELETE),
 * leaving nothing half-installed.
 */
import { DhGroup, ExchangeType, NotifyError, NotifyType, PayloadType, ProtocolId, TransformType, nameOf } from '../constants.js';
import type { IkeMessage, Proposal } from '../codec/types.js';
import type { KeyExchange } from '../crypto/types.js';
import { createKeyExchange, createPrf, deriveChildKeys, isSupportedDhGroup } from '../crypto/index.js';
import { answerKe, requestedKeGroup } from './key-exchange.js';
import type { ResolvedChild } from '../config.js';
import { espSuiteOf, selectProposal, transformId, verifyChosen } from '../proposal.js';
import { narrowTs, prefixCount, resolveTs, tsFromWire, tsSubset, tsToWire, type TrafficSelector } from '../traffic-selectors.js';
import { ChildSa, ChildState } from '../sa/child-sa.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { IkeState, newNonce } from '../sa/state.js';
import { addNotify, errorNotify, payloadOf, readSpi32, spi32 } from '../sa/payloads.js';
import { IkeDelete } from './ike-delete.js';
import { Status, TaskType, type Task } from './task.js';

export interface ChildCreateOptions {
  /** In IKE_AUTH (the first child) rather than CREATE_CHILD_SA. */
  inAuth?: boolean;
  /** Rekeying this child: same config, reqid and selectors. */
  rekeying?: ChildSa;
}

/** IKE_AUTH proposals carry no DH (RFC 7296 §1.2: the KE of IKE_SA_INIT serves). */
function withoutDh(ps: readonly Proposal[]): Proposal[] {
  return ps.map((p) => ({ ...p, transforms: p.transforms.filter((t) => t.type !== TransformType.DH) }));
}

function tsOf(msg: IkeMessage, type: typeof PayloadType.TSi | typeof PayloadType.TSr): TrafficSelector[] | undefined {
  const p = payloadOf(msg, type);
  return p?.selectors.map(tsFromWire).filter((t): t is TrafficSelector => t !== undefined);
}

export class ChildCreate implements Task {
  readonly type = TaskType.CHILD_CREATE;
  readonly exchange: number;
  child: ChildSa | undefined;
  /** This exchange's nonces (for rekey collisions, §2.8.1). */
  ni: Buffer | undefined;
  nr: Buffer | undefined;
  private ke: KeyExchange | undefined;
  private group = 0;
  private secret: Buffer | undefined;
  private chosen: Proposal | undefined;
  private error: { type: number; data?: Buffer } | undefined;
  /** The child error the responder answered, when the initiator side failed. */
  failedWith: number | undefined;

  /** The error notify the peer refused the child with (Task.peerError). */
  get peerError(): number | undefined {
    return this.failedWith;
  }
  private readonly inAuth: boolean;
  private readonly rekeying: ChildSa | undefined;

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
    private cfg: ResolvedChild | undefined,
    opts: ChildCreateOptions = {},
  ) {
    this.inAuth = opts.inAuth ?? false;
    this.rekeying = opts.rekeying;
    this.exchange = this.inAuth ? ExchangeType.IKE_AUTH : ExchangeType.CREATE_CHILD_SA;
  }

  private proposals(): Proposal[] {
    const ps = this.cfg!.proposals;
    return this.inAuth ? withoutDh(ps) : ps;
  }

  private localTs(): TrafficSelector[] {
    return this.rekeying ? this.rekeying.localTs : resolveTs(this.cfg!.cfg.localTs, this.sa.local.address);
  }

  private remoteTs(): TrafficSelector[] {
    return this.rekeying ? this.rekeying.remoteTs : resolveTs(this.cfg!.cfg.remoteTs, this.sa.remote.address);
  }

  private newChild(): ChildSa {
    const r = this.rekeying;
    return new ChildSa(this.sa, this.cfg!, r ? r.reqid : this.sa.ctx.allocReqid(), !r);
  }

  async build(msg: IkeMessage): Promise<Status> {
    return this.initiator ? this.buildRequest(msg) : this.buildResponse(msg);
  }

  async process(msg: IkeMessage): Promise<Status> {
    return this.initiator ? this.processResponse(msg) : this.processRequest(msg);
  }

  // ---- initiator ----

  private async buildRequest(msg: IkeMessage): Promise<Status> {
    if (!this.child) {
      this.child = this.newChild();
      if (!(await this.child.allocateSpi())) {
        await this.release();
        return this.inAuth ? Status.FAILED : Status.SUCCESS;
      }
    }
    const proposals = this.proposals().map((p) => ({ ...p, spi: spi32(this.child!.spiIn) }));
    msg.payloads.push({ type: PayloadType.SA, proposals });
    if (!this.inAuth) {
      this.ni = newNonce();
      msg.payloads.push({ type: PayloadType.NONCE, data: this.ni });
      const g = this.group || proposals[0]!.transforms.find((t) => t.type === TransformType.DH && t.id !== DhGroup.NONE)?.id;
      if (g) {
        this.group = g;
        if (!this.ke || this.ke.group !== g) this.ke = createKeyExchange(g);
        msg.payloads.push({ type: PayloadType.KE, group: g, data: this.ke.publicValue });
      }
    }
    msg.payloads.push({ type: PayloadType.TSi, selectors: this.localTs().map(tsToWire) });
    msg.payloads.push({ type: PayloadType.TSr, selectors: this.remoteTs().map(tsToWire) });
    return Status.NEED_MORE;
  }

  private async processResponse(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    const child = this.child!;
    if (this.inAuth && sa.state !== IkeState.ESTABLISHED) {
      await this.release();
      return Status.SUCCESS;
    }
    const err = errorNotify(msg);
    if (err) return this.childRefused(err.notifyType, err.data);
    const saP = payloadOf(msg, PayloadType.SA);
    const chosen = saP && verifyChosen(this.proposals(), saP.proposals);
    const spiOut = chosen && readSpi32(chosen.spi);
    const tsi = tsOf(msg, PayloadType.TSi);
    const tsr = tsOf(msg, PayloadType.TSr);
    const suite = chosen && espSuiteOf(chosen);
    if (!chosen || !spiOut || !suite || chosen.protocol !== ProtocolId.ESP || !tsi || !tsr ||
        !tsSubset(tsi, this.localTs()) || !tsSubset(tsr, this.remoteTs())) {
      sa.log.warn('child SA response unusable (proposal, SPI or selectors); closing the IKE SA');
      return this.installFailed();
    }
    if (!this.inAuth) {
      const nonce = payloadOf(msg, PayloadType.NONCE);
      if (!nonce) return this.installFailed();
      this.nr = Buffer.from(nonce.data);
      if (suite.dh !== DhGroup.NONE) {
        const ke = payloadOf(msg, PayloadType.KE);
        const secret = ke && ke.group === suite.dh && this.ke?.group === suite.dh ? this.ke.computeSecret(ke.data) : null;
        if (!secret) return this.installFailed();
        this.secret = secret;
      }
    }
    child.spiOut = spiOut;
    child.suite = suite;
    child.localTs = tsi;
    child.remoteTs = tsr;
    return (await this.installKeys(chosen, true)) ? Status.SUCCESS : this.installFailed();
  }

  /** The responder refused the child; the IKE SA stays (unless it was about the KE group). */
  private async childRefused(type: number, data: Buffer): Promise<Status> {
    const sa = this.sa;
    const g = type === NotifyError.INVALID_KE_PAYLOAD && !this.inAuth ? requestedKeGroup(data) : undefined;
    if (g !== undefined) {
      if (g !== this.group && isSupportedDhGroup(g) && this.cfg!.proposals.some((p) => transformId(p, TransformType.DH) === g)) {
        this.group = g;
        this.ke = undefined;
        return Status.NEED_MORE; // again, with the group the responder wants
      }
    }
    sa.log.warn({ notify: nameOf(NotifyType, type), child: this.cfg?.name }, 'child SA refused by the peer');
    this.failedWith = type;
    await this.release();
    return Status.SUCCESS;
  }

  // ---- responder ----

  /** Finds the child config whose selectors meet the proposed ones (§2.9 narrowing). */
  private pickConfig(tsi: TrafficSelector[], tsr: TrafficSelector[]): { cfg: ResolvedChild; local: TrafficSelector[]; remote: TrafficSelector[] } | undefined {
    const sa = this.sa;
    const candidates = this.rekeying ? [this.rekeying.cfg] : sa.conn!.children;
    for (const cfg of candidates) {
      const local = narrowTs(this.rekeying ? this.rekeying.localTs : resolveTs(cfg.cfg.localTs, sa.local.address), tsr);
      const remote = narrowTs(this.rekeying ? this.rekeying.remoteTs : resolveTs(cfg.cfg.remoteTs, sa.remote.address), tsi);
      if (local.length > 0 && remote.length > 0) return { cfg, local, remote };
    }
    return undefined;
  }

  private async processRequest(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    if (this.inAuth && (sa.peerId === undefined || sa.state === IkeState.DELETING)) return Status.SUCCESS;
    const saP = payloadOf(msg, PayloadType.SA);
    const tsi = tsOf(msg, PayloadType.TSi);
    const tsr = tsOf(msg, PayloadType.TSr);
    if (!saP || !tsi || !tsr) {
      if (this.inAuth) return Status.SUCCESS; // childless IKE_AUTH (RFC 6023)
      this.error = { type: NotifyError.INVALID_SYNTAX };
      return Status.NEED_MORE;
    }
    const pick = this.pickConfig(tsi, tsr);
    if (!pick || this.tooManyRoutes(pick.remote)) {
      this.error = { type: NotifyError.TS_UNACCEPTABLE };
      return Status.NEED_MORE;
    }
    this.cfg = pick.cfg;
    const offered = saP.proposals.filter((p) => p.protocol === ProtocolId.ESP && p.spi.length === 4);
    const ke = payloadOf(msg, PayloadType.KE);
    this.chosen = selectProposal(this.proposals(), offered, ke?.group);
    const suite = this.chosen && espSuiteOf(this.chosen);
    if (!this.chosen || !suite) {
      this.error = { type: NotifyError.NO_PROPOSAL_CHOSEN };
      return Status.NEED_MORE;
    }
    if (!this.inAuth) {
      const nonce = payloadOf(msg, PayloadType.NONCE);
      if (!nonce) {
        this.error = { type: NotifyError.INVALID_SYNTAX };
        return Status.NEED_MORE;
      }
      this.ni = Buffer.from(nonce.data);
      if (suite.dh !== DhGroup.NONE) {
        const answer = answerKe(suite.dh, ke);
        if ('error' in answer) {
          this.error = answer.error;
          return Status.NEED_MORE;
        }
        this.ke = answer.ke;
        this.secret = answer.secret;
      }
    }
    this.child = this.newChild();
    this.child.spiOut = readSpi32(this.chosen.spi)!;
    this.child.suite = suite;
    this.child.localTs = pick.local;
    this.child.remoteTs = pick.remote;
    return Status.NEED_MORE;
  }

  /**
   * The narrowed remote selectors need more routes than the gateway injects for one child
   * (settings.maxRemotePrefixesPerChild): the whole child is refused, never half routed (some
   * subnets black-holed behind an SA that looks up). A rekey keeps the selectors it has.
   */
  private tooManyRoutes(remote: TrafficSelector[]): boolean {
    const max = this.sa.ctx.settings.maxRemotePrefixesPerChild;
    if (!max || this.rekeying) return false;
    const n = prefixCount(remote);
    if (n <= max) return false;
    this.sa.log.warn({ prefixes: n, max, peerId: this.sa.peerId }, 'child SA refused: its traffic selectors need more routes than kernel.routes.maxPerChild');
    return true;
  }

  /** Refuses the child (the IKE SA stays). Used by rekey/collision logic too. */
  refuse(type: number, data?: Buffer): void {
    this.error = data ? { type, data } : { type };
  }

  private async buildResponse(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    if (this.inAuth && (sa.state !== IkeState.ESTABLISHED || !this.child && !this.error)) return Status.SUCCESS;
    if (this.error) {
      sa.log.info({ notify: nameOf(NotifyType, this.error.type) }, 'refusing child SA');
      await this.release();
      addNotify(msg, this.error.type, this.error.data);
      return Status.SUCCESS;
    }
    const child = this.child!;
    if (!(await child.allocateSpi())) {
      await this.release();
      addNotify(msg, NotifyError.NO_PROPOSAL_CHOSEN);
      return Status.SUCCESS;
    }
    const chosen = { ...this.chosen!, spi: spi32(child.spiIn) };
    if (!(await this.installKeys(chosen, false))) {
      // Nothing is left in the kernel; the peer hears NO_PROPOSAL_CHOSEN and the IKE SA closes.
      addNotify(msg, NotifyError.NO_PROPOSAL_CHOSEN);
      await this.installFailed();
      return Status.SUCCESS;
    }
    msg.payloads.push({ type: PayloadType.SA, proposals: [chosen] });
    if (!this.inAuth) {
      msg.payloads.push({ type: PayloadType.NONCE, data: this.nr! });
      if (this.ke) msg.payloads.push({ type: PayloadType.KE, group: this.ke.group, data: this.ke.publicValue });
    }
    msg.payloads.push({ type: PayloadType.TSi, selectors: child.remoteTs.map(tsToWire) });
    msg.payloads.push({ type: PayloadType.TSr, selectors: child.localTs.map(tsToWire) });
    this.ke = undefined;
    return Status.SUCCESS;
  }

  /** KEYMAT (§2.17) and kernel install; false if the kernel refused (rolled back). */
  private async installKeys(chosen: Proposal, weInitiated: boolean): Promise<boolean> {
    const sa = this.sa;
    const child = this.child!;
    let ni: Buffer;
    let nr: Buffer;
    if (this.inAuth) {
      ni = sa.auth!.ni;
      nr = sa.auth!.nr;
    } else {
      if (!weInitiated) this.nr = newNonce();
      ni = this.ni!;
      nr = this.nr!;
    }
    const encr = chosen.transforms.find((t) => t.type === TransformType.ENCR)!;
    const keys = deriveChildKeys(
      createPrf(sa.suite!.prf),
      { encr: encr.id, encrKeyLength: encr.keyLength ?? 128, integ: transformId(chosen, TransformType.INTEG) ?? 0 },
      { skD: sa.skD!, ni, nr, ...(this.secret ? { sharedSecret: this.secret } : {}) },
    );
    this.secret?.fill(0);
    this.secret = undefined;
    sa.addChild(child);
    // Rekey responder: the initiator cannot receive on the new SA before it has our response;
    // we keep sending on the old SA until it is deleted (child-sa.ts, §2.8).
    const deferOutbound = !weInitiated && this.rekeying !== undefined && this.rekeying.state !== ChildState.DELETED;
    if (!(await child.install(keys, weInitiated, { deferOutbound }))) {
      await this.release();
      return false;
    }
    if (!this.rekeying) sa.ctx.events.childUp?.(child);
    return true;
  }

  /** SA install failed or the response is unusable: close the IKE SA cleanly. */
  private async installFailed(): Promise<Status> {
    await this.release();
    if (!this.sa.tm.hasTask(TaskType.IKE_DELETE)) this.sa.queueTask(new IkeDelete(this.sa, true));
    return Status.SUCCESS;
  }

  /** Gives back what this task holds (allocated SPI, reqid) when no child results. */
  async release(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    this.ke = undefined;
    this.secret?.fill(0);
    this.secret = undefined;
    if (c) await c.remove('not established');
  }

  async abort(): Promise<void> {
    if (this.child && !this.child.isInstalled) await this.release();
  }
}
