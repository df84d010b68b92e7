/**
 * What the IKE code needs from cryptography, as interfaces; src/ike/crypto implements them
 * with node:crypto (OpenSSL). Keys are Buffers held only by the IKE SA that owns them and are
 * never logged.
 */

/**
 * Protection of the Encrypted (SK, RFC 7296 §3.14) and Encrypted Fragment (SKF, RFC 7383)
 * payloads in one direction (initiator->responder uses SK_ei/SK_ai, the other SK_er/SK_ar).
 *
 * `aad` is every octet from the start of the IKE header through the end of the SK/SKF payload
 * header, with the final length fields already written. For AEAD (RFC 5282) it is the
 * associated data; for encrypt-then-MAC the ICV is computed over aad || IV || ciphertext.
 * `plaintext` is already padded by the codec (inner payloads || padding || pad length).
 */
export interface SkTransform {
  /** Octets of IV carried in the payload. */
  readonly ivLength: number;
  /** Plaintext must be a multiple of this (1 for AEAD/stream modes, 16 for AES-CBC). */
  readonly blockSize: number;
  /** Octets of integrity checksum at the end of the payload. */
  readonly icvLength: number;
  /** Returns IV || ciphertext || ICV. */
  seal(aad: Buffer, plaintext: Buffer): Buffer;
  /** `body` is IV || ciphertext || ICV; returns the padded plaintext, or null if the ICV fails. */
  open(aad: Buffer, body: Buffer): Buffer | null;
}

/** A negotiated pseudorandom function (RFC 7296 §2.13). */
export interface Prf {
  readonly id: number;
  /** Output length in octets (also the preferred key length for HMAC PRFs). */
  readonly outputLength: number;
  compute(key: Buffer, data: Buffer): Buffer;
  /** prf+ (RFC 7296 §2.13): `length` octets of T1 | T2 | ... */
  plus(key: Buffer, seed: Buffer, length: number): Buffer;
}

/** One side of a Diffie-Hellman / key exchange (RFC 7296 §3.4 encodings, RFC 5903 for ECP). */
export interface KeyExchange {
  readonly group: number;
  /** The KE payload's Key Exchange Data. */
  readonly publicValue: Buffer;
  /** The shared secret g^ir, or null when the peer's value is invalid (wrong length, not on the curve). */
  computeSecret(peerPublic: Buffer): Buffer | null;
}

/** The selected IKE SA proposal, by registry numbers. */
export interface IkeSuite {
  encr: number;
  /** Encryption key length in bits (from the KEY_LENGTH attribute). */
  encrKeyLength: number;
  /** IntegId.NONE for AEAD suites. */
  integ: number;
  prf: number;
  dh: number;
}

/** SK_* of RFC 7296 §2.14. */
export interface IkeKeys {
  skD: Buffer;
  skAi: Buffer;
  skAr: Buffer;
  skEi: Buffer;
  skEr: Buffer;
  skPi: Buffer;
  skPr: Buffer;
}
