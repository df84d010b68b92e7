/**
 * bench/esp/profile.ts: where the CPU goes in a segw<->segw tunnel under iperf3 TCP.
 *
 *   node --import tsx bench/esp/profile.ts [--workers 0] [--seconds 8] [--perf FILE] [--reverse]
 *
 * One tunnel (test/support/esp-tunnel.ts, both engines in this process), one iperf3 TCP run
 * a -> b. Reports, per MB carried: CPU time of each engine thread (user and system, read from
 * /proc/self/task), of the iperf3 client and server (their own -J report), of the whole machine
 * (/proc/stat: user, system, softirq, steal, idle; the machine is shared, so this includes
 * other load), and the engine's I/O counters (TUN reads and writes, UDP messages and GSO sends).
 * `--perf FILE` runs `perf record -g -a -e cpu-clock` during the measured window; `--syscalls`
 * counts system calls per thread (`perf trace -s`) of this process and both iperf3 processes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { withLab } from '../../src/lab/lab.js';
import { segwTunnel, type Side } from '../../test/support/esp-tunnel.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] && !process.argv[i + 1].startsWith('--') ? process.argv[i + 1] : i > 0 ? 'true' : dflt;
};
const WORKERS = Number(arg('workers', '0'));
const LANE_THREADS = Number(arg('lane-threads', '0'));
const SECS = Number(arg('seconds', '8'));
const PERF = arg('perf', '');
const SYSCALLS = arg('syscalls', '') === 'true';
// --pin A,B: pin engine a's pipeline threads to CPU A and b's to CPU B (exploration only).
const PIN = arg('pin', '');
const CC = arg('cc', '');  // iperf3 -C (congestion control), exploration only
const BATCH = arg('batch', '') === 'true';  // engine threads SCHED_BATCH, exploration only
const TXQ = arg('txqueuelen', '');  // TUN txqueuelen on both sides, exploration only
const HZ = 100; // USER_HZ

interface ThreadCpu { name: string; ticks: number; vcs: number; ivcs: number }
function threads(pid: number | 'self' = 'self'): Map<string, ThreadCpu> {
  const out = new Map<string, ThreadCpu>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const vcs = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
      const ivcs = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
      out.set(`${pid}/${tid}`, { name, ticks: Number(f[11]) + Number(f[12]), vcs, ivcs });
    } catch { /* thread gone */ }
  }
  return out;
}
function allThreads(pids: number[]): Map<string, ThreadCpu> {
  const m = threads();
  for (const p of pids) for (const [k, v] of threads(p)) m.set(k, { ...v, name: `${v.name}${p === pids[0] ? '-c' : '-s'}` });
  return m;
}

function machine(): number[] {
  const l = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return [l[0] + l[1], l[2], l[5] + l[6], l[7], l[3] + l[4]];
}

type Stats = ReturnType<Side['ipsec']['engine']['stats']>;
const IO = ['tunReads', 'tunDirect', 'tunWrites', 'udpSends', 'udpRecvs', 'gsoSends', 'polls'] as const;

