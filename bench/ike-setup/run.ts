/**
 * bench/ike-setup: full IKEv2 setups (IKE_SA_INIT + IKE_AUTH with one child SA) per second and
 * memory per established IKE SA + child SA, segw against strongSwan charon, in one run.
 *
 *   node --import tsx bench/ike-setup/run.ts [--sas N] [--concurrency C] [--mem-sas M]
 *        [--repeat R] [--proposals ecp256,x25519] [--endpoints K] [--log quiet|default]
 *        [--no-mem] [--json FILE] [--cpu-prof DIR] [--segw-kernel stub|userspace]
 *        [--segw-node-flags="--flag ..."] [--warmup W] [--shared-cpus]
 *        [--responder-cpu F] [--mem-only] [--segw-only]              (root: lab namespaces)
 *
 * Topology (src/lab, documentation addresses only, removed at the end, on failure and SIGINT):
 *
 *   [gen] 198.51.100.10..(10+K-1) ──veth── 198.51.100.1 [resp]  lan0 203.0.113.1/24
 *   load generator process                 segw gateway (stub kernel)  or  charon (libipsec)
 *
 * The generator is src/initiator (segw's own initiator with a null kernel) in its own process in
 * the gen namespace: K base-station addresses, C setups in flight, distinct identities and /32
 * subnets from 198.18.0.0/15. For each proposal and responder (order alternated per repeat): a
 * fresh responder pinned to CPU 0 (the generator runs on CPU 1; --shared-cpus lets both use
 * every CPU), a warm-up of W setups (deleted again), then N setups timed by wall clock (first
 * initiate to last child up) with the responder's CPU time from /proc/<pid>/stat before and
 * after; then everything is deleted and the responder stopped. Memory: a fresh responder, a
 * warm-up, a baseline, M SAs established, the same figures again; segw's JS heap comes from a
 * probe preloaded into the gateway (two full GCs first, heap-probe.mjs), charon's from its RSS;
 * and segw's IKE engine alone is measured in-process (engine-memory.ts).
 * Goals (issue 3): segw >= 2x charon's setup rate; <= 4 KiB per IKE SA + child SA.
 */
import { cpus, loadavg } from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { withLab, type Host } from '../../src/lab/lab.js';
import { GeneratorProcess, type RemoteGeneratorOptions } from '../../src/initiator/remote.js';
import { cpuTimes, threadCpuMs, udpRcvbufErrors } from './procfs.js';
import { CORE_TS, GW_ID, startCharon, startSegw, type Responder, type ResponderSpec } from './responders.js';
import { cpuQuotaGroup } from './cgroup.js';
import { table, type EngineMem, type MemRow, type RateRow } from './report.js';
import { armWatchdog } from '../watchdog.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    sas: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '64' },
    'mem-sas': { type: 'string', default: '10000' },
    repeat: { type: 'string', default: '1' },
    proposals: { type: 'string', default: 'ecp256,x25519' },
    endpoints: { type: 'string', default: '4' },
    log: { type: 'string', default: 'quiet' },
    'no-mem': { type: 'boolean', default: false },
    json: { type: 'string' },
    'max-minutes': { type: 'string', default: '45' },
    'cpu-prof': { type: 'string' },
    'segw-node-flags': { type: 'string', default: '' },
    'segw-kernel': { type: 'string', default: 'stub' },
    perf: { type: 'string' },
    'shared-cpus': { type: 'boolean', default: false },
    'responder-cpu': { type: 'string' },
    'mem-only': { type: 'boolean', default: false },
    'segw-only': { type: 'boolean', default: false },
    warmup: { type: 'string', default: '2000' },
  },
});
const N = Number(args.sas);
const C = Number(args.concurrency);
const M = Number(args['mem-sas']);
const REPEAT = Number(args.repeat);
const K = Number(args.endpoints);
const LOG = args.log === 'default' ? 'default' : 'quiet';
const SEGW_KERNEL = args['segw-kernel'] === 'userspace' ? 'userspace' : 'stub';
/**
 * JIT warm-up before timing (a gateway runs for months); the warm-up SAs are deleted again.
 * 2000: after 300, V8's optimizing compiler still took a third of segw's CPU samples during the
 * timed setups (perf: compiler threads), a start-up cost rather than the steady state.
 */
