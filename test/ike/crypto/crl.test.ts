/**
 * CRLs (RFC 5280 §5) made with strongSwan's `pki --signcrl`: parsing (PEM and DER), the
 * signature check against the issuing CA, revocation of an end entity and of an intermediate
 * in path validation, what a CRL must not be used for (critical extensions, a forged or
 * foreign signature), and CRL files re-read when they change.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { TestPki, type Issued } from './pki.js';
import { Crl, CrlFiles, loadCrls, serialKey } from '../../../src/ike/crypto/crl.js';
import { validateChain } from '../../../src/ike/crypto/chain.js';
import { ConfigError } from '../../../src/errors.js';
import { derOid, derSequence, derTlv, contextTag, Tag } from '../../../src/ike/crypto/asn1.js';
import { sign } from 'node:crypto';

/** A v2 CRL by `issuer` with these crlExtensions and no entries, ECDSA-SHA256-signed with its key. */
function handMadeCrl(issuer: Issued, extensions: Buffer[]): Buffer {
  const alg = derSequence(derOid('1.2.840.10045.4.3.2'));
  const time = (d: Date) => derTlv(Tag.UTC_TIME, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'latin1'));
  const now = new Date();
  const tbs = derSequence(Buffer.from([0x02, 0x01, 0x01]), alg, issuer.cert.subject, time(now), time(new Date(now.getTime() + 86_400_000)),
    derTlv(contextTag(0, true), derSequence(...extensions)));
  const sig = sign('sha256', tbs, issuer.key);
  return derSequence(tbs, alg, derTlv(Tag.BIT_STRING, Buffer.from([0]), sig));
}

let pki: TestPki;
let root: Issued;
let rsaRoot: Issued;
let inter: Issued;
let good: Issued;
let stolen: Issued;
let underInter: Issued;

before(() => {
  pki = new TestPki();
  root = pki.selfSigned('C=CH, O=segw test, CN=CRL Root', 'ecdsa', 256);
  rsaRoot = pki.selfSigned('C=CH, O=segw test, CN=CRL RSA Root', 'rsa', 3072);
  inter = pki.issue(root, 'C=CH, O=segw test, CN=CRL Intermediate', 'ecdsa', 256, ['--ca']);
  good = pki.issue(root, 'C=CH, O=segw test, CN=bs-good.example.net', 'ecdsa', 256, ['--san', 'bs-good.example.net']);
  stolen = pki.issue(root, 'C=CH, O=segw test, CN=bs-stolen.example.net', 'ecdsa', 256, ['--san', 'bs-stolen.example.net']);
  underInter = pki.issue(inter, 'C=CH, O=segw test, CN=bs-inter.example.net', 'ecdsa', 256, ['--san', 'bs-inter.example.net']);
});
after(() => pki.cleanup());

test('a pki CRL parses in PEM and DER: issuer, updates, the revoked serials; its CA signed it', () => {
  for (const form of ['pem', 'der'] as const) {
    const [crl] = loadCrls(pki.crl(root, [stolen], [], form), `crl.${form}`);
    assert.ok(crl!.issuer.equals(root.cert.subject));
    assert.ok(crl!.nextUpdate! > crl!.thisUpdate);
    assert.deepEqual([...crl!.revoked], [serialKey(stolen.cert.serial)]);
    assert.ok(crl!.lists(stolen.cert.serial) && !crl!.lists(good.cert.serial));
    assert.equal(crl!.signedBy(root.cert.publicKey), true);
    assert.equal(crl!.signedBy(rsaRoot.cert.publicKey), false);
  }
  // A serial with a leading zero octet (positive INTEGER) compares equal without it.
  assert.equal(serialKey(Buffer.from([0x00, 0x80, 0x01])), '8001');
});

test('path validation refuses a revoked end entity and anything under a revoked intermediate', () => {
  const now = new Date();
  const crls = loadCrls(pki.crl(root, [stolen, inter]), 'crl');
  assert.equal(validateChain(good.cert, [], [root.cert], now, crls).ok, true);
  const r = validateChain(stolen.cert, [], [root.cert], now, crls);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : '', /bs-stolen\.example\.net.*is revoked \(serial/);
  const ri = validateChain(underInter.cert, [inter.cert], [root.cert], now, crls);
  assert.match(!ri.ok ? ri.reason : '', /CRL Intermediate.*is revoked/);
  // Without CRLs (or with one for another CA) the same certificates pass.
  assert.equal(validateChain(stolen.cert, [], [root.cert], now).ok, true);
  assert.equal(validateChain(stolen.cert, [], [root.cert], now, loadCrls(pki.crl(rsaRoot, ['01']), 'other')).ok, true);
  // RSA (PKCS#1 v1.5) CRLs verify too.
  const rsaEe = pki.issue(rsaRoot, 'C=CH, O=segw test, CN=bs-rsa.example.net', 'rsa', 3072);
  assert.equal(validateChain(rsaEe.cert, [], [rsaRoot.cert], now, loadCrls(pki.crl(rsaRoot, [rsaEe]), 'rsa')).ok, false);
});

