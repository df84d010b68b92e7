/**
 * Netlink attributes (struct nlattr TLVs, linux/netlink.h): declared per family as a table of
 * kernel names -> (type number, value codec), encoded from an object in its key order and decoded
 * into an object keyed by name. Lengths and padding (NLA_ALIGN, 4 octets, zero-filled) are
 * handled here and only here.
 *
 *   export const IFA = attrs('IFA', { IFA_ADDRESS: attr(1, nlIp), IFA_FLAGS: attr(8, nlU32) });
 *   encodeAttrs(IFA, { IFA_ADDRESS: '192.0.2.1', IFA_FLAGS: 0x80 });
 */
import { bytesToIp, ipToBytes } from '../net/ip.js';
import { NLA_TYPE_MASK, nlaAlign } from './constants.js';
import type { StructDef } from './struct.js';

/** T: the decoded value; In: what encode accepts (a structure's fields may be left out: zero). */
export interface AttrCodec<T, In = T> {
  encode(v: In): Buffer;
  decode(b: Buffer): T;
}

const fixed = (n: number, w: (b: Buffer, v: number) => void, r: (b: Buffer) => number): AttrCodec<number> => ({
  encode: (v) => {
    const b = Buffer.alloc(n);
    w(b, v);
    return b;
  },
  decode: (b) => (b.length >= n ? r(b) : NaN),
});

export const nlU8 = fixed(1, (b, v) => b.writeUInt8(v), (b) => b.readUInt8(0));
export const nlU16 = fixed(2, (b, v) => b.writeUInt16LE(v), (b) => b.readUInt16LE(0));
export const nlU32 = fixed(4, (b, v) => b.writeUInt32LE(v >>> 0), (b) => b.readUInt32LE(0));
export const nlS32 = fixed(4, (b, v) => b.writeInt32LE(v), (b) => b.readInt32LE(0));
export const nlBe16 = fixed(2, (b, v) => b.writeUInt16BE(v), (b) => b.readUInt16BE(0));
export const nlU64: AttrCodec<bigint> = {
  encode: (v) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b;
  },
  decode: (b) => (b.length >= 8 ? b.readBigUInt64LE(0) : 0n),
};
/** NUL-terminated string (NLA_NUL_STRING / NLA_STRING as the kernel sends it). */
export const nlString: AttrCodec<string> = {
  encode: (v) => Buffer.concat([Buffer.from(v, 'utf8'), Buffer.alloc(1)]),
  decode: (b) => {
    const z = b.indexOf(0);
    return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
  },
};
/** A string sent without the NUL (NLA_STRING: iproute2's IFLA_INFO_KIND); decoded either way. */
export const nlStringUnterminated: AttrCodec<string> = {
  encode: (v) => Buffer.from(v, 'utf8'),
  decode: nlString.decode,
};
export const nlBinary: AttrCodec<Buffer> = { encode: (v) => v, decode: (b) => Buffer.from(b) };
/** A present-or-absent attribute without payload. */
export const nlFlag: AttrCodec<true> = { encode: () => Buffer.alloc(0), decode: () => true };
/** An IP address: 4 octets for IPv4, 16 for IPv6, the family told by the length. */
export const nlIp: AttrCodec<string> = {
  encode: (v) => ipToBytes(v),
  decode: (b) => bytesToIp(b, b.length === 4 ? 4 : 6),
};

/** A structure, possibly with a flexible tail taken from the rest of the attribute. */
export function nlStruct<T>(s: StructDef<T>): AttrCodec<T, Partial<T>> {
  return { encode: (v) => s.encode(v), decode: (b) => s.decode(b, 0, b.length) };
}

/** Several structures back to back in one attribute (XFRMA_TMPL). */
export function nlArray<T>(s: StructDef<T>): AttrCodec<T[], Partial<T>[]> {
  return {
    encode: (v) => Buffer.concat(v.map((x) => s.encode(x))),
    decode: (b) => {
      const out: T[] = [];
      for (let o = 0; o + s.size <= b.length; o += s.size) out.push(s.decode(b, o, o + s.size));
      return out;
    },
  };
}