const WARMUP = Number(args.warmup);
const MEM_WARMUP = 500;
const PROPOSALS: Record<string, string> = { ecp256: 'aes128gcm16-prfsha256-ecp256', x25519: 'aes128gcm16-prfsha256-x25519' };
const chosen = args.proposals!.split(',').map((p) => {
  const v = PROPOSALS[p.trim()];
  if (!v) throw new Error(`--proposals: "${p}" unknown (have ${Object.keys(PROPOSALS).join(', ')})`);
  return v;
});
for (const [k, v] of [['--warmup', WARMUP], ['--sas', N], ['--concurrency', C], ['--mem-sas', M], ['--repeat', REPEAT], ['--endpoints', K]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a whole number >= 1`);
}
if (K > 200) throw new Error('--endpoints: at most 200 generator addresses');
if (N + WARMUP > 131_072 || M + MEM_WARMUP > 131_072) throw new Error('--sas / --mem-sas: at most 130,000 (the 198.18.0.0/15 pool)');

const PSK = 'bench ike-setup pre-shared key 0123456789';
const POOL = '198.18.0.0/15';
const RESP_ADDR = '198.51.100.1';
const genAddrs = Array.from({ length: K }, (_, i) => `198.51.100.${10 + i}`);
type Who = 'segw' | 'charon';
interface Hosts {
  gen: Host;
  resp: Host;
}

function generatorOptions(proposal: string, count: number): RemoteGeneratorOptions {
  return {
    population: { count, subnetPool: POOL, endpoints: genAddrs.map((address) => ({ address })) },
    target: { address: RESP_ADDR, id: GW_ID },
    psk: PSK,
    ikeProposals: [proposal],
    espProposals: ['aes128gcm16'],
    remoteTs: [CORE_TS],
    // strongSwan's retransmission schedule (4 s, x1.8, 5 tries).
    retransmit: { timeout: 4, base: 1.8, tries: 5 },
    recvBufferSize: 4 << 20,
  };
}

function spec(proposal: string): ResponderSpec {
  return {
    proposal,
    esp: 'aes128gcm16',
    address: RESP_ADDR,
    psk: PSK,
    pool: POOL,
    log: LOG,
    cpuProfDir: args['cpu-prof'] ? resolve(args['cpu-prof']) : undefined,
    // --perf: JIT code named in /tmp/perf-<pid>.map for perf report.
    nodeFlags: [...(args.perf ? ['--perf-basic-prof'] : []), ...args['segw-node-flags']!.split(/\s+/).filter(Boolean)],
    segwKernel: SEGW_KERNEL,
  };
}

/**
 * The responder on CPU 0 (all its threads; threads it makes later inherit that), the generator
 * on CPU 1, so neither takes cycles from the other and the wall-clock rate is the responder's on
 * one core. --shared-cpus: both share every CPU (the wall clock then measures the sum of both).
 */
const PIN = !args['shared-cpus'];
const RESP_CPU = '0', GEN_CPU = '1';
if (PIN && cpus().length < 2) throw new Error('pinning needs two CPUs (responder on 0, generator on 1): use --shared-cpus');

/**
 * --responder-cpu F: each responder gets F of a core (a cgroup CPU quota), so that both run
 * saturated at the same budget while the generator has more than it needs: the wall-clock rates
 * are then the responders' capacities at that budget, whatever the generator costs.
 */
const QUOTA = args['responder-cpu'] === undefined ? undefined : Number(args['responder-cpu']);
if (QUOTA !== undefined && !(QUOTA > 0 && QUOTA <= 1)) throw new Error('--responder-cpu: a fraction of one core, 0 < F <= 1');
const cgroup = QUOTA === undefined ? undefined : cpuQuotaGroup(`segw-ike-setup-${process.pid}`, QUOTA);

async function start(which: Who, resp: Host, proposal: string): Promise<Responder> {
  const r = await (which === 'segw' ? startSegw(resp, spec(proposal)) : startCharon(resp, spec(proposal)));
  if (PIN) execFileSync('taskset', ['-a', '-p', '-c', RESP_CPU, String(r.pid)], { stdio: 'ignore' });
  cgroup?.add(r.pid);
  return r;
}

function progress(s: string): void {
  process.stderr.write(`[ike-setup ${new Date().toISOString().slice(11, 19)} load ${loadavg()[0]!.toFixed(2)}] ${s}\n`);
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/** Warm-up, then N timed setups against a fresh responder; everything deleted after. */
async function rateRun(gen: GeneratorProcess, hosts: Hosts, which: Who, proposal: string, rep: number): Promise<RateRow> {
  const r = await start(which, hosts.resp, proposal);
  try {
    await gen.create(generatorOptions(proposal, N + WARMUP));
    const warm = await gen.establish({ concurrency: C, indices: range(N, WARMUP) });
    if (warm.established !== WARMUP) throw new Error(`${which}: warm-up established ${warm.established}/${WARMUP}: ${JSON.stringify(warm.failures)}`);
    await gen.teardown({ concurrency: C });
    await sleep(500);
    const drops0 = (await udpRcvbufErrors(hosts.gen)) + (await udpRcvbufErrors(hosts.resp));
    const rec = which === 'segw' && args.perf ? await perfRecord(r.pid, `segw-${proposal}-${rep}`) : undefined;
    const th0 = threadCpuMs(r.pid);
    const t0 = cpuTimes(r.pid);
    const report = await gen.establish({ concurrency: C, indices: range(0, N) });
    const t1 = cpuTimes(r.pid);
    const th1 = threadCpuMs(r.pid);
    await rec?.stop();
    const drops = (await udpRcvbufErrors(hosts.gen)) + (await udpRcvbufErrors(hosts.resp)) - drops0;
    const n = Math.max(1, report.established);
    const other = [...th1].filter(([k]) => !k.endsWith(':main')).reduce((a, [k, v]) => a + v - (th0.get(k) ?? 0), 0);
    const row: RateRow = {
      proposal,
      responder: which,
      rep,
      report,
      respCpuMsPerSa: (t1.total - t0.total) / n,
      respSysMsPerSa: (t1.system - t0.system) / n,
      respOtherThreadsMsPerSa: which === 'segw' ? other / n : NaN,
      genCpuMsPerSa: report.generatorCpuMs / n,
      rcvbufDrops: drops,
    };
    if (which === 'charon' && rep === 1) {
      // What kernel-libipsec installs besides its SAs: a route per child (table 220).
      const routes = await hosts.resp.exec('ip', ['route', 'show', 'table', '220'], { allowFail: true });
      progress(`charon: ${routes.stdout.split('\n').filter(Boolean).length} routes in table 220 with ${report.established} children up`);
    }
    progress(`${which} ${proposal} #${rep}: ${report.established}/${N} in ${report.wallMs} ms = ${report.setupsPerSec}/s; ` +
      `responder ${row.respCpuMsPerSa.toFixed(3)} ms CPU/SA (kernel ${row.respSysMsPerSa.toFixed(3)}), generator ${row.genCpuMsPerSa.toFixed(3)}; ` +
      `failures ${JSON.stringify(report.failures)}`);
    const td = await gen.teardown({ concurrency: C });
    if (td.failed) progress(`${which}: ${td.failed} deletes failed`);
    return row;
  } finally {
    await gen.reset().catch(() => {});
    await r.stop();
  }
}

