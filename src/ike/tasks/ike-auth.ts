/**
 * IKE_AUTH (RFC 7296 §1.2, §2.15), the identity and authentication part, both roles. The
 * first child SA travels in the same exchange (ChildCreate, after this task).
 *
 *   Initiator                         Responder
 *   HDR, SK {IDi, [CERT+,] [N(INITIAL_CONTACT),] [CERTREQ,] [IDr,] AUTH,
 *            SAi2, TSi, TSr}  -->
 *                                <--  HDR, SK {IDr, [CERT+,] AUTH, SAr2, TSi, TSr}
 *                                     or HDR, SK {N(AUTHENTICATION_FAILED)}
 *                                     or HDR, SK {IDr, AUTH, N(REDIRECT)}   (RFC 5685 §6)
 *
 * The responder picks the connection by the initiator's identity, asks the redirect provider
 * after authenticating the peer, and on INITIAL_CONTACT removes older SAs of that peer (§2.4).
 */
import { AuthMethod, ExchangeType, NotifyError, NotifyStatus, NotifyType, PayloadType, nameOf } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { authSignedOctets, verifyPskAuthWithPadKey } from '../crypto/auth.js';
import { createPrf } from '../crypto/prf.js';
import { signAuth, verifyAuth } from '../crypto/signature.js';
import type { ResolvedConnection } from '../config.js';
import { formatIdentity, identityEquals, identityFromPayload, parseIdentity, type Identity } from '../identity.js';
import { isRefusal } from '../redirect/provider.js';
import { decodeRedirect, encodeRedirect, gatewayIdToString, type GatewayId } from '../redirect/notify.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { IkeFlag, IkeState } from '../sa/state.js';
import { addNotify, errorNotify, hasNotify, notifyOf, payloadOf, payloadsOf } from '../sa/payloads.js';
import { DropReason } from '../sa/counters.js';
import { addCertReqs, addCerts, credentialsOf, peerPublicKey, pskPadKeyOf } from './certs.js';
import { IkeDelete } from './ike-delete.js';
import { TellAuthFailed } from './ike-peer-error.js';
import { Status, TaskType, type Task } from './task.js';

/** Our identity for a connection: configured, else our IKE address (strongSwan's default). */
export function localIdentity(conn: ResolvedConnection, localAddr: string): Identity {
  return parseIdentity(conn.cfg.local.id ?? localAddr);
}

/** Whether a configured remote identity accepts `id` ("%any" or absent: anyone). */
export function remoteIdAccepts(conn: ResolvedConnection, id: Identity): boolean {
  const want = conn.cfg.remote.id;
  if (want === undefined || want === '%any') return true;
  return identityEquals(parseIdentity(want), id);
}

function addressMatches(list: readonly string[] | undefined, addr: string): boolean {
  return !list || list.length === 0 || list.includes('%any') || list.includes(addr);
}

/** Responder: the connection for an initiator's identity and our address, in config order. */
export function findConnection(sa: IkeSa, peer: Identity, idr: Identity | undefined): ResolvedConnection | undefined {
  const candidates = sa.ctx.connections().filter(
    (c) => addressMatches(c.cfg.local.addrs, sa.local.address) && addressMatches(c.cfg.remote.addrs, sa.remote.address),
  );
  return candidates.find(
    (c) => remoteIdAccepts(c, peer) && (!idr || identityEquals(idr, localIdentity(c, sa.local.address))),
  ) ?? candidates.find((c) => remoteIdAccepts(c, peer));
}

