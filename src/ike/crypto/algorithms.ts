/**
 * The one table of every transform segw implements: key lengths, output/ICV lengths, IV and
 * block sizes, and the OpenSSL name node:crypto knows it by. Proposal selection, key
 * derivation and the SK payload code all read these tables; nothing else hard-codes a length.
 *
 * Lengths are in octets unless the name says bits.
 */
import { DhGroup, EncrId, IntegId, PrfId } from '../constants.js';

/** An encryption transform (Transform Type 1) as IKE (SK payload) and ESP use it. */
export interface EncrAlgorithm {
  readonly id: number;
  readonly name: string;
  /** 'aead': RFC 5282 (IKE) / RFC 4106 (ESP) AES-GCM; 'cbc': RFC 3602 AES-CBC + separate INTEG. */
  readonly mode: 'aead' | 'cbc';
  /** KEY_LENGTH attribute values allowed, in bits (RFC 7296 §3.3.5: required for AES). */
  readonly keyBits: readonly number[];
  /** Extra keying material after the key: RFC 5282 §7.1 / RFC 4106 §8.1 4-octet salt for GCM. */
  readonly saltLength: number;
  /** IV octets carried in each SK payload / ESP packet (RFC 5282 §3.1: 8; RFC 3602 §3: 16). */
  readonly ivLength: number;
  /** ICV octets for AEAD (RFC 5282 §3: 8, 12 or 16); 0 for CBC, whose ICV comes from INTEG. */
  readonly icvLength: number;
  /** The plaintext (padded) is a multiple of this. */
  readonly blockSize: number;
}

/** An integrity transform (Transform Type 3), RFC 4868 HMAC-SHA2 truncated. */
export interface IntegAlgorithm {
  readonly id: number;
  readonly name: string;
  /** node:crypto hash name. */
  readonly hash: string;
  /** Key length (RFC 4868 §2.1.1: the hash output length). */
  readonly keyLength: number;
  /** Truncated ICV length (RFC 4868 §2.1.1: half the output). */
  readonly icvLength: number;
}

/** A pseudorandom function (Transform Type 2), HMAC based (RFC 2104, RFC 4868 §2.1.2). */
export interface PrfAlgorithm {
  readonly id: number;
  readonly name: string;
  readonly hash: string;
  /** PRF output length; also the preferred key length, used for SK_d / SK_pi / SK_pr (§2.14). */
  readonly outputLength: number;
}

/** A key-exchange method (Transform Type 4). */
export interface DhAlgorithm {
  readonly group: number;
  readonly name: string;
  /** 'modp': RFC 3526; 'ecp': RFC 5903 (KE data x || y, secret x); 'x25519': RFC 8031. */
  readonly kind: 'modp' | 'ecp' | 'x25519';
  /** Length of the KE payload's Key Exchange Data. */
  readonly publicLength: number;
  /** Length of the shared secret g^ir. */
  readonly secretLength: number;
  /** node:crypto name: getDiffieHellman group ('modp14') or createECDH curve ('prime256v1'). */
  readonly openssl: string;
}

function aesGcm(id: number, name: string, icvLength: number): EncrAlgorithm {
  return { id, name, mode: 'aead', keyBits: [128, 192, 256], saltLength: 4, ivLength: 8, icvLength, blockSize: 1 };
}

/** Encryption algorithms, by EncrId. */
export const ENCR_ALGORITHMS: ReadonlyMap<number, EncrAlgorithm> = new Map([
  // RFC 3602 §2.4 (block size 16), RFC 7296 §3.14 (IV = one block)
  [EncrId.ENCR_AES_CBC, { id: EncrId.ENCR_AES_CBC, name: 'ENCR_AES_CBC', mode: 'cbc', keyBits: [128, 192, 256],
    saltLength: 0, ivLength: 16, icvLength: 0, blockSize: 16 } satisfies EncrAlgorithm],
  // RFC 5282 §7.1 (IKEv2), RFC 4106 §8.1 (ESP)
  [EncrId.ENCR_AES_GCM_8, aesGcm(EncrId.ENCR_AES_GCM_8, 'ENCR_AES_GCM_8', 8)],
  [EncrId.ENCR_AES_GCM_12, aesGcm(EncrId.ENCR_AES_GCM_12, 'ENCR_AES_GCM_12', 12)],
  [EncrId.ENCR_AES_GCM_16, aesGcm(EncrId.ENCR_AES_GCM_16, 'ENCR_AES_GCM_16', 16)],
]);

