/**
 * An X.509 certificate (RFC 5280) as IKE uses it: node:crypto's X509Certificate for the
 * signature check and the public key, plus what this module reads from the DER itself (subject
 * and issuer Names as DER, SubjectPublicKeyInfo, validity, extensions).
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import {
  contextTag,
  readConstructed,
  readOid,
  readSmallInteger,
  readTime,
  readWhole,
  Tag,
  type Tlv,
} from './asn1.js';

/** RFC 5280 §4.2.1 extension OIDs this module reads or knows to be harmless. */
export const ExtensionOid = {
  SUBJECT_KEY_IDENTIFIER: '2.5.29.14',
  KEY_USAGE: '2.5.29.15',
  SUBJECT_ALT_NAME: '2.5.29.17',
  BASIC_CONSTRAINTS: '2.5.29.19',
  CRL_DISTRIBUTION_POINTS: '2.5.29.31',
  CERTIFICATE_POLICIES: '2.5.29.32',
  AUTHORITY_KEY_IDENTIFIER: '2.5.29.35',
  EXT_KEY_USAGE: '2.5.29.37',
  AUTHORITY_INFO_ACCESS: '1.3.6.1.5.5.7.1.1',
} as const;

/** RFC 5280 §4.2.1.3 KeyUsage bits, numbered as in the ASN.1 (bit 0 is the first bit). */
export const KeyUsage = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

/** RFC 5280 §4.2.1.6 GeneralName choices (context tags). */
export const GeneralNameTag = {
  otherName: 0,
  rfc822Name: 1,
  dNSName: 2,
  directoryName: 4,
  uniformResourceIdentifier: 6,
  iPAddress: 7,
} as const;

export interface GeneralName {
  /** The context tag number (GeneralNameTag). */
  tag: number;
  /** IA5String octets for names, 4/16 octets for iPAddress, the DER Name for directoryName. */
  value: Buffer;
}

export interface Extension {
  critical: boolean;
  /** The extnValue OCTET STRING's contents (the extension's own DER). */
  value: Buffer;
}

export interface BasicConstraints {
  ca: boolean;
  pathLen: number | null;
}

interface TbsFields {
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  spki: Buffer;
  notBefore: Date;
  notAfter: Date;
  extensions: Map<string, Extension>;
}

function parseExtensions(tlv: Tlv | undefined): Map<string, Extension> | null {
  const out = new Map<string, Extension>();
  if (!tlv) return out;
  const seq = readConstructed(readWhole(tlv.value), Tag.SEQUENCE);
  if (!seq) return null;
  for (const ext of seq) {
    const f = readConstructed(ext, Tag.SEQUENCE);
    const oid = readOid(f?.[0]);
    if (!f || !oid || f.length < 2 || f.length > 3) return null;
    const critical = f.length === 3 && f[1].tag === Tag.BOOLEAN && f[1].value[0] !== 0;
    const value = f[f.length - 1];
    if (value.tag !== Tag.OCTET_STRING || out.has(oid)) return null; // RFC 5280 §4.2: once each
    out.set(oid, { critical, value: value.value });
  }
  return out;
}

/** RFC 5280 §4.1: the TBSCertificate fields, or null if malformed. */
function parseTbs(der: Buffer): TbsFields | null {
  const cert = readConstructed(readWhole(der), Tag.SEQUENCE);
  const tbs = readConstructed(cert?.[0], Tag.SEQUENCE);
  if (!cert || cert.length !== 3 || !tbs) return null;
  let i = tbs[0]?.tag === contextTag(0, true) ? 1 : 0; // version [0] EXPLICIT
  const serial = tbs[i++];
  i++; // signature
  if (!serial || serial.tag !== Tag.INTEGER || serial.value.length === 0) return null;
  const issuer = tbs[i++];
  const validity = readConstructed(tbs[i++], Tag.SEQUENCE);
  const subject = tbs[i++];
  const spki = tbs[i++];
  if (!issuer || !subject || !spki || issuer.tag !== Tag.SEQUENCE || subject.tag !== Tag.SEQUENCE || spki.tag !== Tag.SEQUENCE) return null;
  const notBefore = readTime(validity?.[0]);
  const notAfter = readTime(validity?.[1]);
  if (!notBefore || !notAfter) return null;
  const extTlv = tbs.slice(i).find((t) => t.tag === contextTag(3, true));
  const extensions = parseExtensions(extTlv);
  if (!extensions) return null;
  return { serial: serial.value, issuer: issuer.raw, subject: subject.raw, spki: spki.raw, notBefore, notAfter, extensions };
}

