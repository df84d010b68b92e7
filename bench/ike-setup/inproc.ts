/**
 * The responder's CPU per full setup (IKE_SA_INIT + IKE_AUTH with one child SA), both ends in
 * this process on an in-memory wire: a quick loop for profiling and before/after comparisons
 * (seconds, no namespaces), next to run.ts (the lab figures, the table of record).
 *
 *   node --import tsx bench/ike-setup/inproc.ts [--sas N] [--rounds R] [--proposal P]
 *        [--concurrency C] [--delete]                       (add --cpu-prof to profile)
 *
 * The responder is configured as `segw gateway` runs in the lab bench (one connection for any
 * peer, the stub kernel in lean mode, DoS limits lifted, log level from SEGW_LOG_LEVEL, default
 * warn); the initiators are src/initiator's base stations with a null kernel. Datagrams are
 * delivered one at a time; the process CPU time (all threads: GC helpers count) spent from
 * handing a datagram to the responder until it is idle again is the responder's. Each round
 * sets up N SAs (C in flight) and then drops them on both ends (or, with --delete, deletes them
 * with INFORMATIONAL exchanges, not counted). Prints one line per round and the median.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Scheduler } from '../../src/ike/scheduler.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import type { IkeSa } from '../../src/ike/sa/ike-sa.js';
import { GW, inprocPair } from './inproc-pair.js';
import { createRootLogger, setRootLogger } from '../../src/log/index.js';

setRootLogger(createRootLogger({ level: (process.env.SEGW_LOG_LEVEL ?? 'warn') as 'warn' }));
const { values: a } = parseArgs({
  options: {
    sas: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    proposal: { type: 'string', default: 'aes128gcm16-prfsha256-ecp256' },
    concurrency: { type: 'string', default: '16' },
    delete: { type: 'boolean', default: false },
  },
});
const N = Number(a.sas);
const R = Number(a.rounds);
const C = Number(a.concurrency);
const scheduler = new Scheduler();
const { wire, population: pop, initiators, responder } = await inprocPair({
  count: N * R,
  proposal: a.proposal!,
  scheduler,
  kernel: new StubKernelIpsec({ recordOps: false, lean: true }),
  initiator: { initialContact: true, ikeLifetime: { rekey: 0, life: 0 } },
  initiatorChild: { lifetime: { rekey: 0, life: 0 } },
});

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * SEGW_INPROC_WINDOWS=FILE: the monotonic times (µs, the clock of V8's CPU profiles) when the
 * responder was working, so a --cpu-prof profile can be cut down to the responder's samples.
 */
const windowsFile = process.env.SEGW_INPROC_WINDOWS;
const windows: number[] = [];
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** Delivers everything queued; returns the CPU µs spent in the responder. */
async function drain(): Promise<number> {
  let resp = 0;
  while (wire.queue.length > 0) {
    const d = wire.queue[0]!;
    if (d.to.address === GW) {
      if (windowsFile) windows.push(nowUs());
      const t0 = cpuUs();
      wire.deliverNext();
      await responder.idle();
      resp += cpuUs() - t0;
      if (windowsFile) windows.push(nowUs());
    } else {
      wire.deliverNext();
      await initiators.idle();
    }
  }
  return resp;
}

async function round(r: number): Promise<number> {
  let respUs = 0;
  const sas: IkeSa[] = [];
  for (let i = 0; i < N; i += C) {
    for (let j = i; j < Math.min(N, i + C); j++) sas.push(await initiators.initiate(pop.get(r * N + j).name));
    respUs += await drain();
  }
  const up = responder.manager.childSaCount;
  if (up !== N) throw new Error(`round ${r}: ${up}/${N} child SAs up at the responder`);
  if (a.delete) {
    for (const sa of sas) await initiators.terminate(sa);
    await drain();
  } else {
    for (const sa of sas) await sa.run(() => sa.destroy('bench'));
    await responder.manager.destroyAll('bench');
  }
  return respUs / N / 1000;
}

const results: number[] = [];
for (let r = 0; r < R; r++) {
  const ms = await round(r);
  results.push(ms);
  process.stderr.write(`round ${r + 1}: responder ${ms.toFixed(3)} ms CPU per setup\n`);
}
const sorted = [...results].sort((x, y) => x - y);
// The first round carries the JIT warm-up; the minimum is the figure least disturbed by other work.
console.log(JSON.stringify({
  sas: N, rounds: R, proposal: a.proposal,
  medianMsPerSetup: Number(sorted[R >> 1]!.toFixed(3)), minMsPerSetup: Number(sorted[0]!.toFixed(3)),
  rounds_ms: results.map((x) => Number(x.toFixed(3))),
}));
if (windowsFile) writeFileSync(windowsFile, JSON.stringify(windows));
await initiators.stop();
await responder.stop();
