/**
 * Certificate path validation (RFC 5280 §6, the parts an IKE gateway needs): from the peer's
 * end-entity certificate through the intermediates it sent to one of our trusted CAs.
 *
 * Checked on every link: issuer Name = subject Name (RFC 5280 §7.1 comparison), the signature
 * (X509Certificate.verify), the validity period, no critical extension we do not process. On
 * every issuer: basicConstraints cA, keyCertSign when keyUsage is present, pathLenConstraint.
 * Not done: revocation (CRL/OCSP), name constraints (a critical one is refused), policies.
 */
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
): ChainResult {
  const own = certificateProblem(endEntity, now);
  if (own) return { ok: false, reason: own };
  if (anchors.some((a) => a.der.equals(endEntity.der))) return { ok: true, chain: [endEntity] };
  const s: Search = { anchors, intermediates, now, lastReason: `no trusted CA issued ${describe(endEntity)}` };
  const chain = extend(s, [endEntity]);
  return chain ? { ok: true, chain } : { ok: false, reason: s.lastReason };
}
