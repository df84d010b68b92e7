/**
 * Signature AUTH methods (RFC 7296 §3.8, RFC 4754, RFC 7427) over node:crypto:
 *   RSA_SIG (1)              RSASSA-PKCS1-v1_5 with SHA-1
 *   ECDSA_SHA256_P256 (9) .. ECDSA_SHA512_P521 (11): r || s, each the curve's size (RFC 4754 §7)
 *   DIGITAL_SIGNATURE (14)   length (1 octet) | AlgorithmIdentifier (DER) | signature (RFC 7427 §3)
 * and the SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4).
 *
 * Scheme choice follows strongSwan 5.9.8, the reference peer: with RFC 7427 on both sides it
 * signs RSA keys up to 3072 bits with PKCS#1 v1.5 SHA-256 (SHA-384 up to 7680, then SHA-512;
 * RSASSA-PSS only when asked, as with its charon.rsa_pss), ECDSA with the hash matching the
 * curve (ecdsa-with-SHA256 for P-256), Ed25519 with IDENTITY; without RFC 7427 it falls back to
 * RSA_SIG or the RFC 4754 method of the curve. It announces SHA2_256, SHA2_384, SHA2_512 and
 * IDENTITY. Verification never throws: peer data gives { ok: false, reason }.
 */
import { sign as cryptoSign, verify as cryptoVerify, constants, type KeyObject } from 'node:crypto';
import { AuthMethod, HashAlgorithm } from '../constants.js';
import {
  contextTag,
  derNull,
  derOid,
  derSequence,
  derSmallInteger,
  derTlv,
  readConstructed,
  readOid,
  readSmallInteger,
  readWhole,
  Tag,
  type Tlv,
} from './asn1.js';

/** Hash algorithms segw announces and accepts in RFC 7427 signatures (RFC 8247 §3.3: no SHA-1). */
export const SIGNATURE_HASHES: readonly number[] = [
  HashAlgorithm.SHA2_256,
  HashAlgorithm.SHA2_384,
  HashAlgorithm.SHA2_512,
  HashAlgorithm.IDENTITY,
];

/** node:crypto digest names and RFC 5754 OIDs of the IKEv2 hash registry entries. */
const HASHES = new Map<number, { digest: string; oid: string; length: number }>([
  [HashAlgorithm.SHA1, { digest: 'sha1', oid: '1.3.14.3.2.26', length: 20 }],
  [HashAlgorithm.SHA2_256, { digest: 'sha256', oid: '2.16.840.1.101.3.4.2.1', length: 32 }],
  [HashAlgorithm.SHA2_384, { digest: 'sha384', oid: '2.16.840.1.101.3.4.2.2', length: 48 }],
  [HashAlgorithm.SHA2_512, { digest: 'sha512', oid: '2.16.840.1.101.3.4.2.3', length: 64 }],
]);

const OID = {
  RSASSA_PSS: '1.2.840.113549.1.1.10', // RFC 4055 §3.1
  MGF1: '1.2.840.113549.1.1.8',
  SHA256_RSA: '1.2.840.113549.1.1.11', // RFC 4055 §5
  SHA384_RSA: '1.2.840.113549.1.1.12',
  SHA512_RSA: '1.2.840.113549.1.1.13',
  ECDSA_SHA256: '1.2.840.10045.4.3.2', // RFC 5758 §3.2
  ECDSA_SHA384: '1.2.840.10045.4.3.3',
  ECDSA_SHA512: '1.2.840.10045.4.3.4',
  ED25519: '1.3.101.112', // RFC 8410 §3
} as const;

export type SignatureKeyType = 'rsa' | 'ec' | 'ed25519';

/** One RFC 7427 signature scheme. */
export interface SignatureScheme {
  readonly name: string;
  readonly keyType: SignatureKeyType;
  /** HashAlgorithm registry value (IDENTITY for Ed25519). */
  readonly hash: number;
  readonly pss: boolean;
  /** The DER AlgorithmIdentifier carried in the AUTH data. */
  readonly algorithmId: Buffer;
}

