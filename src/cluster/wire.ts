/**
 * The generic codec the cluster's wire formats are declared with: a format is an object of
 * field name -> field codec, read and written in declaration order, network byte order. This is
 * the only file in src/cluster that reads or writes octets at offsets.
 *
 * Decoding never throws: a field that runs past the end makes decodeFields return undefined.
 */

export interface WireField<T> {
  /** Octets of a fixed field; for a variable one, the least it takes. */
  readonly size: number;
  /** The value and the offset after it, or undefined if it does not fit in `end`. */
  read(b: Buffer, off: number, end: number): { value: T; next: number } | undefined;
  /** Octets the value takes. */
  length(v: T): number;
  write(b: Buffer, off: number, v: T): void;
}

function fixed<T>(size: number, read: (b: Buffer, o: number) => T, write: (b: Buffer, o: number, v: T) => void): WireField<T> {
  return {
    size,
    read: (b, off, end) => (off + size > end ? undefined : { value: read(b, off), next: off + size }),
    length: () => size,
    write,
  };
}

export const u8 = fixed<number>(1, (b, o) => b.readUInt8(o), (b, o, v) => void b.writeUInt8(v, o));
export const u16 = fixed<number>(2, (b, o) => b.readUInt16BE(o), (b, o, v) => void b.writeUInt16BE(v, o));
export const u32 = fixed<number>(4, (b, o) => b.readUInt32BE(o), (b, o, v) => void b.writeUInt32BE(v >>> 0, o));
export const u64 = fixed<bigint>(8, (b, o) => b.readBigUInt64BE(o), (b, o, v) => void b.writeBigUInt64BE(BigInt.asUintN(64, v), o));

/** Text of at most 255 octets after a one-octet length (UTF-8; the formats using it allow ASCII). */
export const text8: WireField<string> = {
  size: 1,
  read(b, off, end) {
    if (off + 1 > end) return undefined;
    const n = b[off]!;
    if (off + 1 + n > end) return undefined;
    return { value: b.toString('utf8', off + 1, off + 1 + n), next: off + 1 + n };
  },
  length(v) {
    const n = Buffer.byteLength(v, 'utf8');
    if (n > 255) throw new RangeError(`text of ${n} octets does not fit a one-octet length`);
    return 1 + n;
  },
  write(b, off, v) {
    const n = b.write(v, off + 1, 'utf8');
    b[off] = n;
  },
};

export type Format = Record<string, WireField<unknown>>;
export type Values<F extends Format> = { [K in keyof F]: F[K] extends WireField<infer T> ? T : never };

/** The least octets a format takes. */
export function fieldsSize(f: Format): number {
  return Object.values(f).reduce((n, c) => n + c.size, 0);
}

export function encodeFields<F extends Format>(f: F, v: Values<F>): Buffer {
  const entries = Object.entries(f);
  const total = entries.reduce((n, [k, c]) => n + c.length(v[k]), 0);
  const out = Buffer.alloc(total);
  let off = 0;
  for (const [k, c] of entries) {
    c.write(out, off, v[k]);
    off += c.length(v[k]);
  }
  return out;
}

/** The values from `off` on, and the offset after the last field; undefined if `b` is too short. */
export function decodeFields<F extends Format>(f: F, b: Buffer, off: number): { value: Values<F>; end: number } | undefined {
  const out: Record<string, unknown> = {};
  let at = off;
  for (const [k, c] of Object.entries(f)) {
    const r = c.read(b, at, b.length);
    if (!r) return undefined;
    out[k] = r.value;
    at = r.next;
  }
  return { value: out as Values<F>, end: at };
}
