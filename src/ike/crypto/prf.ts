/**
 * Pseudorandom functions and prf+ (RFC 7296 §2.13): HMAC (RFC 2104) over node:crypto's one-shot
 * digests.
 *
 *   HMAC(K, m) = H((K' ^ opad) | H((K' ^ ipad) | m))
 *   K' = K zero-padded to the hash's block size, or H(K) padded when K is longer than a block
 *
 * Why not createHmac: each createHmac is a native object (a wrapper, a weak handle, an OpenSSL
 * context) that lives until the next GC, where its destructor runs; a responder computes about
 * a dozen HMACs per setup (SKEYSEED, prf+ blocks, AUTH), and those objects showed up as a
 * share of the GC's time (bench/ike-setup). The one-shot digest (./digest.ts) makes no object;
 * prf+ pads its key once for all of its blocks. The inputs are laid out in one
 * module-level scratch buffer, wiped after each use (it holds key material meanwhile).
 */
import { PRF_ALGORITHMS, type PrfAlgorithm } from './algorithms.js';
import { digest as hashOnce } from './digest.js';
import type { Prf } from './types.js';

/** RFC 7296 §2.13: the counter octet limits prf+ to 255 iterations. */
const PRF_PLUS_MAX_ITERATIONS = 255;
/** RFC 2104 §2: the inner and outer pad octets. */
const IPAD = 0x36;
const OPAD = 0x5c;
/** Input block size of each hash (FIPS 180-4): 64 octets for SHA-1/SHA-256, 128 for SHA-384/512. */
const BLOCK_SIZE: Record<string, number> = { sha1: 64, sha256: 64, sha384: 128, sha512: 128 };

/** Scratch for (K' ^ pad) | message; grown when a message needs more (certificates in AUTH input). */
let scratch = Buffer.alloc(2048);

function room(n: number): Buffer {
  if (scratch.length < n) scratch = Buffer.alloc(Math.max(n, 2 * scratch.length));
  return scratch;
}

class HmacPrf implements Prf {
  readonly id: number;
  readonly outputLength: number;
  readonly #hash: string;
  readonly #block: number;

  constructor(alg: PrfAlgorithm) {
    this.id = alg.id;
    this.outputLength = alg.outputLength;
    this.#hash = alg.hash;
    const block = BLOCK_SIZE[alg.hash];
    if (!block) throw new RangeError(`no block size known for ${alg.hash}`);
    this.#block = block;
  }

  /** K' ^ ipad and K' ^ opad, one after the other in a buffer of 2 blocks. */
  #pads(key: Buffer): Buffer {
    const b = this.#block;
    const k = key.length > b ? hashOnce(this.#hash, key) : key;
    const pads = Buffer.allocUnsafe(2 * b);
    pads.fill(IPAD, 0, b);
    pads.fill(OPAD, b, 2 * b);
    for (let i = 0; i < k.length; i++) {
      pads[i] ^= k[i]!;
      pads[b + i] ^= k[i]!;
    }
    if (k !== key) k.fill(0);
    return pads;
  }

  /** HMAC over parts laid out after the inner pad; `pads` from #pads. */
  #mac(pads: Buffer, a: Buffer, b?: Buffer, c?: Buffer, counter = -1): Buffer {
    const block = this.#block;
    const n = block + a.length + (b?.length ?? 0) + (c?.length ?? 0) + (counter >= 0 ? 1 : 0);
    const s = room(Math.max(n, block + this.outputLength));
    pads.copy(s, 0, 0, block);
    let at = block + a.copy(s, block);
    if (b) at += b.copy(s, at);
    if (c) at += c.copy(s, at);
    if (counter >= 0) s[at++] = counter;
    const inner = hashOnce(this.#hash, s.subarray(0, at));
    pads.copy(s, 0, block, 2 * block);
    inner.copy(s, block);
    const out = hashOnce(this.#hash, s.subarray(0, block + inner.length));
    s.fill(0, 0, at);
    inner.fill(0);
    return out;
  }

  compute(key: Buffer, data: Buffer): Buffer {
    const pads = this.#pads(key);
    const out = this.#mac(pads, data);
    pads.fill(0);
    return out;
  }

  /**
   * prf+ (K,S) = T1 | T2 | T3 | ...
   *   T1 = prf (K, S | 0x01)
   *   Tn = prf (K, Tn-1 | S | n)
   */
  plus(key: Buffer, seed: Buffer, length: number): Buffer {
    const iterations = Math.ceil(length / this.outputLength);
    if (iterations > PRF_PLUS_MAX_ITERATIONS) {
      throw new RangeError(`prf+ cannot produce ${length} octets with a ${this.outputLength}-octet PRF`);
    }
    const out = Buffer.allocUnsafe(iterations * this.outputLength);
    const pads = this.#pads(key);
    let prev: Buffer | undefined;
    for (let n = 1; n <= iterations; n++) {
      const t = prev ? this.#mac(pads, prev, seed, undefined, n) : this.#mac(pads, seed, undefined, undefined, n);
      t.copy(out, (n - 1) * this.outputLength);
      prev?.fill(0);
      prev = t;
    }
    prev?.fill(0);
    pads.fill(0);
    return out.subarray(0, length);
  }
}

const cache = new Map<number, Prf>();

/**
 * The PRF for a PrfId. Throws RangeError for an id segw does not implement: proposal selection
 * offers and accepts only ids in PRF_ALGORITHMS, so reaching that is a bug.
 */
export function createPrf(id: number): Prf {
  let prf = cache.get(id);
  if (prf) return prf;
  const alg = PRF_ALGORITHMS.get(id);
  if (!alg) throw new RangeError(`unsupported PRF ${id}`);
  prf = new HmacPrf(alg); // stateless: one instance per algorithm is shared
  cache.set(id, prf);
  return prf;
}
