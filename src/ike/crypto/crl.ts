/**
 * Certificate revocation lists (RFC 5280 §5) from files the operator configures: a base
 * station whose certificate its CA revoked (a stolen or retired eNodeB) is refused.
 *
 * A CRL is used for a certificate when its issuer Name equals the certificate's issuer Name
 * (RFC 5280 §7.1) and its signature verifies with the key of the certificate that issued that
 * certificate in the validated path. Per §5.2 and §5.3, a CRL with a critical extension this
 * module does not process (a delta CRL, an issuing distribution point, an indirect CRL's
 * certificateIssuer) is refused when it is loaded, not half used. A CRL past its nextUpdate
 * still counts: what it lists stays revoked (a newer CRL may list more).
 *
 * Signatures: RSA PKCS#1 v1.5 and ECDSA with SHA-256/384/512, and Ed25519 (what strongSwan's
 * `pki --signcrl` and OpenSSL make by default). RSASSA-PSS is refused at load.
 */
import { verify, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../../errors.js';
import { contextTag, readConstructed, readOid, readTime, readWhole, Tag, type Tlv } from './asn1.js';

/** RFC 5280 §5.2 / §5.3 extensions; those in KNOWN may be critical without making a CRL unusable. */
const CrlExtensionOid = {
  AUTHORITY_KEY_IDENTIFIER: '2.5.29.35',
  CRL_NUMBER: '2.5.29.20',
  REASON_CODE: '2.5.29.21',
  INVALIDITY_DATE: '2.5.29.24',
} as const;
const KNOWN = new Set<string>(Object.values(CrlExtensionOid));

/** signatureAlgorithm OIDs -> node:crypto digest (null: the key type implies it, Ed25519). */
const SIGNATURE_DIGESTS = new Map<string, string | null>([
  ['1.2.840.113549.1.1.11', 'sha256'], // sha256WithRSAEncryption (RFC 4055 §5)
  ['1.2.840.113549.1.1.12', 'sha384'],
  ['1.2.840.113549.1.1.13', 'sha512'],
  ['1.2.840.10045.4.3.2', 'sha256'], // ecdsa-with-SHA256 (RFC 5758 §3.2)
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
  ['1.3.101.112', null], // Ed25519 (RFC 8410 §3)
]);

/** An INTEGER's magnitude as hex without leading zero octets: how serials are compared. */
export function serialKey(integerContents: Buffer): string {
  let i = 0;
  while (i < integerContents.length - 1 && integerContents[i] === 0) i++;
  return integerContents.subarray(i).toString('hex');
}

/** Critical extensions of an Extensions SEQUENCE we do not process, or null when malformed. */
function unknownCritical(tlv: Tlv | undefined): string[] | null {
  if (!tlv) return [];
  const exts = readConstructed(tlv, Tag.SEQUENCE);
  if (!exts) return null;
  const out: string[] = [];
  for (const e of exts) {
    const f = readConstructed(e, Tag.SEQUENCE);
    const oid = readOid(f?.[0]);
    if (!f || !oid || f.length < 2) return null;
    const critical = f.length === 3 && f[1].tag === Tag.BOOLEAN && f[1].value[0] !== 0;
    if (critical && !KNOWN.has(oid)) out.push(oid);
  }
  return out;
}

export class Crl {
  private constructor(
    readonly der: Buffer,
    /** DER Name of the CRL issuer. */
    readonly issuer: Buffer,
    readonly thisUpdate: Date,
    readonly nextUpdate: Date | null,
    /** serialKey() of every revoked certificate. */
    readonly revoked: ReadonlySet<string>,
    private readonly tbs: Buffer,
    private readonly digest: string | null,
    private readonly signature: Buffer,
  ) {}

  /**
   * Parses one DER CertificateList. Throws ConfigError naming `source` when it is malformed
   * or uses what this module does not process (see the module comment).
   */
  static fromDer(der: Buffer, source: string): Crl {
    const bad = (why: string): never => {
      throw new ConfigError(`${source}: ${why}`);
    };
    const top = readConstructed(readWhole(der), Tag.SEQUENCE);
    if (!top || top.length !== 3) return bad('not a DER X.509 CRL (RFC 5280 §5.1)');
    const [tbsTlv, algTlv, sigTlv] = top as [Tlv, Tlv, Tlv];
    const tbs = readConstructed(tbsTlv, Tag.SEQUENCE);
    if (!tbs) return bad('malformed tbsCertList');
    let i = tbs[0]?.tag === Tag.INTEGER ? 1 : 0; // version v2, optional
    const innerAlg = readOid(readConstructed(tbs[i++], Tag.SEQUENCE)?.[0]);
    const issuer = tbs[i++];
    const thisUpdate = readTime(tbs[i++]);
    if (!innerAlg || !issuer || issuer.tag !== Tag.SEQUENCE || !thisUpdate) return bad('malformed tbsCertList');
    let nextUpdate: Date | null = null;
    if (tbs[i] && (tbs[i].tag === Tag.UTC_TIME || tbs[i].tag === Tag.GENERALIZED_TIME)) {
      nextUpdate = readTime(tbs[i++]);
      if (!nextUpdate) return bad('malformed nextUpdate');
    }
    const revoked = new Set<string>();
    if (tbs[i]?.tag === Tag.SEQUENCE) {
      for (const entry of readConstructed(tbs[i++], Tag.SEQUENCE) ?? bad('malformed revokedCertificates')) {
        const f = readConstructed(entry, Tag.SEQUENCE);
        if (!f || f.length < 2 || f[0].tag !== Tag.INTEGER || !readTime(f[1])) return bad('malformed revoked certificate entry');
        const crit = unknownCritical(f[2]);
        if (crit === null) return bad('malformed crlEntryExtensions');
        if (crit.length) return bad(`a revoked entry has critical extension ${crit.join(', ')} that segw does not process (an indirect CRL?)`);
        revoked.add(serialKey(f[0].value));
      }
    }
    const extTlv = tbs[i]?.tag === contextTag(0, true) ? readWhole(tbs[i]!.value) ?? undefined : undefined;
    const crit = unknownCritical(extTlv);
    if (crit === null) return bad('malformed crlExtensions');
    if (crit.length) return bad(`critical CRL extension ${crit.join(', ')} that segw does not process (a delta CRL or a partial one?)`);
    const alg = readOid(readConstructed(algTlv, Tag.SEQUENCE)?.[0]);
    if (!alg || alg !== innerAlg) return bad('signatureAlgorithm differs from the one in tbsCertList (RFC 5280 §5.1.1.2)');
    const digest = SIGNATURE_DIGESTS.get(alg);
    if (digest === undefined) return bad(`signature algorithm ${alg} is not supported (RSA PKCS#1 v1.5, ECDSA, Ed25519 are)`);
    if (sigTlv.tag !== Tag.BIT_STRING || sigTlv.value.length < 2 || sigTlv.value[0] !== 0) return bad('malformed signatureValue');
    return new Crl(Buffer.from(der), issuer.raw, thisUpdate, nextUpdate, revoked, tbsTlv.raw, digest, sigTlv.value.subarray(1));
  }

  /** Whether `key` (the issuing CA's) signed this CRL. */
  signedBy(key: KeyObject): boolean {
    try {
      return verify(this.digest, this.tbs, key, this.signature);
    } catch {
      return false;
    }
  }

  /** Results of signedBy per CA key (its SubjectPublicKeyInfo): one check per CA, not per IKE_AUTH. */
  private readonly verdicts = new Map<string, boolean>();

  /** signedBy for a CA certificate, remembered per CA key. */
  signedByCa(ca: { spki: Buffer; publicKey: KeyObject }): boolean {
    const k = ca.spki.toString('latin1');
    let v = this.verdicts.get(k);
    if (v === undefined) this.verdicts.set(k, (v = this.signedBy(ca.publicKey)));
    return v;
  }

  /** Whether the certificate with this serial (INTEGER contents) is listed. */
  lists(serial: Buffer): boolean {
    return this.revoked.has(serialKey(serial));
  }

  /** Past nextUpdate: a newer CRL should be there (RFC 5280 §5.1.2.5). */
  staleAt(now: Date): boolean {
    return this.nextUpdate !== null && now > this.nextUpdate;
  }
}

/**
 * Every CRL in a PEM text ("X509 CRL" blocks) or one DER CRL, for configuration. Throws
 * ConfigError naming `source` when nothing usable is there.
 */
export function loadCrls(data: string | Buffer, source: string): Crl[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const ders: Buffer[] = [];
  const re = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) ders.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  if (ders.length === 0) {
    if (typeof data === 'string' || data.length === 0) throw new ConfigError(`${source}: no X.509 CRL (PEM "X509 CRL" or DER); make one with 'pki --signcrl'`);
    ders.push(data);
  }
  return ders.map((d, n) => Crl.fromDer(d, ders.length > 1 ? `${source} (CRL #${n + 1})` : source));
}

