/**
 * Key exchange (Transform Type 4) over node:crypto: MODP (RFC 3526), ECP (RFC 5903) and
 * Curve25519 (RFC 8031). Each createKeyExchange() call makes a fresh ephemeral key.
 *
 * Cost notes (a responder does one of these per IKE_SA_INIT; numbers from
 * test/ike/crypto/dh-cost.ts on Node 20.20.2 / OpenSSL 3): P-256 uses createECDH, which keeps
 * the key in one EC_KEY with no KeyObject or DER round trips (~40 us new key, ~90 us secret,
 * against ~240 us for a DER import + derive). For P-384 and P-521 createECDH's computeSecret
 * is 1.4-1.8x slower than importing the peer's point as DER and using diffieHellman() on
 * KeyObjects (P-384: ~1640 vs ~1140 us; P-521: ~4980 vs ~2830 us), so those use KeyObjects.
 * X25519 has no createECDH form: our public value is computed as X25519(k, 9) (cheaper than
 * exporting the key), the peer's value is imported as a JWK (raw octets, ~20 us against ~90 us
 * for a DER SubjectPublicKeyInfo). JWK export is never used: exporting X25519 keys as JWK in a
 * loop can deadlock Node 20.20.2 (import is a different path; 100k imports in a loop are fine).
 */
import {
  createDiffieHellman,
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  getDiffieHellman,
  type DiffieHellman,
  type DiffieHellmanGroup,
  type ECDH,
  type KeyObject,
} from 'node:crypto';
import { DH_ALGORITHMS, type DhAlgorithm } from './algorithms.js';
import { contextTag, derOid, derSequence, derSmallInteger, derTlv, Tag } from './asn1.js';
import type { KeyExchange } from './types.js';

/** RFC 3526: every MODP group here has generator 2. */
const MODP_GENERATOR = 2;
/** RFC 5480 §2.2 / SEC 1 §2.3.3: uncompressed point prefix. */
const EC_POINT_UNCOMPRESSED = 0x04;

/** RFC 8410 §7: PrivateKeyInfo of an X25519 key, before the 32 raw octets (known-answer tests). */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
/** RFC 7748 §4.1: the base point u = 9. */
const X25519_BASE_U = Buffer.concat([Buffer.from([9]), Buffer.alloc(31)]);

function leftPad(b: Buffer, length: number): Buffer {
  if (b.length === length) return b;
  if (b.length > length) throw new RangeError('key exchange value longer than its group allows');
  const out = Buffer.alloc(length);
  b.copy(out, length - b.length);
  return out;
}

/** Per-group constants for the RFC 7296 §3.4 / NIST SP 800-56A range check 1 < y < p-1. */
const modpBounds = new Map<number, { prime: Buffer; one: Buffer; pMinus1: Buffer }>();
function boundsFor(alg: DhAlgorithm): { prime: Buffer; one: Buffer; pMinus1: Buffer } {
  let b = modpBounds.get(alg.group);
  if (!b) {
    const prime = getDiffieHellman(alg.openssl).getPrime();
    const pMinus1 = Buffer.from(prime);
    pMinus1[pMinus1.length - 1] -= 1; // p is odd: no borrow
    const one = Buffer.alloc(prime.length);
    one[one.length - 1] = 1;
    b = { prime, one, pMinus1 };
    modpBounds.set(alg.group, b);
  }
  return b;
}

class ModpExchange implements KeyExchange {
  readonly group: number;
  readonly publicValue: Buffer;
  readonly #alg: DhAlgorithm;
  readonly #dh: DiffieHellman | DiffieHellmanGroup;