function pssAlgorithmId(hash: number): Buffer {
  const h = HASHES.get(hash)!;
  const hashId = derSequence(derOid(h.oid), derNull());
  return derSequence(
    derOid(OID.RSASSA_PSS),
    derSequence(
      derTlv(contextTag(0, true), hashId),
      derTlv(contextTag(1, true), derSequence(derOid(OID.MGF1), hashId)),
      derTlv(contextTag(2, true), derSmallInteger(h.length)),
    ),
  );
}

function scheme(name: string, keyType: SignatureKeyType, hash: number, oid: string, params: 'null' | 'absent'): SignatureScheme {
  const algorithmId = params === 'null' ? derSequence(derOid(oid), derNull()) : derSequence(derOid(oid));
  return { name, keyType, hash, pss: false, algorithmId };
}

/** The schemes segw signs with (RFC 7427 Appendix A encodings). */
export const SIGNATURE_SCHEMES = {
  RSA_PKCS1_SHA256: scheme('sha256WithRSAEncryption', 'rsa', HashAlgorithm.SHA2_256, OID.SHA256_RSA, 'null'),
  RSA_PKCS1_SHA384: scheme('sha384WithRSAEncryption', 'rsa', HashAlgorithm.SHA2_384, OID.SHA384_RSA, 'null'),
  RSA_PKCS1_SHA512: scheme('sha512WithRSAEncryption', 'rsa', HashAlgorithm.SHA2_512, OID.SHA512_RSA, 'null'),
  RSA_PSS_SHA256: { name: 'RSASSA-PSS-SHA256', keyType: 'rsa', hash: HashAlgorithm.SHA2_256, pss: true, algorithmId: pssAlgorithmId(HashAlgorithm.SHA2_256) },
  RSA_PSS_SHA384: { name: 'RSASSA-PSS-SHA384', keyType: 'rsa', hash: HashAlgorithm.SHA2_384, pss: true, algorithmId: pssAlgorithmId(HashAlgorithm.SHA2_384) },
  RSA_PSS_SHA512: { name: 'RSASSA-PSS-SHA512', keyType: 'rsa', hash: HashAlgorithm.SHA2_512, pss: true, algorithmId: pssAlgorithmId(HashAlgorithm.SHA2_512) },
  ECDSA_SHA256: scheme('ecdsa-with-SHA256', 'ec', HashAlgorithm.SHA2_256, OID.ECDSA_SHA256, 'absent'),
  ECDSA_SHA384: scheme('ecdsa-with-SHA384', 'ec', HashAlgorithm.SHA2_384, OID.ECDSA_SHA384, 'absent'),
  ECDSA_SHA512: scheme('ecdsa-with-SHA512', 'ec', HashAlgorithm.SHA2_512, OID.ECDSA_SHA512, 'absent'),
  ED25519: scheme('Ed25519', 'ed25519', HashAlgorithm.IDENTITY, OID.ED25519, 'absent'),
} as const satisfies Record<string, SignatureScheme>;

/** RFC 4754 methods: curve, hash and the fixed size of r and s. */
const ECDSA_METHODS = new Map<number, { curve: string; hash: number; size: number }>([
  [AuthMethod.ECDSA_SHA256_P256, { curve: 'prime256v1', hash: HashAlgorithm.SHA2_256, size: 32 }],
  [AuthMethod.ECDSA_SHA384_P384, { curve: 'secp384r1', hash: HashAlgorithm.SHA2_384, size: 48 }],
  [AuthMethod.ECDSA_SHA512_P521, { curve: 'secp521r1', hash: HashAlgorithm.SHA2_512, size: 66 }],
]);

// ---- SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) ----

/** Notify data: a list of 2-octet hash algorithm identifiers. */
export function encodeSignatureHashAlgorithms(hashes: readonly number[] = SIGNATURE_HASHES): Buffer {
  const b = Buffer.alloc(2 * hashes.length);
  hashes.forEach((h, i) => b.writeUInt16BE(h, 2 * i));
  return b;
}

