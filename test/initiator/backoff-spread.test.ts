/**
 * 2,000 base stations (one IKE daemon, one ConnectionKeeper, the keeper's own back-off) lose
 * their gateway at the same instant and come back spread over the back-off window, not in one
 * burst. Both daemons run in one process on an in-memory wire and a manual clock; the jitter
 * comes from a seeded generator, so the histogram is the same every run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionKeeper } from '../../src/initiator/keeper.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import { ExchangeType, HeaderFlag } from '../../src/ike/constants.js';
import { decodeMessage } from '../../src/ike/codec/index.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { ManualClock, Scheduler } from '../../src/ike/scheduler.js';
import { MemoryWire } from '../../src/ike/transport/memory.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { logger } from '../../src/log/index.js';

const N = 2000;
const PSK = 'backoff spread test psk 0123456789';
const WINDOW_MS = 10_000;
const BINS = 10;

/** Mulberry32: a small seeded PRNG in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bsConn(i: number): ConnectionConfig {
  return {
    name: `bs${i}`,
    local: { id: `bs-${i}.ran.segw.example`, auth: { method: 'psk', secret: PSK } },
    remote: { addrs: ['192.0.2.1'], id: 'gw.segw.example', auth: { method: 'psk', secret: PSK } },
    ikeProposals: ['aes128gcm16-prfsha256-x25519'],
    ikeLifetime: { rekey: 0, life: 0 },
    children: [{ name: 'ran', localTs: [`198.18.${i >> 8}.${i & 255}/32`], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16'], lifetime: { rekey: 0, life: 0 } }],
  };
}

test(`${N} base stations after a gateway restart: new IKE_SA_INITs spread over the back-off window (arrival histogram), not one burst`, async () => {
  const clock = new ManualClock(1_000_000);
  const scheduler = new Scheduler(clock);
  const wire = new MemoryWire();
  const quiet = logger('test', { level: 'error' });
  const names = Array.from({ length: N }, (_, i) => `bs${i}`);
  const keeper = new ConnectionKeeper({ connections: names, bounds: { initialMs: WINDOW_MS, maxMs: 60_000 }, random: seeded(13), log: quiet });
  const bs = new IkeDaemon({
    connections: names.map((_, i) => bsConn(i)),
    kernel: new StubKernelIpsec({ recordOps: false }),
    sockets: [wire.socket({ address: '192.0.2.7', port: 500 }), wire.socket({ address: '192.0.2.7', port: 4500 })],
    scheduler,
    events: keeper.events,
    log: quiet,
  });
  const gw = new IkeDaemon({
    connections: [{
      name: 'gw',
      local: { id: 'gw.segw.example', auth: { method: 'psk', secret: PSK } },
      remote: { addrs: ['%any'], id: '%any', auth: { method: 'psk', secret: PSK } },
      ikeProposals: ['aes128gcm16-prfsha256-x25519'],
      children: [{ name: 'ran', localTs: ['203.0.113.0/24'], remoteTs: ['198.18.0.0/15'], espProposals: ['aes128gcm16'] }],
    }],
    kernel: new StubKernelIpsec({ recordOps: false }),
    sockets: [wire.socket({ address: '192.0.2.1', port: 500 }), wire.socket({ address: '192.0.2.1', port: 4500 })],
    scheduler,
    settings: { cookieThreshold: 1e6, halfOpenPerPeer: 1e6, halfOpenMax: 1e6 },
    log: quiet,
  });
  /** Scheduler times at which an IKE_SA_INIT request reached the gateway. */
  const arrivals: number[] = [];
  const deliver = async () => {
    for (let rounds = 0; rounds < 50; rounds++) {
      await bs.idle();
      await gw.idle();
      if (wire.queue.length === 0) break;
      for (const d of wire.queue) {
        const m = decodeMessage(d.data);
        if (d.to.address === '192.0.2.1' && m.ok && m.message.header.exchangeType === ExchangeType.IKE_SA_INIT && !(m.message.header.flags & HeaderFlag.RESPONSE)) arrivals.push(clock.now());
      }
      wire.flush();
    }
  };
  const up = () => bs.manager.ikeSaList().filter((s) => s.state === IkeState.ESTABLISHED).length;
  try {
    await bs.start();
    await gw.start();
    keeper.start(bs);
    await deliver();
    assert.equal(up(), N, 'all up before the outage');
    // The gateway restarts: it deletes every SA at the same instant (INFORMATIONAL D(IKE) <--).
    arrivals.length = 0;
    const t0 = clock.now();
    for (const sa of gw.manager.ikeSaList()) await gw.terminate(sa);
    await deliver();
    assert.equal(up(), 0);
    assert.deepEqual(arrivals, [], 'nobody comes back at once');
    for (let t = 0; t <= WINDOW_MS; t += 100) {
      scheduler.advance(100);
      await deliver();
    }
    assert.equal(arrivals.length, N, 'every base station came back once');
    assert.equal(up(), N, 'all up again');
    const hist = new Array<number>(BINS).fill(0);
    for (const a of arrivals) hist[Math.min(BINS - 1, Math.floor(((a - t0) / WINDOW_MS) * BINS))]!++;
    const perMs = new Map<number, number>();
    for (const a of arrivals) perMs.set(a, (perMs.get(a) ?? 0) + 1);
    // Full jitter over [0, 10 s): ~200 per second-wide bin; none empty, none a burst.
    console.log(`arrival histogram (per ${WINDOW_MS / BINS} ms): ${hist.join(' ')}; most in one 100 ms step: ${Math.max(...perMs.values())}`);
    for (const [i, n] of hist.entries()) assert.ok(n >= (N / BINS) * 0.7 && n <= (N / BINS) * 1.3, `bin ${i}: ${n} of ${N}`);
    assert.ok(Math.max(...perMs.values()) <= N / 25, 'no 100 ms step carries more than 4% of the site');
  } finally {
    keeper.stop();
    await bs.stop();
    await gw.stop();
  }
});