/**
 * CRL files, re-read when they change: an operator replaces the file (a new CRL from the CA's
 * distribution point) and the next authentication uses it, without a restart. A file is looked
 * at (stat) at most once per `checkMs`; if the new content does not load, the last good CRLs
 * stay in use and `onError` says why (a half-written file must not drop revocations).
 */
export class CrlFiles {
  private readonly files: { path: string; stamp: string; crls: Crl[]; checkedAt: number }[];

  /** Loads every file now: a missing or bad file is a ConfigError at startup. */
  constructor(
    paths: readonly string[],
    private readonly onError: (path: string, err: Error) => void = () => {},
    private readonly checkMs = 10_000,
  ) {
    this.files = paths.map((path) => {
      const st = CrlFiles.stamp(path);
      if (st === null) throw new ConfigError(`${path}: cannot read the CRL file`);
      return { path, stamp: st, crls: CrlFiles.read(path), checkedAt: Date.now() };
    });
  }

  private static stamp(path: string): string | null {
    try {
      const st = statSync(path);
      return `${st.mtimeMs}/${st.size}/${st.ino}`;
    } catch {
      return null;
    }
  }

  private static read(path: string): Crl[] {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${path}: cannot read the CRL file: ${(err as Error).message}`, { cause: err });
    }
    return loadCrls(data, path);
  }

  /** The CRLs of every file, re-read where a file changed since it was last looked at. */
  current(now = Date.now()): Crl[] {
    const out: Crl[] = [];
    for (const f of this.files) {
      if (now - f.checkedAt >= this.checkMs) {
        f.checkedAt = now;
        const st = CrlFiles.stamp(f.path);
        if (st === null) this.onError(f.path, new Error('the CRL file is gone; the last one read stays in use'));
        else if (st !== f.stamp) {
          try {
            f.crls = CrlFiles.read(f.path);
            f.stamp = st;
          } catch (err) {
            this.onError(f.path, err as Error);
          }
        }
      }
      out.push(...f.crls);
    }
    return out;
  }
}
