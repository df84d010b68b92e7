import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar } from '../../../src/ike/sa/cookie.js';
import { ManualClock } from '../../../src/ike/scheduler.js';

test('cookies verify for the same Ni, address and SPIi, across one rotation only', () => {
  const clock = new ManualClock(0);
  const jar = new CookieJar(clock, 1000);
  const ni = Buffer.alloc(32, 1);
  const spi = Buffer.alloc(8, 2);
  const c = jar.make(ni, '192.0.2.7', spi);
  assert.ok(jar.verify(c, ni, '192.0.2.7', spi));
  assert.ok(!jar.verify(c, ni, '192.0.2.8', spi));
  assert.ok(!jar.verify(c, Buffer.alloc(32, 3), '192.0.2.7', spi));
  clock.set(1000);
  assert.ok(jar.verify(c, ni, '192.0.2.7', spi), 'previous secret still accepted');
  clock.set(2000);
  assert.ok(!jar.verify(c, ni, '192.0.2.7', spi), 'two rotations later it is stale');
  assert.ok(!jar.verify(Buffer.alloc(5), ni, '192.0.2.7', spi));
});
