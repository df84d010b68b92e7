/**
 * Distinguished Names (RFC 5280 §4.1.2.4, X.501) between their DER form (ID_DER_ASN1_DN, a
 * certificate's subject) and the text operators write ("C=DE, O=segw, CN=gw1.example").
 *
 * Attribute names follow strongSwan's, so a DN written in a segw config and the same DN given
 * to `pki --dn` encode alike: C as PrintableString, E/emailAddress and DC as IA5String, others
 * PrintableString when every character allows it and UTF8String otherwise.
 */
import { derOid, derSequence, derSet, derTlv, readConstructed, readOid, readWhole, Tag } from './asn1.js';

interface AttributeType {
  oid: string;
  /** Name used when formatting. */
  name: string;
  /** Other accepted spellings. */
  aliases?: string[];
  /** A fixed string type (RFC 5280 Appendix A); otherwise Printable/UTF8 by content. */
  tag?: number;
}

/** X.520 / RFC 4519 / PKCS #9 attribute types. */
const ATTRIBUTES: AttributeType[] = [
  { oid: '2.5.4.3', name: 'CN', aliases: ['commonName'] },
  { oid: '2.5.4.4', name: 'S', aliases: ['surname'] },
  { oid: '2.5.4.5', name: 'SN', aliases: ['serialNumber'], tag: Tag.PRINTABLE_STRING },
  { oid: '2.5.4.6', name: 'C', aliases: ['countryName'], tag: Tag.PRINTABLE_STRING },
  { oid: '2.5.4.7', name: 'L', aliases: ['localityName'] },
  { oid: '2.5.4.8', name: 'ST', aliases: ['stateOrProvinceName'] },
  { oid: '2.5.4.9', name: 'street', aliases: ['streetAddress'] },
  { oid: '2.5.4.10', name: 'O', aliases: ['organizationName'] },
  { oid: '2.5.4.11', name: 'OU', aliases: ['organizationalUnitName'] },
  { oid: '2.5.4.12', name: 'T', aliases: ['title'] },
  { oid: '2.5.4.13', name: 'D', aliases: ['description'] },
  { oid: '2.5.4.17', name: 'postalCode' },
  { oid: '2.5.4.41', name: 'N', aliases: ['name'] },
  { oid: '2.5.4.42', name: 'G', aliases: ['givenName'] },
  { oid: '2.5.4.43', name: 'I', aliases: ['initials'] },
  { oid: '2.5.4.46', name: 'dnQualifier', tag: Tag.PRINTABLE_STRING },
  { oid: '0.9.2342.19200300.100.1.1', name: 'UID', aliases: ['userId'] },
  { oid: '0.9.2342.19200300.100.1.25', name: 'DC', aliases: ['domainComponent'], tag: Tag.IA5_STRING },
  { oid: '1.2.840.113549.1.9.1', name: 'E', aliases: ['Email', 'emailAddress'], tag: Tag.IA5_STRING },
];

const byName = new Map<string, AttributeType>();
const byOid = new Map<string, AttributeType>();
for (const a of ATTRIBUTES) {
  byOid.set(a.oid, a);
  for (const n of [a.name, ...(a.aliases ?? [])]) byName.set(n.toLowerCase(), a);
}

/** X.680 §41.4 PrintableString characters. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** One attribute of a DN, in order (each RDN holds one attribute in the DNs IKE meets). */
export interface DnAttribute {
  oid: string;
  value: string;
}

/** Splits "a=b, c=d\, e" at unescaped commas; returns null on a dangling escape. */
function splitRdns(text: string): string[] | null {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      if (i + 1 >= text.length) return null;
      cur += ch + text[++i];
    } else if (ch === '"') {
      quoted = !quoted;
      cur += ch;
    } else if ((ch === ',' || ch === ';') && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) return null;
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function unescapeValue(v: string): string {
  const t = v.trim();
  const inner = t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
  return inner.replace(/\\(.)/g, '$1');
}

/** Parses a DN's text into attributes, or null when it is not one (no "type=value" pairs, unknown type). */
export function parseDnText(text: string): DnAttribute[] | null {
  const parts = splitRdns(text);
  if (!parts || parts.length === 0) return null;
  const out: DnAttribute[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    const type = part.slice(0, eq).trim();
    const oid = /^\d+(\.\d+)+$/.test(type) ? type : byName.get(type.toLowerCase())?.oid;
    if (!oid) return null;
    out.push({ oid, value: unescapeValue(part.slice(eq + 1)) });
  }
  return out;
}

function encodeValue(a: DnAttribute): Buffer {
  const tag = byOid.get(a.oid)?.tag ?? (PRINTABLE.test(a.value) ? Tag.PRINTABLE_STRING : Tag.UTF8_STRING);
  return derTlv(tag, Buffer.from(a.value, tag === Tag.UTF8_STRING ? 'utf8' : 'latin1'));
}

/** DER Name (RDNSequence, one attribute per RDN) of the attributes. */
export function encodeDn(attrs: DnAttribute[]): Buffer {
  return derSequence(...attrs.map((a) => derSet(derSequence(derOid(a.oid), encodeValue(a)))));
}

/** A DN's text to DER, or null when the text is not a DN. */
export function dnFromText(text: string): Buffer | null {
  const attrs = parseDnText(text);
  try {
    return attrs ? encodeDn(attrs) : null;
  } catch {
    return null; // an OID with an arc beyond what derOid takes
  }
}

function decodeString(tag: number, v: Buffer): string | null {
  switch (tag) {
    case Tag.UTF8_STRING:
      return v.toString('utf8');
    case Tag.PRINTABLE_STRING:
    case Tag.IA5_STRING:
    case Tag.T61_STRING:
      return v.toString('latin1');
    case Tag.BMP_STRING:
      return v.length % 2 ? null : Buffer.from(v).swap16().toString('utf16le');
    default:
      return null;
  }
}

/** The attributes of a DER Name in order, or null when malformed. Non-string values read as hex. */
export function decodeDn(der: Buffer): DnAttribute[] | null {
  const rdns = readConstructed(readWhole(der), Tag.SEQUENCE);
  if (!rdns) return null;
  const out: DnAttribute[] = [];
  for (const rdn of rdns) {
    const atvs = readConstructed(rdn, Tag.SET);
    if (!atvs || atvs.length === 0) return null;
    for (const atv of atvs) {
      const f = readConstructed(atv, Tag.SEQUENCE);
      const oid = readOid(f?.[0]);
      if (!f || f.length !== 2 || !oid) return null;
      out.push({ oid, value: decodeString(f[1].tag, f[1].value) ?? `#${f[1].raw.toString('hex')}` });
    }
  }
  return out;
}

/** "C=DE, O=segw, CN=gw1.example" for a DER Name (commas in values escaped); "<malformed DN>" if not one. */
export function formatDn(der: Buffer): string {
  const attrs = decodeDn(der);
  if (!attrs) return '<malformed DN>';
  return attrs.map((a) => `${byOid.get(a.oid)?.name ?? a.oid}=${a.value.replace(/([,;\\"])/g, '\\$1')}`).join(', ');
}

/** RFC 5280 §7.1 (simplified): case-insensitive, insignificant spaces collapsed. */
function canonical(v: string): string {
  return v.trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Whether two DER Names are the same: byte-equal, or the same attributes in the same order
 * with values equal after case folding and space collapsing (string types may differ).
 */
export function dnEquals(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  const x = decodeDn(a);
  const y = decodeDn(b);
  if (!x || !y || x.length !== y.length) return false;
  return x.every((att, i) => att.oid === y[i].oid && canonical(att.value) === canonical(y[i].value));
}
