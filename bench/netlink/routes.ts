/**
 * bench/netlink: routes injected and removed per second through segw's netlink layer, side by
 * side with `ip -batch` doing the same routes in the same run, in a lab namespace.
 *
 *   node --import tsx bench/netlink/routes.ts            # 10,000 routes, 3 rounds, median
 *   ROUTES=50000 ROUNDS=5 node --import tsx bench/netlink/routes.ts
 *
 * Rows: segw's KernelNet with the default window (256 requests in flight, several per sendmsg),
 * with a window of 1 (one request per round trip, as `ip -batch` works), and through the
 * RouteInjector (what the IKE daemon calls); `ip -batch` reads one file of `route add` (then
 * `route del`) lines, timed from process start to exit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLab, type Host } from '../../src/lab/lab.js';
import { NetlinkKernelNet } from '../../src/kernel/net/netlink-net.js';
import { RouteInjector } from '../../src/kernel/route-injection.js';

const N = Number(process.env.ROUTES ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const addr = (i: number) => `198.18.${(i >> 8) & 255}.${i & 255}`;
if (N > 65536) throw new Error('ROUTES: at most 65536 (/32s of 198.18.0.0/16)');

interface Timing {
  add: number;
  del: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function count(h: Host): Promise<number> {
  return Number((await h.sh('ip -4 route show proto 200 | wc -l')).stdout.trim());
}

async function segwKernelNet(h: Host, maxInFlight: number): Promise<Timing> {
  const net = NetlinkKernelNet.open({ netns: `/run/netns/${h.ns}`, maxInFlight });
  try {
    await net.linkIndex('core0');
    let t = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => net.addRoute({ dst: `${addr(i)}/32`, dev: 'core0' })));
    const add = performance.now() - t;
    if ((await count(h)) !== N) throw new Error('segw: routes missing after add');
    t = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => net.deleteRoute({ dst: `${addr(i)}/32`, dev: 'core0' })));
    return { add, del: performance.now() - t };
  } finally {
    await net.close();
  }
}

async function segwInjector(h: Host): Promise<Timing> {
  const net = NetlinkKernelNet.open({ netns: `/run/netns/${h.ns}` });
  const rri = new RouteInjector(net, { dev: 'core0' });
  const ts = (i: number) => [{ family: 4 as const, protocol: 0, startAddr: addr(i), endAddr: addr(i), startPort: 0, endPort: 65535 }];
  try {
    await net.linkIndex('core0');
    let t = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => rri.childUp(`c${i}`, ts(i))));
    const add = performance.now() - t;
    t = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => rri.childDown(`c${i}`)));
    return { add, del: performance.now() - t };
  } finally {
    await rri.close();
    await net.close();
  }
}

async function ipBatch(h: Host): Promise<Timing> {
  const file = (verb: string) => {
    const f = join(h.lab.dir, `batch-${verb}.txt`);
    writeFileSync(f, Array.from({ length: N }, (_, i) => `route ${verb} ${addr(i)}/32 dev core0 proto 200\n`).join(''));
    return f;
  };
  const addFile = file('add');
  const delFile = file('del');
  let t = performance.now();
  await h.exec('ip', ['-batch', addFile], { timeoutMs: 300_000 });
  const add = performance.now() - t;
  if ((await count(h)) !== N) throw new Error('ip -batch: routes missing after add');
  t = performance.now();
  await h.exec('ip', ['-batch', delFile], { timeoutMs: 300_000 });
  return { add, del: performance.now() - t };
}

const rate = (ms: number) => Math.round((N / ms) * 1000);

async function main(): Promise<void> {
  await withLab('benchnl', async (lab) => {
    const gw = await lab.host('gw');
    const core = await lab.host('core');
    await lab.link(gw, core, { aIf: 'core0', a: '198.51.100.1/24', b: '198.51.100.2/24' });
    const runs: Record<string, Timing[]> = { segw: [], 'segw window 1': [], 'segw RouteInjector': [], 'ip -batch': [] };
    for (let r = 0; r < ROUNDS; r++) {
      // Interleaved so that both see the same machine state in every round.
      runs['ip -batch'].push(await ipBatch(gw));
      runs.segw.push(await segwKernelNet(gw, 256));
      runs['segw window 1'].push(await segwKernelNet(gw, 1));
      runs['segw RouteInjector'].push(await segwInjector(gw));
      if ((await count(gw)) !== 0) throw new Error('routes left after a round');
    }
    const ref = runs['ip -batch'];
    const refAdd = median(ref.map((x) => x.add));
    const refDel = median(ref.map((x) => x.del));
    console.log(`\nbench/netlink: ${N} IPv4 /32 routes (dev, proto 200) added then deleted, median of ${ROUNDS} rounds, one lab namespace\n`);
    console.log('| implementation | add routes/s | delete routes/s | add vs ip -batch | delete vs ip -batch |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [name, t] of Object.entries(runs)) {
      const add = median(t.map((x) => x.add));
      const del = median(t.map((x) => x.del));
      console.log(`| ${name} | ${rate(add)} | ${rate(del)} | ${(refAdd / add).toFixed(2)}x | ${(refDel / del).toFixed(2)}x |`);
    }
  });
}

await main();