export class Certificate {
  readonly der: Buffer;
  readonly x509: X509Certificate;
  /** serialNumber's INTEGER contents (RFC 5280 §4.1.2.2): what a CRL lists. */
  readonly serial: Buffer;
  /** DER Name of the subject / issuer (RFC 5280 §4.1.2.4, §4.1.2.6). */
  readonly subject: Buffer;
  readonly issuer: Buffer;
  /** DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). */
  readonly spki: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: ReadonlyMap<string, Extension>;
  /** SHA-1 of the SubjectPublicKeyInfo: this CA's CERTREQ entry (RFC 7296 §3.7). */
  readonly keyHash: Buffer;

  private constructor(der: Buffer, x509: X509Certificate, f: TbsFields) {
    this.der = der;
    this.x509 = x509;
    this.serial = f.serial;
    this.subject = f.subject;
    this.issuer = f.issuer;
    this.spki = f.spki;
    this.notBefore = f.notBefore;
    this.notAfter = f.notAfter;
    this.extensions = f.extensions;
    this.keyHash = createHash('sha1').update(f.spki).digest();
  }

  /** A certificate from DER (a CERT payload, say), or null when either parser refuses it. */
  static fromDer(der: Buffer): Certificate | null {
    const copy = Buffer.from(der);
    const f = parseTbs(copy);
    if (!f) return null;
    try {
      return new Certificate(copy, new X509Certificate(copy), f);
    } catch {
      return null;
    }
  }

  get publicKey(): KeyObject {
    return this.x509.publicKey;
  }

  /** Subject and issuer are the same Name (RFC 5280 §6.1: self-issued). */
  get selfIssued(): boolean {
    return this.subject.equals(this.issuer);
  }

  /** RFC 5280 §4.2.1.9, or null when absent; a malformed extension reads as not a CA. */
  basicConstraints(): BasicConstraints | null {
    const ext = this.extensions.get(ExtensionOid.BASIC_CONSTRAINTS);
    if (!ext) return null;
    const f = readConstructed(readWhole(ext.value), Tag.SEQUENCE);
    if (!f) return { ca: false, pathLen: null };
    let i = 0;
    const ca = f[0]?.tag === Tag.BOOLEAN ? f[i++].value[0] !== 0 : false;
    const pathLen = f[i] ? readSmallInteger(f[i]) : null;
    return { ca, pathLen };
  }

  /** RFC 5280 §4.2.1.3 bits as a set of KeyUsage numbers, or null when absent. Malformed: empty. */
  keyUsage(): Set<number> | null {
    const ext = this.extensions.get(ExtensionOid.KEY_USAGE);
    if (!ext) return null;
    const bits = new Set<number>();
    const t = readWhole(ext.value);
    if (!t || t.tag !== Tag.BIT_STRING || t.value.length < 2) return bits;
    for (let i = 1; i < t.value.length; i++) {
      for (let b = 0; b < 8; b++) if (t.value[i] & (0x80 >> b)) bits.add((i - 1) * 8 + b);
    }
    return bits;
  }

  /** RFC 5280 §4.2.1.6 subjectAltName entries; empty when absent or malformed. */
  subjectAltNames(): GeneralName[] {
    const ext = this.extensions.get(ExtensionOid.SUBJECT_ALT_NAME);
    const names = ext ? readConstructed(readWhole(ext.value), Tag.SEQUENCE) : null;
    if (!names) return [];
    // The choices are IMPLICIT except directoryName, which is EXPLICIT: either way the
    // contents octets are what we want (the string, the address, or the Name's TLV).
    return names.map((n) => ({ tag: n.tag & 0x1f, value: n.value }));
  }

  /** Whether `now` is inside notBefore .. notAfter (RFC 5280 §4.1.2.5, inclusive). */
  validAt(now: Date): boolean {
    return now >= this.notBefore && now <= this.notAfter;
  }
}

/**
 * Every certificate in a PEM text (or one DER certificate), for configuration. Throws
 * ConfigError naming `source` when nothing usable is there.
 */
export function loadCertificates(data: string | Buffer, source: string): Certificate[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const ders: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) ders.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  if (ders.length === 0 && typeof data !== 'string') ders.push(data);
  const certs = ders.map((d) => Certificate.fromDer(d));
  if (certs.length === 0 || certs.some((c) => c === null)) {
    throw new ConfigError(`${source}: not a PEM or DER X.509 certificate; give the certificate file (e.g. made by 'pki --issue')`);
  }
  return certs as Certificate[];
}
