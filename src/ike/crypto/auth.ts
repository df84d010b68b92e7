/**
 * The AUTH payload's input (RFC 7296 §2.15) and shared-key authentication. Signature methods
 * are in signature.ts.
 *
 *   InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
 *   MACedIDForI = prf(SK_pi, RestOfInitIDPayload)
 *   ResponderSignedOctets = RealMessage2 | NonceIData | MACedIDForR
 *   MACedIDForR = prf(SK_pr, RestOfRespIDPayload)
 *   RestOfIDPayload = IDType | RESERVED (3 octets) | Identification Data
 */
import { timingSafeEqual } from 'node:crypto';
import type { Prf } from './types.js';

/** RFC 7296 §2.15: the fixed pad string for shared-secret AUTH. */
const KEY_PAD = Buffer.from('Key Pad for IKEv2', 'ascii');
/** RFC 7296 §3.5: ID payload body header (ID Type + 3 reserved octets). */
const ID_HEADER_LENGTH = 4;

export interface SignedOctetsInput {
  /**
   * The sender's own IKE_SA_INIT message as it went on the wire (the initiator's request,
   * including any COOKIE retry's final version; the responder's response), from the IKE
   * header through the last payload.
   */
  message: Buffer;
  /** The PEER's nonce data (NonceRData when the initiator signs, NonceIData when the responder does). */
  peerNonce: Buffer;
  prf: Prf;
  /** SK_pi for the initiator's AUTH, SK_pr for the responder's. */
  skP: Buffer;
  /** The sender's own ID payload: type and identification data. */
  idType: number;
  idData: Buffer;
}

/** RFC 7296 §2.15 signed octets for the AUTH payload of one side. */
export function authSignedOctets(p: SignedOctetsInput): Buffer {
  const restOfId = Buffer.alloc(ID_HEADER_LENGTH + p.idData.length);
  restOfId[0] = p.idType;
  p.idData.copy(restOfId, ID_HEADER_LENGTH);
  return Buffer.concat([p.message, p.peerNonce, p.prf.compute(p.skP, restOfId)]);
}

/**
 * RFC 7296 §2.15: prf(Shared Secret, "Key Pad for IKEv2"), the key of the AUTH prf. It depends
 * only on the secret and the PRF, so callers may compute it once per connection (certs.ts).
 */
export function pskPadKey(prf: Prf, sharedSecret: Buffer): Buffer {
  return prf.compute(sharedSecret, KEY_PAD);
}

/** RFC 7296 §2.15: AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>). */
export function pskAuthData(prf: Prf, sharedSecret: Buffer, signedOctets: Buffer): Buffer {
  return prf.compute(pskPadKey(prf, sharedSecret), signedOctets);
}

/** Whether a peer's SHARED_KEY_MIC AUTH data is right, in constant time. */
export function verifyPskAuth(prf: Prf, sharedSecret: Buffer, signedOctets: Buffer, authData: Buffer): boolean {
  return verifyPskAuthWithPadKey(prf, pskPadKey(prf, sharedSecret), signedOctets, authData);
}

/** verifyPskAuth with the pad key already computed (pskPadKey). */
export function verifyPskAuthWithPadKey(prf: Prf, padKey: Buffer, signedOctets: Buffer, authData: Buffer): boolean {
  const want = prf.compute(padKey, signedOctets);
  return authData.length === want.length && timingSafeEqual(authData, want);
}
