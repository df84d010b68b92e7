/**
 * Random octets for SPIs, nonces and IV counters (RFC 7296 §2.6, §2.10, §3.14), drawn from a
 * pool that one randomFillSync refills 4 KiB at a time. Each randomBytes call costs a few µs of
 * fixed overhead whatever its size; an SA setup needs about four of them per side, so the pool
 * turns a measurable share of a setup (bench/ike-setup) into one call per ~50 setups. Octets
 * are copied out (into a buffer of their own, a slice of Node's pool for short-lived values, or
 * the caller's memory) and wiped from the pool as they are taken; none is handed out twice.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/**
 * `n` fresh random octets in a slice of Node's shared allocation pool: for values that are
 * copied or dropped soon (SPIs copied into the SA, IVs, nonces kept until IKE_AUTH completes),
 * where a buffer of its own would cost a native allocation and a free on a GC thread.
 */
export function randomTransient(n: number): Buffer {
  return randomFill(Buffer.allocUnsafe(n), 0, n);
}

/** Fills out[offset, offset + n) with fresh random octets; returns `out`. */
export function randomFill(out: Buffer, offsetInOut: number, n: number): Buffer {
  if (n > POOL_SIZE / 8) return randomFillSync(out, offsetInOut, n);
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  pool.copy(out, offsetInOut, offset, offset + n);
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
