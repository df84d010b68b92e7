import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadGatewayConfig } from '../../src/config/gateway.js';
import { TestPki } from '../ike/crypto/pki.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

test('the commented example loads into the resolved IKE model (units converted once)', () => {
  const cfg = loadGatewayConfig(join(EXAMPLES, 'gateway-psk.yaml'));
  assert.equal(cfg.node.name, 'gw1');
  assert.deepEqual(cfg.ike.listen, ['198.51.100.2']);
  assert.equal(cfg.kernel.ipsec, 'auto');
  const r = cfg.connections[0];
  assert.equal(r.name, 'basestations');
  assert.deepEqual(r.cfg.local.auth, { method: 'psk', secret: 'example-psk-change-me-0123' });
  assert.equal(r.dpdMs, 30_000);
  assert.deepEqual(r.ikeLifetime, { rekeyMs: 4 * 3600_000, randMs: 20 * 60_000, lifeMs: 4 * 3600_000 * 1.1 });
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
  assert.deepEqual(cfg.connections[0].cfg.ikeProposals, ['aes128gcm16-prfsha256-ecp256']);
  assert.equal(cfg.connections[0].ikeProposals.length, 1);
});

test('bad configs fail with the exact path and what to do', () => {
  const cases: [string, RegExp][] = [
    [MINIMAL.replace('ike: {', 'ikee: {'), /ikee: unknown key \(did you mean "ike"\?\)/],
    [MINIMAL.replace('listen: [198.51.100.2]', 'listen: [198.51.100.300]'), /ike\.listen\[0\]: expected an IP address/],
    [MINIMAL.replace('aes128gcm16-prfsha256-ecp256', 'aes128gcm16-prfsha256-ecp999'), /connections\.bs\.ikeProposals: .*ecp999/],
    [MINIMAL.replace('espProposals: aes128gcm16', 'espProposals: rot13'), /connections\.bs\.children\.s1\.espProposals: .*rot13/],
    [MINIMAL.replace('psk: secret-0123456789', ''), /connections\.bs: local\.auth is psk: set psk or pskFile/],
    [MINIMAL.replace('remoteTs: dynamic', 'remoteTs: 192.0.2.0/33'), /connections\.bs\.children\.s1\.remoteTs\[0\]: .*prefix length/],
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

/** Real certificate files (pki): the loader parses them, so placeholders would be refused. */
function pkiFiles(pki: TestPki) {
  const ca = pki.selfSigned('C=CH, O=segw test, CN=Config CA', 'ecdsa', 256);
  const gw = pki.issue(ca, 'C=CH, O=segw test, CN=gw.example', 'ecdsa', 256);
  const read = (f: string) => readFileSync(f, 'utf8');
  return { ca, files: { 'gw.pem': read(gw.certFile), 'gw.key': read(gw.keyFile), 'ca.pem': read(ca.certFile) } };
}

const PUBKEY = MINIMAL.replace('local: { id: gw.example, auth: psk }', 'local: { id: gw.example, auth: pubkey, certs: [gw.pem], privateKey: gw.key }')
  .replace('psk: secret-0123456789', '');

test('pubkey auth reads and parses certificate and key files relative to the config; missing or bad files are named', () => {
  const pki = new TestPki();
  try {
    const { files } = pkiFiles(pki);
    const yaml = PUBKEY.replace('remote: { auth: psk }', 'remote: { auth: pubkey, cacerts: ca.pem }');
    const cfg = loadText(yaml, files);
    assert.deepEqual(cfg.connections[0].cfg.local.auth, { method: 'pubkey', certs: [files['gw.pem']], privateKey: files['gw.key'] });
    assert.deepEqual(cfg.connections[0].cfg.remote.auth, { method: 'pubkey', cacerts: [files['ca.pem']] });
    const { 'gw.key': _key, ...noKey } = files;
    assert.throws(() => loadText(yaml, noKey), /connections\.bs\.local\.privateKey: cannot read .*gw\.key/);
    // Placeholders pass no more: --check parses what IKE_AUTH would.
    assert.throws(() => loadText(yaml, { ...files, 'gw.key': 'KEY' }), /connections\.bs\.local\.privateKey: .*gw\.key is not a private key in PEM/);
    assert.throws(() => loadText(yaml, { ...files, 'gw.pem': 'CERT' }), /connections\.bs\.local\.certs\[0\]: .*gw\.pem: not a PEM or DER X\.509 certificate/);
    assert.throws(() => loadText(yaml, { ...files, 'ca.pem': 'CA' }), /connections\.bs\.remote\.cacerts\[0\]: .*ca\.pem: not a PEM or DER X\.509 certificate/);
  } finally {
    pki.cleanup();
  }
});

test('remote CRL files: resolved next to the config and loaded at start; a bad or misplaced one is named', () => {
  const pki = new TestPki();
  try {
    const { ca, files } = pkiFiles(pki);
    const yaml = PUBKEY.replace('remote: { auth: psk }', 'remote: { auth: pubkey, cacerts: ca.pem, crls: [ca.crl] }');
    const dir = mkdtempSync(join(tmpdir(), 'segw-cfg-'));
    writeFileSync(join(dir, 'ca.crl'), pki.crl(ca, ['01'], [], 'der'));
    for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
    writeFileSync(join(dir, 'gw.yaml'), yaml);
    const auth = loadGatewayConfig(join(dir, 'gw.yaml')).connections[0].cfg.remote.auth;
    assert.deepEqual(auth, { method: 'pubkey', cacerts: [files['ca.pem']], crlFiles: [join(dir, 'ca.crl')] });
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

const withChildLifetime = (l: string) => MINIMAL.replace('espProposals: aes128gcm16 }', `espProposals: aes128gcm16, lifetime: ${l} }`);

test('lifetimes: errors name the config keys (children.s1.lifetime.jitter), never internal names', () => {
  const cases: [string, RegExp][] = [
    [withChildLifetime('{ rekey: 1h, jitter: 1h }'), /^connections\.bs\.children\.s1\.lifetime\.jitter: 3600 s must be below rekey \(3600 s\)$/],
    [withChildLifetime('{ rekey: 1h, life: 30m }'), /^connections\.bs\.children\.s1\.lifetime\.life: 1800 s must be above rekey \(3600 s\)$/],
    [withChildLifetime('{ rekey: 0s, jitter: 5m }'), /^connections\.bs\.children\.s1\.lifetime\.jitter: has no meaning with rekey 0 \(never rekey\)/],
    [MINIMAL.replace('ikeProposals:', 'ikeLifetime: { rekey: 4h, jitter: 5h }\n    ikeProposals:'), /^connections\.bs\.ikeLifetime\.jitter: /],
    [MINIMAL.replace('ikeProposals:', 'retransmit: { timeout: 10s, maxInterval: 5s }\n    ikeProposals:'), /^connections\.bs\.retransmit\.maxInterval: must not be below timeout$/],
  ];
  for (const [yaml, re] of cases) {
    assert.throws(() => loadText(yaml), (err: Error) => {
      assert.match(err.message, re);
      assert.doesNotMatch(err.message, /randTime|rekeyTime|lifeTime|Ms\b/);
      return true;
    });
  }
});

test('rekey: 0s is defined: never rekey, and no hard expiry unless life is set', () => {
  const never = loadText(withChildLifetime('{ rekey: 0s }')).connections[0].children[0].lifetime;
  assert.deepEqual(never, { rekeyMs: 0, randMs: 0, lifeMs: 0 });
  const expiring = loadText(withChildLifetime('{ rekey: 0, life: 8h }')).connections[0].children[0].lifetime;
  assert.deepEqual(expiring, { rekeyMs: 0, randMs: 0, lifeMs: 8 * 3600_000 });
});

test('log.file: a missing directory, a directory, or a /proc file fail at load (--check) naming log.file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segw-cfg-'));
  const withLog = (f: string) => MINIMAL.replace('node: { name: gw1 }', `node: { name: gw1 }\nlog: { file: ${JSON.stringify(f)} }`);
  const cases: [string, RegExp][] = [
    [join(dir, 'nope', 'gw.log'), /^\/.*\.yaml:\d+:\d+: log\.file: cannot use .*nope\/gw\.log: the directory .*nope does not exist \(create it\)$/],
    [dir, /^\/.*\.yaml:\d+:\d+: log\.file: .* is a directory: name a file in it$/],
    ['/proc/version', /^\/.*\.yaml:\d+:\d+: log\.file: \/proc\/version is on proc, not a file system a log can be written to$/],
  ];
  for (const [f, re] of cases) assert.throws(() => loadText(withLog(f)), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'SEGW_CONFIG');
    assert.match(err.message, re);
    return true;
  });
  const ok = loadText(withLog('gw.log'));
  assert.match(ok.log.file!, /^\/.*\/gw\.log$/, 'a relative log.file is taken from the config directory');
});

test('control.socket: under a file, or on a path that is not a socket, fails at load naming control.socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segw-cfg-'));
  writeFileSync(join(dir, 'plain'), 'x');
  const withSock = (s: string) => `${MINIMAL}\ncontrol: { socket: ${JSON.stringify(s)} }\n`;
  assert.throws(() => loadText(withSock('/dev/null/x.sock')), /control\.socket: cannot use \/dev\/null\/x\.sock: \/dev\/null is not a directory$/);
  assert.throws(() => loadText(withSock(join(dir, 'plain'))), /control\.socket: .*plain exists and is not a socket/);
  assert.equal(loadText(withSock(join(dir, 'new', 'gw.sock'))).control?.socket, join(dir, 'new', 'gw.sock'), 'a missing directory is created at start');
});

