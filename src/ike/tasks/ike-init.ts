/**
 * IKE_SA_INIT (RFC 7296 §1.2), both roles:
 *
 *   Initiator                         Responder
 *   HDR, [N(COOKIE),] SAi1, KEi, Ni,
 *     N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP),
 *     N(IKEV2_FRAGMENTATION_SUPPORTED), N(SIGNATURE_HASH_ALGORITHMS),
 *     N(REDIRECT_SUPPORTED) | N(REDIRECTED_FROM)          -->
 *                                <--  HDR, SAr1, KEr, Nr, N(NAT_DETECTION_*),
 *                                       N(IKEV2_FRAGMENTATION_SUPPORTED),
 *                                       N(SIGNATURE_HASH_ALGORITHMS), [CERTREQ]
 *
 * and the stateless answers: N(COOKIE) (§2.6, made by the SA manager), N(INVALID_KE_PAYLOAD)
 * with the group we want (§1.2), N(NO_PROPOSAL_CHOSEN), N(REDIRECT) (RFC 5685 §4). The
 * initiator retries with the cookie or the requested group (message ID 0 again), and follows
 * a redirect to a new IKE SA.
 */
import { DhGroup, ExchangeType, NotifyError, NotifyStatus, PayloadType, ProtocolId, nameOf, NotifyType } from '../constants.js';
import type { IkeMessage, Proposal } from '../codec/types.js';
import type { KeyExchange } from '../crypto/types.js';
import { createKeyExchange, deriveIkeKeys, isSupportedDhGroup, respondKeyExchange } from '../crypto/index.js';
import { encodeSignatureHashAlgorithms, parseSignatureHashAlgorithms } from '../crypto/signature.js';
import { firstDhGroup, ikeSuiteOf, offersDhGroup, proposalToString, selectProposal, verifyChosen, withDhFirst } from '../proposal.js';
import { decodeRedirect, encodeRedirectedFrom, gatewayIdToString } from '../redirect/notify.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { IkeFlag, newNonce } from '../sa/state.js';
import { addNatDetection, checkNatDetection } from '../sa/nat.js';
import { addNotify, errorNotify, hasNotify, notifyOf, payloadOf, payloadsOf } from '../sa/payloads.js';
import { invalidKeData, requestedKeGroup } from './key-exchange.js';
import { DropReason } from '../sa/counters.js';
import { addCertReqs } from './certs.js';
import { Status, TaskType, type Task } from './task.js';

/** Retries of IKE_SA_INIT after COOKIE or INVALID_KE_PAYLOAD before giving up. */
const MAX_INIT_RETRIES = 3;
/** RFC 7296 §2.6: a cookie is 1 to 64 octets. */
const COOKIE_MAX = 64;
const ZERO_SPI = Buffer.alloc(8);

