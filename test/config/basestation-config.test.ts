/** `segw basestation`'s config: the gateway's keys plus initiate and reconnect. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadBasestationConfig } from '../../src/config/basestation.js';
import { ConfigError } from '../../src/errors.js';

const BS = `
node: { name: bs1 }
ike: { listen: [198.51.100.1] }
connections:
  tun:
    local: { id: bs1.example, auth: psk }
    remote: { id: gw.example, addrs: [198.51.100.2], auth: psk }
    psk: secret-0123456789
    ikeProposals: aes128gcm16-prfsha256-ecp256
    children:
      s1: { localTs: 192.0.2.0/25, remoteTs: 192.0.2.128/25, espProposals: aes128gcm16 }
`;

function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'segw-bs-cfg-'));
  try {
    writeFileSync(join(dir, 'bs.yaml'), yaml);
    return loadBasestationConfig(join(dir, 'bs.yaml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('reconnect: defaults, seconds or units, max defaults to at least initial', () => {
  const table: [reconnect: string, bounds: { initialMs: number; maxMs: number }][] = [
    ['', { initialMs: 1000, maxMs: 60_000 }],
    ['reconnect: { initial: 2, max: 5m }', { initialMs: 2000, maxMs: 300_000 }],
    ['reconnect: { initial: 250ms }', { initialMs: 250, maxMs: 60_000 }],
    ['reconnect: { initial: 2m }', { initialMs: 120_000, maxMs: 120_000 }],
    ['reconnect: { max: 10s }', { initialMs: 1000, maxMs: 10_000 }],
  ];
  for (const [line, bounds] of table) {
    const cfg = load(`${BS}${line}\n`);
    assert.deepEqual(cfg.reconnect, bounds, line);
    assert.deepEqual(cfg.initiate, ['tun']);
  }
});

test('bad reconnect bounds fail with the path and what is wrong', () => {
  const table: [reconnect: string, error: RegExp][] = [
    ['reconnect: { initial: 10s, max: 5s }', /reconnect\.max: 5 s is below reconnect\.initial \(10 s\)/],
    ['reconnect: { initial: 0 }', /reconnect\.initial: .*outside/],
    ['reconnect: { initial: soon }', /reconnect\.initial: expected a duration/],
    ['reconnect: { inital: 1 }', /reconnect\.inital: unknown key \(did you mean "initial"\?\)/],
  ];
  for (const [line, error] of table) assert.throws(() => load(`${BS}${line}\n`), (e: unknown) => e instanceof ConfigError && error.test(e.message), line);
});