test('a pskFile or privateKey readable by others is a warning (not an error)', () => {
  const yaml = MINIMAL.replace('psk: secret-0123456789', 'pskFile: psk.txt');
  const dir = mkdtempSync(join(tmpdir(), 'segw-cfg-'));
  writeFileSync(join(dir, 'gw.yaml'), yaml);
  writeFileSync(join(dir, 'psk.txt'), 'secret-0123456789\n', { mode: 0o644 });
  chmodSync(join(dir, 'psk.txt'), 0o644);
  const open = loadGatewayConfig(join(dir, 'gw.yaml'));
  assert.equal(open.connections[0].cfg.local.auth.method === 'psk' && open.connections[0].cfg.local.auth.secret, 'secret-0123456789');
  assert.equal(open.warnings.length, 1);
  assert.match(open.warnings[0]!, /^connections\.bs\.pskFile: .*psk\.txt is mode 0644, readable by others than its owner: chmod 600 /);
  chmodSync(join(dir, 'psk.txt'), 0o600);
  assert.deepEqual(loadGatewayConfig(join(dir, 'gw.yaml')).warnings, []);
});

test('remote.port is the port an initiator sends to; local.port is refused (ike.port is where IKE listens)', () => {
  const withRemotePort = MINIMAL.replace('remote: { auth: psk }', 'remote: { auth: psk, addrs: [192.0.2.7], port: 4501 }');
  assert.equal(loadText(withRemotePort).connections[0].cfg.remotePort, 4501);
  assert.equal(loadText(MINIMAL).connections[0].cfg.remotePort, undefined);
  const withLocalPort = MINIMAL.replace('local: { id: gw.example, auth: psk }', 'local: { id: gw.example, auth: psk, port: 4500 }');
  assert.throws(() => loadText(withLocalPort), /connections\.bs\.local\.port: IKE listens on ike\.port and ike\.nattPort/);
});

