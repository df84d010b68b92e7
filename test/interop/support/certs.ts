/**
 * Certificates for the interop scenarios, made with strongSwan's `pki` (test/ike/crypto/pki.ts):
 * a root CA, `intermediates` CAs below it, and two end entities (the gateway and the base
 * station) with their FQDN identities as subjectAltName, laid out for both peers:
 * swanctl's directories for strongSwan, PEM strings for segw's config.
 */
import { readFileSync } from 'node:fs';
import { TestPki, type Issued } from '../../ike/crypto/pki.js';

export const GW_ID = 'gw.segw.example';
export const BS_ID = 'bs1.segw.example';

export interface EndEntity {
  id: string;
  certPem: string;
  keyPem: string;
}

export interface CertSet {
  type: 'rsa' | 'ecdsa';
  rootPem: string;
  /** Intermediates, the one that issued the end entities first. */
  intermediatePems: string[];
  gw: EndEntity;
  bs: EndEntity;
  /** The issuing CA's CRL (PEM), when made with `revokeBs`: it lists the base station. */
  crlPem?: string;
  cleanup(): void;
}

export function makeCerts(opts: { type: 'rsa' | 'ecdsa'; size: number; intermediates?: number; caSize?: number; revokeBs?: boolean }): CertSet {
  const pki = new TestPki();
  const { type, size } = opts;
  const caSize = opts.caSize ?? size;
  const pem = (i: Issued) => readFileSync(i.certFile, 'utf8');
  const root = pki.selfSigned('C=CH, O=segw interop, CN=segw Interop Root CA', type, caSize);
  let issuer = root;
  const chain: Issued[] = [];
  for (let i = 1; i <= (opts.intermediates ?? 0); i++) {
    issuer = pki.issue(issuer, `C=CH, O=segw interop, CN=segw Interop Intermediate ${i}`, type, caSize, ['--ca']);
    chain.unshift(issuer);
  }
  const issued: Record<string, Issued> = {};
  const ee = (id: string): EndEntity => {
    const c = (issued[id] = pki.issue(issuer, `C=CH, O=segw interop, CN=${id}`, type, size, ['--san', id]));
    return { id, certPem: pem(c), keyPem: readFileSync(c.keyFile, 'utf8') };
  };
  const set: CertSet = {
    type,
    rootPem: pem(root),
    intermediatePems: chain.map(pem),
    gw: ee(GW_ID),
    bs: ee(BS_ID),
    cleanup: () => pki.cleanup(),
  };
  if (opts.revokeBs) set.crlPem = pki.crl(issuer, [issued[BS_ID]!]).toString();
  return set;
}

/** swanctl directory files for one end: its certificate and key, the root and the intermediates. */
export function swanctlFiles(set: CertSet, own: EndEntity): Record<string, string> {
  const files: Record<string, string> = {
    'x509/own.pem': own.certPem,
    [`${set.type === 'rsa' ? 'rsa' : 'ecdsa'}/own.key`]: own.keyPem,
    'x509ca/root.pem': set.rootPem,
  };
  set.intermediatePems.forEach((p, i) => (files[`x509ca/intermediate${i + 1}.pem`] = p));
  return files;
}