export class IkeInit implements Task {
  readonly type = TaskType.IKE_INIT;
  readonly exchange = ExchangeType.IKE_SA_INIT;
  private ke: KeyExchange | undefined;
  private nonce: Buffer | undefined;
  private group = 0;
  private cookie: Buffer | undefined;
  private retries = 0;
  // responder
  private chosen: Proposal | undefined;
  private peerNonce: Buffer | undefined;
  private secret: Buffer | undefined;
  private error: { type: number; data?: Buffer } | undefined;
  /** Initiator: the error notify the responder refused IKE_SA_INIT with. */
  peerError: number | undefined;

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
  ) {}

  build(msg: IkeMessage): Promise<Status> {
    return Promise.resolve(this.initiator ? this.buildRequest(msg) : this.buildResponse(msg));
  }

  process(msg: IkeMessage): Promise<Status> {
    return Promise.resolve(this.initiator ? this.processResponse(msg) : this.processRequest(msg));
  }

  /**
   * RFC 5685 §4: a REDIRECT in the IKE_SA_INIT response carries the initiator's Ni, which only
   * the responder that got our request knows. One without it (malformed, or another nonce) is
   * an off-path forgery or a stray answer to an earlier request: not an answer to this one. It is
   * ignored, and we keep waiting for the responder (and retransmitting) instead of failing.
   */
  answers(msg: IkeMessage): boolean {
    if (!this.initiator) return true;
    const n = notifyOf(msg, NotifyStatus.REDIRECT);
    if (!n) return true;
    const r = decodeRedirect(n.data);
    if (r && this.nonce && r.nonce.equals(this.nonce)) return true;
    this.sa.ctx.unauthenticatedLog.warn(
      'init-redirect-forged',
      { peer: this.sa.remote.address, to: r ? gatewayIdToString(r.gw) : 'malformed' },
      'IKE_SA_INIT response with a REDIRECT that does not carry our Ni ignored (forged or stray); still waiting for the responder',
    );
    return false;
  }

  // ---- initiator ----

  private buildRequest(msg: IkeMessage): Status {
    const sa = this.sa;
    const conn = sa.conn!;
    if (!this.group) this.group = firstDhGroup(conn.ikeProposals) ?? DhGroup.NONE;
    if (!this.ke || this.ke.group !== this.group) this.ke = createKeyExchange(this.group);
    this.nonce ??= newNonce();
    sa.auth = { ni: this.nonce, nr: Buffer.alloc(0), skPi: Buffer.alloc(0), skPr: Buffer.alloc(0) };
    msg.header.spiR = ZERO_SPI;
    if (this.cookie) addNotify(msg, NotifyStatus.COOKIE, this.cookie);
    msg.payloads.push({ type: PayloadType.SA, proposals: withDhFirst(conn.ikeProposals, this.group) });
    msg.payloads.push({ type: PayloadType.KE, group: this.group, data: this.ke.publicValue });
    msg.payloads.push({ type: PayloadType.NONCE, data: this.nonce });
    addNatDetection(msg, sa.local, sa.remote);
    this.addCapabilities(msg);
    if (sa.redirectedFrom) addNotify(msg, NotifyStatus.REDIRECTED_FROM, encodeRedirectedFrom(sa.redirectedFrom));
    else if (conn.followRedirects) addNotify(msg, NotifyStatus.REDIRECT_SUPPORTED);
    return Status.NEED_MORE;
  }

  private addCapabilities(msg: IkeMessage): void {
    if (this.sa.conn?.fragmentation && (this.initiator || this.sa.has(IkeFlag.PEER_FRAGMENTATION))) {
      addNotify(msg, NotifyStatus.IKEV2_FRAGMENTATION_SUPPORTED);
    }
    if (this.initiator || this.sa.has(IkeFlag.PEER_SIG_HASH)) {
      addNotify(msg, NotifyStatus.SIGNATURE_HASH_ALGORITHMS, encodeSignatureHashAlgorithms());
    }
  }

  private processResponse(msg: IkeMessage): Status {
    const sa = this.sa;
    const cookie = notifyOf(msg, NotifyStatus.COOKIE);
    if (cookie) return this.retryWith('cookie', () => {
      if (cookie.data.length < 1 || cookie.data.length > COOKIE_MAX) return false;
      this.cookie = Buffer.from(cookie.data);
      return true;
    });
    const redirect = notifyOf(msg, NotifyStatus.REDIRECT);
    if (redirect) return this.followRedirect(redirect.data);
    const err = errorNotify(msg);
    if (err?.notifyType === NotifyError.INVALID_KE_PAYLOAD) {
      return this.retryWith('INVALID_KE_PAYLOAD', () => {
        const g = requestedKeGroup(err.data) ?? -1;
        sa.log.info({ requested: nameOf(DhGroup, g) }, 'responder asks for another DH group');
        if (g === this.group || !offersDhGroup(sa.conn!.ikeProposals, g) || !isSupportedDhGroup(g)) return false;
        this.group = g;
        this.ke = undefined;
        return true;
      });
    }
    if (err) {
      this.peerError = err.notifyType;
      sa.refusedWith = err.notifyType;
      sa.log.warn({ notify: nameOf(NotifyType, err.notifyType) }, 'IKE_SA_INIT refused by the responder');
      return Status.FAILED;
    }
    return this.completeInitiator(msg);
  }

  private retryWith(what: string, apply: () => boolean): Status {
    if (++this.retries > MAX_INIT_RETRIES || !apply()) {
      this.sa.log.warn({ what, retries: this.retries }, 'IKE_SA_INIT retry not possible');
      return Status.FAILED;
    }
    this.sa.tm.restartInit = true;
    return Status.NEED_MORE;
  }

  /** A REDIRECT that carries our Ni (checked by `answers` before the response got here). */
  private followRedirect(data: Buffer): Status {
    const sa = this.sa;
    const r = decodeRedirect(data)!;
    if (!sa.conn?.followRedirects) {
      sa.log.warn({ to: gatewayIdToString(r.gw) }, 'redirected at IKE_SA_INIT without having announced REDIRECT_SUPPORTED');
      return Status.FAILED;
    }
    sa.log.info({ to: gatewayIdToString(r.gw) }, 'redirected at IKE_SA_INIT');
    sa.ctx.followRedirect(sa, r.gw);
    return Status.DESTROY;
  }

  private completeInitiator(msg: IkeMessage): Status {
    const sa = this.sa;
    const conn = sa.conn!;
    const saP = payloadOf(msg, PayloadType.SA);
    const ke = payloadOf(msg, PayloadType.KE);
    const nonce = payloadOf(msg, PayloadType.NONCE);
    const chosen = saP && verifyChosen(conn.ikeProposals, saP.proposals);
    if (!saP || !ke || !nonce || !chosen || chosen.protocol !== ProtocolId.IKE || msg.header.spiR.equals(ZERO_SPI)) {
      sa.ctx.counters.inc(DropReason.BAD_RESPONSE);
      sa.log.warn('IKE_SA_INIT response unusable (proposal, KE, nonce or SPI)');
      return Status.FAILED;
    }
    const suite = ikeSuiteOf(chosen);
    if (ke.group !== this.group || suite.dh !== this.group) {
      sa.log.warn({ ke: ke.group, ours: this.group }, 'responder KE group differs from ours');
      return Status.FAILED;
    }
    const secret = this.ke!.computeSecret(ke.data);
    if (!secret) return Status.FAILED;
    sa.spiR = Buffer.from(msg.header.spiR);
    const nr = Buffer.from(nonce.data);
    const keys = deriveIkeKeys(suite, { sharedSecret: secret, ni: this.nonce!, nr, spiI: sa.spiI, spiR: sa.spiR });
    secret.fill(0);
    sa.setKeys(suite, keys, { ni: this.nonce!, nr });
    this.noteCapabilities(msg);
    this.noteNat(msg);
    if (sa.natDetected) sa.floatToNatT();
    this.ke = undefined;
    const log = sa.log;
    if (log.enabled('debug')) log.debug({ proposal: proposalToString(chosen), nat: sa.natDetected }, 'IKE_SA_INIT done');
    return Status.SUCCESS;
  }

  private noteCapabilities(msg: IkeMessage): void {
    const sa = this.sa;
    if (hasNotify(msg, NotifyStatus.IKEV2_FRAGMENTATION_SUPPORTED)) sa.flags |= IkeFlag.PEER_FRAGMENTATION;
    const sh = notifyOf(msg, NotifyStatus.SIGNATURE_HASH_ALGORITHMS);
    const hashes = sh && parseSignatureHashAlgorithms(sh.data);
    if (hashes) {
      sa.flags |= IkeFlag.PEER_SIG_HASH;
      if (sa.auth) sa.auth.peerHashes = hashes;
    }
    const reqs = payloadsOf(msg, PayloadType.CERTREQ);
    if (reqs.length && sa.auth) sa.auth.peerCertReqs = reqs.map((r) => Buffer.from(r.data));
  }

  private noteNat(msg: IkeMessage): void {
    const nat = checkNatDetection(msg, this.sa.local, this.sa.remote);
    if (nat.local) this.sa.flags |= IkeFlag.NAT_LOCAL;
    if (nat.remote) this.sa.flags |= IkeFlag.NAT_REMOTE;
  }

  // ---- responder ----

  private processRequest(msg: IkeMessage): Status {
    const sa = this.sa;
    const conn = sa.conn!;
    const saP = payloadOf(msg, PayloadType.SA);
    const ke = payloadOf(msg, PayloadType.KE);
    const nonce = payloadOf(msg, PayloadType.NONCE);
    if (!saP || !ke || !nonce) {
      this.error = { type: NotifyError.INVALID_SYNTAX };
      return Status.NEED_MORE;
    }
    this.peerNonce = Buffer.from(nonce.data);
    sa.auth = { ...sa.auth, ni: this.peerNonce, nr: Buffer.alloc(0), skPi: Buffer.alloc(0), skPr: Buffer.alloc(0) };
    // RFC 5685 §4: the redirect provider was asked before this SA was made (../sa/manager.ts):
    // an SA exists only for a peer served here (PEER_REDIRECT set there if it may be redirected later).
    const ikeProposals = saP.proposals.filter((p) => p.protocol === ProtocolId.IKE && p.spi.length === 0);
    this.chosen = selectProposal(conn.ikeProposals, ikeProposals, ke.group);
    if (!this.chosen) {
      sa.ctx.unauthenticatedLog.info('init-no-proposal', { peer: sa.remote.address, offered: ikeProposals.map(proposalToString) }, 'no acceptable IKE proposal');
      this.error = { type: NotifyError.NO_PROPOSAL_CHOSEN };
      return Status.NEED_MORE;
    }
    const suite = ikeSuiteOf(this.chosen);
    if (suite.dh !== ke.group) {
      this.error = { type: NotifyError.INVALID_KE_PAYLOAD, data: invalidKeData(suite.dh) };
      return Status.NEED_MORE;
    }
    this.group = suite.dh;
    const answer = respondKeyExchange(this.group, ke.data);
    this.ke = answer.exchange;
    const secret = answer.secret;
    if (!secret) {
      sa.ctx.unauthenticatedLog.info('init-bad-ke', { peer: sa.remote.address, group: nameOf(DhGroup, this.group) }, 'peer KE value is invalid');
      this.error = { type: NotifyError.INVALID_SYNTAX };
      return Status.NEED_MORE;
    }
    this.secret = secret;
    this.noteCapabilities(msg);
    this.noteNat(msg);
    return Status.NEED_MORE;
  }

  private buildResponse(msg: IkeMessage): Status {
    const sa = this.sa;
    if (this.error) {
      msg.header.spiR = ZERO_SPI;
      addNotify(msg, this.error.type, this.error.data);
      return Status.FAILED;
    }
    const nr = newNonce();
    msg.payloads.push({ type: PayloadType.SA, proposals: [this.chosen!] });
    msg.payloads.push({ type: PayloadType.KE, group: this.group, data: this.ke!.publicValue });
    msg.payloads.push({ type: PayloadType.NONCE, data: nr });
    addNatDetection(msg, sa.local, sa.remote);
    this.addCapabilities(msg);
    addCertReqs(sa, msg);
    const suite = ikeSuiteOf(this.chosen!);
    const ni = this.peerNonce!;
    const keys = deriveIkeKeys(suite, { sharedSecret: this.secret!, ni, nr, spiI: sa.spiI, spiR: sa.spiR });
    this.secret!.fill(0);
    this.secret = undefined;
    this.ke = undefined;
    sa.setKeys(suite, keys, { ni, nr });
    return Status.SUCCESS;
  }
}
