import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon } from '../../src/native/addon.js';

test('the addon built by npm ci loads and calls into the OpenSSL inside node', () => {
  const addon = loadAddon();
  assert.ok(addon.components.includes('info'));
  // Same library at run time as the headers at build time, and the same one node:crypto uses.
  assert.equal(addon.opensslVersion(), addon.opensslHeaderVersion);
  assert.ok(addon.opensslVersion().includes(process.versions.openssl), addon.opensslVersion());
});
