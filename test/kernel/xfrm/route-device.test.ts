// Where injected routes point on the XFRM data plane without routes.via/dev: the interface of
// ike.listen when there is exactly one (src/kernel/xfrm/route-device.ts); otherwise a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listenDevice, requireListenDevice } from '../../../src/kernel/xfrm/route-device.js';
import { ConfigError } from '../../../src/errors.js';

const addrs = [
  { dev: 'lo', address: '127.0.0.1/8' },
  { dev: 'eth0', address: '198.51.100.2/24' },
  { dev: 'eth0', address: '2001:db8:1::2/64' },
  { dev: 'eth1', address: '203.0.113.2/24' },
];

test('listenDevice: the one interface holding every listen address', () => {
  assert.deepEqual(listenDevice(['198.51.100.2'], addrs), { dev: 'eth0' });
  assert.deepEqual(listenDevice(['198.51.100.2', '2001:db8:1::2'], addrs), { dev: 'eth0' });
});

test('listenDevice: addresses on two interfaces, or on none, give the reason', () => {
  assert.deepEqual(listenDevice(['198.51.100.2', '203.0.113.2'], addrs), {
    reason: 'ike.listen addresses are on eth0 and eth1: the kernel cannot tell which one the routes take',
  });
  assert.deepEqual(listenDevice(['192.0.2.9'], addrs), { reason: 'ike.listen address 192.0.2.9 is not an address of any interface in segw\'s namespace' });
  assert.throws(() => requireListenDevice(['198.51.100.2', '203.0.113.2'], addrs), (e: unknown) => e instanceof ConfigError && /set routes\.dev/.test(e.message));
  assert.equal(requireListenDevice(['203.0.113.2'], addrs), 'eth1');
});
