/**
 * What the redirect provider is asked with at IKE_SA_INIT (RFC 5685 §4), read from a decoded
 * request: only a peer that announced N(REDIRECT_SUPPORTED), or came with N(REDIRECTED_FROM),
 * may be redirected (§3), and only a well-formed request (SA, KE and Ni present; anything else
 * is the exchange's INVALID_SYNTAX) is asked about. Ni is what the N(REDIRECT) answer carries.
 */
import { NotifyStatus, PayloadType } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { decodeRedirectedFrom, type GatewayId } from '../redirect/notify.js';
import { hasNotify, notifyOf, payloadOf } from './payloads.js';

export interface InitRedirectInput {
  /** Ni (a view into the request). */
  nonce: Buffer;
  redirectedFrom?: GatewayId;
}

export function redirectInput(msg: IkeMessage): InitRedirectInput | undefined {
  const from = notifyOf(msg, NotifyStatus.REDIRECTED_FROM);
  if (!from && !hasNotify(msg, NotifyStatus.REDIRECT_SUPPORTED)) return undefined;
  const nonce = payloadOf(msg, PayloadType.NONCE);
  if (!nonce || !payloadOf(msg, PayloadType.SA) || !payloadOf(msg, PayloadType.KE)) return undefined;
  const redirectedFrom = from ? decodeRedirectedFrom(from.data) : undefined;
  return redirectedFrom ? { nonce: nonce.data, redirectedFrom } : { nonce: nonce.data };
}
