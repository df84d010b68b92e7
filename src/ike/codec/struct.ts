/**
 * The one generic codec: wire structures are declared as data (`struct(name, fields)`, see
 * ./formats/) and read and written here, and only here. Every offset, length and count check of
 * IKEv2 lives in this file; the format tables say what the fields are, this file says how a kind
 * of field is read and validated.
 *
 * Field kinds (all big-endian, RFC 7296 §3):
 *   u8 / u16 / u32     a number
 *   zero(n)            RESERVED: sent as zero, ignored on receipt (RFC 7296 §3.2)
 *   bits(n, parts)     a 1- or 2-octet field split MSB-first into named parts (flags, nibbles)
 *   bytes(name, n)     n octets
 *   length(n)          this structure's length in octets, counted from its first octet; it bounds
 *                      every later field. On encode it is filled in.
 *   next               a Next Payload chain link, handed to the caller (message layer)
 *   count(n, of)       number of elements of the list `of` (filled in on encode)
 *   sizeOf(n, of)      octets of the variable field `of` (or of each element of a byteList)
 *   more(v)            "Last Substruc": 0 on the last element of a list, v on the others
 *   sized(name)        octets, as many as the matching sizeOf said
 *   rest(name)         every octet up to the end of the structure
 *   list(name, struct) substructures: `count` of them if a count field names this list, else
 *                      until the end of the structure
 *   byteList(name)     `count` strings of `sizeOf` octets each (Delete SPIs)
 *   prefixed(name)     a 2-octet length, then that many octets (TLV values)
 *   variant(on, cases) the rest of the fields depend on the number field `on` (TS types)
 *
 * Decoding never throws and never copies: byte fields are subarrays of the input. A failure sets
 * `Reader.error` to a human-readable detail; the message layer turns it into a stable code.
 * Encoding throws only on values that cannot be encoded (a bug in the caller).
 */

type Obj = Record<string, unknown>;
/** A structure of any value type, for tables and the generic code (Struct<T> is invariant in T). */
export type AnyStruct = Struct<any>;

/** Keys of T whose (non-optional) type is assignable to V. */
export type KeysOf<T, V> = { [K in keyof T]-?: NonNullable<T[K]> extends V ? K : never }[keyof T] & string;

export interface BitPart {
  /** Absent for reserved bits (ignored on receipt, sent as zero). */
  readonly name?: string;
  readonly width: number;
  /** Decode a 1-bit part as a boolean. */
  readonly bool?: boolean;
}

export type Field =
  | { readonly k: 'u8' | 'u16' | 'u32'; readonly name: string }
  | { readonly k: 'zero'; readonly size: number }
  | { readonly k: 'bits'; readonly size: 1 | 2; readonly parts: readonly BitPart[] }
  | { readonly k: 'bytes'; readonly name: string; readonly size: number }
  | { readonly k: 'length'; readonly size: 2 | 4; readonly bounded: boolean }
  | { readonly k: 'next' }
  | { readonly k: 'count'; readonly size: 1 | 2; readonly of: string }
  | { readonly k: 'sizeOf'; readonly size: 1 | 2; readonly of: string; readonly each: boolean }
  | { readonly k: 'more'; readonly value: number }
  | { readonly k: 'sized' | 'rest' | 'byteList'; readonly name: string }
  | { readonly k: 'list'; readonly name: string; readonly of: AnyStruct }
  | { readonly k: 'prefixed'; readonly name: string; readonly size: 2 }
  | {
      readonly k: 'variant';
      readonly on: string;
      readonly cases: Readonly<Record<number, readonly Field[]>>;
      readonly otherwise: readonly Field[];
    };

/** A declared wire structure. `W` is the wire shape; `T` the model shape when they differ. */
export interface Struct<T> {
  readonly name: string;
  readonly fields: readonly Field[];
  /** Open: the length field covers octets after the declared fields, read by the caller. */
  readonly open: boolean;
  /** Octets of the fixed-size fields: the smallest a length field may say. */
  readonly minSize: number;
  /** Offset and size of the length field, when it has a fixed offset (for patching). */
  readonly lengthAt: number;
  readonly lengthSize: number;
  /** The value of the `more` field on non-last elements, or -1. */
  readonly moreValue: number;
  /** Derived-value slots (count/sizeOf) by the name of the field they describe. */
  readonly slotOf: ReadonlyMap<string, number>;
  readonly eachSlotOf: ReadonlyMap<string, number>;
  /** A value check after decoding: returns what is wrong, or null. */
  readonly check?: (value: T) => string | null;
  readonly fromWire?: (wire: never) => T;
  readonly toWire?: (value: T) => unknown;
}

