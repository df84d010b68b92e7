/** The `control:` key of gateway and base-station configs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../src/config/gateway.js';

const base = {
  node: { name: 'gw7' },
  ike: { listen: ['198.51.100.2'] },
  connections: {
    bs: {
      local: { id: 'gw.example', auth: 'psk' },
      remote: { id: '%any', auth: 'psk' },
      psk: 'x-secret-x',
      ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
      children: { s1: { localTs: ['192.0.2.128/25'], remoteTs: ['dynamic'], espProposals: ['aes128gcm16'] } },
    },
  },
};

test('control: on by default at /run/segw/<node>.sock; a path or enabled: false can be set', () => {
  assert.deepEqual(parseGatewayConfig(base, '/etc/segw/gw.yaml').control, { enabled: true, socket: '/run/segw/gw7.sock' });
  assert.deepEqual(parseGatewayConfig({ ...base, control: { socket: '/var/run/x.sock' } }, '/etc/segw/gw.yaml').control, {
    enabled: true,
    socket: '/var/run/x.sock',
  });
  assert.equal(parseGatewayConfig({ ...base, control: { enabled: false } }, '/etc/segw/gw.yaml').control?.enabled, false);
});

test('control.socket must be an absolute path short enough for a UNIX socket', () => {
  assert.throws(() => parseGatewayConfig({ ...base, control: { socket: 'relative.sock' } }, '/etc/segw/gw.yaml'), /control\.socket/);
  assert.throws(() => parseGatewayConfig({ ...base, control: { socket: `/${'a'.repeat(120)}` } }, '/etc/segw/gw.yaml'), /control\.socket/);
  assert.throws(() => parseGatewayConfig({ ...base, control: { sockett: '/x' } }, '/etc/segw/gw.yaml'), /sockett/);
});
