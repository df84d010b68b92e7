// IKE on the ESP engine's NAT-T socket: a datagram the engine cannot send (sendmsg fails: no
// route to the peer, EPERM) is reported to the send-error handler and never thrown at IKE,
// where it would be taken for a bug and tear the IKE SA down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../../src/lab/lab.js';
import { UserspaceIpsec } from '../../../src/kernel/userspace/backend.js';
import { EngineIkeSocket } from '../../../src/kernel/userspace/ike-socket.js';
import type { NativeEspEngine } from '../../../src/kernel/userspace/native.js';
import type { Endpoint } from '../../../src/net/endpoint.js';

test('engine socket: a throwing sendIke is reported with the peer, not thrown', () => {
  let calls = 0;
  const engine = { sendIke: () => {
    calls++;
    throw new Error('esp engine: sendmsg: No route to host');
  } } as unknown as NativeEspEngine;
  const s = new EngineIkeSocket(engine, 0, { address: '192.0.2.1', port: 4500 });
  const seen: [string, Endpoint | undefined][] = [];
  s.setSendErrorHandler((err, remote) => seen.push([err.message, remote]));
  assert.doesNotThrow(() => s.send(Buffer.alloc(28), { address: '198.51.100.7', port: 4500 }));
  assert.equal(calls, 1);
  assert.deepEqual(seen, [['esp engine: sendmsg: No route to host', { address: '198.51.100.7', port: 4500 }]]);
  assert.equal(s.sendErrors, 1);
});

test('engine socket in a namespace: sending to an unroutable peer fails in sendmsg and is reported', { timeout: 60_000 }, async () => {
  await withLab('espike', async (lab) => {
    const a = await lab.host('a'), b = await lab.host('b');
    await lab.link(a, b, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    const ga = UserspaceIpsec.open({ netns: a.ns, udp: [{ address: '198.51.100.1', port: 4500 }] });
    try {
      const ike = ga.ikeSocket({ address: '198.51.100.1', port: 4500 });
      const seen: [string, Endpoint | undefined][] = [];
      ike.setSendErrorHandler((err, remote) => seen.push([err.message, remote]));
      // No route to 203.0.113.0/24 in a's namespace (only the link's /24).
      assert.doesNotThrow(() => ike.send(Buffer.alloc(100), { address: '203.0.113.9', port: 4500 }));
      assert.equal(seen.length, 1);
      assert.match(seen[0]![0], /unreachable|no route/i);
      assert.deepEqual(seen[0]![1], { address: '203.0.113.9', port: 4500 });
    } finally {
      await ga.close();
    }
  });
});