/** The peer's list, or null when the data is not a whole number of 2-octet entries. */
export function parseSignatureHashAlgorithms(data: Buffer): number[] | null {
  if (data.length % 2 !== 0) return null;
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 2) out.push(data.readUInt16BE(i));
  return out;
}

// ---- choosing and signing ----

export interface SignatureChoice {
  method: number;
  /** Set for DIGITAL_SIGNATURE. */
  scheme?: SignatureScheme;
}

export interface SignatureOptions {
  /** Hashes from the peer's SIGNATURE_HASH_ALGORITHMS, or null when it sent none. */
  peerHashes: readonly number[] | null;
  /** Use RSASSA-PSS instead of PKCS#1 v1.5 for RSA keys (RFC 7427 only). */
  rsaPss?: boolean;
}

function keyInfo(key: KeyObject): { type: string; curve?: string; bits?: number } {
  const d = key.asymmetricKeyDetails ?? {};
  return { type: key.asymmetricKeyType ?? '', curve: d.namedCurve, bits: d.modulusLength };
}

/** RFC 7427 candidates for a key, best first (strongSwan's order, see the file comment). */
function candidateSchemes(key: KeyObject, rsaPss: boolean): SignatureScheme[] {
  const k = keyInfo(key);
  const S = SIGNATURE_SCHEMES;
  if (k.type === 'rsa' || k.type === 'rsa-pss') {
    const pss = rsaPss || k.type === 'rsa-pss';
    const all = pss ? [S.RSA_PSS_SHA256, S.RSA_PSS_SHA384, S.RSA_PSS_SHA512] : [S.RSA_PKCS1_SHA256, S.RSA_PKCS1_SHA384, S.RSA_PKCS1_SHA512];
    const bits = k.bits ?? 0;
    return all.slice(bits > 7680 ? 2 : bits > 3072 ? 1 : 0);
  }
  if (k.type === 'ec') {
    if (k.curve === 'secp521r1') return [S.ECDSA_SHA512];
    if (k.curve === 'secp384r1') return [S.ECDSA_SHA384, S.ECDSA_SHA512];
    return [S.ECDSA_SHA256, S.ECDSA_SHA384, S.ECDSA_SHA512];
  }
  if (k.type === 'ed25519') return [S.ED25519];
  return [];
}

/**
 * The AUTH method (and RFC 7427 scheme) to sign with, or null when this key cannot sign for
 * this peer (an Ed25519 or RSA-PSS key and a peer without RFC 7427).
 */
export function chooseSignature(privateKey: KeyObject, opts: SignatureOptions): SignatureChoice | null {
  if (opts.peerHashes) {
    const s = candidateSchemes(privateKey, opts.rsaPss ?? false).find((c) => opts.peerHashes!.includes(c.hash));
    if (s) return { method: AuthMethod.DIGITAL_SIGNATURE, scheme: s };
  }
  const k = keyInfo(privateKey);
  if (k.type === 'rsa') return { method: AuthMethod.RSA_SIG };
  for (const [method, m] of ECDSA_METHODS) if (k.type === 'ec' && k.curve === m.curve) return { method };
  return null;
}

export type SignResult = { ok: true; method: number; data: Buffer } | { ok: false; reason: string };

function rawSign(key: KeyObject, s: SignatureScheme, octets: Buffer): Buffer {
  if (s.keyType === 'ed25519') return cryptoSign(null, octets, key);
  const digest = HASHES.get(s.hash)!.digest;
  if (s.keyType === 'ec') return cryptoSign(digest, octets, { key, dsaEncoding: 'der' });
  return s.pss
    ? cryptoSign(digest, octets, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASHES.get(s.hash)!.length })
    : cryptoSign(digest, octets, { key, padding: constants.RSA_PKCS1_PADDING });
}

