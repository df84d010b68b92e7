/**
 * Certificates as IKE_AUTH uses them, on a PKI made with strongSwan's `pki`: chain validation
 * against trusted CAs, the refusals (expired, wrong CA, path length, not a CA, unknown critical
 * extension, identity mismatch), CERTREQ key hashes as strongSwan computes them, and which
 * certificates to send for a peer's CERTREQ.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIdentity } from '../../../src/ike/identity.js';
import { AuthMethod } from '../../../src/ike/constants.js';
import { readConstructed, readWhole, Tag } from '../../../src/ike/crypto/asn1.js';
import { ConfigError } from '../../../src/errors.js';
import {
  CredentialStore,
  loadCertificates,
  SIGNATURE_HASHES,
  signAuth,
  splitCertReq,
  validateChain,
  verifyAuth,
} from '../../../src/ike/crypto/index.js';
import { TestPki, type Issued } from './pki.js';

const show = (r: { ok: boolean; reason?: string; detail?: string }) => (r.ok ? 'accepted' : `${r.reason}: ${r.detail}`);

describe('certificates made with strongSwan pki', () => {
  const pki = new TestPki();
  let root: Issued;
  let inter: Issued;
  let eeEc: Issued;
  let eeRsa: Issued;
  let store: CredentialStore;
  const ROOT_DN = 'C=DE, O=segw test, CN=segw Root CA';

  before(() => {
    root = pki.selfSigned(ROOT_DN, 'rsa', 3072);
    inter = pki.issue(root, 'C=DE, O=segw test, CN=segw RAN CA', 'ecdsa', 256, ['--ca', '--pathlen', '0']);
    eeEc = pki.issue(inter, 'C=DE, O=segw test, CN=gw1.example', 'ecdsa', 256,
      ['--san', 'gw1.example', '--san', '192.0.2.1', '--san', '2001:db8::1', '--san', 'ops@example.com', '--flag', 'serverAuth']);
    eeRsa = pki.issue(root, 'C=DE, O=segw test, CN=gw2.example', 'rsa', 3072, ['--san', 'gw2.example']);
    store = new CredentialStore();
    store.addTrustedCa(root.cert);
  });
  after(() => pki.cleanup());

  test('an ECDSA end entity chains through the intermediate it sends to the trusted root', () => {
    const r = store.validatePeer([eeEc.cert.der, inter.cert.der], parseIdentity('gw1.example'));
    assert.ok(r.ok, r.ok ? '' : r.detail);
    assert.deepEqual(r.chain.map((c) => c.x509.subject.split('\n').pop()), ['CN=gw1.example', 'CN=segw RAN CA', 'CN=segw Root CA']);
    assert.equal(r.publicKey.asymmetricKeyType, 'ec');
  });

  test('an RSA-3072 end entity issued by the root validates without intermediates', () => {
    const r = store.validatePeer([eeRsa.cert.der], parseIdentity('gw2.example'));
    assert.ok(r.ok, r.ok ? '' : r.detail);
    assert.equal(r.chain.length, 2);
  });

  test('the ID payload must be named by the certificate: SAN address/FQDN/RFC822, or the subject DN', () => {
    for (const id of ['gw1.example', 'GW1.example', '192.0.2.1', '2001:db8::1', 'ops@example.com', 'C=DE, O=segw test, CN=gw1.example']) {
      const r = store.validatePeer([eeEc.cert.der, inter.cert.der], parseIdentity(id));
      assert.ok(r.ok, `${id}: ${r.ok ? '' : r.detail}`);
    }
    for (const id of ['gw2.example', '192.0.2.2', 'fqdn:192.0.2.1', 'other@example.com', 'C=DE, O=segw test, CN=gw2.example', 'keyid:01']) {
      const r = store.validatePeer([eeEc.cert.der, inter.cert.der], parseIdentity(id));
      assert.ok(!r.ok && r.reason === 'identity', id);
    }
  });

  test('expired and not-yet-valid certificates are refused', () => {
    const old = pki.issue(root, 'CN=old.example', 'ecdsa', 256, ['--san', 'old.example',
      '--dateform', '%Y-%m-%d %H:%M:%S', '--not-before', '2020-01-01 00:00:00', '--not-after', '2021-01-01 00:00:00']);
    const r = store.validatePeer([old.cert.der], parseIdentity('old.example'));
    assert.ok(!r.ok && r.reason === 'untrusted' && /expired/.test(r.detail), show(r));
    const early = store.validatePeer([eeRsa.cert.der], parseIdentity('gw2.example'), new Date('2001-01-01'));
    assert.ok(!early.ok && /not valid before/.test(early.detail));
    const late = store.validatePeer([eeEc.cert.der, inter.cert.der], parseIdentity('gw1.example'), new Date('2200-01-01'));
    assert.ok(!late.ok && late.reason === 'untrusted');
  });

  test('a CA with the trusted root\'s name but another key does not count (wrong CA)', () => {
    const evil = pki.selfSigned(ROOT_DN, 'ecdsa', 256);
    const forged = pki.issue(evil, 'CN=gw1.example', 'ecdsa', 256, ['--san', 'gw1.example']);
    const r = store.validatePeer([forged.cert.der], parseIdentity('gw1.example'));
    assert.ok(!r.ok && r.reason === 'untrusted', show(r));
    // ... not even when the peer sends the look-alike root along.
    const r2 = store.validatePeer([forged.cert.der, evil.cert.der], parseIdentity('gw1.example'));
    assert.ok(!r2.ok && r2.reason === 'untrusted');
    // A store trusting the other CA accepts it and refuses the first.
    const other = new CredentialStore();
    other.addTrustedCa(evil.cert);
    assert.ok(other.validatePeer([forged.cert.der], parseIdentity('gw1.example')).ok);
    assert.ok(!other.validatePeer([eeRsa.cert.der], parseIdentity('gw2.example')).ok);
  });

  test('a missing intermediate, a path longer than pathLen, a non-CA issuer are refused', () => {
    const noInter = store.validatePeer([eeEc.cert.der], parseIdentity('gw1.example'));
    assert.ok(!noInter.ok && noInter.reason === 'untrusted');

    const sub = pki.issue(inter, 'CN=segw sub CA', 'ecdsa', 256, ['--ca']);
    const deep = pki.issue(sub, 'CN=deep.example', 'ecdsa', 256, ['--san', 'deep.example']);
    const r = store.validatePeer([deep.cert.der, sub.cert.der, inter.cert.der], parseIdentity('deep.example'));
    assert.ok(!r.ok && /allows 0/.test(r.detail), show(r));

    // pki refuses to issue from a non-CA, so this one is made with the openssl CLI.
    const byEe = pki.issueWithOpenssl(eeRsa, 'leaf.example');
    const r2 = store.validatePeer([byEe.der, eeRsa.cert.der], parseIdentity('leaf.example'));
    assert.ok(!r2.ok && /not a CA/.test(r2.detail), show(r2));
  });

  test('a critical extension segw does not process is refused; garbage is "malformed", none "no-certificate"', () => {
    const crit = pki.issue(root, 'CN=crit.example', 'ecdsa', 256, ['--san', 'crit.example', '--critical', '1.3.6.1.4.1.55555.1']);
    const r = store.validatePeer([crit.cert.der], parseIdentity('crit.example'));
    assert.ok(!r.ok && /critical extension 1\.3\.6\.1\.4\.1\.55555\.1/.test(r.detail), show(r));
    const bad = store.validatePeer([Buffer.from('3003020101', 'hex')], parseIdentity('gw1.example'));
    assert.ok(!bad.ok && bad.reason === 'malformed');
    const truncated = store.validatePeer([eeEc.cert.der.subarray(0, 100)], parseIdentity('gw1.example'));
    assert.ok(!truncated.ok && truncated.reason === 'malformed');
    const none = store.validatePeer([], parseIdentity('gw1.example'));
    assert.ok(!none.ok && none.reason === 'no-certificate');
  });

  test('CERTREQ data is the SHA-1 of each trusted CA\'s SubjectPublicKeyInfo, as pki --keyid shows', () => {
    assert.deepEqual(root.cert.keyHash, pki.spkiKeyId(root));
    assert.deepEqual(inter.cert.keyHash, pki.spkiKeyId(inter));
    const two = new CredentialStore();
    two.addTrustedCa(root.cert);
    two.addTrustedCa(inter.cert);
    assert.deepEqual(splitCertReq(two.certReqData()), [pki.spkiKeyId(root), pki.spkiKeyId(inter)]);
    assert.equal(splitCertReq(Buffer.alloc(21)), null);
  });

  test('the chain to send stops below the CA the peer\'s CERTREQ names', () => {
    const local = new CredentialStore();
    local.setLocal(eeEc.cert, eeEc.key, [inter.cert]);
    const names = (cs: { x509: { subject: string } }[]) => cs.map((c) => c.x509.subject.split('\n').pop());
    assert.deepEqual(names(local.chainToSend(null)), ['CN=gw1.example', 'CN=segw RAN CA']);
    assert.deepEqual(names(local.chainToSend(splitCertReq(store.certReqData()))), ['CN=gw1.example', 'CN=segw RAN CA']);
    assert.deepEqual(names(local.chainToSend([inter.cert.keyHash])), ['CN=gw1.example']);
    assert.deepEqual(names(local.chainToSend([Buffer.alloc(20)])), ['CN=gw1.example', 'CN=segw RAN CA']);
    assert.deepEqual(new CredentialStore().chainToSend(null), []);
  });

  test('configuration mistakes are ConfigErrors that say what to do', () => {
    const s = new CredentialStore();
    assert.throws(() => s.setLocal(eeEc.cert, eeRsa.key), ConfigError);
    assert.throws(() => s.addTrustedCa(eeRsa.cert), (e: unknown) => e instanceof ConfigError && /not a CA/.test(e.message));
    assert.throws(() => loadCertificates('not a certificate', 'ca.pem'), (e: unknown) => e instanceof ConfigError && /ca\.pem/.test(e.message));
    assert.throws(() => s.addPsk(''), ConfigError);
    const pem = Buffer.concat([Buffer.from(root.cert.x509.toString()), Buffer.from(inter.cert.x509.toString())]).toString();
    assert.equal(loadCertificates(pem, 'bundle.pem').length, 2);
  });

  test('AUTH signed with each end entity\'s key verifies with the key validatePeer returns, with and without RFC 7427', () => {
    const octets = Buffer.from('RealMessage | Nonce | MACedID stand-in');
    for (const [ee, certs, id] of [[eeEc, [eeEc.cert.der, inter.cert.der], 'gw1.example'], [eeRsa, [eeRsa.cert.der], 'gw2.example']] as const) {
      const peer = store.validatePeer(certs, parseIdentity(id));
      assert.ok(peer.ok);
      for (const peerHashes of [null, SIGNATURE_HASHES]) {
        const s = signAuth(ee.key, octets, { peerHashes });
        assert.ok(s.ok);
        assert.ok(verifyAuth(peer.publicKey, s.method, s.data, octets).ok, `${id} method ${s.method}`);
        // The other end entity's key does not verify it.
        const other = ee === eeEc ? eeRsa : eeEc;
        assert.equal(verifyAuth(other.cert.publicKey, s.method, s.data, octets).ok, false);
      }
    }
  });

  test('strongSwan\'s own signature encodings (PKCS#1, ECDSA DER, RSASSA-PSS params) verify through the RFC 7427 path', () => {
    // A certificate's signatureAlgorithm is the same AlgorithmIdentifier RFC 7427 carries in AUTH.
    const pss = pki.issue(root, 'CN=pss.example', 'ecdsa', 256, ['--rsa-padding', 'pss']);
    for (const [cert, issuerKey, want] of [
      [eeRsa.cert, root.cert.publicKey, 'sha256WithRSAEncryption'],
      [eeEc.cert, inter.cert.publicKey, 'ecdsa-with-SHA256'],
      [pss.cert, root.cert.publicKey, 'RSASSA-PSS-SHA256'],
    ] as const) {
      const [tbs, alg, sig] = readConstructed(readWhole(cert.der), Tag.SEQUENCE)!;
      const auth = Buffer.concat([Buffer.from([alg.raw.length]), alg.raw, sig.value.subarray(1)]);
      const v = verifyAuth(issuerKey, AuthMethod.DIGITAL_SIGNATURE, auth, tbs.raw);
      assert.ok(v.ok && v.scheme === want, v.ok ? v.scheme : v.reason);
      assert.equal(verifyAuth(issuerKey, AuthMethod.DIGITAL_SIGNATURE, auth, cert.der).ok, false);
    }
  });

  test('validateChain accepts a pinned end-entity certificate that is itself trusted', () => {
    assert.ok(validateChain(eeRsa.cert, [], [eeRsa.cert]).ok);
  });
});

test('PSK lookup prefers the entry naming both identities, then the remote, then the local, then a wildcard', () => {
  const s = new CredentialStore();
  const gw = parseIdentity('gw.example');
  const bs1 = parseIdentity('bs1.ran.example');
  const bs2 = parseIdentity('bs2.ran.example');
  s.addPsk('wildcard');
  s.addPsk('local-only', [gw]);
  s.addPsk('bs1', [bs1]);
  s.addPsk('pair', [gw, bs2]);
  assert.equal(s.findPsk(gw, bs2)?.toString(), 'pair');
  assert.equal(s.findPsk(gw, bs1)?.toString(), 'bs1');
  assert.equal(s.findPsk(gw, parseIdentity('bs3.ran.example'))?.toString(), 'local-only');
  assert.equal(s.findPsk(parseIdentity('other.example'), parseIdentity('x.example'))?.toString(), 'wildcard');
  assert.equal(new CredentialStore().findPsk(gw, bs1), null);
});
