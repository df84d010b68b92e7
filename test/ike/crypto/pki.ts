/**
 * Test certificates made with strongSwan's `pki` in a temporary directory: a root CA
 * (RSA-3072), an intermediate (ECDSA P-256), end entities, and the bad cases a validator must
 * refuse. Test support only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { Certificate } from '../../../src/ike/crypto/index.js';

export interface Issued {
  cert: Certificate;
  key: KeyObject;
  certFile: string;
  keyFile: string;
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'segw-pki-'));
  #n = 0;

  pki(args: string[], input?: Buffer): Buffer {
    return execFileSync('pki', args, { input, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  }

  /** A fresh key: 'rsa' (3072) or 'ecdsa' (256/384/521). */
  key(type: 'rsa' | 'ecdsa', size: number): string {
    const file = join(this.dir, `k${++this.#n}.pem`);
    writeFileSync(file, this.pki(['--gen', '--type', type, '--size', String(size), '--outform', 'pem']));
    return file;
  }

  #load(certPem: Buffer, keyFile: string): Issued {
    const certFile = join(this.dir, `c${++this.#n}.pem`);
    writeFileSync(certFile, certPem);
    const der = Buffer.from(certPem.toString().replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const cert = Certificate.fromDer(der);
    if (!cert) throw new Error('pki wrote a certificate segw cannot parse');
    return { cert, key: createPrivateKey(readFileSync(keyFile)), certFile, keyFile };
  }

  selfSigned(dn: string, type: 'rsa' | 'ecdsa', size: number, extra: string[] = []): Issued {
    const keyFile = this.key(type, size);
    return this.#load(this.pki(['--self', '--ca', '--in', keyFile, '--type', type, '--dn', dn, '--outform', 'pem', ...extra]), keyFile);
  }

  issue(issuer: Issued, dn: string, type: 'rsa' | 'ecdsa', size: number, extra: string[] = []): Issued {
    const keyFile = this.key(type, size);
    const pub = this.pki(['--pub', '--in', keyFile, '--type', type]);
    const cert = this.pki(['--issue', '--cacert', issuer.certFile, '--cakey', issuer.keyFile, '--dn', dn, '--outform', 'pem', ...extra], pub);
    return this.#load(cert, keyFile);
  }

  /** A certificate for `san` signed by `issuer` even though it is no CA (pki refuses that; openssl does not check). */
  issueWithOpenssl(issuer: Issued, san: string): Certificate {
    const keyFile = this.key('ecdsa', 256);
    const csr = execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', `/CN=${san}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ext = join(this.dir, `ext${++this.#n}.cnf`);
    writeFileSync(ext, `subjectAltName=DNS:${san}\n`);
    const der = execFileSync('openssl', ['x509', '-req', '-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-set_serial', '7',
      '-days', '30', '-extfile', ext, '-outform', 'DER'], { input: csr, stdio: ['pipe', 'pipe', 'pipe'] });
    const cert = Certificate.fromDer(der);
    if (!cert) throw new Error('openssl wrote a certificate segw cannot parse');
    return cert;
  }

  /** A CRL by `issuer` (pki --signcrl) revoking `revoke` (certificates, or hex serials). */
  crl(issuer: Issued, revoke: (Issued | string)[], extra: string[] = [], outform: 'pem' | 'der' = 'pem'): Buffer {
    const args = ['--signcrl', '--cacert', issuer.certFile, '--cakey', issuer.keyFile, '--outform', outform, ...extra];
    for (const r of revoke) args.push(...(typeof r === 'string' ? ['--serial', r] : ['--cert', r.certFile]), '--reason', 'key-compromise');
    return this.pki(args);
  }

  /** The key id `pki --keyid` prints as "SHA-1 of subjectPublicKeyInfo" (what strongSwan puts in CERTREQ). */
  spkiKeyId(c: Issued): Buffer {
    const out = this.pki(['--keyid', '--in', c.certFile, '--type', 'x509']).toString();
    const m = /subjectPublicKeyInfo\):\s*([0-9a-f:]+)/.exec(out);
    if (!m) throw new Error(`unexpected pki --keyid output: ${out}`);
    return Buffer.from(m[1].replace(/:/g, ''), 'hex');
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