/** AUTH payload data over RFC 7296 §2.15 signed octets, with the method chooseSignature picks. */
export function signAuth(privateKey: KeyObject, octets: Buffer, opts: SignatureOptions): SignResult {
  const choice = chooseSignature(privateKey, opts);
  if (!choice) return { ok: false, reason: `a ${privateKey.asymmetricKeyType} key needs a peer that supports RFC 7427` };
  try {
    if (choice.scheme) {
      const id = choice.scheme.algorithmId;
      return { ok: true, method: choice.method, data: Buffer.concat([Buffer.from([id.length]), id, rawSign(privateKey, choice.scheme, octets)]) };
    }
    if (choice.method === AuthMethod.RSA_SIG) {
      return { ok: true, method: choice.method, data: cryptoSign('sha1', octets, { key: privateKey, padding: constants.RSA_PKCS1_PADDING }) };
    }
    const m = ECDSA_METHODS.get(choice.method)!;
    const data = cryptoSign(HASHES.get(m.hash)!.digest, octets, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return { ok: true, method: choice.method, data };
  } catch (e) {
    return { ok: false, reason: `signing failed: ${(e as Error).message}` };
  }
}

// ---- verifying ----

export type VerifyResult = { ok: true; scheme: string } | { ok: false; reason: string };

interface ParsedAlgorithm {
  name: string;
  keyTypes: readonly string[];
  hash: number;
  pss?: { saltLength: number };
}

function hashFromAlgorithmId(tlv: Tlv | undefined): number | null {
  const f = readConstructed(tlv, Tag.SEQUENCE);
  const oid = readOid(f?.[0]);
  for (const [h, v] of HASHES) if (v.oid === oid) return h;
  return null;
}

/** RFC 4055 §3.1 RSASSA-PSS-params; defaults SHA-1 / MGF1-SHA-1 / 20. MGF1 must use the same hash. */
function parsePssParams(params: Tlv | undefined): ParsedAlgorithm | string {
  const fields = params ? readConstructed(params, Tag.SEQUENCE) : [];
  if (!fields) return 'malformed RSASSA-PSS parameters';
  let hash: number | null = HashAlgorithm.SHA1;
  let mgfHash: number | null = HashAlgorithm.SHA1;
  let saltLength: number | null = 20;
  for (const f of fields) {
    const inner = readWhole(f.value) ?? undefined;
    if (f.tag === contextTag(0, true)) hash = hashFromAlgorithmId(inner);
    else if (f.tag === contextTag(1, true)) {
      const mgf = readConstructed(inner, Tag.SEQUENCE);
      mgfHash = readOid(mgf?.[0]) === OID.MGF1 ? hashFromAlgorithmId(mgf?.[1]) : null;
    } else if (f.tag === contextTag(2, true)) saltLength = readSmallInteger(inner);
    else if (f.tag === contextTag(3, true)) {
      if (readSmallInteger(inner) !== 1) return 'unsupported RSASSA-PSS trailer field';
    } else return 'malformed RSASSA-PSS parameters';
  }
  if (hash === null || mgfHash === null || saltLength === null) return 'unsupported RSASSA-PSS hash or salt';
  if (mgfHash !== hash) return 'RSASSA-PSS with an MGF1 hash other than the message hash';
  return { name: `RSASSA-PSS-${HASHES.get(hash)!.digest.toUpperCase()}`, keyTypes: ['rsa', 'rsa-pss'], hash, pss: { saltLength } };
}

/** What an RFC 7427 AlgorithmIdentifier names, or a reason it is refused. */
function parseAlgorithmId(der: Buffer): ParsedAlgorithm | string {
  const f = readConstructed(readWhole(der), Tag.SEQUENCE);
  const oid = readOid(f?.[0]);
  if (!f || !oid || f.length > 2) return 'malformed AlgorithmIdentifier';
  if (oid === OID.RSASSA_PSS) return parsePssParams(f[1]);
  const known = Object.values(SIGNATURE_SCHEMES).find((s) => !s.pss && readOid(readConstructed(readWhole(s.algorithmId), Tag.SEQUENCE)?.[0]) === oid);
  if (!known) return `unsupported signature algorithm ${oid}`;
  // RSA OIDs carry NULL parameters (absent tolerated); ECDSA and Ed25519 none (RFC 5758 §3.2, RFC 8410 §3).
  if (f[1] && !(known.keyType === 'rsa' && f[1].tag === Tag.NULL && f[1].value.length === 0)) return 'unexpected AlgorithmIdentifier parameters';
  return { name: known.name, keyTypes: known.keyType === 'rsa' ? ['rsa'] : [known.keyType], hash: known.hash };
}

function verifyDigitalSignature(key: KeyObject, data: Buffer, octets: Buffer, accepted: readonly number[]): VerifyResult {
  if (data.length < 1 || data.length < 1 + data[0]) return { ok: false, reason: 'truncated RFC 7427 AUTH data' };
  const alg = parseAlgorithmId(data.subarray(1, 1 + data[0]));
  if (typeof alg === 'string') return { ok: false, reason: alg };
  if (!accepted.includes(alg.hash)) return { ok: false, reason: `${alg.name}: hash not among those we announced` };
  const type = key.asymmetricKeyType ?? '';
  if (!alg.keyTypes.includes(type)) return { ok: false, reason: `${alg.name} does not fit the certificate's ${type} key` };
  const sig = data.subarray(1 + data[0]);
  const digest = alg.hash === HashAlgorithm.IDENTITY ? null : HASHES.get(alg.hash)!.digest;
  const ok = type === 'ec'
    ? cryptoVerify(digest, octets, { key, dsaEncoding: 'der' }, sig)
    : alg.pss
      ? cryptoVerify(digest, octets, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.pss.saltLength }, sig)
      : type === 'ed25519'
        ? cryptoVerify(null, octets, key, sig)
        : cryptoVerify(digest, octets, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
  return ok ? { ok: true, scheme: alg.name } : { ok: false, reason: `${alg.name} signature does not verify` };
}

function verifyClassic(key: KeyObject, method: number, data: Buffer, octets: Buffer): VerifyResult {
  const k = keyInfo(key);
  if (method === AuthMethod.RSA_SIG) {
    if (k.type !== 'rsa') return { ok: false, reason: `RSA_SIG with a ${k.type} key` };
    const ok = cryptoVerify('sha1', octets, { key, padding: constants.RSA_PKCS1_PADDING }, data);
    return ok ? { ok: true, scheme: 'RSA_SIG' } : { ok: false, reason: 'RSA_SIG signature does not verify' };
  }
  const m = ECDSA_METHODS.get(method);
  if (!m) return { ok: false, reason: `AUTH method ${method} is not a signature method segw verifies` };
  if (k.type !== 'ec' || k.curve !== m.curve) return { ok: false, reason: `ECDSA method ${method} needs a ${m.curve} key` };
  if (data.length !== 2 * m.size) return { ok: false, reason: `ECDSA signature must be ${2 * m.size} octets (RFC 4754 §7)` };
  const ok = cryptoVerify(HASHES.get(m.hash)!.digest, octets, { key, dsaEncoding: 'ieee-p1363' }, data);
  return ok ? { ok: true, scheme: `ECDSA method ${method}` } : { ok: false, reason: 'ECDSA signature does not verify' };
}

/**
 * Verifies a peer's signature AUTH payload (method and data) over the RFC 7296 §2.15 signed
 * octets with the public key of its end-entity certificate. `acceptedHashes` limits RFC 7427
 * hashes (default: the ones segw announces).
 */
export function verifyAuth(
  publicKey: KeyObject,
  method: number,
  data: Buffer,
  octets: Buffer,
  acceptedHashes: readonly number[] = SIGNATURE_HASHES,
): VerifyResult {
  try {
    return method === AuthMethod.DIGITAL_SIGNATURE
      ? verifyDigitalSignature(publicKey, data, octets, acceptedHashes)
      : verifyClassic(publicKey, method, data, octets);
  } catch (e) {
    return { ok: false, reason: `signature check failed: ${(e as Error).message}` };
  }
}
