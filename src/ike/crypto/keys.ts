/**
 * Key derivation, RFC 7296 §2.14 (IKE SA), §2.18 (IKE SA rekey) and §2.17 (child SA KEYMAT).
 * Pure functions: inputs in, keys out.
 *
 * Naming: "initiator"/"responder" are the roles in the exchange that made the keys: the
 * original IKE_SA_INIT for an IKE SA; for CREATE_CHILD_SA the peer that sent the request
 * (so Ni is the request's nonce, Nr the response's).
 */
import { IntegId } from '../constants.js';
import { ENCR_ALGORITHMS, encrKeymatLength, integKeyLength } from './algorithms.js';
import { createPrf } from './prf.js';
import type { IkeKeys, IkeSuite, Prf } from './types.js';

/** Octets of each SK_* for a suite (RFC 7296 §2.14). */
export interface IkeKeyLengths {
  /** SK_d, SK_pi, SK_pr: the PRF's preferred key length (its output length for HMAC). */
  skD: number;
  skP: number;
  /** SK_ai, SK_ar: the integrity key length; 0 for AEAD. */
  skA: number;
  /** SK_ei, SK_er: key plus salt for AES-GCM (RFC 5282 §7.1). */
  skE: number;
}

export function ikeKeyLengths(suite: IkeSuite): IkeKeyLengths {
  const prfLength = createPrf(suite.prf).outputLength;
  return {
    skD: prfLength,
    skP: prfLength,
    skA: integKeyLength(suite.integ),
    skE: encrKeymatLength(suite.encr, suite.encrKeyLength),
  };
}

/** RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir). */
export function computeSkeyseed(prf: Prf, sharedSecret: Buffer, ni: Buffer, nr: Buffer): Buffer {
  return prf.compute(Buffer.concat([ni, nr]), sharedSecret);
}

/**
 * RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the OLD IKE SA's PRF
 * ("because the rekeying exchange belongs to the old IKE SA").
 */
export function computeRekeySkeyseed(oldPrf: Prf, oldSkD: Buffer, sharedSecret: Buffer, ni: Buffer, nr: Buffer): Buffer {
  return oldPrf.compute(oldSkD, Buffer.concat([sharedSecret, ni, nr]));
}

/**
 * RFC 7296 §2.14:
 *   {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
 */
export function expandIkeKeys(suite: IkeSuite, skeyseed: Buffer, ni: Buffer, nr: Buffer, spiI: Buffer, spiR: Buffer): IkeKeys {
  const len = ikeKeyLengths(suite);
  const total = len.skD + 2 * len.skA + 2 * len.skE + 2 * len.skP;
  const km = createPrf(suite.prf).plus(skeyseed, Buffer.concat([ni, nr, spiI, spiR]), total);
  // Views of one buffer: the IKE SA copies what it keeps (SK_d, the SK transforms' keys).
  let off = 0;
  const take = (n: number): Buffer => km.subarray(off, (off += n));
  return {
    skD: take(len.skD),
    skAi: take(len.skA),
    skAr: take(len.skA),
    skEi: take(len.skE),
    skEr: take(len.skE),
    skPi: take(len.skP),
    skPr: take(len.skP),
  };
}

/** What IKE_SA_INIT (or an IKE SA rekey) contributes to the keys. */
export interface IkeKeyInputs {
  /** g^ir from KeyExchange.computeSecret. */
  sharedSecret: Buffer;
  /** Nonce data of the initiator's / responder's Nonce payload. */
  ni: Buffer;
  nr: Buffer;
  /** The new IKE SA's SPIs (8 octets each). */
  spiI: Buffer;
  spiR: Buffer;
}

/** SKEYSEED and SK_* of a new IKE SA (RFC 7296 §2.14). */
export function deriveIkeKeys(suite: IkeSuite, input: IkeKeyInputs): IkeKeys {
  const skeyseed = computeSkeyseed(createPrf(suite.prf), input.sharedSecret, input.ni, input.nr);
  const keys = expandIkeKeys(suite, skeyseed, input.ni, input.nr, input.spiI, input.spiR);
  skeyseed.fill(0);
  return keys;
}

/**
 * SK_* of the IKE SA that replaces an old one (RFC 7296 §2.18). `suite` is the NEW SA's
 * suite; `oldPrf` and `oldSkD` are the old SA's. Ni/Nr are the CREATE_CHILD_SA nonces and
 * SPIi/SPIr the new SPIs, ordered by who initiated the rekey exchange.
 */
export function deriveRekeyedIkeKeys(suite: IkeSuite, input: IkeKeyInputs & { oldPrf: number; oldSkD: Buffer }): IkeKeys {
  const skeyseed = computeRekeySkeyseed(createPrf(input.oldPrf), input.oldSkD, input.sharedSecret, input.ni, input.nr);
  const keys = expandIkeKeys(suite, skeyseed, input.ni, input.nr, input.spiI, input.spiR);
  skeyseed.fill(0);
  return keys;
}

/** The selected ESP (or AH) proposal, by registry numbers. */
export interface ChildSuite {
  encr: number;
  /** Bits, from the KEY_LENGTH attribute. */
  encrKeyLength: number;
  /** IntegId.NONE for AEAD. */
  integ: number;
}

/** Keys of the two child SAs: `*I` protect what the initiator sends, `*R` what the responder sends. */
export interface ChildKeys {
  /** Encryption key (+ 4-octet salt for AES-GCM, RFC 4106 §8.1). */
  encrI: Buffer;
  /** Integrity key; empty for AEAD. */
  integI: Buffer;
  encrR: Buffer;
  integR: Buffer;
}

export interface ChildKeyInputs {
  /** SK_d of the IKE SA that carries the exchange. */
  skD: Buffer;
  ni: Buffer;
  nr: Buffer;
  /** g^ir (new) when CREATE_CHILD_SA carried KE payloads (PFS); absent otherwise. */
  sharedSecret?: Buffer;
}

/**
 * RFC 7296 §2.17: KEYMAT = prf+(SK_d, Ni | Nr) or prf+(SK_d, g^ir (new) | Ni | Nr).
 * "All keys for SAs carrying data from the initiator to the responder are taken before SAs
 * going from the responder to the initiator"; within one SA the encryption key comes first,
 * then the integrity key.
 */
export function deriveChildKeys(prf: Prf, suite: ChildSuite, input: ChildKeyInputs): ChildKeys {
  const encrLength = suite.encr === 0 ? 0 : encrKeymatLength(suite.encr, suite.encrKeyLength);
  if (ENCR_ALGORITHMS.get(suite.encr)?.mode === 'aead' && suite.integ !== IntegId.NONE) {
    throw new RangeError('an AEAD child suite has no integrity transform');
  }
  const integLength = integKeyLength(suite.integ);
  const seed = input.sharedSecret ? Buffer.concat([input.sharedSecret, input.ni, input.nr]) : Buffer.concat([input.ni, input.nr]);
  const km = prf.plus(input.skD, seed, 2 * (encrLength + integLength));
  // Views of one buffer: the data planes copy the keys they install.
  let off = 0;
  const take = (n: number): Buffer => km.subarray(off, (off += n));
  const encrI = take(encrLength);
  const integI = take(integLength);
  const encrR = take(encrLength);
  const integR = take(integLength);
  return { encrI, integI, encrR, integR };
}
