/**
 * Protection of the Encrypted (SK) and Encrypted Fragment (SKF) payloads, one direction:
 *   - AES-GCM per RFC 5282 (IKEv2 AEAD): nonce = salt (4, from the key) || IV (8, in the payload),
 *     AAD = IKE header .. SK payload header, ICV 8/12/16 octets;
 *   - AES-CBC + HMAC-SHA2 per RFC 7296 §3.14 (encrypt-then-MAC): random 16-octet IV,
 *     ICV = truncated HMAC over IKE header .. end of ciphertext (RFC 4868 §2.1).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  timingSafeEqual,
  type CipherGCMTypes,
  type KeyObject,
} from 'node:crypto';
import { IntegId } from '../constants.js';
import { ENCR_ALGORITHMS, INTEG_ALGORITHMS, cipherName, type EncrAlgorithm } from './algorithms.js';
import type { IkeSuite, SkTransform } from './types.js';
import { randomFill, randomTransient } from './random.js';

/** RFC 5282 §4: nonce = 4-octet salt || 8-octet IV. */
const GCM_SALT_LENGTH = 4;

/** Cipher names interned: each transform refers to one shared string. */
const CIPHER_NAMES = new Map<string, string>();
function internedCipherName(alg: EncrAlgorithm, keyBits: number): string {
  const n = cipherName(alg, keyBits);
  const have = CIPHER_NAMES.get(n);
  if (have) return have;
  CIPHER_NAMES.set(n, n);
  return n;
}

/** key || salt || IV || counter (AesGcmSk's state). */
function gcmStateLength(alg: EncrAlgorithm, keyBits: number): number {
  return keyBits / 8 + GCM_SALT_LENGTH + 2 * alg.ivLength;
}

class AesGcmSk implements SkTransform {
  readonly ivLength: number;
  readonly blockSize: number;
  readonly icvLength: number;
  readonly #cipher: CipherGCMTypes;
  readonly #keyLength: number;
  /**
   * Everything the transform keeps, in one allocation: key || salt || IV || counter. An SA holds
   * two transforms for its lifetime, so at 10k+ SAs separate buffers and KeyObjects (a JS
   * wrapper, a native handle and a cleanup hook each) cost more memory than the key itself;
   * messages per SA are few, so the per-message saving of a KeyObject does not pay for it.
   * The salt || IV part is the GCM nonce (rewritten per message).
   * RFC 5282 §3.1: the IV MUST NOT repeat for a key. A 64-bit counter does that; it starts at a
   * random value so that two transforms made by mistake over the same key still do not collide.
   * The caller may hand in that memory (`gcmStateLength` octets, see createSkTransform), so an
   * SA keeps both directions and its SPIs in one ArrayBuffer.
   */
  readonly #mem: Buffer;

  constructor(alg: EncrAlgorithm, keyBits: number, keymat: Buffer, mem?: Buffer) {
    const keyLength = keyBits / 8;
    if (keymat.length !== keyLength + GCM_SALT_LENGTH) {
      throw new RangeError(`AES-GCM keying material must be ${keyLength + GCM_SALT_LENGTH} octets`);
    }
    this.ivLength = alg.ivLength;
    this.blockSize = alg.blockSize;
    this.icvLength = alg.icvLength;
    this.#cipher = internedCipherName(alg, keyBits) as CipherGCMTypes;
    this.#keyLength = keyLength;
    const length = gcmStateLength(alg, keyBits);
    if (mem !== undefined && mem.length !== length) throw new RangeError(`AES-GCM transform memory must be ${length} octets`);
    this.#mem = mem ?? Buffer.from(new ArrayBuffer(length));
    keymat.copy(this.#mem, 0, 0, keyLength + GCM_SALT_LENGTH);
    randomFill(this.#mem, keyLength + GCM_SALT_LENGTH + alg.ivLength, alg.ivLength);
  }

  get #key(): Buffer {
    return this.#mem.subarray(0, this.#keyLength);
  }

  get #nonce(): Buffer {
    return this.#mem.subarray(this.#keyLength, this.#keyLength + GCM_SALT_LENGTH + this.ivLength);
  }

