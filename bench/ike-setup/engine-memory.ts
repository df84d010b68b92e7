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
import { ManualClock, Scheduler } from '../../src/ike/scheduler.js';
import { NullKernelIpsec } from '../../src/initiator/null-kernel.js';
import { RESPONSE_CACHE_MS } from '../../src/ike/sa/task-manager.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { inprocPair } from './inproc-pair.js';

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
const scheduler = new Scheduler(new ManualClock(0));
const { wire, population: pop, initiators, responder } = await inprocPair({
  count: M + W,
  proposal: a.proposal!,
  scheduler,
  // --kernel stub: the gateway's `kernel.ipsec: stub` (lean), to see what it adds to the engine.
  kernel: a.kernel === 'stub' ? new StubKernelIpsec({ firstSpi: 0xd0000000, recordOps: false, lean: true }) : new NullKernelIpsec(0xd0000000),
});

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