export interface AttrDef<T, In = T> {
  readonly type: number;
  readonly codec: AttrCodec<T, In>;
}
export const attr = <T, In = T>(type: number, codec: AttrCodec<T, In>): AttrDef<T, In> => ({ type, codec });

type Defs = Record<string, AttrDef<any, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
/** Decoded attributes: every one optional (the kernel sends what it has). */
export type AttrValues<D extends Defs> = { [K in keyof D]?: D[K] extends AttrDef<infer T, any> ? T : never }; // eslint-disable-line @typescript-eslint/no-explicit-any
/** Attributes to encode. */
export type AttrInput<D extends Defs> = { [K in keyof D]?: D[K] extends AttrDef<any, infer In> ? In : never }; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface AttrTable<D extends Defs> {
  readonly prefix: string;
  readonly defs: D;
  /** Name table (`nameOf(IFA.types, 8)` -> 'IFA_FLAGS'). */
  readonly types: { readonly [K in keyof D]: number };
  readonly byType: ReadonlyMap<number, { name: keyof D & string; codec: AttrCodec<unknown, never> }>;
}

export function attrs<D extends Defs>(prefix: string, defs: D): AttrTable<D> {
  const types = {} as { [K in keyof D]: number };
  const byType = new Map<number, { name: keyof D & string; codec: AttrCodec<unknown, never> }>();
  for (const [name, d] of Object.entries(defs)) {
    (types as Record<string, number>)[name] = d.type;
    byType.set(d.type, { name, codec: d.codec });
  }
  return { prefix, defs, types, byType };
}

/** One TLV: header, payload, zero padding to NLA_ALIGN. */
export function encodeAttr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc(nlaAlign(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

/** Encodes the defined values in the object's key order (which fixes the order on the wire). */
export function encodeAttrs<D extends Defs>(table: AttrTable<D>, values: AttrInput<D>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, v] of Object.entries(values)) {
    if (v === undefined) continue;
    const d = table.defs[name];
    if (!d) throw new Error(`${table.prefix}: no attribute ${name}`);
    parts.push(encodeAttr(d.type, d.codec.encode(v)));
  }
  return Buffer.concat(parts);
}

export interface RawAttr {
  type: number;
  /** Offset of the attribute header inside the buffer that was split. */
  offset: number;
  payload: Buffer;
}

/** Splits a run of TLVs; stops at the first malformed header (as the kernel's nla_ok does). */
export function splitAttrs(b: Buffer, start = 0, end = b.length): RawAttr[] {
  const out: RawAttr[] = [];
  let o = start;
  while (o + 4 <= end) {
    const len = b.readUInt16LE(o);
    if (len < 4 || o + len > end) break;
    out.push({ type: b.readUInt16LE(o + 2) & NLA_TYPE_MASK, offset: o, payload: b.subarray(o + 4, o + len) });
    o += nlaAlign(len);
  }
  return out;
}

/**
 * Decodes the attributes a table knows; the others, and known ones too short for their codec
 * (a malformed message), are returned in `unknown`. Never throws.
 */
export function decodeAttrs<D extends Defs>(
  table: AttrTable<D>,
  b: Buffer,
  start = 0,
  end = b.length,
): AttrValues<D> & { unknown?: RawAttr[] } {
  const out: Record<string, unknown> = {};
  for (const a of splitAttrs(b, start, end)) {
    const d = table.byType.get(a.type);
    try {
      if (d) {
        out[d.name] = d.codec.decode(a.payload);
        continue;
      }
    } catch {
      // fall through: kept raw
    }
    ((out.unknown as RawAttr[] | undefined) ??= []).push(a);
  }
  return out as AttrValues<D> & { unknown?: RawAttr[] };
}

/** Nested attributes (NLA_F_NESTED): an attribute whose payload is another attribute run. */
export function nlNested<D extends Defs>(table: AttrTable<D>): AttrCodec<AttrValues<D>, AttrInput<D>> {
  return { encode: (v) => encodeAttrs(table, v), decode: (b) => decodeAttrs(table, b) };
}
