/**
 * bench/redirect (issue 12): IKE_SA_INIT redirects per second answered by a cluster master on one
 * core, with its CPU time per redirect, beside strongSwan's charon answering the same
 * IKE_SA_INIT in full (no redirect) on the same core in the same run.
 *
 *   [gen] 198.51.100.100..199 ──veth── 198.51.100.1 [resp] gw1: segw master, redirect: init  (core 1)
 *         flood (core 0)                                       or charon, dos_protection = no   (core 1)
 *                                           cluster LAN 192.0.2.1 ──veth── [members] 192.0.2.2 gw2, 192.0.2.3 gw3
 *                                                                          backups, one process (core 0)
 *
 * The flood is bench/intake/flood.ts: a genuine IKE_SA_INIT of segw's initiator (RAN proposal,
 * N(REDIRECT_SUPPORTED)), fresh SPIi each, from 100 addresses, pinned to core 0; its answers are
 * counted by kind (REDIRECT, COOKIE, TEMPORARY_FAILURE, full IKE_SA_INIT response). gw1 holds no
 * tunnel itself (capacity 1 under the 80% ceiling), so the balancer sends every new base station
 * to gw2 or gw3 (capacity 4,000,000 each, with their authenticated load reports); the generator
 * does not follow the redirects, so those grants expire unused and must never fill gw2/gw3.
 * The responder (gw1's process, or charon's, every thread) is pinned to core 1 with taskset and
 * its CPU time (utime + stime, /proc) is read over the flood.
 *
 * As root; not part of npm test. Everything is removed at the end, on failure and on SIGINT.
 *   node --import tsx bench/redirect/run.ts [--rate 10000,20000,30000] [--seconds 10] [--repeat 3]
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { withLab, type Host } from '../../src/lab/lab.js';
import type { LabProcess } from '../../src/lab/process.js';
import { StrongSwan } from '../../src/lab/peers/strongswan.js';
import { ControlClient } from '../../src/control/client.js';
import type { RedirectCounts } from '../../src/cluster/balancer.js';
import { cpuTimes, pidIn, rssBytes } from '../ike-setup/procfs.js';
import { runFlood, udpSnmp } from '../intake/measure.js';
import { ANSWER_KINDS, type AnswerKind } from '../intake/answer-kind.js';
import { stat } from '../flood/stats.js';
import { RAN_PROPOSAL as PROPOSAL, segwRanConnections, charonRanSwanctl, CHARON_QUIET } from '../ran-profile.js';
import { armWatchdog } from '../watchdog.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000,20000,30000' },
    seconds: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
    json: { type: 'string' },
    /** Write a V8 CPU profile of gw1 per run into this directory (node --cpu-prof). */
    'cpu-prof': { type: 'string' },
    'max-minutes': { type: 'string', default: '30' },
  },
});
const RATES = args.rate!.split(',').map(Number);
const SECONDS = Number(args.seconds);
const REPEAT = Number(args.repeat);
if (RATES.some((r) => !(r > 0 && r <= 100_000)) || !(SECONDS > 0 && SECONDS <= 60) || !(REPEAT >= 1 && REPEAT <= 10)) {
  throw new Error('--rate 1..100000 (comma list), --seconds 1..60, --repeat 1..10: the flood stays bounded');
}

/** The responder's core and the generator's (2 vCPUs: one each). */
const RESPONDER_CPU = 1;
const GENERATOR_CPU = 0;
/** The responder's address (gw1's IKE, or charon's). */
const RESP = '198.51.100.1';
/**
 * The members on their cluster LAN: load reports, and where gw1 redirects to. gw2 and gw3 live in
 * a namespace of their own, so that charon, in gw1's place, can bind 0.0.0.0:500.
 */
const MEMBERS = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
const FLOOD_ADDRS = Array.from({ length: 100 }, (_, i) => `198.51.100.${100 + i}`);
const RAN = { psk: 'redirect-bench-psk-0123456789abcdef', coreTs: '203.0.113.0/24' };
/** gw1 directs only: one tunnel would already put it above the 80% ceiling. */
const CAPACITY = [1, 4_000_000, 4_000_000];
/**
 * charon as a benchmark responder (bench/ike-setup, shared/PEERS.md): no DoS protection (no
 * cookies, no per-IP block), so every IKE_SA_INIT it reads gets the full answer (DH, nonce, SA).
 */