test('a CRL that names the CA but is not signed by it fails the path: forged, or from another key', () => {
  const now = new Date();
  const der = pki.crl(root, [], [], 'der');
  // Flip a bit inside thisUpdate: still a well-formed CRL, no longer the CA's signature.
  const forged = Buffer.from(der);
  const at = forged.indexOf(Buffer.from([0x17, 0x0d])) + 4; // UTCTime, a digit of the year
  forged[at] ^= 0x01;
  const r = validateChain(stolen.cert, [], [root.cert], now, [Crl.fromDer(forged, 'forged')]);
  assert.match(!r.ok ? r.reason : '', /CRL for .*CRL Root.* is not signed by it/);
  // Another CA that took the same Name.
  const twin = pki.selfSigned('C=CH, O=segw test, CN=CRL Root', 'ecdsa', 256);
  const rt = validateChain(good.cert, [], [root.cert], now, loadCrls(pki.crl(twin, []), 'twin'));
  assert.equal(rt.ok, false);
  // The CA's own CRL next to the twin's: the CA's decides.
  assert.equal(validateChain(good.cert, [], [root.cert], now, [...loadCrls(pki.crl(twin, []), 'twin'), ...loadCrls(pki.crl(root, [stolen]), 'real')]).ok, true);
});

test('CRLs this module must not use are refused when loaded, naming the source', () => {
  // pki cannot mark a CRL extension critical: these CRLs are built here and signed by the root.
  const ext = (oid: string, critical: boolean) => derSequence(derOid(oid), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), derTlv(Tag.OCTET_STRING, derTlv(Tag.NULL)));
  const unknown = handMadeCrl(root, [ext('1.3.6.1.4.1.99999.1', true)]);
  assert.throws(() => Crl.fromDer(unknown, 'crit.der'),
    (e: Error) => e instanceof ConfigError && /crit\.der: critical CRL extension 1\.3\.6\.1\.4\.1\.99999\.1/.test(e.message));
  // RFC 5280 §5.2.4: a delta CRL lists only what changed since its base: never used alone.
  assert.throws(() => Crl.fromDer(handMadeCrl(root, [ext('2.5.29.27', true)]), 'delta.der'), /delta\.der: critical CRL extension 2\.5\.29\.27/);
  // The same extension, not critical, is ignored; the hand-made CRL itself verifies.
  const plain = Crl.fromDer(handMadeCrl(root, [ext('1.3.6.1.4.1.99999.1', false)]), 'plain.der');
  assert.equal(plain.signedBy(root.cert.publicKey), true);
  assert.throws(() => loadCrls('not a crl', 'text.pem'), /text\.pem: no X\.509 CRL/);
  assert.throws(() => loadCrls(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), 'short.der'), /short\.der: not a DER X\.509 CRL/);
  assert.throws(() => loadCrls(pki.crl(rsaRoot, [], ['--rsa-padding', 'pss']), 'pss.pem'),
    /pss\.pem: signature algorithm 1\.2\.840\.113549\.1\.1\.10 is not supported/);
});

test('CRL files are re-read when they change; a bad new file keeps the last good CRL in use', () => {
  const file = join(pki.dir, 'live.crl');
  writeFileSync(file, pki.crl(root, []));
  const errors: string[] = [];
  const files = new CrlFiles([file], (_path, err) => errors.push(err.message), 0);
  const t0 = Date.now();
  assert.equal(files.current(t0)[0]!.lists(stolen.cert.serial), false);
  // The operator installs a new CRL (written aside, then renamed into place).
  writeFileSync(`${file}.new`, pki.crl(root, [stolen], [], 'der'));
  renameSync(`${file}.new`, file);
  assert.equal(files.current(t0 + 1)[0]!.lists(stolen.cert.serial), true);
  // A broken file: the revocation stays.
  writeFileSync(file, 'garbage');
  assert.equal(files.current(t0 + 2)[0]!.lists(stolen.cert.serial), true);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /live\.crl: not a DER X\.509 CRL/);
  assert.throws(() => new CrlFiles([join(pki.dir, 'missing.crl')]), /missing\.crl: cannot read the CRL file/);
});

test('mutated CRLs (bit flips, truncations) load or are refused with a ConfigError, never another error', () => {
  const der = pki.crl(root, [stolen, good, inter], [], 'der');
  let seed = 12345;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  let loaded = 0, refused = 0;
  for (let i = 0; i < 3000; i++) {
    const m = Buffer.from(der);
    if (i % 3 === 0) m[rand(m.length)] ^= 1 << rand(8);
    else if (i % 3 === 1) m[rand(m.length)] = rand(256);
    const input = i % 3 === 2 ? m.subarray(0, rand(m.length)) : m;
    try {
      const crl = Crl.fromDer(input, 'mutated');
      // A mutated one may parse; its signature then decides, and must not verify.
      if (crl.signedByCa(root.cert)) assert.ok(input.equals(der), `mutation ${i} kept a valid signature`);
      loaded++;
    } catch (err) {
      assert.ok(err instanceof ConfigError, `mutation ${i}: ${(err as Error).stack}`);
      refused++;
    }
  }
  assert.ok(loaded > 0 && refused > 0, `${loaded} loaded, ${refused} refused`);
});
