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

test('recovery: primary is remote.addrs[0], backups in order, failback never or a hold with probes, move-on notifies', () => {
  const none = load(BS);
  assert.equal(none.recovery.size, 0);
  const never = load(`${BS}recovery:\n  tun: { backups: [203.0.113.10, 203.0.113.20] }\n`);
  assert.deepEqual(never.recovery.get('tun'), { clusters: ['198.51.100.2', '203.0.113.10', '203.0.113.20'], failback: { mode: 'never' }, moveOn: [24, 43] });
  const hold = load(`${BS}recovery:\n  tun: { backups: 203.0.113.10, failback: 5m, probe: 10s, move-on: [TEMPORARY_FAILURE] }\n`);
  assert.deepEqual(hold.recovery.get('tun'), { clusters: ['198.51.100.2', '203.0.113.10'], failback: { mode: 'hold', holdMs: 300_000, probeMs: 10_000 }, moveOn: [43] });
  const dflt = load(`${BS}recovery:\n  tun: { backups: [203.0.113.10], failback: 0 }\n`);
  assert.deepEqual(dflt.recovery.get('tun')!.failback, { mode: 'hold', holdMs: 0, probeMs: 30_000 });
});

test('bad recovery fails with the path and what is wrong', () => {
  const table: [recovery: string, error: RegExp][] = [
    ['recovery:\n  other: { backups: [203.0.113.10] }', /recovery\.other: "other" is not a connection this base station initiates/],
    ['recovery:\n  tun: { backups: [198.51.100.2] }', /recovery\.tun\.backups: 198\.51\.100\.2 is listed twice/],
    ['recovery:\n  tun: { backups: [] }', /recovery\.tun\.backups/],
    ['recovery:\n  tun: { backups: [gw.example] }', /recovery\.tun\.backups\[0\]/],
    ['recovery:\n  tun: { backups: [203.0.113.10], failback: sometimes }', /recovery\.tun\.failback: expected "never" or a hold time/],
    ['recovery:\n  tun: { backups: [203.0.113.10], probe: 10s }', /recovery\.tun\.probe: probes are only sent with a fail-back hold time/],
    ['recovery:\n  tun: { backups: [203.0.113.10], move-on: [NOT_A_NOTIFY] }', /recovery\.tun\.move-on\[0\]: expected one of/],
  ];
  for (const [line, error] of table) assert.throws(() => load(`${BS}${line}\n`), (e: unknown) => e instanceof ConfigError && error.test(e.message), line);
});
