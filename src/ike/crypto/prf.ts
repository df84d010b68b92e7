/**
 * Pseudorandom functions and prf+ (RFC 7296 §2.13) over node:crypto HMAC.
 */
import { createHmac } from 'node:crypto';
import { PRF_ALGORITHMS, type PrfAlgorithm } from './algorithms.js';
import type { Prf } from './types.js';

/** RFC 7296 §2.13: the counter octet limits prf+ to 255 iterations. */
const PRF_PLUS_MAX_ITERATIONS = 255;

class HmacPrf implements Prf {
  readonly id: number;
  readonly outputLength: number;
  readonly #hash: string;

  constructor(alg: PrfAlgorithm) {
    this.id = alg.id;
    this.outputLength = alg.outputLength;
    this.#hash = alg.hash;
  }

  compute(key: Buffer, data: Buffer): Buffer {
    return createHmac(this.#hash, key).update(data).digest();
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
    const counter = Buffer.alloc(1);
    let prev: Buffer | null = null;
    for (let n = 1; n <= iterations; n++) {
      counter[0] = n;
      const h = createHmac(this.#hash, key);
      if (prev) h.update(prev);
      h.update(seed);
      h.update(counter);
      prev = h.digest();
      prev.copy(out, (n - 1) * this.outputLength);
    }
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