export interface StructOptions<W, T> {
  open?: boolean;
  check?: (value: T) => string | null;
  fromWire?: (wire: W) => T;
  toWire?: (value: T) => W;
}

const MAX_SLOTS = 4;
const MAX_DEPTH = 8;

/** Declares a structure; field names are checked against W by the `fieldsOf<W>()` helpers. */
export function struct<W, T = W>(name: string, fields: readonly Field[], opts: StructOptions<W, T> = {}): Struct<T> {
  const slotOf = new Map<string, number>();
  const eachSlotOf = new Map<string, number>();
  let minSize = 0;
  let offset = 0;
  let fixed = true;
  let lengthAt = -1;
  let lengthSize = 0;
  let moreValue = -1;
  const visit = (list: readonly Field[], top: boolean): void => {
    for (const f of list) {
      const size = fixedSize(f);
      if (f.k === 'count' || f.k === 'sizeOf') {
        const map = f.k === 'sizeOf' && f.each ? eachSlotOf : slotOf;
        map.set(f.of, slotOf.size + eachSlotOf.size);
      }
      if (f.k === 'length' && top && fixed) {
        lengthAt = offset;
        lengthSize = f.size;
      }
      if (f.k === 'more') moreValue = f.value;
      if (f.k === 'variant') {
        for (const c of Object.values(f.cases)) visit(c, false);
        visit(f.otherwise, false);
      }
      if (top) {
        minSize += size;
        if (size === 0) fixed = false;
        offset += size;
      }
    }
  };
  visit(fields, true);
  if (fields.some((f) => f.k === 'length') && lengthAt < 0) throw new Error(`struct ${name}: length field after a variable field`);
  // The last slot of a frame holds the `more` field.
  if (slotOf.size + eachSlotOf.size > MAX_SLOTS - 1) throw new Error(`struct ${name}: too many derived fields`);
  return {
    name,
    fields,
    open: opts.open ?? false,
    minSize,
    lengthAt,
    lengthSize,
    moreValue,
    slotOf,
    eachSlotOf,
    check: opts.check,
    fromWire: opts.fromWire as ((wire: never) => T) | undefined,
    toWire: opts.toWire,
  };
}

function fixedSize(f: Field): number {
  switch (f.k) {
    case 'u8':
    case 'next':
    case 'more':
      return 1;
    case 'u16':
      return 2;
    case 'u32':
      return 4;
    case 'zero':
    case 'bits':
    case 'bytes':
    case 'length':
    case 'count':
    case 'sizeOf':
      return f.size;
    default:
      return 0;
  }
}

