/** The base-station plan: identities, subnets from the pool, endpoint assignment, limits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InitiatorError, Population, connectionName, indexOfConnection } from '../../src/initiator/population.js';
import { percentile, summarize } from '../../src/initiator/stats.js';

const ep = (address: string) => ({ address });

test('base station i: identity, its own /32 of the pool, endpoints round-robin', () => {
  const p = new Population({ count: 100_000, subnetPool: '198.18.0.0/15', endpoints: [ep('198.51.100.10'), ep('198.51.100.11'), ep('198.51.100.12')] });
  assert.deepEqual(p.get(0), { index: 0, name: 'bs0', identity: 'bs-000000.ran.segw.example', subnet: '198.18.0.0/32', endpoint: 0 });
  assert.deepEqual(p.get(99_999), { index: 99_999, name: 'bs99999', identity: 'bs-099999.ran.segw.example', subnet: '198.19.134.159/32', endpoint: 0 });
  assert.equal(p.get(257).subnet, '198.18.1.1/32');
  assert.equal(p.get(4).endpoint, 1);
  assert.throws(() => p.get(100_000), RangeError);
});

test('subnet length, IPv6 pools, a host-bits pool base, custom identities', () => {
  const p = new Population({ count: 10, subnetPool: '198.18.0.77/24', subnetLength: 28, endpoints: [ep('198.51.100.10')], identity: (i) => `bs${i}@ran.example` });
  assert.equal(p.get(0).subnet, '198.18.0.0/28');
  assert.equal(p.get(9).subnet, '198.18.0.144/28');
  assert.equal(p.get(9).identity, 'bs9@ran.example');
  const v6 = new Population({ count: 3, subnetPool: '2001:db8:1000::/36', subnetLength: 64, endpoints: [ep('2001:db8::10')] });
  assert.equal(v6.get(2).subnet, '2001:db8:1000:2::/64');
});

test('a pool too small, bad lengths, no endpoints: InitiatorError naming the option', () => {
  const bad = [
    () => new Population({ count: 257, subnetPool: '198.18.0.0/24', endpoints: [ep('198.51.100.10')] }),
    () => new Population({ count: 1, subnetPool: '198.18.0.0/24', subnetLength: 20, endpoints: [ep('198.51.100.10')] }),
    () => new Population({ count: 1, subnetPool: '198.18.0.0', endpoints: [ep('198.51.100.10')] }),
    () => new Population({ count: 1, subnetPool: '198.18.0.0/24', endpoints: [] }),
    () => new Population({ count: 1, subnetPool: '198.18.0.0/24', endpoints: [ep('gw.example')] }),
  ];
  for (const f of bad) {
    assert.throws(f, (e: unknown) => e instanceof InitiatorError && e.code === 'SEGW_INITIATOR');
  }
  assert.equal(new Population({ count: 256, subnetPool: '198.18.0.0/24', endpoints: [ep('198.51.100.10')] }).count, 256);
});

test('connection names map back to indices', () => {
  assert.equal(indexOfConnection(connectionName(12345)), 12345);
  assert.ok(Number.isNaN(indexOfConnection('gw')));
});

test('latency summary: nearest-rank percentiles, NaN (unfinished) skipped', () => {
  const s = summarize([5, 1, NaN, 3, 2, 4]);
  assert.deepEqual(s, { count: 5, minMs: 1, meanMs: 3, p50Ms: 3, p90Ms: 5, p99Ms: 5, maxMs: 5 });
  assert.equal(percentile(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 90), 9);
  assert.equal(summarize([]).count, 0);
});