test('a certificate key on the wrong end (or with psk) is refused, not ignored', () => {
  const cases: [string, RegExp][] = [
    [MINIMAL.replace('remote: { auth: psk }', 'remote: { auth: psk, certs: [bs.pem] }'), /connections\.bs\.remote\.certs: our certificate goes on the local end/],
    [MINIMAL.replace('local: { id: gw.example, auth: psk }', 'local: { id: gw.example, auth: psk, cacerts: [ca.pem] }'), /connections\.bs\.local\.cacerts: the CAs that anchor/],
    [MINIMAL.replace('local: { id: gw.example, auth: psk }', 'local: { id: gw.example, auth: psk, privateKey: gw.key }'), /connections\.bs\.local\.privateKey: our private key goes on the local end, with auth pubkey/],
  ];
  for (const [yaml, re] of cases) assert.throws(() => loadText(yaml), re);
});

test('metrics: off by default; listen takes address:port (IPv6 in brackets); a bad one names metrics.listen', () => {
  assert.equal(loadText(MINIMAL).metrics, undefined);
  const withMetrics = (listen: string) => loadText(`${MINIMAL}\nmetrics: { listen: ${JSON.stringify(listen)} }\n`);
  assert.deepEqual(withMetrics('127.0.0.1:9101').metrics, { enabled: true, host: '127.0.0.1', port: 9101 });
  assert.deepEqual(withMetrics('[2001:db8::1]:9101').metrics, { enabled: true, host: '2001:db8::1', port: 9101 });
  for (const bad of ['127.0.0.1', 'localhost:9101', '2001:db8::1:9101', '127.0.0.1:70000', '[127.0.0.1]:9101']) {
    assert.throws(() => withMetrics(bad), (err: Error) => /\.yaml:\d+:\d+: metrics\.listen: expected an address and port/.test(err.message), bad);
  }
});
