/**
 * A small DER reader and writer (ITU-T X.690 §8, §10) for what node:crypto's X509Certificate
 * does not expose: the subject and issuer Name as DER, SubjectPublicKeyInfo bytes, extensions
 * (subjectAltName, basicConstraints, keyUsage), signature AlgorithmIdentifiers (RFC 7427).
 *
 * Reading never throws: malformed input gives null. Only definite lengths (DER) are accepted,
 * and tags up to 30 (single-octet identifiers) are all X.509 needs.
 */

/** X.690 §8.1.2 identifier octets: class bits and the constructed bit. */
export const TagClass = { UNIVERSAL: 0x00, APPLICATION: 0x40, CONTEXT: 0x80, PRIVATE: 0xc0 } as const;
const CONSTRUCTED = 0x20;

/** Universal tags used here (X.680 §8.6). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
} as const;

/** One TLV. `raw` is the whole encoding, `value` the contents octets. */
export interface Tlv {
  /** The identifier octet as read (class | constructed | number). */
  tag: number;
  value: Buffer;
  raw: Buffer;
}

/** Context-specific tag octet: [n] IMPLICIT primitive, or constructed for EXPLICIT/SEQUENCE-like. */
export function contextTag(n: number, constructed: boolean): number {
  return TagClass.CONTEXT | (constructed ? CONSTRUCTED : 0) | n;
}

/** Reads the TLV at `offset`, or null if it is malformed or runs past the buffer. */
export function readTlv(buf: Buffer, offset = 0): Tlv | null {
  if (offset + 2 > buf.length) return null;
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) return null; // high-tag-number form: not used by X.509
  let len = buf[offset + 1];
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || pos + n > buf.length) return null; // indefinite or absurd length
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i];
    pos += n;
  }
  if (pos + len > buf.length) return null;
  return { tag, value: buf.subarray(pos, pos + len), raw: buf.subarray(offset, pos + len) };
}

/** The TLV that makes up all of `buf` (trailing octets are an error), or null. */
export function readWhole(buf: Buffer): Tlv | null {
  const t = readTlv(buf, 0);
  return t && t.raw.length === buf.length ? t : null;
}

/** The TLVs inside a constructed value, or null if they do not fill it exactly. */
export function readChildren(tlv: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  let off = 0;
  while (off < tlv.value.length) {
    const t = readTlv(tlv.value, off);
    if (!t) return null;
    out.push(t);
    off += t.raw.length;
  }
  return out;
}

/** Children of `tlv` when it carries `tag`, else null. */
export function readConstructed(tlv: Tlv | null | undefined, tag: number): Tlv[] | null {
  return tlv && tlv.tag === tag ? readChildren(tlv) : null;
}

/** X.690 §8.19: dotted form of an OBJECT IDENTIFIER's contents, or null. */
export function decodeOid(value: Buffer): string | null {
  if (value.length === 0 || value[value.length - 1] & 0x80) return null;
  const arcs: number[] = [];
  let acc = 0;
  for (const b of value) {
    if (acc > 0x1ffffff) return null; // beyond 2^32: not an OID anyone uses
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(acc);
      acc = 0;
    }
  }
  const first = arcs[0] < 80 ? Math.floor(arcs[0] / 40) : 2;
  return [first, arcs[0] - first * 40, ...arcs.slice(1)].join('.');
}

/** The OID of a TLV tagged OBJECT IDENTIFIER, else null. */
export function readOid(tlv: Tlv | null | undefined): string | null {
  return tlv && tlv.tag === Tag.OID ? decodeOid(tlv.value) : null;
}

/** A non-negative INTEGER that fits a JS number, else null. */
export function readSmallInteger(tlv: Tlv | null | undefined): number | null {
  if (!tlv || tlv.tag !== Tag.INTEGER || tlv.value.length === 0 || tlv.value.length > 6) return null;
  if (tlv.value[0] & 0x80) return null; // negative
  return tlv.value.readUIntBE(0, tlv.value.length);
}

/** X.690 §11.7 / RFC 5280 §4.1.2.5: UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ). */
export function readTime(tlv: Tlv | null | undefined): Date | null {
  if (!tlv) return null;
  const s = tlv.value.toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (tlv.tag === Tag.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy; // RFC 5280 §4.1.2.5.1
  } else if (tlv.tag === Tag.GENERALIZED_TIME && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    year = Number(m[1]);
  } else {
    return null;
  }
  const [mo, day, h, mi, sec] = [2, 3, 4, 5, 6].map((i) => Number(m![i]));
  const d = new Date(Date.UTC(year, mo - 1, day, h, mi, sec));
  // Date.UTC rolls 13/32/24:60 over into the next unit: refuse instead.
  const same = d.getUTCMonth() === mo - 1 && d.getUTCDate() === day && d.getUTCHours() === h && d.getUTCMinutes() === mi && d.getUTCSeconds() === sec;
  return same ? d : null;
}

// ---- writing (X.690 DER) ----

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV from a tag octet and contents. */
export function derTlv(tag: number, ...contents: Buffer[]): Buffer {
  const value = contents.length === 1 ? contents[0] : Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

export const derSequence = (...items: Buffer[]): Buffer => derTlv(Tag.SEQUENCE, ...items);
export const derSet = (...items: Buffer[]): Buffer => derTlv(Tag.SET, ...items);
export const derNull = (): Buffer => Buffer.from([Tag.NULL, 0]);

/** X.690 §8.19: an OBJECT IDENTIFIER from its dotted form. Throws on a malformed OID (a bug). */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isInteger(a) || a < 0) || arcs[0] > 2) {
    throw new RangeError(`malformed OID ${dotted}`);
  }
  const out: number[] = [];
  const push = (v: number) => {
    const b: number[] = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | (v & 0x7f));
    out.push(...b);
  };
  push(arcs[0] * 40 + arcs[1]);
  for (const a of arcs.slice(2)) push(a);
  return derTlv(Tag.OID, Buffer.from(out));
}

/** A non-negative INTEGER. */
export function derSmallInteger(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || bytes[0] & 0x80) bytes.unshift(0);
  return derTlv(Tag.INTEGER, Buffer.from(bytes));
}
