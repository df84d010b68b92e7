/** What a SIGHUP may change: connections and log.level; every other key is named and refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { planReload } from '../../src/gateway/reload.js';

const conn = (id: string) => ({
  local: { id: 'gw.example', auth: 'psk' },
  remote: { id, auth: 'psk' },
  psk: 'x-secret-x',
  ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
  children: { s1: { localTs: ['192.0.2.128/25'], remoteTs: ['dynamic'], espProposals: ['aes128gcm16'] } },
});
const base = { node: { name: 'gw7' }, ike: { listen: ['198.51.100.2'] }, connections: { a: conn('a.example') } };
const doc = (d: Record<string, unknown>) => parseGatewayConfig(d, '/etc/segw/gw.yaml').document;

test('connections (added, removed, changed) and log.level are reloadable', () => {
  const plan = planReload(doc(base), doc({ ...base, log: { level: 'debug' }, connections: { b: conn('b.example') } }));
  assert.deepEqual(plan, { ok: true, added: ['b'], removed: ['a'], kept: [], logLevel: { from: 'info', to: 'debug' } });
  const changed = planReload(doc(base), doc({ ...base, connections: { a: { ...conn('a.example'), dpd: '30s' } } }));
  assert.deepEqual(changed, { ok: true, added: [], removed: [], kept: ['a'] });
});

test('every other difference is refused with its path; a default written out is no difference', () => {
  const next = {
    ...base,
    ike: { listen: ['198.51.100.3'], port: 500 },
    kernel: { routes: { metric: 7 } },
    log: { file: '/var/log/segw.log' },
    control: { socket: '/run/other.sock' },
    connections: { b: conn('b.example') },
  };
  assert.deepEqual(planReload(doc(base), doc(next)), {
    ok: false,
    restartOnly: ['log.file', 'ike.listen', 'kernel', 'control'],
  });
  assert.deepEqual(planReload(doc({ ...base, kernel: { routes: { metric: 1 } } }), doc({ ...base, kernel: { routes: { metric: 2 } } })), {
    ok: false,
    restartOnly: ['kernel.routes.metric'],
  });
});

test('metrics.listen is restart-only: a reload naming another address is refused by that key', () => {
  const m = (listen: string) => doc({ ...base, metrics: { listen } });
  assert.deepEqual(planReload(m('127.0.0.1:9101'), m('127.0.0.1:9102')), { ok: false, restartOnly: ['metrics.listen'] });
  assert.deepEqual(planReload(doc(base), m('127.0.0.1:9101')), { ok: false, restartOnly: ['metrics'] });
});
