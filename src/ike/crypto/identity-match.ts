/**
 * Identity matching between an ID payload and the end-entity certificate (RFC 7296 §3.5,
 * RFC 4945 §3.1, as strongSwan 5.9.8 does it).
 */
import { IdType } from '../constants.js';
import type { Identity } from '../identity.js';
import { dnEquals } from './dn.js';
import { GeneralNameTag, type Certificate } from './x509.js';

/**
 * Whether a certificate names the identity of an ID payload (RFC 4945 §3.1 as strongSwan does
 * it): addresses, FQDNs and RFC822 names against subjectAltName, a DN against the subject (or
 * a directoryName subjectAltName).
 */
export function certMatchesIdentity(cert: Certificate, id: Identity): boolean {
  const sans = cert.subjectAltNames();
  const lower = (b: Buffer) => b.toString('latin1').toLowerCase();
  switch (id.type) {
    case IdType.ID_IPV4_ADDR:
    case IdType.ID_IPV6_ADDR:
      return sans.some((n) => n.tag === GeneralNameTag.iPAddress && n.value.equals(id.data));
    case IdType.ID_FQDN:
      return sans.some((n) => n.tag === GeneralNameTag.dNSName && lower(n.value) === lower(id.data));
    case IdType.ID_RFC822_ADDR:
      return sans.some((n) => n.tag === GeneralNameTag.rfc822Name && lower(n.value) === lower(id.data));
    case IdType.ID_DER_ASN1_DN:
      return dnEquals(cert.subject, id.data) || sans.some((n) => n.tag === GeneralNameTag.directoryName && dnEquals(n.value, id.data));
    default:
      return false;
  }
}
