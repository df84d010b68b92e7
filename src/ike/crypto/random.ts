/**
 * Random octets for SPIs, nonces and IV counters (RFC 7296 §2.6, §2.10, §3.14), drawn from a
 * pool that one randomFillSync refills 4 KiB at a time. Each randomBytes call costs a few µs of
 * fixed overhead whatever its size; an SA setup needs about four of them per side, so the pool
 * turns a measurable share of a setup (bench/ike-setup) into one call per ~50 setups. Octets
 * are copied out into their own ArrayBuffer (safe to keep for an SA's lifetime) and wiped from
 * the pool as they are taken; none is handed out twice.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/** `n` fresh random octets (CSPRNG), in a buffer of their own. */
export function randomOctets(n: number): Buffer {
  const out = Buffer.from(new ArrayBuffer(n));
  if (n > POOL_SIZE / 8) return randomFillSync(out);
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  pool.copy(out, 0, offset, offset + n);
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