/**
 * --perf DIR: `perf record -g` of the responder during the timed setups only (not its start, JIT
 * warm-up or teardown), into DIR/<name>.data; perf's own cost lands on the responder's CPU.
 */
async function perfRecord(pid: number, name: string): Promise<{ stop(): Promise<void> }> {
  const out = resolve(args.perf!, `${name}.data`);
  const p = spawn('perf', ['record', '-q', '-F', '999', '-g', '-p', String(pid), '-o', out], { stdio: 'ignore' });
  await sleep(500); // perf attaches
  return {
    stop: () => new Promise<void>((done) => {
      p.once('exit', () => done());
      p.kill('SIGINT');
    }),
  };
}

/** Memory per established SA at M SAs against a fresh responder. */
async function memRun(gen: GeneratorProcess, hosts: Hosts, which: Who, proposal: string): Promise<MemRow> {
  const r = await start(which, hosts.resp, proposal);
  try {
    await gen.create(generatorOptions(proposal, M + MEM_WARMUP));
    await gen.establish({ concurrency: C, indices: range(M, MEM_WARMUP) });
    await gen.teardown({ concurrency: C });
    await sleep(1000);
    const m0 = await r.memory();
    const t0 = cpuTimes(r.pid);
    const report = await gen.establish({ concurrency: C, indices: range(0, M) });
    const t1 = cpuTimes(r.pid);
    await sleep(1000);
    const m1 = await r.memory();
    const n = Math.max(1, report.established);
    const row: MemRow = {
      responder: which,
      established: report.established,
      rssPerSa: (m1.rss - m0.rss) / n,
      respCpuMsPerSa: (t1.total - t0.total) / n,
      setupsPerSec: report.setupsPerSec,
    };
    if (m0.heapUsed !== undefined && m1.heapUsed !== undefined) row.heapPerSa = (m1.heapUsed + m1.external! - m0.heapUsed - m0.external!) / n;
    progress(`${which} memory: ${report.established}/${M} SAs, RSS ${(row.rssPerSa / 1024).toFixed(2)} KiB/SA` +
      (row.heapPerSa !== undefined ? `, JS heap ${(row.heapPerSa / 1024).toFixed(2)} KiB/SA` : '') + `, ${row.respCpuMsPerSa.toFixed(3)} ms CPU/SA`);
    // Dropped silently: the responder is killed next, nobody needs telling.
    await gen.teardown({ concurrency: C, notifyPeer: false });
    return row;
  } finally {
    await gen.reset().catch(() => {});
    await r.stop();
  }
}