await withLab('bprof', async (lab) => {
  const { a, b } = await segwTunnel(lab, { workers: WORKERS, laneThreads: LANE_THREADS });
  try {
    const srv = b.host.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', b.inner], { name: 'iperf3-s' });
    await srv.waitFor(/Server listening/);
    if (PIN) {
      const cpus = PIN.split(',');
      const esp = [...threads()].filter(([, t]) => t.name.startsWith('esp-lane') || t.name.startsWith('esp-crypto') || t.name.startsWith('esp-reader') || t.name.startsWith('esp-writer'));
      esp.sort((x, y) => Number(x[0].split('/')[1]) - Number(y[0].split('/')[1]));
      const half = esp.length / 2;
      for (const [i, [k]] of esp.entries()) execFileSync('taskset', ['-p', '-c', cpus[i < half ? 0 : 1], k.split('/')[1]], { stdio: 'ignore' });
    }
    if (TXQ) for (const s of [a, b]) await s.host.exec('ip', ['link', 'set', s.ipsec.tunName, 'txqueuelen', TXQ]);
    if (BATCH) {
      for (const [k, t] of threads()) if (t.name.startsWith('esp-')) execFileSync('chrt', ['-b', '-p', '0', k.split('/')[1]], { stdio: 'ignore' });
    }
    const client = a.host.spawn('iperf3', ['-c', b.inner, '-B', a.inner, '-t', String(SECS + 2), '-J', ...(CC ? ['-C', CC] : [])], { name: 'iperf3-c' });
    await new Promise((r) => setTimeout(r, 1500)); // past slow start
    const pids = [client.pid!, srv.pid!];
    const s0 = { t: allThreads(pids), m: machine(), a: a.ipsec.engine.stats(), b: b.ipsec.engine.stats(), at: process.hrtime.bigint() };
    const bytes0 = readTunBytes(b);
    const perf = PERF
      ? spawn('perf', ['record', '-g', '-a', '-e', 'cpu-clock', '-F', '2000', '-o', PERF, '--', 'sleep', String(SECS - 1)], { stdio: 'inherit' })
      : SYSCALLS
        ? spawn('timeout', ['-s', 'INT', String(SECS - 1), 'perf', 'trace', '-s', '-p', [process.pid, ...pids].join(',')], { stdio: ['ignore', 'ignore', 'pipe'] })
        : undefined;
    let traceOut = '';
    perf?.stderr?.on('data', (d: Buffer) => (traceOut += d.toString()));
    await new Promise((r) => setTimeout(r, (SECS - 1) * 1000));
    const s1 = { t: allThreads(pids), m: machine(), a: a.ipsec.engine.stats(), b: b.ipsec.engine.stats(), at: process.hrtime.bigint() };
    const bytes1 = readTunBytes(b);
    if (perf) await new Promise((r) => perf.on('close', r));
    await client.exited;
    const r = JSON.parse(client.output);
    await srv.exited;
    const secs = Number(s1.at - s0.at) / 1e9;
    const mb = Number(bytes1 - bytes0) / 1e6; // inner bytes b's TUN accepted in the window
    console.log(`\nprofile: workers=${WORKERS} laneThreads=${LANE_THREADS}, window ${secs.toFixed(1)} s, ${(mb * 8 / secs / 1000).toFixed(2)} Gbit/s through b's TUN` +
      ` (iperf3 whole run ${(r.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gbit/s), ${mb.toFixed(0)} MB`);
    const snd = r.end.streams?.[0]?.sender ?? {};
    const last = r.intervals?.[r.intervals.length - 1]?.streams?.[0] ?? {};
    console.log(`TCP: retransmits ${snd.retransmits}, rtt mean ${snd.mean_rtt} us (min ${snd.min_rtt}, max ${snd.max_rtt}), cwnd at end ${((last.snd_cwnd ?? 0) / 1024).toFixed(0)} KiB`);
    console.log(`iperf3 CPU: client ${r.end.cpu_utilization_percent.host_total.toFixed(0)}%, server ${r.end.cpu_utilization_percent.remote_total.toFixed(0)}% (whole run)`);
    // Engine a started first: of two threads with one name, the lower thread id is a's.
    const groups = new Map<string, [number, number, number]>();
    const seen = new Map<string, number>();
    const tidOf = (k: string) => Number(k.split('/')[1]);
    for (const [tid, t1] of [...s1.t].sort((x, y) => tidOf(x[0]) - tidOf(y[0]))) {
      const t0 = s0.t.get(tid);
      const d = [t1.ticks - (t0?.ticks ?? 0), t1.vcs - (t0?.vcs ?? 0), t1.ivcs - (t0?.ivcs ?? 0)];
      const nth = seen.get(t1.name) ?? 0;
      seen.set(t1.name, nth + 1);
      if (d[0] <= 0 && d[1] <= 0) continue;
      const key = t1.name.startsWith('esp-') && t1.name !== 'esp-housekeep' ? `${t1.name} ${nth % 2 === 0 ? 'a' : 'b'}` : t1.name;
      const g = groups.get(key) ?? [0, 0, 0];
      groups.set(key, [g[0] + d[0], g[1] + d[1], g[2] + d[2]]);
    }
    console.log('threads (a sends, b receives; with workers 0 lane1 = TUN->UDP, lane2 = UDP->TUN; -c/-s iperf3):');
    for (const [name, [ticks, vcs, ivcs]] of [...groups].sort((x, y) => y[1][0] - x[1][0])) {
      const cpu = ticks / HZ;
      console.log(`  ${name.padEnd(16)} ${(100 * cpu / secs).toFixed(0).padStart(4)}% of a core  ${(cpu * 1e6 / mb).toFixed(0).padStart(6)} us/MB` +
        `  switches/MB: ${(vcs / mb).toFixed(1)} voluntary, ${(ivcs / mb).toFixed(1)} preempted`);
    }
    const dm = s1.m.map((v, i) => (v - s0.m[i]) / HZ);
    const names = ['user', 'system', 'irq+softirq', 'steal', 'idle+iowait'];
    console.log('machine (2 vCPUs, includes other load): ' + names.map((n, i) => `${n} ${(100 * dm[i] / secs).toFixed(0)}%`).join(', '));
    console.log('machine busy per MB: ' + ((dm[0] + dm[1] + dm[2]) * 1e6 / mb).toFixed(0) + ' us/MB');
    const io = (s0: Stats, s1: Stats) => IO.map((k) => `${k} ${((s1[k] - s0[k]) / mb).toFixed(1)}`).join(', ');
    console.log(`engine a (sender side) per MB: ${io(s0.a, s1.a)}`);
    console.log(`engine b (receiver side) per MB: ${io(s0.b, s1.b)}`);
    if (SYSCALLS) {
      // perf trace -s: per thread, "name (tid), N events" then a table of syscall, calls, ...
      console.log('system calls per MB (perf trace slows every call: the rates are for counting only):');
      let cur = '';
      for (const line of traceOut.split('\n')) {
        const t = /^\s*(\S+) \((\d+)\), (\d+) events/.exec(line);
        if (t) { cur = `${t[1]} (${t[2]})`; console.log(`  ${cur}: ${(Number(t[3]) / 2 / mb).toFixed(1)} calls/MB`); continue; }
        const c = /^\s+(\w+)\s+(\d+)\s+\d+\s+[\d.]+/.exec(line);
        if (c && cur && Number(c[2]) / mb >= 0.5) console.log(`      ${c[1].padEnd(12)} ${(Number(c[2]) / mb).toFixed(1)}`);
      }
    }
  } finally {
    await a.ipsec.close();
    await b.ipsec.close();
  }
});

function readTunBytes(s: Side): bigint {
  const [c] = s.ipsec.queryMany([s.in]);
  return c!.bytes;
}
