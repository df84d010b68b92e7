import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadGatewayConfig } from '../../src/config/gateway.js';
import { resolveConnection } from '../../src/ike/config.js';
import { TestPki } from '../ike/crypto/pki.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

test('the commented example loads into the IKE model', () => {
  const cfg = loadGatewayConfig(join(EXAMPLES, 'gateway-psk.yaml'));
  assert.equal(cfg.node.name, 'gw1');
  assert.deepEqual(cfg.ike.listen, ['198.51.100.2']);
  assert.equal(cfg.kernel.ipsec, 'auto');
  const conn = cfg.connections[0];
  assert.equal(conn.name, 'basestations');
  assert.deepEqual(conn.local.auth, { method: 'psk', secret: 'example-psk-change-me-0123' });
  assert.equal(conn.dpdDelay, 30);
  assert.equal(conn.ikeLifetime?.rekeyTime, 4 * 3600);
  assert.equal(conn.ikeLifetime?.randTime, 20 * 60);
  const r = resolveConnection(conn);
  assert.equal(r.children[0].name, 's1');
  assert.equal(r.children[0].replayWindow, 1024);
  assert.equal(r.ikeProposals.length, 2);
});

function loadText(yaml: string, files: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'segw-cfg-'));
  for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
  writeFileSync(join(dir, 'gw.yaml'), yaml);
  return loadGatewayConfig(join(dir, 'gw.yaml'));
}

const MINIMAL = `
node: { name: gw1 }
ike: { listen: [198.51.100.2] }
connections:
  bs:
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: secret-0123456789
    ikeProposals: aes128gcm16-prfsha256-ecp256
    children:
      s1: { localTs: 192.0.2.128/25, remoteTs: dynamic, espProposals: aes128gcm16 }
`;

test('a minimal config gets defaults; a single value is accepted where a list is expected', () => {
  const cfg = loadText(MINIMAL);
  assert.equal(cfg.ike.port, 500);
  assert.equal(cfg.ike.nattPort, 4500);
  assert.equal(cfg.kernel.routes.enabled, true);
  assert.deepEqual(cfg.connections[0].ikeProposals, ['aes128gcm16-prfsha256-ecp256']);
});

test('bad configs fail with the exact path and what to do', () => {
  const cases: [string, RegExp][] = [
    [MINIMAL.replace('ike: {', 'ikee: {'), /ikee: unknown key \(did you mean "ike"\?\)/],
    [MINIMAL.replace('listen: [198.51.100.2]', 'listen: [198.51.100.300]'), /ike\.listen\[0\]: expected an IP address/],
    [MINIMAL.replace('aes128gcm16-prfsha256-ecp256', 'aes128gcm16-prfsha256-ecp999'), /connections\.bs: .*ecp999/],
    [MINIMAL.replace('espProposals: aes128gcm16', 'espProposals: rot13'), /connections\.bs: .*rot13/],
    [MINIMAL.replace('psk: secret-0123456789', ''), /connections\.bs: local\.auth is psk: set psk or pskFile/],
    [MINIMAL.replace('remoteTs: dynamic', 'remoteTs: 192.0.2.0/33'), /connections\.bs/],
    [MINIMAL.replace('node: { name: gw1 }', ''), /node: is required/],
    [MINIMAL + '\n  bs2: 7\n', /connections\.bs2: expected a mapping/],
    ['node: [', /gw\.yaml:\d+:\d+/],
  ];
  for (const [yaml, re] of cases) {
    assert.throws(() => loadText(yaml), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SEGW_CONFIG', err.message);
      assert.match(err.message, re);
      return true;
    });
  }
});

test('pubkey auth reads certificate and key files relative to the config; missing files are named', () => {
  const yaml = MINIMAL.replace('local: { id: gw.example, auth: psk }', 'local: { id: gw.example, auth: pubkey, certs: [gw.pem], privateKey: gw.key }')
    .replace('remote: { auth: psk }', 'remote: { auth: pubkey, cacerts: ca.pem }')
    .replace('psk: secret-0123456789', '');
  const cfg = loadText(yaml, { 'gw.pem': 'CERT', 'gw.key': 'KEY', 'ca.pem': 'CA' });
  assert.deepEqual(cfg.connections[0].local.auth, { method: 'pubkey', certs: ['CERT'], privateKey: 'KEY' });
  assert.deepEqual(cfg.connections[0].remote.auth, { method: 'pubkey', cacerts: ['CA'] });
  assert.throws(() => loadText(yaml, { 'gw.pem': 'CERT', 'ca.pem': 'CA' }), /connections\.bs\.local\.privateKey: cannot read .*gw\.key/);
});

test('remote CRL files: resolved next to the config and loaded at start; a bad or misplaced one is named', () => {
  const pki = new TestPki();
  try {
    const ca = pki.selfSigned('C=CH, O=segw test, CN=Config CA', 'ecdsa', 256);
    const yaml = MINIMAL.replace('local: { id: gw.example, auth: psk }', 'local: { id: gw.example, auth: pubkey, certs: [gw.pem], privateKey: gw.key }')
      .replace('remote: { auth: psk }', 'remote: { auth: pubkey, cacerts: ca.pem, crls: [ca.crl] }')
      .replace('psk: secret-0123456789', '');
    const files = { 'gw.pem': 'CERT', 'gw.key': 'KEY', 'ca.pem': 'CA' };
    const dir = mkdtempSync(join(tmpdir(), 'segw-cfg-'));
    writeFileSync(join(dir, 'ca.crl'), pki.crl(ca, ['01'], [], 'der'));
    for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
    writeFileSync(join(dir, 'gw.yaml'), yaml);
    const auth = loadGatewayConfig(join(dir, 'gw.yaml')).connections[0].remote.auth;
    assert.deepEqual(auth, { method: 'pubkey', cacerts: ['CA'], crlFiles: [join(dir, 'ca.crl')] });
    writeFileSync(join(dir, 'ca.crl'), 'not a CRL');
    assert.throws(() => loadGatewayConfig(join(dir, 'gw.yaml')), /connections\.bs\.remote\.crls: .*ca\.crl: not a DER X\.509 CRL/);
    assert.throws(() => loadText(yaml, files), /connections\.bs\.remote\.crls: .*ca\.crl: cannot read the CRL file/);
    const onPsk = MINIMAL.replace('remote: { auth: psk }', 'remote: { auth: psk, crls: [ca.crl] }');
    assert.throws(() => loadText(onPsk), /connections\.bs\.remote\.crls: CRLs check the peer's certificates/);
  } finally {
    pki.cleanup();
  }
});

test('kernel.routes.maxPerChild: default 64, configurable, at least 1', () => {
  assert.equal(loadText(MINIMAL).kernel.routes.maxPerChild, 64);
  const set = MINIMAL + 'kernel: { routes: { maxPerChild: 8 } }\n';
  assert.equal(loadText(set).kernel.routes.maxPerChild, 8);
  assert.throws(() => loadText(MINIMAL + 'kernel: { routes: { maxPerChild: 0 } }\n'), /kernel\.routes\.maxPerChild/);
});
