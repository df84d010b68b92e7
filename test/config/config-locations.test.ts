/**
 * A wrong config names the file, the line and column of the key, and the key's path, in the
 * form editors and CI annotations read: `gw.yaml:12:5: connections.bs.remote.auth: ...`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfig } from '../../src/config/gateway.js';
import { LocatedConfigError } from '../../src/config/load.js';

// Line numbers below are this text's (line 1 is "node:").
const GOOD = `node:
  name: gw1
ike:
  listen: [198.51.100.2]
connections:
  bs:
    local: { id: gw.example, auth: psk }
    remote:
      id: '%any'
      auth: psk
    pskFile: psk.txt
    ikeProposals: [aes128gcm16-prfsha256-ecp256]
    children:
      s1.a:
        localTs: [192.0.2.128/25]
        remoteTs: [dynamic]
        espProposals: [aes128gcm16]
`;

function load(yaml: string, files: Record<string, string> = { 'psk.txt': 'a-long-enough-secret\n' }): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'segw-loc-'));
  try {
    for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c, { mode: 0o600 });
    writeFileSync(join(dir, 'gw.yaml'), yaml);
    return loadGatewayConfig(join(dir, 'gw.yaml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function located(yaml: string, files?: Record<string, string>): LocatedConfigError {
  try {
    load(yaml, files);
  } catch (err) {
    assert.ok(err instanceof LocatedConfigError, `a located error, got ${String(err)}`);
    assert.equal(err.code, 'SEGW_CONFIG');
    return err;
  }
  assert.fail('the config loaded');
}

test('the good file loads', () => {
  assert.ok(load(GOOD));
});

const cases: { what: string; edit: (t: string) => string; files?: Record<string, string>; key: string; line: number; col: number; detail: RegExp }[] = [
  {
    what: 'unknown key (with a suggestion)',
    edit: (t) => t.replace('    pskFile:', '    pskFlie:'),
    key: 'connections.bs.pskFlie',
    line: 11,
    col: 5,
    detail: /unknown key \(did you mean "pskFile"\?\)/,
  },
  {
    what: 'wrong type',
    edit: (t) => t.replace('      auth: psk\n    pskFile', '      auth: [psk]\n    pskFile'),
    key: 'connections.bs.remote.auth',
    line: 10,
    col: 7,
    detail: /expected one of/,
  },
  {
    what: 'bad address in a list',
    edit: (t) => t.replace('listen: [198.51.100.2]', 'listen: [198.51.100.2, 198.51.100.300]'),
    key: 'ike.listen[1]',
    line: 4,
    col: 26,
    detail: /expected an IP address, got "198\.51\.100\.300"/,
  },
  {
    what: 'missing key file',
    edit: (t) => t,
    files: {},
    key: 'connections.bs.pskFile',
    line: 11,
    col: 5,
    detail: /cannot read .*psk\.txt/,
  },
  {
    what: 'missing required key (points at its mapping)',
    edit: (t) => t.replace('        espProposals: [aes128gcm16]\n', ''),
    key: 'connections.bs.children.s1.a.espProposals',
    line: 14,
    col: 7,
    detail: /is required/,
  },
];

for (const c of cases) {
  test(`${c.what}: file:line:col: key: detail`, () => {
    const err = located(c.edit(GOOD), c.files);
    assert.equal(err.key, c.key);
    assert.deepEqual(err.position, { line: c.line, col: c.col });
    assert.match(err.message, new RegExp(`^/.*/gw\\.yaml:${c.line}:${c.col}: ${c.key.replace(/[.[\]]/g, '\\$&')}: `));
    assert.match(err.detail, c.detail);
  });
}