  constructor(alg: DhAlgorithm, privateKey?: Buffer) {
    this.group = alg.group;
    this.#alg = alg;
    if (privateKey) {
      const dh = createDiffieHellman(boundsFor(alg).prime, MODP_GENERATOR);
      dh.setPrivateKey(privateKey);
      this.#dh = dh;
    } else {
      // OpenSSL picks a private exponent of twice the group's security strength (RFC 3526 §8).
      this.#dh = getDiffieHellman(alg.openssl);
    }
    this.#dh.generateKeys();
    this.publicValue = leftPad(this.#dh.getPublicKey(), alg.publicLength);
  }

  computeSecret(peerPublic: Buffer): Buffer | null {
    if (peerPublic.length !== this.#alg.publicLength) return null;
    const { one, pMinus1 } = boundsFor(this.#alg);
    // Same-length big-endian octet strings compare like the integers they hold.
    if (Buffer.compare(peerPublic, one) <= 0 || Buffer.compare(peerPublic, pMinus1) >= 0) return null;
    try {
      return leftPad(this.#dh.computeSecret(peerPublic), this.#alg.secretLength);
    } catch {
      return null;
    }
  }
}

class EcpExchange implements KeyExchange {
  readonly group: number;
  readonly publicValue: Buffer;
  readonly #alg: DhAlgorithm;
  readonly #ecdh: ECDH;

  constructor(alg: DhAlgorithm, privateKey?: Buffer) {
    this.group = alg.group;
    this.#alg = alg;
    this.#ecdh = createECDH(alg.openssl);
    if (privateKey) this.#ecdh.setPrivateKey(privateKey);
    else this.#ecdh.generateKeys();
    // RFC 5903 §7: x || y without the SEC 1 point-format octet.
    this.publicValue = this.#ecdh.getPublicKey().subarray(1);
  }

  computeSecret(peerPublic: Buffer): Buffer | null {
    return ecdhSecret(this.#ecdh, this.#alg, peerPublic);
  }
}

/**
 * What the responder keeps of its side of a key exchange it answered in one step: the group and
 * the public value for its KE payload. The private key is gone (computeSecret gives null).
 */
class AnsweredExchange implements KeyExchange {
  constructor(
    readonly group: number,
    readonly publicValue: Buffer,
  ) {}

  computeSecret(): Buffer | null {
    return null;
  }
}

/**
 * One ECDH object per fast curve for respondKeyExchange. A responder makes its key, reads its
 * public value and computes the secret in one synchronous step, so one object serves every SA
 * (a new key each time): making an ECDH object (an OpenSSL EC_KEY and its curve) cost about as
 * much as generating the key in it, and the object lived on until the next GC.
 */
const responderEcdh = new Map<string, ECDH>();

/**
 * The responder's side of a key exchange in one step (RFC 7296 §1.2 KEr, §1.3 PFS): a fresh
 * ephemeral key for `group`, and the shared secret with the peer's value (null when that value
 * is invalid). The returned exchange carries the public value only.
 */
export function respondKeyExchange(group: number, peerPublic: Buffer): { exchange: KeyExchange; secret: Buffer | null } {
  const alg = DH_ALGORITHMS.get(group);
  if (!alg) throw new RangeError(`unsupported key exchange method ${group}`);
  if (alg.kind !== 'ecp' || !ECDH_FAST_CURVES.has(alg.openssl)) {
    const ke = createKeyExchange(group);
    return { exchange: new AnsweredExchange(group, ke.publicValue), secret: ke.computeSecret(peerPublic) };
  }
  let ecdh = responderEcdh.get(alg.openssl);
  if (!ecdh) responderEcdh.set(alg.openssl, (ecdh = createECDH(alg.openssl)));
  // A new private key, replacing the previous SA's (RFC 7296 §2.12: no reuse here).
  const point = ecdh.generateKeys();
  const exchange = new AnsweredExchange(group, point.subarray(1));
  return { exchange, secret: ecdhSecret(ecdh, alg, peerPublic) };
}

/** RFC 5903 §9: x of the shared point, from the peer's x || y; null for an invalid point. */
function ecdhSecret(ecdh: ECDH, alg: DhAlgorithm, peerPublic: Buffer): Buffer | null {
  if (peerPublic.length !== alg.publicLength) return null;
  const point = Buffer.allocUnsafe(peerPublic.length + 1);
  point[0] = EC_POINT_UNCOMPRESSED;
  peerPublic.copy(point, 1);
  try {
    // OpenSSL refuses points that are not on the curve (node throws ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY).
    return leftPad(ecdh.computeSecret(point), alg.secretLength);
  } catch {
    return null;
  }
}

/** Curves where createECDH is the fastest path (see the cost notes above). */
const ECDH_FAST_CURVES = new Set(['prime256v1']);
/** RFC 5480 §2.1.1.1 namedCurve OIDs, for the SEC 1 private key of a known-answer test. */
const CURVE_OIDS: Record<string, string> = { secp384r1: '1.3.132.0.34', secp521r1: '1.3.132.0.35' };

/** DER SubjectPublicKeyInfo up to the point octets, per curve, learnt from one generated key. */
const spkiPrefixes = new Map<string, Buffer>();
function spkiPrefix(alg: DhAlgorithm, spki: Buffer): Buffer {
  let p = spkiPrefixes.get(alg.openssl);
  if (!p) {
    p = Buffer.from(spki.subarray(0, spki.length - alg.publicLength - 1));
    spkiPrefixes.set(alg.openssl, p);
  }
  return p;
}

class EcpKeyObjectExchange implements KeyExchange {
  readonly group: number;
  readonly publicValue: Buffer;
  readonly #alg: DhAlgorithm;
  readonly #key: KeyObject;

  constructor(alg: DhAlgorithm, privateKey?: Buffer) {
    this.group = alg.group;
    this.#alg = alg;
    let spki: Buffer;
    if (privateKey) {
      // SEC 1 §C.4 ECPrivateKey { 1, d, [0] curve, [1] Q }, Q computed by createECDH.
      const ecdh = createECDH(alg.openssl);
      ecdh.setPrivateKey(privateKey);
      const sec1 = derSequence(derSmallInteger(1), derTlv(Tag.OCTET_STRING, privateKey),
        derTlv(contextTag(0, true), derOid(CURVE_OIDS[alg.openssl])),
        derTlv(contextTag(1, true), derTlv(Tag.BIT_STRING, Buffer.from([0]), ecdh.getPublicKey())));
      this.#key = createPrivateKey({ key: sec1, format: 'der', type: 'sec1' });
      spki = createPublicKey(this.#key).export({ format: 'der', type: 'spki' });
    } else {
      const pair = generateKeyPairSync('ec', { namedCurve: alg.openssl });
      this.#key = pair.privateKey;
      spki = pair.publicKey.export({ format: 'der', type: 'spki' });
    }
    spkiPrefix(alg, spki);
    this.publicValue = Buffer.from(spki.subarray(spki.length - alg.publicLength)); // x || y after 0x04
  }

  computeSecret(peerPublic: Buffer): Buffer | null {
    if (peerPublic.length !== this.#alg.publicLength) return null;
    const prefix = spkiPrefixes.get(this.#alg.openssl)!;
    const spki = Buffer.concat([prefix, Buffer.from([EC_POINT_UNCOMPRESSED]), peerPublic]);
    try {
      // The DER import refuses a point that is not on the curve.
      const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      return leftPad(diffieHellman({ privateKey: this.#key, publicKey }), this.#alg.secretLength);
    } catch {
      return null;
    }
  }
}

let x25519Base: KeyObject | undefined;
function x25519PublicKey(raw: Buffer): KeyObject {
  // A JWK import takes the raw octets (EVP_PKEY_new_raw_public_key): measured ~6x cheaper
  // than a DER SubjectPublicKeyInfo through OpenSSL 3's decoders (bench/ike-setup).
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

class X25519Exchange implements KeyExchange {
  readonly group: number;
  readonly publicValue: Buffer;
  readonly #key: KeyObject;

  constructor(alg: DhAlgorithm, privateKey?: Buffer) {
    this.group = alg.group;
    this.#key = privateKey
      ? createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' })
      : generateKeyPairSync('x25519').privateKey;
    x25519Base ??= x25519PublicKey(X25519_BASE_U);
    // RFC 7748 §6.1: the public key is X25519(k, 9).
    this.publicValue = diffieHellman({ privateKey: this.#key, publicKey: x25519Base });
  }

  computeSecret(peerPublic: Buffer): Buffer | null {
    if (peerPublic.length !== 32) return null; // RFC 8031 §3
    let secret: Buffer;
    try {
      secret = diffieHellman({ privateKey: this.#key, publicKey: x25519PublicKey(peerPublic) });
    } catch {
      return null; // OpenSSL itself refuses an all-zero result
    }
    // RFC 8031 §2.4: an all-zero shared secret (small-order peer value) MUST be rejected.
    let acc = 0;
    for (const b of secret) acc |= b;
    return acc === 0 ? null : secret;
  }
}

/** Whether segw implements a key-exchange method (DhGroup). */
export function isSupportedDhGroup(group: number): boolean {
  return DH_ALGORITHMS.has(group);
}

/**
 * A fresh ephemeral key for `group`. `privateKey` fixes the private value and exists for
 * known-answer tests only (RFC 5903 §8, RFC 7748 §6.1). Throws RangeError for a group segw
 * does not implement: proposal selection only accepts groups in DH_ALGORITHMS.
 */
export function createKeyExchange(group: number, privateKey?: Buffer): KeyExchange {
  const alg = DH_ALGORITHMS.get(group);
  if (!alg) throw new RangeError(`unsupported key exchange method ${group}`);
  switch (alg.kind) {
    case 'modp':
      return new ModpExchange(alg, privateKey);
    case 'ecp':
      return ECDH_FAST_CURVES.has(alg.openssl) ? new EcpExchange(alg, privateKey) : new EcpKeyObjectExchange(alg, privateKey);
    case 'x25519':
      return new X25519Exchange(alg, privateKey);
  }
}
