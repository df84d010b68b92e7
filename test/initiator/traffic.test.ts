/**
 * Which simulated base stations carry traffic, and from which inner address.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { innerAddress, trafficIndices } from '../../src/initiator/traffic.js';
import { TrafficError } from '../../src/initiator/traffic-kernel.js';

test('K traffic base stations spread evenly over N, first included', () => {
  assert.deepEqual(trafficIndices(200, 10), [0, 20, 40, 60, 80, 100, 120, 140, 160, 180]);
  assert.deepEqual(trafficIndices(5, 5), [0, 1, 2, 3, 4]);
  assert.deepEqual(trafficIndices(7, 3), [0, 2, 4]);
  assert.throws(() => trafficIndices(5, 6), TrafficError);
  assert.throws(() => trafficIndices(5, 0), /between 1 and the 5/);
});

test('inner address: the subnet itself for a host subnet, else its first host', () => {
  assert.equal(innerAddress('198.18.0.42/32'), '198.18.0.42');
  assert.equal(innerAddress('198.18.1.0/24'), '198.18.1.1');
  assert.equal(innerAddress('198.18.1.4/31'), '198.18.1.4');
  assert.equal(innerAddress('2001:db8:1000::/64'), '2001:db8:1000::1');
  assert.equal(innerAddress('2001:db8:1000::7/128'), '2001:db8:1000::7');
});