/** Integrity algorithms, by IntegId (RFC 4868 §2.1; SHA1_96 from RFC 2404 for interop). */
export const INTEG_ALGORITHMS: ReadonlyMap<number, IntegAlgorithm> = new Map([
  [IntegId.AUTH_HMAC_SHA1_96, { id: IntegId.AUTH_HMAC_SHA1_96, name: 'AUTH_HMAC_SHA1_96', hash: 'sha1', keyLength: 20, icvLength: 12 }],
  [IntegId.AUTH_HMAC_SHA2_256_128, { id: IntegId.AUTH_HMAC_SHA2_256_128, name: 'AUTH_HMAC_SHA2_256_128', hash: 'sha256', keyLength: 32, icvLength: 16 }],
  [IntegId.AUTH_HMAC_SHA2_384_192, { id: IntegId.AUTH_HMAC_SHA2_384_192, name: 'AUTH_HMAC_SHA2_384_192', hash: 'sha384', keyLength: 48, icvLength: 24 }],
  [IntegId.AUTH_HMAC_SHA2_512_256, { id: IntegId.AUTH_HMAC_SHA2_512_256, name: 'AUTH_HMAC_SHA2_512_256', hash: 'sha512', keyLength: 64, icvLength: 32 }],
]);

/** Pseudorandom functions, by PrfId. */
export const PRF_ALGORITHMS: ReadonlyMap<number, PrfAlgorithm> = new Map([
  [PrfId.PRF_HMAC_SHA1, { id: PrfId.PRF_HMAC_SHA1, name: 'PRF_HMAC_SHA1', hash: 'sha1', outputLength: 20 }],
  [PrfId.PRF_HMAC_SHA2_256, { id: PrfId.PRF_HMAC_SHA2_256, name: 'PRF_HMAC_SHA2_256', hash: 'sha256', outputLength: 32 }],
  [PrfId.PRF_HMAC_SHA2_384, { id: PrfId.PRF_HMAC_SHA2_384, name: 'PRF_HMAC_SHA2_384', hash: 'sha384', outputLength: 48 }],
  [PrfId.PRF_HMAC_SHA2_512, { id: PrfId.PRF_HMAC_SHA2_512, name: 'PRF_HMAC_SHA2_512', hash: 'sha512', outputLength: 64 }],
]);

function modp(group: number, name: string, bits: number, openssl: string): DhAlgorithm {
  return { group, name, kind: 'modp', publicLength: bits / 8, secretLength: bits / 8, openssl };
}
function ecp(group: number, name: string, coord: number, openssl: string): DhAlgorithm {
  return { group, name, kind: 'ecp', publicLength: 2 * coord, secretLength: coord, openssl };
}

/** Key-exchange methods, by DhGroup. */
export const DH_ALGORITHMS: ReadonlyMap<number, DhAlgorithm> = new Map([
  // RFC 3526 §3-§5: KE data is g^x mod p, zero-padded to the prime's length (RFC 7296 §3.4)
  [DhGroup.MODP_2048, modp(DhGroup.MODP_2048, 'MODP_2048', 2048, 'modp14')],
  [DhGroup.MODP_3072, modp(DhGroup.MODP_3072, 'MODP_3072', 3072, 'modp15')],
  [DhGroup.MODP_4096, modp(DhGroup.MODP_4096, 'MODP_4096', 4096, 'modp16')],
  // RFC 5903 §7: KE data x || y, each coordinate fixed length; §9: shared secret is x
  [DhGroup.ECP_256, ecp(DhGroup.ECP_256, 'ECP_256', 32, 'prime256v1')],
  [DhGroup.ECP_384, ecp(DhGroup.ECP_384, 'ECP_384', 48, 'secp384r1')],
  [DhGroup.ECP_521, ecp(DhGroup.ECP_521, 'ECP_521', 66, 'secp521r1')],
  // RFC 8031 §3: KE data and shared secret are 32 octets
  [DhGroup.CURVE25519, { group: DhGroup.CURVE25519, name: 'CURVE25519', kind: 'x25519', publicLength: 32, secretLength: 32, openssl: 'x25519' }],
]);

/** Whether an encryption transform with this key length is implemented. */
export function isSupportedEncr(id: number, keyBits: number | undefined): boolean {
  const a = ENCR_ALGORITHMS.get(id);
  return a !== undefined && keyBits !== undefined && a.keyBits.includes(keyBits);
}

/** node:crypto cipher name for an encryption transform and key length. */
export function cipherName(encr: EncrAlgorithm, keyBits: number): string {
  return `aes-${keyBits}-${encr.mode === 'aead' ? 'gcm' : 'cbc'}`;
}

/** Keying material for one direction of an encryption transform: key plus salt (RFC 5282 §7.1). */
export function encrKeymatLength(encrId: number, keyBits: number): number {
  const a = ENCR_ALGORITHMS.get(encrId);
  if (!a || !a.keyBits.includes(keyBits)) throw new RangeError(`unsupported encryption transform ${encrId}/${keyBits}`);
  return keyBits / 8 + a.saltLength;
}

/** Key length of an integrity transform; 0 for IntegId.NONE (AEAD). */
export function integKeyLength(integId: number): number {
  if (integId === IntegId.NONE) return 0;
  const a = INTEG_ALGORITHMS.get(integId);
  if (!a) throw new RangeError(`unsupported integrity transform ${integId}`);
  return a.keyLength;
}
