/**
 * Identities (RFC 7296 §3.5) from config text to ID payload and back, as operators write them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdType } from '../../src/ike/constants.js';
import {
  formatIdentity,
  identityEquals,
  identityFromPayload,
  identityToPayload,
  parseIdentity,
} from '../../src/ike/identity.js';
import { ConfigError } from '../../src/errors.js';
import { Certificate } from '../../src/ike/crypto/x509.js';

test('addresses: ID_IPV4_ADDR and ID_IPV6_ADDR carry the raw octets; logs print canonical text', () => {
  const v4 = parseIdentity('192.0.2.1');
  assert.equal(v4.type, IdType.ID_IPV4_ADDR);
  assert.deepEqual(v4.data, Buffer.from([192, 0, 2, 1]));
  assert.equal(formatIdentity(v4), '192.0.2.1');

  const v6 = parseIdentity('2001:DB8:0:0:0:0:0:1');
  assert.equal(v6.type, IdType.ID_IPV6_ADDR);
  assert.equal(v6.data.toString('hex'), '20010db8000000000000000000000001');
  assert.equal(formatIdentity(v6), '2001:db8::1');
  assert.equal(formatIdentity(parseIdentity('::ffff:192.0.2.1')), '::ffff:c000:201');
  assert.equal(formatIdentity(parseIdentity('2001:db8:1:0:0:1:0:0')), '2001:db8:1::1:0:0');
  assert.equal(formatIdentity(parseIdentity('::')), '::');
  assert.ok(identityEquals(parseIdentity('2001:db8::1'), v6));
});

test('names: FQDN (optionally @-prefixed), RFC822, key id; FQDN and RFC822 compare without case', () => {
  const fqdn = parseIdentity('gw1.example');
  assert.equal(fqdn.type, IdType.ID_FQDN);
  assert.equal(fqdn.data.toString(), 'gw1.example');
  assert.ok(identityEquals(parseIdentity('@GW1.example'), fqdn));
  const mail = parseIdentity('bs17@ran.example');
  assert.equal(mail.type, IdType.ID_RFC822_ADDR);
  assert.equal(formatIdentity(mail), 'bs17@ran.example');
  assert.ok(identityEquals(parseIdentity('BS17@ran.example'), mail));
  assert.ok(!identityEquals(parseIdentity('fqdn:bs17@ran.example'), mail), 'same text, other type');
  const kid = parseIdentity('keyid:0a1b2c');
  assert.equal(kid.type, IdType.ID_KEY_ID);
  assert.equal(formatIdentity(kid), 'keyid:0a1b2c');
  assert.equal(parseIdentity('ipv4:198.51.100.7').type, IdType.ID_IPV4_ADDR);
});

test('DNs: text to DER with the usual attribute OIDs; formatting round-trips; comparison ignores case and spacing', () => {
  const dn = parseIdentity('C=DE, O=segw, CN=gw1.example');
  assert.equal(dn.type, IdType.ID_DER_ASN1_DN);
  // SEQUENCE { SET { SEQUENCE { 2.5.4.6, PrintableString "DE" } }, SET { ... 2.5.4.10 ... }, SET { ... 2.5.4.3 ... } }
  assert.equal(dn.data.toString('hex'), '3032' +
    '310b3009' + '0603550406' + '13024445' +
    '310d300b' + '060355040a' + '130473656777' +
    '31143012' + '0603550403' + '130b' + Buffer.from('gw1.example').toString('hex'));
  assert.equal(formatIdentity(dn), 'C=DE, O=segw, CN=gw1.example');
  assert.ok(identityEquals(parseIdentity('c=de,o=SEGW,  cn=GW1.example'), dn));
  assert.ok(!identityEquals(parseIdentity('C=DE, CN=gw1.example, O=segw'), dn), 'order matters');
  const escaped = parseIdentity('O=Acme\\, Inc., CN=x');
  assert.equal(formatIdentity(escaped), 'O=Acme\\, Inc., CN=x');
  assert.ok(identityEquals(parseIdentity(formatIdentity(escaped)), escaped));
  assert.equal(formatIdentity(parseIdentity('E=ops@example.com, CN=Zoë')), 'E=ops@example.com, CN=Zoë');
});

test('the DER of a config DN equals what strongSwan pki writes for the same DN', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segw-id-'));
  try {
    const text = 'C=DE, O=segw cluster, OU=RAN, CN=gw1.example, E=ops@example.com';
    const key = execFileSync('pki', ['--gen', '--type', 'ecdsa', '--size', '256', '--outform', 'pem'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const keyFile = join(dir, 'k.pem');
    execFileSync('sh', ['-c', `cat > ${keyFile}`], { input: key });
    const cert = execFileSync('pki', ['--self', '--in', keyFile, '--type', 'ecdsa', '--dn', text, '--outform', 'der'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const c = Certificate.fromDer(cert);
    assert.ok(c);
    assert.equal(parseIdentity(text).data.toString('hex'), c.subject.toString('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ID payload round trip; peer data that is not what its type says still formats safely', () => {
  for (const text of ['192.0.2.9', '2001:db8::9', 'gw.example', 'a@b.example', 'CN=x', 'keyid:00ff']) {
    const id = parseIdentity(text);
    const { idType, data } = identityToPayload(id);
    assert.ok(identityEquals(identityFromPayload(idType, data), id), text);
  }
  assert.equal(formatIdentity(identityFromPayload(IdType.ID_IPV4_ADDR, Buffer.from([1, 2, 3]))), 'ipv4:#010203');
  assert.equal(formatIdentity(identityFromPayload(IdType.ID_FQDN, Buffer.from('a\nb'))), 'a?b');
  assert.equal(formatIdentity(identityFromPayload(IdType.ID_DER_ASN1_DN, Buffer.from([0x30, 0x05]))), '<malformed DN>');
  assert.equal(formatIdentity(identityFromPayload(IdType.ID_DER_ASN1_GN, Buffer.from([1]))), 'ID_DER_ASN1_GN:#01');
});

test('unusable config text is a ConfigError that says what to write', () => {
  for (const bad of ['', '   ', 'X=1, CN=y', 'keyid:xyz', 'ipv4:300.1.1.1', 'two words', 'fe80::1%eth0', 'email:nobody']) {
    assert.throws(() => parseIdentity(bad), (e: unknown) => e instanceof ConfigError && /identity/.test(e.message), bad);
  }
});