const CHARON_SETTINGS = 'dos_protection = no\n  ikesa_table_size = 4096\n  init_limit_half_open = 0\n  init_limit_job_load = 0';

type Who = 'segw' | 'charon';
interface Row {
  who: Who;
  rate: number;
  rep: number;
  sentPerSec: number;
  /** Datagrams the flood's socket calls failed to hand to the kernel. */
  sendErrors: number;
  /** UDP datagrams the responder's namespace read (InDatagrams), per second of flood. */
  readPerSec: number;
  answeredPerSec: number;
  kinds: Record<AnswerKind, number>;
  rcvbufDrops: number;
  cpuMs: number;
  cpuUsPerAnswer: number;
  answersPerCpuSecond: number;
  cpuShare: number;
  /** segw only: IKE SAs (any state) in gw1 after the run, RSS growth over the run, the balancer's counts. */
  ikeSasAfter?: number;
  rssGrowthMiB?: number;
  redirectsCounted?: number;
  refused?: number;
  pending?: number;
}

const progress = (s: string) => process.stderr.write(`[redirect] ${s}\n`);

interface Responder {
  pid: number;
  stop(): Promise<void>;
  /** segw: gw1's control socket. */
  control?: string;
}

function memberConfig(i: number, dir: string): Record<string, unknown> {
  const address = MEMBERS[i]!;
  return {
    node: { name: `gw${i + 1}` },
    // ike.* defaults (cookies above 30 half-open SAs): a redirect keeps no half-open SA.
    ike: { listen: [i === 0 ? RESP : address] },
    kernel: { ipsec: 'stub', routes: { enabled: false } },
    control: { socket: join(dir, `gw${i + 1}.sock`) },
    connections: segwRanConnections(RAN),
    cluster: {
      address,
      vips: ['203.0.113.10/24'],
      keyFile: 'cluster.key',
      redirect: 'init',
      capacity: { maxTunnels: CAPACITY[i], bandwidth: '1G' },
      weights: { tunnels: 1, bandwidth: 0, cpu: 0 },
      reports: { listen: address, peers: MEMBERS.filter((a) => a !== address) },
      vrrp: { interface: 'eth0', vrid: 51 },
    },
  };
}

function spawnMembers(host: Host, which: number[], cpu: number, tag: string, nodeFlags: string[] = []): LabProcess {
  const dir = host.lab.dir;
  const argv = which.map((i) => {
    const file = join(dir, `gw${i + 1}.yaml`);
    writeFileSync(file, stringify(memberConfig(i, dir)));
    return `${file}=${i === 0 ? 'master' : 'backup'}`;
  });
  return host.spawn('taskset', ['-c', String(cpu), process.execPath, ...nodeFlags, '--import', 'tsx', join(REPO, 'bench/redirect/member.ts'), ...argv], {
    name: tag,
    cwd: REPO,
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: undefined },
    logFile: join(dir, `${tag}.log`),
  });
}

async function ctl<T>(socket: string, method: string): Promise<T> {
  const c = await ControlClient.connect(socket);
  try {
    return (await c.call(method, {})) as T;
  } finally {
    c.close();
  }
}

