/**
 * YAML aliases in a config (found by the config fuzz target, test/fuzz/targets/config.ts): an
 * alias to an anchor that is not defined, or one that expands past the alias limit, used to
 * escape the loader as the yaml library's ReferenceError instead of a ConfigError naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadGatewayConfig } from '../../src/config/gateway.js';
import { ConfigError } from '../../src/errors.js';

function load(yaml: string): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'segw-cfg-'));
  try {
    writeFileSync(join(dir, 'gw.yaml'), yaml);
    return loadGatewayConfig(join(dir, 'gw.yaml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an alias to an undefined anchor is a ConfigError naming the file, not a ReferenceError', () => {
  assert.throws(
    () => load('node: { name: gw1 }\nike: { listen: [198.51.100.2] }\nconnections:\n  bs:\n    remote: { id: *nowhere }\n'),
    (err: unknown) => err instanceof ConfigError && /gw\.yaml: .*alias/i.test(err.message) && err.code === 'SEGW_CONFIG',
  );
});

test('an alias expansion past the limit (a "billion laughs" file) is a ConfigError', () => {
  let yaml = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 12; i++) yaml += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  assert.throws(() => load(yaml), (err: unknown) => err instanceof ConfigError && /gw\.yaml: /.test(err.message));
});
