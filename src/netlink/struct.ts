/**
 * C structures as data: `struct('xfrm_id', { daddr: xfrm_address_t, spi: be32, proto: u8 })`
 * declares a kernel structure with the kernel's own field names; offsets, trailing padding and
 * sizeof follow the x86_64 (LP64) C layout rules: every field at a multiple of its alignment, the
 * structure's alignment the largest of its fields', sizeof rounded up to it. Padding is written as
 * zeros, as iproute2 and the kernel do (both memset their structures).
 *
 * Field codecs: u8 u16 u32 s32 u64 (host byte order, x86_64 little-endian), be16 be32 (network
 * order: ports, SPIs), bytes(n, align), chars(n) (a NUL-padded C string), a nested struct, and
 * flex() for a trailing flexible array member (`char alg_key[]`): size 0 in sizeof, on decode the
 * rest of the buffer, on encode appended.
 *
 * This file is the only place that reads or writes structure fields; every declaration in
 * ./rtnetlink.ts and ./xfrm.ts goes through it.
 */

export interface FieldCodec<T> {
  readonly size: number;
  readonly align: number;
  read(b: Buffer, off: number, end: number): T;
  write(b: Buffer, off: number, v: T): void;
  readonly zero: () => T;
  /** Set only on flex(): the field takes the rest of the buffer. */
  readonly flex?: true;
}

function num(size: 1 | 2 | 4, signed: boolean, be: boolean): FieldCodec<number> {
  const r = be ? 'BE' : 'LE';
  const read =
    size === 1
      ? (b: Buffer, o: number) => (signed ? b.readInt8(o) : b.readUInt8(o))
      : size === 2
        ? (b: Buffer, o: number) => (signed ? b[`readInt16${r}`](o) : b[`readUInt16${r}`](o))
        : (b: Buffer, o: number) => (signed ? b[`readInt32${r}`](o) : b[`readUInt32${r}`](o));
  const write =
    size === 1
      ? (b: Buffer, o: number, v: number) => void (signed ? b.writeInt8(v, o) : b.writeUInt8(v, o))
      : size === 2
        ? (b: Buffer, o: number, v: number) => void (signed ? b[`writeInt16${r}`](v, o) : b[`writeUInt16${r}`](v, o))
        : (b: Buffer, o: number, v: number) => void (signed ? b[`writeInt32${r}`](v, o) : b[`writeUInt32${r}`](v >>> 0, o));
  return { size, align: size, read, write, zero: () => 0 };
}

export const u8 = num(1, false, false);
export const u16 = num(2, false, false);
export const u32 = num(4, false, false);
export const s32 = num(4, true, false);
/** Network byte order (__be16, __be32). */
export const be16 = num(2, false, true);
export const be32 = num(4, false, true);

export const u64: FieldCodec<bigint> = {
  size: 8,
  align: 8,
  read: (b, o) => b.readBigUInt64LE(o),
  write: (b, o, v) => void b.writeBigUInt64LE(BigInt.asUintN(64, v), o),
  zero: () => 0n,
};

/** n octets (an address, an array of bytes); `align` is the C alignment of the member's type. */
export function bytes(n: number, align = 1): FieldCodec<Buffer> {
  return {
    size: n,
    align,
    read: (b, o) => Buffer.from(b.subarray(o, o + n)),
    write: (b, o, v) => {
      if (v.length > n) throw new RangeError(`${v.length} octets do not fit a ${n}-octet field`);
      v.copy(b, o);
    },
    zero: () => Buffer.alloc(n),
  };
}

/** `char name[n]`: a NUL-terminated string padded with zeros. */
export function chars(n: number): FieldCodec<string> {
  return {
    size: n,
    align: 1,
    read: (b, o) => {
      const s = b.subarray(o, o + n);
      const z = s.indexOf(0);
      return s.subarray(0, z < 0 ? n : z).toString('latin1');
    },
    write: (b, o, v) => {
      if (v.length >= n) throw new RangeError(`"${v}" does not fit char[${n}] with its NUL`);
      b.write(v, o, 'latin1');
    },
    zero: () => '',
  };
}

/** A trailing flexible array member (`char alg_key[]`, `__u32 bmp[]`). */
export function flex(): FieldCodec<Buffer> {
  return {
    size: 0,
    align: 1,
    flex: true,
    read: (b, o, end) => Buffer.from(b.subarray(o, Math.max(o, end))),
    write: (b, o, v) => void v.copy(b, o),
    zero: () => Buffer.alloc(0),
  };
}

type Fields = Record<string, FieldCodec<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type ValueOf<C> = C extends FieldCodec<infer T> ? T : never;
export type StructValue<F extends Fields> = { [K in keyof F]: ValueOf<F[K]> };

export interface FieldLayout {
  readonly name: string;
  readonly offset: number;
  readonly codec: FieldCodec<unknown>;
}

export interface StructDef<T> extends FieldCodec<T> {
  readonly name: string;
  readonly fields: readonly FieldLayout[];
  offsetOf(field: keyof T & string): number;
  /** Encodes a value; missing fields are zero. A flex member adds its length. */
  encode(v: Partial<T>): Buffer;
  /** Decodes from `off`; a flex member takes everything up to `end` (default: the buffer's end). */
  decode(b: Buffer, off?: number, end?: number): T;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export function struct<F extends Fields>(name: string, fields: F): StructDef<StructValue<F>> {
  type T = StructValue<F>;
  const layout: FieldLayout[] = [];
  let off = 0;
  let align = 1;
  const entries = Object.entries(fields);
  for (const [i, [fname, codec]] of entries.entries()) {
    if (codec.flex && i !== entries.length - 1) throw new Error(`${name}.${fname}: a flexible member must be last`);
    off = alignUp(off, codec.align);
    layout.push({ name: fname, offset: off, codec });
    off += codec.size;
    align = Math.max(align, codec.align);
  }
  const size = alignUp(off, align);
  const flexField = layout.find((f) => f.codec.flex);
  const offsets = new Map(layout.map((f) => [f.name, f.offset]));

  const read = (b: Buffer, base: number, end: number): T => {
    const v: Record<string, unknown> = {};
    for (const f of layout) v[f.name] = f.codec.read(b, base + f.offset, end);
    return v as T;
  };
  const write = (b: Buffer, base: number, v: Partial<T>): void => {
    for (const f of layout) {
      const x = (v as Record<string, unknown>)[f.name];
      if (x !== undefined) f.codec.write(b, base + f.offset, x);
    }
  };
  return {
    name,
    size,
    align,
    fields: layout,
    zero: () => read(Buffer.alloc(size), 0, size),
    read,
    write: (b, o, v) => write(b, o, v),
    offsetOf: (field) => {
      const off = offsets.get(field);
      if (off === undefined) throw new Error(`${name} has no field ${field}`);
      return off;
    },
    encode(v) {
      const tail = flexField ? ((v as Record<string, unknown>)[flexField.name] as Buffer | undefined) : undefined;
      const b = Buffer.alloc(tail ? flexField!.offset + tail.length : size);
      write(b, 0, v);
      return b;
    },
    decode(b, o = 0, end = b.length) {
      if (end - o < (flexField ? flexField.offset : size)) {
        throw new RangeError(`${name}: ${end - o} octets, need ${flexField ? flexField.offset : size}`);
      }
      return read(b, o, end);
    },
  };
}