async function startSegw(resp: Host): Promise<Responder> {
  const prof = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(args['cpu-prof'])] : [];
  const p = spawnMembers(resp, [0], RESPONDER_CPU, `gw1-${Date.now()}`, prof);
  await p.waitFor(/^ready$/m, 40_000);
  const control = join(resp.lab.dir, 'gw1.sock');
  // Balancing needs gw2 and gw3 in gw1's table, live.
  const t0 = performance.now();
  for (;;) {
    const m = await ctl<{ members: { id: string; stale: boolean }[] }>(control, 'members');
    if (m.members.filter((x) => !x.stale).length === 3) break;
    if (performance.now() - t0 > 20_000) throw new Error(`gw1 does not see gw2 and gw3 live: ${JSON.stringify(m)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // SIGTERM: a graceful stop, so that a CPU profile is written.
  return { pid: p.pid!, control, stop: () => p.stop(prof.length ? 'SIGTERM' : 'SIGKILL', 10_000) };
}

async function startCharon(resp: Host): Promise<Responder> {
  const ss = await StrongSwan.start(resp, { name: `redir${Date.now()}`, swanctl: charonRanSwanctl(RAN, RESP), charon: CHARON_SETTINGS, logLevels: CHARON_QUIET });
  const pid = pidIn(resp, 'charon');
  // Every thread, already started (its thread pool), onto the responder's core.
  execFileSync('taskset', ['-a', '-p', '-c', String(RESPONDER_CPU), String(pid)]);
  return { pid, stop: () => ss.process.stop('SIGKILL', 2000) };
}

/** Threads of `pid` allowed on another core than `cpu` (0: the pinning held for every thread). */
function unpinned(pid: number, cpu: number): number {
  return readdirSync(`/proc/${pid}/task`).filter((t) => {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'));
    return m?.[1] !== String(cpu);
  }).length;
}

async function oneRun(gen: Host, resp: Host, who: Who, rate: number, rep: number): Promise<Row> {
  const r = who === 'segw' ? await startSegw(resp) : await startCharon(resp);
  try {
    const rss0 = rssBytes(r.pid);
    const snmp0 = udpSnmp(resp);
    const cpu0 = cpuTimes(r.pid);
    const t0 = performance.now();
    const f = await runFlood(gen, { target: RESP, sources: FLOOD_ADDRS, rate, seconds: SECONDS, proposal: PROPOSAL }, { cpu: GENERATOR_CPU });
    // The window: the flood and the 1.5 s its sockets keep counting answers after it.
    const cpu1 = cpuTimes(r.pid);
    const wall = (performance.now() - t0) / 1000;
    const snmp1 = udpSnmp(resp);
    const stray = unpinned(r.pid, RESPONDER_CPU);
    if (stray > 0) throw new Error(`${stray} thread(s) of the responder may run off core ${RESPONDER_CPU}: the run would not measure one core`);
    const cpuMs = cpu1.total - cpu0.total;
    const row: Row = {
      who,
      rate,
      rep,
      sentPerSec: f.sent / f.seconds,
      sendErrors: f.sendErrors,
      readPerSec: (snmp1.InDatagrams! - snmp0.InDatagrams!) / f.seconds,
      answeredPerSec: f.answered / f.seconds,
      kinds: f.kinds,
      rcvbufDrops: snmp1.RcvbufErrors! - snmp0.RcvbufErrors!,
      cpuMs,
      cpuUsPerAnswer: (cpuMs * 1000) / Math.max(1, f.answered),
      answersPerCpuSecond: f.answered / Math.max(1e-3, cpuMs / 1000),
      cpuShare: cpuMs / 1000 / wall,
    };
    if (r.control) {
      const status = await ctl<{ ikeSas?: Record<string, number> }>(r.control, 'status');
      const counts = await ctl<RedirectCounts>(r.control, 'redirects');
      row.ikeSasAfter = Object.values(status.ikeSas ?? {}).reduce((a, b) => a + b, 0);
      row.rssGrowthMiB = (rssBytes(r.pid) - rss0) / 2 ** 20;
      row.redirectsCounted = counts.redirects.reduce((a, x) => a + x.count, 0);
      row.refused = Object.values(counts.refused).reduce((a, b) => a + b, 0);
      row.pending = Object.values(counts.pending).reduce((a, b) => a + b, 0);
    }
    const k = ANSWER_KINDS.filter((x) => f.kinds[x] > 0).map((x) => `${x} ${f.kinds[x]}`).join(', ');
    progress(`${who} ${rate}/s #${rep}: sent ${row.sentPerSec.toFixed(0)}/s (${row.sendErrors} send errors), read ${row.readPerSec.toFixed(0)}/s, answered ${row.answeredPerSec.toFixed(0)}/s (${k || 'none'}), drops ${row.rcvbufDrops}, ` +
      `${row.cpuUsPerAnswer.toFixed(1)} µs CPU/answer, ${row.answersPerCpuSecond.toFixed(0)} answers/CPU-s, ${(row.cpuShare * 100).toFixed(0)}% of core ${RESPONDER_CPU}` +
      (r.control ? `; gw1 after: ${row.ikeSasAfter} IKE SAs, RSS ${row.rssGrowthMiB!.toFixed(1)} MiB growth, balancer counted ${row.redirectsCounted} redirects, ${row.refused} refused, ${row.pending} grants pending` : ''));
    return row;
  } finally {
    await r.stop();
  }
}