/** Typed field constructors: `const f = fieldsOf<Proposal>(); f.u8('num')` rejects unknown names. */
export function fieldsOf<W>() {
  type Num = KeysOf<W, number>;
  type Bin = KeysOf<W, Buffer>;
  type Arr = KeysOf<W, readonly unknown[]>;
  return {
    u8: (name: Num): Field => ({ k: 'u8', name }),
    u16: (name: Num): Field => ({ k: 'u16', name }),
    u32: (name: Num): Field => ({ k: 'u32', name }),
    zero: (size: number): Field => ({ k: 'zero', size }),
    bits: (size: 1 | 2, parts: readonly { name?: KeysOf<W, number | boolean>; width: number; bool?: boolean }[]): Field =>
      ({ k: 'bits', size, parts }),
    bytes: (name: Bin, size: number): Field => ({ k: 'bytes', name, size }),
    /** `bounded: false` leaves the length unchecked for the caller (the IKE header). */
    length: (size: 2 | 4, bounded = true): Field => ({ k: 'length', size, bounded }),
    next: (): Field => ({ k: 'next' }),
    count: (size: 1 | 2, of: Arr): Field => ({ k: 'count', size, of }),
    sizeOf: (size: 1 | 2, of: Bin): Field => ({ k: 'sizeOf', size, of, each: false }),
    sizeOfEach: (size: 1 | 2, of: Arr): Field => ({ k: 'sizeOf', size, of, each: true }),
    more: (value: number): Field => ({ k: 'more', value }),
    sized: (name: Bin): Field => ({ k: 'sized', name }),
    rest: (name: Bin): Field => ({ k: 'rest', name }),
    byteList: (name: Arr): Field => ({ k: 'byteList', name }),
    list: (name: Arr, of: AnyStruct): Field => ({ k: 'list', name, of }),
    prefixed: (name: Bin): Field => ({ k: 'prefixed', name, size: 2 }),
    variant: (on: Num, cases: Record<number, readonly Field[]>, otherwise: readonly Field[]): Field =>
      ({ k: 'variant', on, cases, otherwise }),
  };
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Derived values (counts, sizes, markers) of the structures being read, a frame per nesting
 * level. Shared by all readers: a read runs to completion before another starts (nothing in
 * it yields or decodes anything else), so frames never interleave.
 */
const SLOTS = new Int32Array(MAX_SLOTS * MAX_DEPTH);

/** Decoding state over one buffer. Registers hand wire-only values to the caller. */
export class Reader {
  pos = 0;
  /** What went wrong, for logs; null while all is well. */
  error: string | null = null;
  /** Register: the last `next` field read. */
  next = 0;
  /** Register: the `more` field of the structure just finished. */
  more = 0;
  /** Register: the extent (end offset) of the structure just finished. */
  extent = 0;
  /** Register: the last length field read, as received (for unbounded lengths). */
  length = 0;
  private depth = 0;
  private readonly slots = SLOTS;

  constructor(readonly buf: Buffer) {}

  fail(detail: string): null {
    if (this.error === null) this.error = detail;
    return null;
  }

  /**
   * Reads one structure from `pos`, bounded by `end`. A structure with a length field must
   * fill exactly the octets it says; one without fills up to `end` when `exact` (a payload
   * body) and otherwise ends with its last field (an attribute in a list). Null on failure.
   */
  read<T>(spec: Struct<T>, end: number, into?: object, exact = true): T | null {
    if (this.depth >= MAX_DEPTH) return this.fail(`${spec.name}: nested too deep`);
    const base = this.depth * MAX_SLOTS;
    this.slots.fill(-1, base, base + MAX_SLOTS);
    this.depth++;
    const start = this.pos;
    const obj = (into ?? {}) as Obj;
    const limit = this.readFields(spec, spec.fields, obj, start, end, base);
    this.depth--;
    if (limit < 0) return null;
    const delimited = spec.lengthAt >= 0;
    if (!spec.open && (exact || delimited) && this.pos !== limit) {
      return this.fail(`${spec.name}: ${limit - this.pos} octets left over at offset ${this.pos}`);
    }
    this.extent = spec.open || exact || delimited ? limit : this.pos;
    this.more = spec.moreValue >= 0 ? this.slots[base + MAX_SLOTS - 1] : 0;
    const value = (spec.fromWire ? (spec.fromWire as (w: Obj) => T)(obj) : obj) as T;
    if (spec.check) {
      const wrong = spec.check(value);
      if (wrong !== null) return this.fail(`${spec.name}: ${wrong}`);
    }
    return value;
  }

  /** Reads fields into obj; returns the structure's end (narrowed by a length field), or -1. */
  private readFields(spec: AnyStruct, fields: readonly Field[], obj: Obj, start: number, end: number, base: number): number {
    for (const f of fields) {
      const size = fixedSize(f);
      if (size > 0 && this.pos + size > end) {
        this.fail(`${spec.name}: truncated at offset ${this.pos} (${end - this.pos} octets left, ${size} needed)`);
        return -1;
      }
      switch (f.k) {
        case 'u8':
        case 'u16':
        case 'u32':
          obj[f.name] = this.uint(size);
          break;
        case 'zero':
          this.pos += size;
          break;
        case 'bits':
          this.readBits(f.size, f.parts, obj);
          break;
        case 'bytes':
          obj[f.name] = this.buf.subarray(this.pos, (this.pos += size));
          break;
        case 'length': {
          const len = (this.length = this.uint(size));
          if (!f.bounded) {
            end = Math.min(start + len, end); // the caller judges the value (the IKE header)
          } else if (len < spec.minSize || start + len > end) {
            this.fail(`${spec.name}: length ${len} outside ${spec.minSize}..${end - start}`);
            return -1;
          } else {
            end = start + len;
          }
          break;
        }
        case 'next':
          this.next = this.uint(1);
          break;
        case 'more': {
          const v = this.uint(1);
          if (v !== 0 && v !== f.value) {
            this.fail(`${spec.name}: last-substructure field is ${v}, not 0 or ${f.value}`);
            return -1;
          }
          this.slots[base + MAX_SLOTS - 1] = v;
          break;
        }
        case 'count':
          this.slots[base + (spec.slotOf.get(f.of) as number)] = this.uint(size);
          break;
        case 'sizeOf': {
          const slot = (f.each ? spec.eachSlotOf : spec.slotOf).get(f.of) as number;
          this.slots[base + slot] = this.uint(size);
          break;
        }
        default:
          end = this.readVariable(spec, f, obj, start, end, base);
          if (end < 0) return -1;
      }
    }
    return end;
  }

  /** The variable-size kinds; returns the (unchanged) end, or -1. */
  private readVariable(spec: AnyStruct, f: Field, obj: Obj, start: number, end: number, base: number): number {
    switch (f.k) {
      case 'sized':
        return this.take(spec, obj, f.name, this.slots[base + (spec.slotOf.get(f.name) as number)], end) ? end : -1;
      case 'rest':
        obj[f.name] = this.buf.subarray(this.pos, end);
        this.pos = end;
        return end;
      case 'prefixed': {
        if (this.pos + 2 > end) return this.fail(`${spec.name}: truncated length at ${this.pos}`) ?? -1;
        return this.take(spec, obj, f.name, this.uint(2), end) ? end : -1;
      }
      case 'list': {
        const slot = spec.slotOf.get(f.name);
        const count = slot === undefined ? -1 : this.slots[base + slot];
        const items = this.readList(f.of, count, end);
        if (items === null) return -1;
        obj[f.name] = items;
        return end;
      }
      case 'byteList': {
        const n = this.slots[base + (spec.slotOf.get(f.name) as number)];
        const each = this.slots[base + (spec.eachSlotOf.get(f.name) as number)];
        if (this.pos + n * each > end) return this.fail(`${spec.name}: ${n} x ${each} octets exceed ${end - this.pos}`) ?? -1;
        const items: Buffer[] = new Array(n);
        for (let i = 0; i < n; i++) items[i] = this.buf.subarray(this.pos, (this.pos += each));
        obj[f.name] = items;
        return end;
      }
      case 'variant': {
        const chosen = f.cases[obj[f.on] as number] ?? f.otherwise;
        return this.readFields(spec, chosen, obj, start, end, base);
      }
      default:
        throw new Error(`struct ${spec.name}: field kind ${f.k} not handled`);
    }
  }

  /** Reads `count` elements (or, with count -1, elements until `end`), checking Last Substruc. */
  private readList(of: AnyStruct, count: number, end: number): unknown[] | null {
    const items: unknown[] = [];
    for (let i = 0; count < 0 ? this.pos < end : i < count; i++) {
      const at = this.pos;
      const item = this.read(of, end, undefined, false);
      if (item === null) {
        this.error = `${of.name} #${i + 1}: ${this.error}`;
        return null;
      }
      this.pos = this.extent;
      if (this.pos === at) return this.fail(`${of.name} #${i + 1}: empty`);
      items.push(item);
      if (of.moreValue >= 0) {
        const last = count < 0 ? this.pos === end : i === count - 1;
        if (this.more !== (last ? 0 : of.moreValue)) {
          return this.fail(`${of.name} #${i + 1}: says ${this.more === 0 ? 'last' : 'more'} but is ${last ? 'last' : 'not last'}`);
        }
      }
    }
    return items;
  }

  private take(spec: AnyStruct, obj: Obj, name: string, n: number, end: number): boolean {
    if (this.pos + n > end) {
      this.fail(`${spec.name}: ${name} of ${n} octets exceeds the ${end - this.pos} left`);
      return false;
    }
    obj[name] = this.buf.subarray(this.pos, (this.pos += n));
    return true;
  }

  private uint(size: number): number {
    const b = this.buf;
    const p = this.pos;
    this.pos = p + size;
    if (size === 1) return b[p];
    if (size === 2) return (b[p] << 8) | b[p + 1];
    return b.readUInt32BE(p);
  }

  private readBits(size: number, parts: readonly BitPart[], obj: Obj): void {
    const v = this.uint(size);
    let shift = size * 8;
    for (const p of parts) {
      shift -= p.width;
      if (p.name === undefined) continue;
      const x = (v >>> shift) & ((1 << p.width) - 1);
      obj[p.name] = p.bool ? x === 1 : x;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A growable output buffer; registers feed wire-only values in. */
export class Writer {
  buf: Buffer;
  pos = 0;
  /** Register: value for the next `next` field. */
  next = 0;

  constructor(initial = 512) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** The written octets (a view; copy if the writer is reused). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  raw(data: Buffer): void {
    this.ensure(data.length);
    data.copy(this.buf, this.pos);
    this.pos += data.length;
  }

  uint(size: number, v: number): void {
    this.ensure(size);
    if (size === 1) this.buf.writeUInt8(v, this.pos);
    else if (size === 2) this.buf.writeUInt16BE(v, this.pos);
    else this.buf.writeUInt32BE(v, this.pos);
    this.pos += size;
  }

  /** Writes one structure. `last` drives the `more` field of list elements. */
  write<T>(spec: Struct<T>, value: T, last = true): void {
    const obj = (spec.toWire ? spec.toWire(value) : value) as Obj;
    const start = this.pos;
    this.writeFields(spec, spec.fields, obj, last);
    if (spec.lengthAt >= 0 && !spec.open) this.patch(start + spec.lengthAt, spec.lengthSize, this.pos - start);
  }

  /** Fills in the length field of an open structure written at `start`. */
  patchLength(spec: AnyStruct, start: number, value = this.pos - start): void {
    if (spec.lengthAt < 0) throw new Error(`struct ${spec.name} has no fixed-offset length field`);
    this.patch(start + spec.lengthAt, spec.lengthSize, value);
  }

  private patch(at: number, size: number, value: number): void {
    if (size === 2) this.buf.writeUInt16BE(value, at);
    else this.buf.writeUInt32BE(value, at);
  }

  private writeFields(spec: AnyStruct, fields: readonly Field[], obj: Obj, last: boolean): void {
    for (const f of fields) {
      switch (f.k) {
        case 'u8':
        case 'u16':
        case 'u32':
          this.uint(fixedSize(f), obj[f.name] as number);
          break;
        case 'zero':
          this.ensure(f.size);
          this.buf.fill(0, this.pos, (this.pos += f.size));
          break;
        case 'bits':
          this.writeBits(f.size, f.parts, obj);
          break;
        case 'bytes': {
          const b = obj[f.name] as Buffer;
          if (b.length !== f.size) throw new Error(`${spec.name}.${f.name}: ${b.length} octets, need ${f.size}`);
          this.raw(b);
          break;
        }
        case 'length': // filled in by write() or patchLength()
          this.uint(f.size, 0);
          break;
        case 'next':
          this.uint(1, this.next);
          break;
        case 'more':
          this.uint(1, last ? 0 : f.value);
          break;
        case 'count':
          this.uint(f.size, (obj[f.of] as unknown[]).length);
          break;
        case 'sizeOf':
          this.uint(f.size, f.each ? elementSize(spec, obj[f.of] as Buffer[]) : (obj[f.of] as Buffer).length);
          break;
        default:
          this.writeVariable(spec, f, obj, last);
      }
    }
  }

  private writeVariable(spec: AnyStruct, f: Field, obj: Obj, last: boolean): void {
    switch (f.k) {
      case 'sized':
      case 'rest':
        this.raw(obj[f.name] as Buffer);
        return;
      case 'prefixed':
        this.uint(2, (obj[f.name] as Buffer).length);
        this.raw(obj[f.name] as Buffer);
        return;
      case 'list': {
        const items = obj[f.name] as unknown[];
        for (let i = 0; i < items.length; i++) this.write(f.of, items[i], i === items.length - 1);
        return;
      }
      case 'byteList':
        for (const b of obj[f.name] as Buffer[]) this.raw(b);
        return;
      case 'variant':
        this.writeFields(spec, f.cases[obj[f.on] as number] ?? f.otherwise, obj, last);
        return;
      default:
        throw new Error(`struct ${spec.name}: field kind ${f.k} not handled`);
    }
  }

  private writeBits(size: number, parts: readonly BitPart[], obj: Obj): void {
    let v = 0;
    let shift = size * 8;
    for (const p of parts) {
      shift -= p.width;
      if (p.name === undefined) continue;
      const raw = obj[p.name];
      const x = p.bool ? (raw === true ? 1 : 0) : ((raw as number) ?? 0);
      v |= (x & ((1 << p.width) - 1)) << shift;
    }
    this.uint(size, v >>> 0);
  }
}

function elementSize(spec: AnyStruct, items: readonly Buffer[]): number {
  const n = items.length === 0 ? 0 : items[0].length;
  for (const b of items) if (b.length !== n) throw new Error(`${spec.name}: elements of different sizes`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Stand-alone use (notify data formats, tests)

export type StructResult<T> = { ok: true; value: T } | { ok: false; detail: string };

/** Decodes one whole buffer as `spec`; the buffer must be exactly one structure. */
export function decodeStruct<T>(spec: Struct<T>, buf: Buffer): StructResult<T> {
  const r = new Reader(buf);
  const value = r.read(spec, buf.length);
  if (value === null) return { ok: false, detail: r.error ?? 'invalid' };
  if (r.extent !== buf.length) return { ok: false, detail: `${spec.name}: ${buf.length - r.extent} trailing octets` };
  return { ok: true, value };
}

/** Encodes one structure into a new buffer. */
export function encodeStruct<T>(spec: Struct<T>, value: T): Buffer {
  const w = new Writer(64);
  w.write(spec, value);
  return Buffer.from(w.bytes());
}