export class IkeAuth implements Task {
  readonly type = TaskType.IKE_AUTH;
  readonly exchange = ExchangeType.IKE_AUTH;
  private failure: number | undefined;
  private redirectTo: GatewayId | undefined;
  /** Initiator: the error notify the responder refused IKE_AUTH with. */
  peerError: number | undefined;

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
  ) {}

  /** AUTH payload data for our side, or undefined when our credentials cannot sign. */
  private ourAuth(conn: ResolvedConnection, id: Identity): { method: number; data: Buffer } | undefined {
    const sa = this.sa;
    const a = sa.auth!;
    const prf = createPrf(sa.suite!.prf);
    const octets = authSignedOctets({
      message: (this.initiator ? a.initRequest : a.initResponse)!,
      peerNonce: this.initiator ? a.nr : a.ni,
      prf,
      skP: this.initiator ? a.skPi : a.skPr,
      idType: id.type,
      idData: id.data,
    });
    const padKey = pskPadKeyOf(conn, 'local', prf);
    if (padKey) return { method: AuthMethod.SHARED_KEY_MIC, data: prf.compute(padKey, octets) };
    const key = credentialsOf(conn).localKey;
    if (!key) return undefined;
    const r = signAuth(key, octets, { peerHashes: sa.auth?.peerHashes ?? null });
    if (!r.ok) {
      sa.log.warn({ reason: r.reason }, 'cannot sign AUTH');
      return undefined;
    }
    return { method: r.method, data: r.data };
  }

  /** Checks the peer's AUTH payload against its identity and credentials. */
  private peerAuthOk(conn: ResolvedConnection, msg: IkeMessage, peer: Identity): boolean {
    const sa = this.sa;
    const a = sa.auth!;
    const auth = payloadOf(msg, PayloadType.AUTH);
    if (!auth) return false;
    const prf = createPrf(sa.suite!.prf);
    const octets = authSignedOctets({
      message: (this.initiator ? a.initResponse : a.initRequest)!,
      peerNonce: this.initiator ? a.ni : a.nr,
      prf,
      skP: this.initiator ? a.skPr : a.skPi,
      idType: peer.type,
      idData: peer.data,
    });
    const remote = conn.cfg.remote.auth;
    if (remote.method === 'psk') {
      return auth.method === AuthMethod.SHARED_KEY_MIC && verifyPskAuthWithPadKey(prf, pskPadKeyOf(conn, 'remote', prf)!, octets, auth.data);
    }
    if (auth.method === AuthMethod.SHARED_KEY_MIC) return false;
    const key = peerPublicKey(conn, payloadsOf(msg, PayloadType.CERT), peer, new Date());
    if (!key.ok) {
      sa.log.warn({ peer: formatIdentity(peer), reason: key.reason }, 'peer certificate not accepted');
      return false;
    }
    const v = verifyAuth(key.key, auth.method, auth.data, octets);
    if (!v.ok) sa.log.warn({ reason: v.reason }, 'peer signature does not verify');
    return v.ok;
  }

  async build(msg: IkeMessage): Promise<Status> {
    return this.initiator ? this.buildRequest(msg) : this.buildResponse(msg);
  }

  async process(msg: IkeMessage): Promise<Status> {
    return this.initiator ? this.processResponse(msg) : this.processRequest(msg);
  }

  // ---- initiator ----

  private buildRequest(msg: IkeMessage): Status {
    const sa = this.sa;
    const conn = sa.conn!;
    const id = localIdentity(conn, sa.local.address);
    msg.payloads.push({ type: PayloadType.IDi, idType: id.type, data: id.data });
    if (conn.cfg.local.auth.method === 'pubkey') addCerts(conn, msg);
    // RFC 7296 §2.4: only when no other IKE SA exists between our identity and the peer's.
    const other = conn.ownIdentity ? sa.ctx.hasSaOfConnection(conn, sa) : sa.ctx.hasSaOfPeer(conn.cfg.remote.id ?? sa.remote.address, sa);
    if (conn.initialContact && !other) {
      addNotify(msg, NotifyStatus.INITIAL_CONTACT);
    }
    addCertReqs(sa, msg);
    const want = conn.cfg.remote.id;
    if (want && want !== '%any') {
      const idr = parseIdentity(want);
      msg.payloads.push({ type: PayloadType.IDr, idType: idr.type, data: idr.data });
    }
    const auth = this.ourAuth(conn, id);
    if (!auth) return Status.FAILED;
    msg.payloads.push({ type: PayloadType.AUTH, method: auth.method, data: auth.data });
    return Status.NEED_MORE;
  }

  private processResponse(msg: IkeMessage): Status {
    const sa = this.sa;
    const conn = sa.conn!;
    const idr = payloadOf(msg, PayloadType.IDr);
    if (!idr || !payloadOf(msg, PayloadType.AUTH)) {
      const err = errorNotify(msg);
      this.peerError = err?.notifyType;
      sa.refusedWith = err?.notifyType;
      sa.log.warn({ notify: err ? nameOf(NotifyType, err.notifyType) : 'none' }, 'IKE_AUTH failed at the responder');
      return Status.FAILED;
    }
    const peer = identityFromPayload(idr.idType, idr.data);
    if (!remoteIdAccepts(conn, peer) || !this.peerAuthOk(conn, msg, peer)) {
      sa.ctx.counters.inc(DropReason.BAD_RESPONSE);
      sa.log.warn({ peer: formatIdentity(peer) }, 'responder authentication failed; telling the responder (AUTHENTICATION_FAILED)');
      // RFC 7296 §2.21.2: the responder has an IKE SA (and child) up; a separate INFORMATIONAL
      // tells it to drop them. The child of this exchange is released (the SA is not up).
      sa.state = IkeState.DELETING;
      sa.tm.unqueue(() => true);
      sa.queueTask(new TellAuthFailed());
      return Status.SUCCESS;
    }
    sa.peerId = formatIdentity(peer);
    const redirect = notifyOf(msg, NotifyStatus.REDIRECT);
    if (redirect) return this.followRedirect(redirect.data);
    sa.establish();
    return Status.SUCCESS;
  }

  /** RFC 5685 §6: redirected after authentication: close this SA, connect to the new gateway. */
  private followRedirect(data: Buffer): Status {
    const sa = this.sa;
    const r = decodeRedirect(data);
    if (!r || r.nonce.length !== 0 || !sa.conn?.followRedirects) {
      sa.log.warn('unusable REDIRECT in IKE_AUTH');
      return Status.FAILED;
    }
    sa.log.info({ to: gatewayIdToString(r.gw) }, 'redirected at IKE_AUTH');
    sa.state = IkeState.DELETING;
    sa.queueTask(new IkeDelete(sa, true));
    sa.ctx.followRedirect(sa, r.gw);
    return Status.SUCCESS;
  }

  // ---- responder ----

  private processRequest(msg: IkeMessage): Status {
    const sa = this.sa;
    const idi = payloadOf(msg, PayloadType.IDi);
    if (!idi || !payloadOf(msg, PayloadType.AUTH)) {
      this.failure = NotifyError.AUTHENTICATION_FAILED;
      return Status.NEED_MORE;
    }
    const peer = identityFromPayload(idi.idType, idi.data);
    const idrP = payloadOf(msg, PayloadType.IDr);
    const idr = idrP ? identityFromPayload(idrP.idType, idrP.data) : undefined;
    const conn = findConnection(sa, peer, idr);
    if (!conn || !this.peerAuthOk(conn, msg, peer)) {
      sa.log.info({ peer: formatIdentity(peer), conn: conn?.name }, 'peer authentication failed');
      this.failure = NotifyError.AUTHENTICATION_FAILED;
      return Status.NEED_MORE;
    }
    sa.conn = conn;
    sa.peerId = formatIdentity(peer);
    if (hasNotify(msg, NotifyStatus.INITIAL_CONTACT)) sa.flags |= IkeFlag.INITIAL_CONTACT;
    // RFC 5685 §6: only a peer that announced REDIRECT_SUPPORTED (or came with
    // REDIRECTED_FROM) is asked about at all.
    if (!sa.has(IkeFlag.PEER_REDIRECT)) return Status.NEED_MORE;
    const decision = sa.ctx.redirect.onAuth({
      remote: sa.remote,
      local: sa.local,
      spiI: sa.spiI.toString('hex'),
      peerId: sa.peerId,
      connection: conn.name,
    });
    if (isRefusal(decision)) {
      sa.log.info({ peer: sa.peerId, notify: nameOf(NotifyType, decision.refuse) }, 'new IKE SA refused by the redirect provider');
      this.failure = decision.refuse;
      return Status.NEED_MORE;
    }
    this.redirectTo = decision;
    return Status.NEED_MORE;
  }

  private buildResponse(msg: IkeMessage): Status {
    const sa = this.sa;
    if (this.failure !== undefined) {
      addNotify(msg, this.failure);
      return Status.FAILED;
    }
    const conn = sa.conn!;
    const id = localIdentity(conn, sa.local.address);
    msg.payloads.push({ type: PayloadType.IDr, idType: id.type, data: id.data });
    if (conn.cfg.local.auth.method === 'pubkey') addCerts(conn, msg);
    const auth = this.ourAuth(conn, id);
    if (!auth) {
      msg.payloads.length = 0;
      addNotify(msg, NotifyError.AUTHENTICATION_FAILED);
      return Status.FAILED;
    }
    msg.payloads.push({ type: PayloadType.AUTH, method: auth.method, data: auth.data });
    if (this.redirectTo) {
      addNotify(msg, NotifyStatus.REDIRECT, encodeRedirect(this.redirectTo));
      sa.log.info({ to: gatewayIdToString(this.redirectTo), peer: sa.peerId }, 'redirecting at IKE_AUTH');
      // No child SA; the initiator deletes this SA, or it times out. The peer authenticated:
      // the SA holds no half-open slot meanwhile (a burst of redirected peers must not fill them).
      sa.ctx.ikeAuthenticated(sa);
      sa.state = IkeState.DELETING;
      sa.auth = undefined;
      sa.armDeleteWait();
      return Status.SUCCESS;
    }
    if (sa.has(IkeFlag.INITIAL_CONTACT)) {
      for (const old of sa.ctx.sasOfPeer(sa.peerId!, sa)) void old.run(() => old.destroy('INITIAL_CONTACT from the peer'));
    }
    sa.establish();
    return Status.SUCCESS;
  }
}
