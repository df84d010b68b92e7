/**
 * Half-open exhaustion (RFC 7296 §2.6): IKE_SA_INIT requests beyond the half-open limits are
 * refused, counted and logged (rate limited); IPv6 sources are counted per /64; addresses that
 * completed IKE_AUTH before may use a reserve beyond halfOpenMax, so connected base stations get
 * back in while strangers fill the table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureLog } from '../support/log-capture.js';
import { Pair } from './harness.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import type { WireDatagram } from '../../src/ike/transport/memory.js';

/** The base station's IKE_SA_INIT request, taken off the wire (not delivered). */
async function initRequest(p: Pair): Promise<WireDatagram> {
  await p.bs.daemon.initiate('bs');
  await p.settle();
  const [d] = p.wire.dropAll();
  return d!;
}

/** Delivers `req` as if sent from each address; drops whatever is answered. */
async function from(p: Pair, req: WireDatagram, addrs: string[]): Promise<void> {
  for (const address of addrs) p.wire.deliver({ ...req, from: { address, port: 500 } });
  await p.settle();
  p.wire.dropAll();
}

const strangers = (n: number, base = '203.0.113') => Array.from({ length: n }, (_, i) => `${base}.${i + 1}`);

test('halfOpenMax reached: new IKE_SA_INIT refused, counted, and logged at warn, rate limited', async () => {
  const { log, lines } = captureLog('info');
  const p = new Pair({ gwDaemon: { log, settings: { halfOpenMax: 3, cookieThreshold: 1000 } } });
  await p.start();
  try {
    const req = await initRequest(p);
    await from(p, req, strangers(40));
    assert.equal(p.gw.daemon.manager.halfOpenCount, 3);
    assert.equal(p.gw.daemon.counters.half_open_limit, 37);
    const warned = lines.filter((l) => l.level === 'warn' && /IKE_SA_INIT refused: halfOpenMax reached/.test(String(l.msg)));
    assert.ok(warned.length >= 1, 'the operator is told');
    assert.ok(warned.length <= 10, `rate limited (${warned.length} lines for 37 refusals)`);
    assert.equal(warned[0]!.halfOpenMax, 3);
    assert.equal(warned[0]!.peer, '203.0.113.4');
  } finally {
    await p.stop();
  }
});

test('IPv6: half-open SAs are counted per /64, so one host cannot pose as many peers', async () => {
  const p = new Pair({ v6: true, gwDaemon: { settings: { halfOpenPerPeer: 2, cookieThreshold: 1000 } } });
  await p.start();
  try {
    const req = await initRequest(p);
    await from(p, req, ['2001:db8:5::1', '2001:db8:5::2', '2001:db8:5:0:ffff::3', '2001:db8:5::4']);
    assert.equal(p.gw.daemon.manager.halfOpenCount, 2, 'one /64: two at most');
    assert.equal(p.gw.daemon.counters.half_open_limit, 2);
    await from(p, req, ['2001:db8:6::1']);
    assert.equal(p.gw.daemon.manager.halfOpenCount, 3, 'another /64 is another source');
  } finally {
    await p.stop();
  }
});

test('a base station that authenticated before gets in while strangers hold every half-open slot', async () => {
  const p = new Pair({ gwDaemon: { settings: { halfOpenMax: 3, cookieThreshold: 1000 } } });
  await p.start();
  try {
    const first = await p.connect(); // 192.0.2.7 is now known
    await first.bsSa.destroy('base station restarts');
    const req = await initRequest(p);
    await from(p, req, strangers(5));
    assert.equal(p.gw.daemon.manager.halfOpenCount, 3, 'full');
    const again = await p.connect();
    assert.equal(again.bsSa.state, IkeState.ESTABLISHED, 'admitted from the reserve');
    assert.equal(p.gw.daemon.counters.half_open_reserve, 1);
    await from(p, req, strangers(2, '198.51.100'));
    assert.equal(p.gw.daemon.counters.half_open_limit, 4, 'strangers still refused');
  } finally {
    await p.stop();
  }
});
