/**
 * bench/faults: the fault matrix on a 3-gateway segw cluster in namespaces (src/lab/faults):
 * N simulated base stations and a strongSwan 5.9.8 base station on the VIP, userspace ESP and
 * route injection on every gateway.
 * Each fault runs `--reps` times; after each the cluster must converge (every base station has a
 * tunnel, no stale route, no leaked SA or TUN device, one master holding the VIP, GARP seen),
 * and the time each phase took to converge is reported: median, min, max.
 *
 * The rekey fault needs short child lifetimes, so it runs on a second cluster of its own.
 * As root; not part of `npm test` (the tests in test/faults run single cases).
 *
 *   node --import tsx bench/faults/run.ts [--n 50] [--reps 3] [--cases kill-9-master,cut-vrrp-link] [--strongswan off] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { withLab, type Lab } from '../../src/lab/lab.js';
import { FaultCluster } from '../../src/lab/faults/cluster.js';
import { LogDisk } from '../../src/lab/faults/log-disk.js';
import { ALL_CASES, rekeyKill, type FaultCase, type Phases } from '../../src/lab/faults/cases.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '50' },
    reps: { type: 'string', default: '3' },
    cases: { type: 'string' },
    'bound-s': { type: 'string', default: '60' },
    json: { type: 'string' },
    strongswan: { type: 'string', default: 'on' },
  },
});
const N = Number(values.n);
const REPS = Number(values.reps);
const BOUND_MS = Number(values['bound-s']) * 1000;
const slug = (c: FaultCase) => c.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
const wanted = values.cases ? new Set(values.cases.split(',')) : undefined;
const selected = ALL_CASES.filter((c) => !wanted || wanted.has(slug(c)));
if (wanted && selected.length !== wanted.size) {
  console.error(`unknown case in --cases; the cases: ${ALL_CASES.map(slug).join(', ')}`);
  process.exit(2);
}

interface Row { case: string; phase: string; runs: number[] }
const rows: Row[] = [];
const notes: string[] = [];

/** The gateway (0-based) whose log.file is on the small tmpfs. */
const LOG_GW = 1;

async function runCases(lab: Lab, cases: FaultCase[], rekey: boolean): Promise<void> {
  const disk = rekey ? undefined : await LogDisk.mount(lab.dir, 'logdisk');
  let cluster: FaultCluster | undefined;
  try {
    const t0 = Date.now();
    cluster = await FaultCluster.start(lab, {
      baseStations: N,
      strongSwan: values.strongswan !== 'off',
      gateway: (i) => ({ ...(rekey && { childRekeyS: 5 }), ...(i === LOG_GW && disk && { logFile: disk.file }) }),
    });
    console.log(`cluster${rekey ? ' (child rekey 5 s)' : ''}: ${N} base stations up in ${Date.now() - t0} ms`);
    // Round by round, not case by case: the other faults move base stations between members, so
    // a restarted master serves some again before it is killed the next time.
    for (let r = 0; r < REPS; r++) {
      for (const fc of cases) {
        const before = await cluster.snapshot();
        const phases: Phases = await fc.run({
          cluster,
          boundMs: BOUND_MS,
          note: (l) => notes.push(`${fc.name} #${r + 1}: ${l}`),
          ...(disk && { logDisk: { gateway: LOG_GW, disk } }),
        });
        const held = before.gateways.map((g) => `${g.name}${g.vrrp === 'Master' ? '*' : ''} ${g.established.length}`).join(', ');
        console.log(`${fc.name} #${r + 1}: ${Object.entries(phases).map(([k, v]) => `${k} ${v} ms`).join(', ')} (before: ${held})`);
        for (const [phase, ms] of Object.entries(phases)) {
          let row = rows.find((x) => x.case === fc.name && x.phase === phase);
          if (!row) rows.push((row = { case: fc.name, phase, runs: [] }));
          row.runs.push(ms);
        }
      }
    }
  } catch (err) {
    console.error(`FAILED: ${(err as Error).message}\nsimulator:\n${cluster?.simOutput(1500) ?? ''}`);
    process.exitCode = 1;
  } finally {
    await cluster?.close();
    await disk?.unmount();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(2);

const plain = selected.filter((c) => c !== rekeyKill);
if (plain.length > 0) await withLab('faults', (lab) => runCases(lab, plain, false));
if (selected.includes(rekeyKill) && process.exitCode !== 1) await withLab('faultsrk', (lab) => runCases(lab, [rekeyKill], true));

console.log(`\nfault matrix: 3 gateways, ${N} base stations, ${REPS} runs each; seconds from the fault (or repair) to convergence`);
console.log('| fault | phase | median s | min s | max s | runs |');
console.log('|---|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.case} | ${r.phase} | ${sec(median(r.runs))} | ${sec(Math.min(...r.runs))} | ${sec(Math.max(...r.runs))} | ${r.runs.length} |`);
if (notes.length) console.log(`\n${notes.join('\n')}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ n: N, reps: REPS, rows, notes }, null, 2));