  #nextIv(): Buffer {
    const c = this.#keyLength + GCM_SALT_LENGTH + this.ivLength;
    const m = this.#mem;
    for (let i = c + this.ivLength - 1; i >= c; i--) {
      m[i] = (m[i]! + 1) & 0xff;
      if (m[i] !== 0) break;
    }
    return Buffer.from(m.subarray(c, c + this.ivLength));
  }

  seal(aad: Buffer, plaintext: Buffer): Buffer {
    const iv = this.#nextIv();
    const nonce = this.#nonce;
    iv.copy(nonce, GCM_SALT_LENGTH);
    const c = createCipheriv(this.#cipher, this.#key, nonce, { authTagLength: this.icvLength });
    c.setAAD(aad);
    const ct = c.update(plaintext);
    c.final(); // GCM: no output
    return Buffer.concat([iv, ct, c.getAuthTag()]);
  }

  open(aad: Buffer, body: Buffer): Buffer | null {
    if (body.length < this.ivLength + this.icvLength) return null;
    const ctEnd = body.length - this.icvLength;
    const nonce = this.#nonce;
    body.copy(nonce, GCM_SALT_LENGTH, 0, this.ivLength);
    try {
      const d = createDecipheriv(this.#cipher, this.#key, nonce, { authTagLength: this.icvLength });
      d.setAuthTag(body.subarray(ctEnd));
      d.setAAD(aad);
      const pt = d.update(body.subarray(this.ivLength, ctEnd));
      d.final(); // throws when the ICV does not verify
      return pt;
    } catch {
      return null;
    }
  }
}

class AesCbcHmacSk implements SkTransform {
  readonly ivLength: number;
  readonly blockSize: number;
  readonly icvLength: number;
  readonly #cipher: string;
  readonly #key: KeyObject;
  readonly #hash: string;
  readonly #integKey: KeyObject;

  constructor(alg: EncrAlgorithm, keyBits: number, encKey: Buffer, integId: number, integKey: Buffer) {
    const integ = INTEG_ALGORITHMS.get(integId);
    if (!integ) throw new RangeError(`unsupported integrity transform ${integId}`);
    if (encKey.length !== keyBits / 8) throw new RangeError(`AES-CBC key must be ${keyBits / 8} octets`);
    if (integKey.length !== integ.keyLength) throw new RangeError(`${integ.name} key must be ${integ.keyLength} octets`);
    this.ivLength = alg.ivLength;
    this.blockSize = alg.blockSize;
    this.icvLength = integ.icvLength;
    this.#cipher = cipherName(alg, keyBits);
    this.#key = createSecretKey(encKey);
    this.#hash = integ.hash;
    this.#integKey = createSecretKey(integKey);
  }

  #icv(aad: Buffer, ivAndCiphertext: Buffer): Buffer {
    return createHmac(this.#hash, this.#integKey).update(aad).update(ivAndCiphertext).digest().subarray(0, this.icvLength);
  }

  seal(aad: Buffer, plaintext: Buffer): Buffer {
    if (plaintext.length === 0 || plaintext.length % this.blockSize !== 0) {
      throw new RangeError(`SK plaintext must be a non-empty multiple of ${this.blockSize} octets`);
    }
    const iv = randomTransient(this.ivLength); // RFC 7296 §3.14: unpredictable IV
    const c = createCipheriv(this.#cipher, this.#key, iv);
    c.setAutoPadding(false); // the codec pads (RFC 7296 §3.14 Padding / Pad Length)
    const ivCt = Buffer.concat([iv, c.update(plaintext), c.final()]);
    return Buffer.concat([ivCt, this.#icv(aad, ivCt)]);
  }

  open(aad: Buffer, body: Buffer): Buffer | null {
    const ctLength = body.length - this.ivLength - this.icvLength;
    if (ctLength <= 0 || ctLength % this.blockSize !== 0) return null;
    const ivCt = body.subarray(0, body.length - this.icvLength);
    if (!timingSafeEqual(this.#icv(aad, ivCt), body.subarray(ivCt.length))) return null;
    try {
      const d = createDecipheriv(this.#cipher, this.#key, ivCt.subarray(0, this.ivLength));
      d.setAutoPadding(false);
      return Buffer.concat([d.update(ivCt.subarray(this.ivLength)), d.final()]);
    } catch {
      return null;
    }
  }
}

function encrOf(suite: IkeSuite): EncrAlgorithm {
  const alg = ENCR_ALGORITHMS.get(suite.encr);
  if (!alg || !alg.keyBits.includes(suite.encrKeyLength)) {
    throw new RangeError(`unsupported encryption transform ${suite.encr}/${suite.encrKeyLength}`);
  }
  return alg;
}

/**
 * Octets of memory a transform of this suite can keep in a buffer its caller owns (0: it keeps
 * its own). An SA allocates them with its other long-lived octets: at 100,000 SAs every
 * ArrayBuffer saved is ~0.1 KiB per SA.
 */
export function skStateLength(suite: IkeSuite): number {
  const alg = encrOf(suite);
  return alg.mode === 'aead' ? gcmStateLength(alg, suite.encrKeyLength) : 0;
}

/**
 * The SK/SKF protection for one direction of a negotiated suite: SK_ei/SK_ai for messages the
 * original initiator sends, SK_er/SK_ar for the responder's. For AEAD suites `integKey` is
 * empty (IntegId.NONE). `mem` (skStateLength(suite) octets, zeroes) is where the transform keeps
 * its state, if given; the transform owns it from then on. Throws RangeError on an unsupported
 * suite or wrong key or memory lengths (bugs).
 */
export function createSkTransform(suite: IkeSuite, encKey: Buffer, integKey: Buffer, mem?: Buffer): SkTransform {
  const alg = encrOf(suite);
  if (alg.mode === 'aead') {
    if (suite.integ !== IntegId.NONE) throw new RangeError('an AEAD suite has no integrity transform');
    return new AesGcmSk(alg, suite.encrKeyLength, encKey, mem);
  }
  if (mem !== undefined && mem.length > 0) throw new RangeError('an AES-CBC transform keeps no caller memory');
  return new AesCbcHmacSk(alg, suite.encrKeyLength, encKey, suite.integ, integKey);
}
