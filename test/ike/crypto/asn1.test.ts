/**
 * The DER reader on hostile input (it reads peers' certificates and AUTH data): it answers
 * null, never throws, and reads what it writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { decodeOid, derOid, derSequence, derSmallInteger, readSmallInteger, readTime, readTlv, readWhole, Tag } from '../../../src/ike/crypto/asn1.js';
import { Certificate, dnEquals, dnFromText, formatDn, verifyAuth } from '../../../src/ike/crypto/index.js';
import { decodeDn } from '../../../src/ike/crypto/dn.js';
import { AuthMethod } from '../../../src/ike/constants.js';

test('OIDs, small INTEGERs and times round-trip; long-form lengths are read', () => {
  for (const oid of ['1.2.840.113549.1.1.11', '2.5.4.3', '0.9.2342.19200300.100.1.25', '1.3.101.112', '2.999.1']) {
    assert.equal(decodeOid(readWhole(derOid(oid))!.value), oid);
  }
  for (const n of [0, 1, 127, 128, 255, 256, 65535]) assert.equal(readSmallInteger(readWhole(derSmallInteger(n))), n);
  const long = derSequence(Buffer.alloc(300, 0x05));
  assert.deepEqual(readWhole(long)!.value.length, 300);
  assert.equal(readTime({ tag: Tag.UTC_TIME, value: Buffer.from('491231235959Z'), raw: Buffer.alloc(0) })!.toISOString(), '2049-12-31T23:59:59.000Z');
  assert.equal(readTime({ tag: Tag.UTC_TIME, value: Buffer.from('500101000000Z'), raw: Buffer.alloc(0) })!.getUTCFullYear(), 1950);
  assert.equal(readTime({ tag: Tag.GENERALIZED_TIME, value: Buffer.from('20500101000000Z'), raw: Buffer.alloc(0) })!.getUTCFullYear(), 2050);
  assert.equal(readTime({ tag: Tag.UTC_TIME, value: Buffer.from('991332000000Z'), raw: Buffer.alloc(0) }), null, 'month 13');
});

test('malformed TLVs: truncated, indefinite length, high tag numbers, lengths past the end', () => {
  for (const hex of ['', '30', '3081', '308180', '3080', '1f0100', '3084ffffffff00', '30020500ff']) {
    assert.equal(readWhole(Buffer.from(hex, 'hex')), null, hex);
  }
  assert.equal(readTlv(Buffer.from('3005', 'hex')), null);
  assert.equal(decodeOid(Buffer.from([0x81])), null, 'unterminated arc');
  assert.equal(decodeOid(Buffer.alloc(0)), null);
});

test('a certificate cut anywhere or with any octet flipped is refused or parsed, never thrown', () => {
  const der = execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/C=DE/O=segw/CN=fuzz.example', '-addext', 'subjectAltName=DNS:fuzz.example,IP:192.0.2.7',
    '-keyout', '/dev/null', '-outform', 'DER', '-days', '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const cert = Certificate.fromDer(der);
  assert.ok(cert, 'the unmodified certificate parses');
  assert.equal(cert.subjectAltNames().length, 2);
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(der);
    b[Math.floor(Math.random() * b.length)] ^= 1 << Math.floor(Math.random() * 8);
    const cut = der.subarray(0, Math.floor(Math.random() * der.length));
    for (const x of [b, cut]) {
      assert.doesNotThrow(() => {
        const c = Certificate.fromDer(x);
        c?.subjectAltNames();
        c?.basicConstraints();
        c?.keyUsage();
        if (c) formatDn(c.subject);
      });
    }
    assert.equal(Certificate.fromDer(cut), null, 'a truncated certificate');
  }
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  for (let i = 0; i < 500; i++) {
    const junk = randomBytes(Math.floor(Math.random() * 200));
    assert.equal(Certificate.fromDer(junk), null);
    assert.doesNotThrow(() => formatDn(junk));
    assert.doesNotThrow(() => decodeDn(junk));
    assert.doesNotThrow(() => dnEquals(junk, junk.subarray(1)));
    assert.equal(verifyAuth(key, AuthMethod.DIGITAL_SIGNATURE, junk, junk).ok, false);
  }
  assert.ok(dnFromText('CN=x'));
});