function table(rows: Row[]): string {
  const head = '| offered/s | responder | sent/s | read/s | answered/s | REDIRECT | COOKIE | TEMPORARY_FAILURE | IKE_SA_INIT response | other | rcvbuf drops | CPU (cores) | CPU µs/answer | answers/CPU-s |';
  const out = [head, `|${'---|'.repeat(head.split('|').length - 2)}`];
  const ratios: string[] = [];
  for (const rate of RATES) {
    const per: Partial<Record<Who, number>> = {};
    for (const who of ['segw', 'charon'] as Who[]) {
      const rs = rows.filter((r) => r.rate === rate && r.who === who);
      if (!rs.length) continue;
      const perSec = (k: AnswerKind[]) => stat(rs.map((r) => k.reduce((a, x) => a + r.kinds[x], 0) / SECONDS));
      out.push(`| ${rate} | ${who} | ${stat(rs.map((r) => r.sentPerSec))} | ${stat(rs.map((r) => r.readPerSec))} | ${stat(rs.map((r) => r.answeredPerSec))} | ${perSec(['redirect'])} | ${perSec(['cookie'])} | ` +
        `${perSec(['temporary-failure'])} | ${perSec(['init-response'])} | ${perSec(['other-notify', 'other'])} | ${stat(rs.map((r) => r.rcvbufDrops))} | ` +
        `${stat(rs.map((r) => r.cpuShare), 2)} | ${stat(rs.map((r) => r.cpuUsPerAnswer))} | ${stat(rs.map((r) => r.answersPerCpuSecond))} |`);
      per[who] = median(rs.map((r) => r.answersPerCpuSecond));
    }
    if (per.segw && per.charon) ratios.push(`| ${rate} | ${(per.segw / per.charon).toFixed(1)} |`);
  }
  const segw = rows.filter((r) => r.who === 'segw');
  const after = segw.length
    ? `\ngw1 after each run: IKE SAs ${stat(segw.map((r) => r.ikeSasAfter!))}, RSS growth MiB ${stat(segw.map((r) => r.rssGrowthMiB!))}, ` +
      `refusals ${stat(segw.map((r) => r.refused!))}, grants pending ${stat(segw.map((r) => r.pending!))}\n`
    : '';
  return `median (min..max) of ${REPEAT} runs, ${SECONDS} s floods from ${FLOOD_ADDRS.length} addresses; answers per second of flood; responder on core ${RESPONDER_CPU}, generator on core ${GENERATOR_CPU}\n` +
    `${out.join('\n')}\n\n| offered/s | segw redirects per CPU-s / charon IKE_SA_INIT per CPU-s (medians) |\n|---|---|\n${ratios.join('\n')}\n${after}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const disarm = armWatchdog(Number(args['max-minutes']), progress);
  const rows: Row[] = [];
  const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
  await withLab('redirect', async (lab) => {
    const gen = await lab.host('gen');
    const resp = await lab.host('resp');
    const members = await lab.host('members');
    await lab.link(gen, resp, { a: FLOOD_ADDRS.map((a) => `${a}/24`), b: `${RESP}/24`, aIf: 'eth0', bIf: 'eth0' });
    await lab.link(resp, members, { a: `${MEMBERS[0]}/24`, b: MEMBERS.slice(1).map((a) => `${a}/24`), aIf: 'eth1', bIf: 'eth0' });
    await lab.lan(resp, '203.0.113.1/24');
    writeFileSync(join(lab.dir, 'cluster.key'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    // gw2 and gw3 run for the whole bench, on the generator's core (they only send load reports).
    const backups = spawnMembers(members, [1, 2], GENERATOR_CPU, 'gw2-gw3');
    await backups.waitFor(/^ready$/m, 40_000);
    for (const rate of RATES) {
      for (let rep = 1; rep <= REPEAT; rep++) {
        // Alternate the order so a drift in machine load does not favour one side.
        for (const who of (rep % 2 ? ['segw', 'charon'] : ['charon', 'segw']) as Who[]) rows.push(await oneRun(gen, resp, who, rate, rep));
      }
    }
    await backups.stop('SIGTERM', 3000);
  });
  const load1 = readFileSync('/proc/loadavg', 'utf8').trim();
  console.log(`bench/redirect ${new Date().toISOString()}; load average before ${load0}, after ${load1}`);
  console.log(table(rows));
  if (args.json) writeFileSync(args.json, JSON.stringify({ args, rows }, null, 2));
  disarm();
}

await main();