/** segw's IKE engine alone, in a process of its own (engine-memory.ts). */
function engineMemory(proposal: string): EngineMem {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/ike-setup/engine-memory.ts', '--sas', String(M), '--proposal', proposal], {
    cwd: REPO,
    env: { ...process.env, SEGW_LOG_LEVEL: 'warn' },
    timeout: 30 * 60_000,
  }).toString();
  const j = JSON.parse(out.trim().split('\n').pop()!) as EngineMem;
  progress(`segw IKE engine alone: ${j.sas} SAs, ${(j.heapPerSaAt0 / 1024).toFixed(2)} KiB/SA JS heap, ${(j.heapPerSaSteady / 1024).toFixed(2)} after the response cache expiry`);
  return j;
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const disarm = armWatchdog(Number(args['max-minutes']), progress);
  const rates: RateRow[] = [];
  const mems: MemRow[] = [];
  await withLab('ikesetup', async (lab) => {
    const gen = await lab.host('gen');
    const resp = await lab.host('resp');
    await lab.link(gen, resp, { a: genAddrs.map((a) => `${a}/24`), b: `${RESP_ADDR}/24` });
    // strongSwan (libipsec) installs a route per child with a source inside its local TS.
    await lab.lan(resp, '203.0.113.1/24');
    const hosts = { gen, resp };
    // --cpu-prof: the generator is profiled too (into DIR/generator).
    const prof = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(args['cpu-prof'], 'generator')}`] : [];
    const pin = PIN ? ['taskset', '-c', GEN_CPU] : [];
    const g = GeneratorProcess.start([...pin, 'ip', 'netns', 'exec', gen.ns, process.execPath, ...prof, '--import', 'tsx', 'src/initiator/main.ts'], {
      cwd: REPO,
      env: { ...process.env, SEGW_LOG_LEVEL: 'warn', NODE_TEST_CONTEXT: undefined },
    });
    try {
      for (const p of args['mem-only'] ? [] : chosen) {
        for (let rep = 1; rep <= REPEAT; rep++) {
          // Alternate the order so a drift in machine load does not favour one side.
          const order: Who[] = args['segw-only'] ? ['segw'] : rep % 2 ? ['segw', 'charon'] : ['charon', 'segw'];
          for (const who of order) rates.push(await rateRun(g, hosts, who, p, rep));
        }
      }
      const memWho: Who[] = args['segw-only'] ? ['segw'] : ['segw', 'charon'];
      if (!args['no-mem']) for (const who of memWho) mems.push(await memRun(g, hosts, who, chosen[0]!));
    } finally {
      await g.close();
    }
  });
  const engine = args['no-mem'] ? undefined : engineMemory(chosen[0]!);
  const input = {
    n: N, c: C, m: M, k: K, repeat: REPEAT, log: LOG, segwKernel: SEGW_KERNEL, cpus: cpus().length,
    proposals: chosen, rates, mems, engine, load0, load1: loadavg(), pinned: PIN, responderCpu: QUOTA,
  };
  cgroup?.remove();
  console.log(table(input));
  if (args.json) writeFileSync(args.json, JSON.stringify({ args, ...input }, null, 2));
  disarm();
}

await main();
