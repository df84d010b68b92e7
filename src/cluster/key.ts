/**
 * The cluster key: the HMAC-SHA256 key every member shares to authenticate load reports. It is
 * read from a file named in the config (never inline), and kept inside this object so it cannot
 * reach a log line or a JSON answer by accident: it prints and serialises as "[cluster key]".
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

/** Shortest key accepted: the HMAC-SHA256 output length (RFC 2104 §3 recommends at least L). */
export const MIN_KEY_OCTETS = 32;
/** HMAC-SHA256 tag length (RFC 4868 §2.1 uses the full 256 bits here, not a truncation). */
export const MAC_OCTETS = 32;

export class ClusterKey {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < MIN_KEY_OCTETS) throw new RangeError(`a cluster key needs at least ${MIN_KEY_OCTETS} octets, got ${key.length}`);
    this.#key = Buffer.from(key);
  }

  get length(): number {
    return this.#key.length;
  }

  /** HMAC-SHA256 over the given parts, in order. */
  mac(...parts: Buffer[]): Buffer {
    const h = createHmac('sha256', this.#key);
    for (const p of parts) h.update(p);
    return h.digest();
  }

  /** Whether `tag` is the MAC of `data`, compared in constant time. */
  verify(data: Buffer, tag: Buffer): boolean {
    const want = this.mac(data);
    return tag.length === want.length && timingSafeEqual(tag, want);
  }

  /** Same octets (constant time): a reload tells a rotated key from the same file re-read. */
  equals(other: ClusterKey): boolean {
    return other.#key.length === this.#key.length && timingSafeEqual(other.#key, this.#key);
  }

  toJSON(): string {
    return '[cluster key]';
  }

  toString(): string {
    return '[cluster key]';
  }

  [inspect.custom](): string {
    return '[cluster key]';
  }
}

/**
 * The key in a key file's octets: a text file (what `openssl rand -hex 32 > cluster.key` writes)
 * loses its trailing line break and spaces, so an editor's final newline does not change the
 * key; any other file is used as it is (raw random octets).
 */
export function keyFromFile(content: Buffer): Buffer {
  const printable = content.every((c) => (c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d || c === 0x09);
  if (!printable) return content;
  let end = content.length;
  while (end > 0 && [0x0a, 0x0d, 0x20, 0x09].includes(content[end - 1]!)) end--;
  return content.subarray(0, end);
}
