/**
 * Memory per established IKE SA + child SA on the responder, at N SAs (default 10,000):
 *   SEGW_LOG_LEVEL=silent node --expose-gc --import tsx test/exchange/memory-probe.ts 10000
 * Both ends run in this process on an in-memory wire; the initiator's SAs are dropped before
 * measuring, and the kernel keeps nothing in the JS heap (as XFRM or the native engine).
 * Not a test (no assertion on numbers); bench/ike-setup reports it.
 */
import { IkeDaemon } from '../../src/ike/daemon.js';
import { ManualClock, Scheduler } from '../../src/ike/scheduler.js';
import { MemoryWire } from '../../src/ike/transport/memory.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { bsConfig, gwConfig } from './harness.js';
const N = Number(process.argv[2] ?? 2000);
/** The data plane keeps SAs outside the JS heap (kernel XFRM or the native engine). */
class LeanKernel extends StubKernelIpsec { override async addSa() {} override async updateSa() {} override async addPolicy() {} override async deleteSa() {} override async deletePolicy() {} }
const wire = new MemoryWire();
(wire as unknown as { log: unknown }).log = { push() {} };
const sch = new Scheduler(new ManualClock(0));
const conns = Array.from({ length: N }, (_, i) => bsConfig(false, { name: `c${i}`, initialContact: false,
  children: [{ name: 'lte', localTs: [`10.${i >> 8}.${i & 255}.0/24`], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16-esn'] }] }));
const bsK = new LeanKernel({ recordOps: false }), gwK = new LeanKernel({ recordOps: false, firstSpi: 0xd0000000 });
const bs = new IkeDaemon({ connections: conns, kernel: bsK, scheduler: sch, sockets: [wire.socket({ address: '192.0.2.7', port: 500 })] });
const gw = new IkeDaemon({ connections: [gwConfig(false, { children: [{ name: 'lte', localTs: ['203.0.113.0/24'], remoteTs: ['10.0.0.0/8'], espProposals: ['aes128gcm16-esn'] }] })],
  kernel: gwK, scheduler: sch, sockets: [wire.socket({ address: '192.0.2.1', port: 500 })], settings: { cookieThreshold: 1e9, halfOpenPerPeer: 1e9 } });
await bs.start(); await gw.start();
const gc = (globalThis as unknown as { gc: () => void }).gc;
gc(); gc();
const m0 = process.memoryUsage();
const t0 = Date.now();
for (let i = 0; i < N; i++) {
  await bs.initiate(`c${i}`);
  while (wire.queue.length) { wire.deliverNext(); await bs.idle(); await gw.idle(); }
}
const t1 = Date.now();
sch.advance(6 * 60_000); await bs.idle(); await gw.idle();
for (const sa of bs.manager.ikeSaList()) await sa.destroy('x');
gc(); gc();
const m1 = process.memoryUsage();
const tot = (m: NodeJS.MemoryUsage) => m.heapUsed + m.external;
console.log({ N, gwSas: gw.manager.ikeSaCount, gwChildSas: gw.manager.childSaCount, kernelSas: gwK.sas.size, pairsPerSec: (N / ((t1 - t0) / 1000)).toFixed(0),
  bytesPerGwSaIncludingStubKernel: ((tot(m1) - tot(m0)) / N).toFixed(0) });
await gw.manager.destroyAll('x'); gc(); gc(); const m2 = process.memoryUsage();
console.log({ gwSaCostPerSa: ((tot(m1) - tot(m2)) / N).toFixed(0), heap: ((m1.heapUsed - m2.heapUsed) / N).toFixed(0), ext: ((m1.external - m2.external) / N).toFixed(0) });
