/**
 * The simulator's `traffic:` section and --traffic K: defaults, the override, and errors that
 * name the key and say what to change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadSimulateConfig } from '../../src/config/simulate.js';

function load(traffic: unknown, count?: number, override?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'segw-simtraffic-'));
  try {
    const file = join(dir, 'sim.yaml');
    writeFileSync(file, stringify({
      simulate: {
        count: 100, endpoints: ['198.51.100.100'], 'subnet-pool': '198.18.0.0/16', psk: 'p', clusters: ['198.51.100.10'],
        'remote-ts': ['192.0.2.0/24'], arrival: { rate: 10 }, ...(traffic === undefined ? {} : { traffic }),
      },
    }));
    return loadSimulateConfig(file, count, override);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('traffic: defaults, and --traffic K overrides the count (0: none)', () => {
  assert.equal(load(undefined).traffic, undefined, 'no section: no traffic');
  assert.deepEqual(load({ target: '192.0.2.1' }).traffic, { count: 10, target: '192.0.2.1', port: 7, intervalMs: 1000, tun: 'segwsim0', threads: 1 });
  assert.deepEqual(load({ count: 3, target: '192.0.2.1', port: 7007, interval: '250ms', tun: 'simtun', threads: 2 }).traffic, { count: 3, target: '192.0.2.1', port: 7007, intervalMs: 250, tun: 'simtun', threads: 2 });
  assert.equal(load({ count: 3, target: '192.0.2.1' }, undefined, 20).traffic?.count, 20);
  assert.equal(load({ count: 3, target: '192.0.2.1' }, undefined, 0).traffic, undefined);
});

test('traffic: errors name the key and what to change', () => {
  assert.throws(() => load(undefined, undefined, 5), /simulate\.traffic.*--traffic 5 needs a traffic: section/);
  assert.throws(() => load({ target: '203.0.113.1' }), /simulate\.traffic\.target.*outside remote-ts \(192\.0\.2\.0\/24\)/);
  assert.throws(() => load({ count: 101, target: '192.0.2.1' }), /simulate\.traffic\.count.*101 traffic base stations, but only 100/);
  assert.throws(() => load({ count: 50, target: '192.0.2.1' }, 20), /only 20 are simulated/, '--simulate N counts');
  assert.throws(() => load({ target: '192.0.2.1', tun: 'a-very-long-tun-name' }), /simulate\.traffic\.tun/);
  assert.throws(() => load({ target: 'echo.example' }), /simulate\.traffic\.target/);
});
