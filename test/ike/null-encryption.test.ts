// RFC 4303 §3.2 makes integrity-only ESP a MUST; segw does not offer it on purpose (every tunnel
// is encrypted: docs/conformance.md). A configuration that asks for it is refused when it loads,
// naming the proposal, rather than silently running unencrypted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConnection } from '../../src/ike/config.js';

test('an ESP proposal with NULL encryption is refused at configuration time, naming it', () => {
  const base = {
    name: 'c',
    local: { auth: { method: 'psk' as const, secret: 'x' } },
    remote: { auth: { method: 'psk' as const, secret: 'x' } },
    ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
    children: [{ name: 'k', localTs: ['203.0.113.0/24'], remoteTs: ['198.51.100.0/24'], espProposals: ['aes128gcm16'] }],
  };
  assert.ok(resolveConnection(base));
  for (const p of ['null-sha256', 'null-sha256-esn']) {
    assert.throws(() => resolveConnection({ ...base, children: [{ ...base.children[0]!, espProposals: [p] }] }), new RegExp(`proposal "${p}": unknown algorithm "null"`));
  }
});
