/**
 * Heap per established IKE SA + child SA of segw's IKE engine alone: a responder IkeDaemon whose
 * KernelIpsec keeps nothing in the JS heap (as XFRM or the native engine keep SAs outside it),
 * with base stations of distinct identities and subnets initiating in the same process over an
 * in-memory wire. Their SAs are dropped before measuring; their configuration is part of the
 * baseline. Measured after two full GCs at +0 s and again after the 5-minute response cache
 * (RFC 7296 §2.1 retransmission answers) has expired, on a manual clock.
 *
 *   node --expose-gc --import tsx bench/ike-setup/engine-memory.ts [--sas M] [--proposal P]
 *
 * Prints one JSON line. bench/ike-setup/run.ts runs it next to the gateway measurements, which
 * include the gateway's stub kernel (SA and policy maps, an operation log, key buffers that pin
 * Node's 8 KiB pool slabs).
 */
import { parseArgs } from 'node:util';
import { IkeDaemon } from '../../src/ike/daemon.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import { ManualClock, Scheduler } from '../../src/ike/scheduler.js';
import { MemoryWire } from '../../src/ike/transport/memory.js';
import { NullKernelIpsec } from '../../src/initiator/null-kernel.js';
import { Population } from '../../src/initiator/population.js';
import { RESPONSE_CACHE_MS } from '../../src/ike/sa/task-manager.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';

const { values: a } = parseArgs({
  options: {
    sas: { type: 'string', default: '10000' },
    proposal: { type: 'string', default: 'aes128gcm16-prfsha256-ecp256' },
    warmup: { type: 'string', default: '500' },
    kernel: { type: 'string', default: 'null' },
  },
});
const M = Number(a.sas);
const W = Number(a.warmup);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const PSK = 'bench ike-setup pre-shared key 0123456789';
const GW = '192.0.2.1';
const BS = '192.0.2.7';

const wire = new MemoryWire();
// The wire's capture log would keep every datagram.
(wire as unknown as { log: { push(): void } }).log = { push() {} };
const scheduler = new Scheduler(new ManualClock(0));
const pop = new Population({ count: M + W, subnetPool: '198.18.0.0/15', endpoints: [{ address: BS }] });
const secret = { method: 'psk' as const, secret: PSK };
const conns: ConnectionConfig[] = [];
for (let i = 0; i < M + W; i++) {
  const bs = pop.get(i);
  conns.push({
    name: bs.name,
    local: { addrs: [BS], id: bs.identity, auth: secret },
    remote: { addrs: [GW], id: 'gw.segw.example', auth: secret },
    ikeProposals: [a.proposal!],
    children: [{ name: 'ran', localTs: [bs.subnet], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16'] }],
  });
}
const initiators = new IkeDaemon({ connections: conns, kernel: new NullKernelIpsec(), scheduler, sockets: [wire.socket({ address: BS, port: 500 })] });
const responder = new IkeDaemon({
  connections: [{
    name: 'ran',
    local: { id: 'gw.segw.example', auth: secret },
    remote: { addrs: ['%any'], id: '%any', auth: secret },
    ikeProposals: [a.proposal!],
    children: [{ name: 'core', localTs: ['203.0.113.0/24'], remoteTs: ['198.18.0.0/15'], espProposals: ['aes128gcm16'] }],
  }],
  // --kernel stub: the gateway's `kernel.ipsec: stub` (lean), to see what it adds to the engine.
  kernel: a.kernel === 'stub' ? new StubKernelIpsec({ firstSpi: 0xd0000000, recordOps: false, lean: true }) : new NullKernelIpsec(0xd0000000),
  scheduler,
  sockets: [wire.socket({ address: GW, port: 500 })],
  settings: { cookieThreshold: 1e9, halfOpenPerPeer: 1e9 },
});
await initiators.start();
await responder.start();

async function drain(): Promise<void> {
  for (let guard = 0; wire.queue.length > 0 && guard < 1000; guard++) {
    wire.deliverNext();
    await initiators.idle();
    await responder.idle();
  }
}

function heap(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

// Warm-up (JIT code and table growth are not per-SA costs), deleted again.
for (let i = M; i < M + W; i++) {
  const sa = await initiators.initiate(pop.get(i).name);
  await drain();
  await initiators.terminate(sa);
  await drain();
}
(scheduler.clock as ManualClock).set(0);
scheduler.advance(RESPONSE_CACHE_MS + 60_000);
await drain();
const h0 = heap();
for (let i = 0; i < M; i++) {
  await initiators.initiate(pop.get(i).name);
  await drain();
}
const up = responder.manager.childSaCount;
// The initiators' SAs are not the responder's memory.
for (const sa of initiators.manager.ikeSaList()) await sa.run(() => sa.destroy('measured'));
const h1 = heap();
scheduler.advance(RESPONSE_CACHE_MS + 60_000);
await responder.idle();
const h2 = heap();
console.log(JSON.stringify({ sas: up, warmup: W, heapPerSaAt0: (h1 - h0) / up, heapPerSaSteady: (h2 - h0) / up }));
