/**
 * Certificate path validation (RFC 5280 §6, the parts an IKE gateway needs): from the peer's
 * end-entity certificate through the intermediates it sent to one of our trusted CAs.
 *
 * Checked on every link: issuer Name = subject Name (RFC 5280 §7.1 comparison), the signature
 * (X509Certificate.verify), the validity period, no critical extension we do not process. On
 * every issuer: basicConstraints cA, keyCertSign when keyUsage is present, pathLenConstraint.
 * Revocation: with CRLs configured (crl.ts), every certificate of the path below the trust
 * anchor is looked up in the CRL of its issuer (same issuer Name, signed by the issuer's key);
 * a listed one fails the path. A CRL whose issuer Name matches but whose signature does not
 * verify fails it too (a wrong or forged file must not go unnoticed). Without a CRL for an
 * issuer its certificates are accepted: OCSP is not done.
 * Not done: OCSP, name constraints (a critical one is refused), policies.
 */
import type { Crl } from './crl.js';
import { dnEquals } from './dn.js';
import { ExtensionOid, KeyUsage, type Certificate } from './x509.js';

/** RFC 5280 §6.1 does not bound the depth; an attacker-supplied chain must be. */
const MAX_CHAIN_DEPTH = 8;

/** Extensions whose criticality we honour (we process them, or they constrain nothing we rely on). */
const UNDERSTOOD_EXTENSIONS = new Set<string>([
  ExtensionOid.KEY_USAGE,
  ExtensionOid.SUBJECT_ALT_NAME,
  ExtensionOid.BASIC_CONSTRAINTS,
  ExtensionOid.EXT_KEY_USAGE,
  ExtensionOid.SUBJECT_KEY_IDENTIFIER,
  ExtensionOid.AUTHORITY_KEY_IDENTIFIER,
  ExtensionOid.CERTIFICATE_POLICIES,
]);

export type ChainResult =
  /** `chain` runs from the end entity to the trust anchor, inclusive. */
  | { ok: true; chain: Certificate[] }
  | { ok: false; reason: string };

function describe(c: Certificate): string {
  return `"${c.x509.subject.replace(/\n/g, ', ')}"`;
}

/** Checks that hold for every certificate in a path; a reason when one fails. */
function certificateProblem(c: Certificate, now: Date): string | null {
  if (!c.validAt(now)) {
    return now < c.notBefore ? `${describe(c)} is not valid before ${c.notBefore.toISOString()}` : `${describe(c)} expired ${c.notAfter.toISOString()}`;
  }
  for (const [oid, ext] of c.extensions) {
    if (ext.critical && !UNDERSTOOD_EXTENSIONS.has(oid)) return `${describe(c)} has critical extension ${oid} that segw does not process`;
  }
  return null;
}

/** Whether `issuer` may issue a certificate that has `below` non-self-issued CAs under it. */
function issuerProblem(issuer: Certificate, below: number): string | null {
  const bc = issuer.basicConstraints();
  if (!bc?.ca) return `${describe(issuer)} is not a CA (basicConstraints cA missing)`;
  const ku = issuer.keyUsage();
  if (ku && !ku.has(KeyUsage.keyCertSign)) return `${describe(issuer)} lacks keyUsage keyCertSign`;
  if (bc.pathLen !== null && below > bc.pathLen) return `${describe(issuer)} allows ${bc.pathLen} CA certificates below it, the path has ${below}`;
  return null;
}

function signedBy(child: Certificate, issuer: Certificate): boolean {
  if (!dnEquals(child.issuer, issuer.subject)) return false;
  try {
    return child.x509.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

interface Search {
  anchors: readonly Certificate[];
  intermediates: readonly Certificate[];
  now: Date;
  lastReason: string;
}

/** Depth-first search upward from path[path.length - 1]. */
function extend(s: Search, path: Certificate[]): Certificate[] | null {
  const cur = path[path.length - 1];
  if (path.length > MAX_CHAIN_DEPTH) {
    s.lastReason = `no trusted CA within ${MAX_CHAIN_DEPTH} certificates`;
    return null;
  }
  // CA certificates between the end entity and this issuer that count against pathLen (§6.1.4 (l)).
  const below = path.slice(1).filter((c) => !c.selfIssued).length;
  const candidates = [
    ...s.anchors.map((c) => ({ c, anchor: true })),
    ...s.intermediates.filter((c) => !path.includes(c)).map((c) => ({ c, anchor: false })),
  ];
  for (const { c, anchor } of candidates) {
    if (!signedBy(cur, c)) continue;
    const problem = certificateProblem(c, s.now) ?? issuerProblem(c, below);
    if (problem) {
      s.lastReason = problem;
      continue;
    }
    if (anchor) return [...path, c];
    const found = extend(s, [...path, c]);
    if (found) return found;
  }
  return null;
}

/**
 * Validates `endEntity` against `anchors` (the configured trusted CAs), using `intermediates`
 * (the other certificates the peer sent) to fill the path. A trusted certificate that is the
 * end entity itself is accepted as pinned.
 */
export function validateChain(
  endEntity: Certificate,
  intermediates: readonly Certificate[],
  anchors: readonly Certificate[],
  now: Date = new Date(),
  crls: readonly Crl[] = [],
): ChainResult {
  const own = certificateProblem(endEntity, now);
  if (own) return { ok: false, reason: own };
  if (anchors.some((a) => a.der.equals(endEntity.der))) return { ok: true, chain: [endEntity] };
  const s: Search = { anchors, intermediates, now, lastReason: `no trusted CA issued ${describe(endEntity)}` };
  const chain = extend(s, [endEntity]);
  if (!chain) return { ok: false, reason: s.lastReason };
  const revoked = revocationProblem(chain, crls);
  return revoked ? { ok: false, reason: revoked } : { ok: true, chain };
}

/** The first certificate of `chain` (below its anchor) that a configured CRL revokes, as a reason. */
function revocationProblem(chain: readonly Certificate[], crls: readonly Crl[]): string | null {
  if (crls.length === 0) return null;
  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i]!, issuer = chain[i + 1]!;
    const named = crls.filter((c) => dnEquals(c.issuer, cert.issuer));
    if (named.length === 0) continue;
    const valid = named.filter((c) => c.signedByCa(issuer));
    if (valid.length === 0) return `the CRL for ${describe(issuer)} is not signed by it`;
    if (valid.some((c) => c.lists(cert.serial))) return `${describe(cert)} is revoked (serial ${cert.serial.toString('hex')})`;
  }
  return null;
}
