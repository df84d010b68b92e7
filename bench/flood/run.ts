/**
 * bench/flood (issue 15): a spoofed IKE_SA_INIT flood against a cluster's master while 1,000
 * legitimate base stations connect through the VIP; segw beside strongSwan's charon in one run.
 *
 *   sim   203.0.113.20..69  (the segw simulator: --legit base stations)  ─┐
 *   flood 203.0.113.100..249 (bench/intake/flood.ts, --rate IKE_SA_INIT/s) ─┼─ bridge ─┬─ g1 203.0.113.1 + VIP 203.0.113.10
 *                                                                          │          └─ g2 203.0.113.2
 *   segw:   g1 and g2 are `segw gateway` cluster members (VRRPv3, load reports, redirect off:
 *           the master serves every base station itself); g1 (priority 200) is master and holds
 *           the VIP. Default DoS settings: cookies above 30 half-open, 100 per source, 20,000 in all.
 *   charon: strongSwan 5.9.8 (kernel-libipsec) in g1's namespace with the VIP as a plain address
 *           (charon has no VRRP); cookies at 30 half-open as segw, block_threshold 100 as segw's
 *           halfOpenPerPeer (its default, 5, would refuse 20 base stations behind one address).
 *
 * Per run: a fresh responder; the flood runs `--seconds` from 150 source addresses (each on the
 * flood host's interface, so answers come back and are counted); 2 s in, the simulator starts
 * `--legit` base stations (arrival `--arrival`/s) and stops once all are up or when the flood
 * ends. Sampled every 250 ms: the responder's half-open IKE SAs (segw: `status.halfOpen`;
 * charon: `swanctl --stats`) and RSS. Reported per responder: datagrams/s read (UDP InDatagrams
 * of its namespace, counted after its port-500 queue drained), answered (answers the flood
 * sockets received), CPU per datagram read, CPU share, half-open max, RSS before and max, and
 * the legitimate base stations up when the simulator stopped.
 *
 * As root; not part of npm test. Everything is removed at the end, on failure and on SIGINT.
 *   node --import tsx bench/flood/run.ts [--rate 20000] [--seconds 30] [--legit 1000] [--repeat 3] [--json FILE]
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { withLab, type Host } from '../../src/lab/lab.js';
import { eventually } from '../../src/lab/eventually.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import { StrongSwan } from '../../src/lab/peers/strongswan.js';
import { ControlClient } from '../../src/control/client.js';
import { cpuTimes, pidIn, rssBytes } from '../ike-setup/procfs.js';
import { recvQueue, runFlood, udpSnmp } from '../intake/measure.js';
import { median, stat } from './stats.js';
import { RAN_PROPOSAL as PROPOSAL, RAN_GW_ID as GW_ID, RAN_POOL as POOL, segwRanConnections, charonRanSwanctl, CHARON_QUIET } from '../ran-profile.js';
import { armWatchdog } from '../watchdog.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '30' },
    legit: { type: 'string', default: '1000' },
    arrival: { type: 'string', default: '100' },
    repeat: { type: 'string', default: '3' },
    only: { type: 'string' },
    json: { type: 'string' },
    'max-minutes': { type: 'string', default: '40' },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const LEGIT = Number(args.legit);
const ARRIVAL = Number(args.arrival);
const REPEAT = Number(args.repeat);
if (!(RATE > 0 && RATE <= 100_000) || !(SECONDS >= 10 && SECONDS <= 120) || !(LEGIT >= 1 && LEGIT <= 5000) || !(ARRIVAL > 0) || !(REPEAT >= 1 && REPEAT <= 10)) {
  throw new Error('--rate 1..100000, --seconds 10..120, --legit 1..5000, --arrival > 0, --repeat 1..10: the flood stays bounded');
}

type Who = 'segw' | 'charon';
const WHO: Who[] = args.only ? [args.only as Who] : ['segw', 'charon'];
const VIP = '203.0.113.10';
const GW = ['203.0.113.1', '203.0.113.2'];
const SIM = Array.from({ length: 50 }, (_, i) => `203.0.113.${20 + i}`);
const FLOOD = Array.from({ length: 150 }, (_, i) => `203.0.113.${100 + i}`);
const PSK = 'flood-bench-psk-0123456789abcdef';
const CORE_TS = '192.0.2.0/24';
const RAN = { psk: PSK, coreTs: CORE_TS };
/** segw's defaults (src/ike/config.ts), repeated here to print them and to configure charon alike. */
const COOKIE_THRESHOLD = 30;
const HALF_OPEN_PER_PEER = 100;
const HALF_OPEN_MAX = 20_000;
/** The limit stated for the gateway's CPU under this flood (cores, over the flood). */
const CPU_LIMIT = 1.0;

export interface Row {
  who: Who;
  rep: number;
  sent: number;
  readPerSec: number;
  answeredPerSec: number;
  rcvbufDrops: number;
  cpuUsPerDatagram: number;
  cpuShare: number;
  halfOpenMax: number;
  rssBeforeMiB: number;
  rssMaxMiB: number;
  legitUp: number;
  legitAllUpS: number | null;
  failures: Record<string, number>;
}

interface Responder {
  pid: number;
  /** Half-open IKE SAs now. */
  halfOpen(): Promise<number>;
  stop(): Promise<void>;
}

const progress = (s: string) => process.stderr.write(`[flood] ${s}\n`);

function gatewayConfig(i: number, socket: string): Record<string, unknown> {
  const others = GW.filter((_, j) => j !== i);
  return {
    node: { name: `g${i + 1}` },
    log: { level: 'info' }, // SegwProcess waits for "gateway started"; per-packet warnings are rate limited
    control: { socket },
    ike: { listen: [GW[i]] }, // default DoS protection (cookies above 30 half-open, 100 per source, 20,000 in all)
    kernel: { ipsec: 'stub', routes: { enabled: false } },
    connections: segwRanConnections(RAN),
    cluster: {
      address: GW[i],
      vips: [`${VIP}/24`],
      redirect: 'off', // the master serves every base station: the flood and the legitimate load meet on one node
      keyFile: 'flood-cluster.key',
      capacity: { maxTunnels: 10_000, bandwidth: '1G' },
      reports: { listen: GW[i], interval: '1s', staleAfter: 3, peers: others },
      vrrp: { interface: 'eth0', vrid: 51, priority: i === 0 ? 200 : 150, advertInterval: '1s' },
    },
  };
}

async function startSegwCluster(g: Host[]): Promise<Responder> {
  const key = { 'flood-cluster.key': randomBytes(32).toString('hex') + '\n' };
  const stamp = Date.now();
  const gws: SegwProcess[] = [];
  try {
    for (const [i, h] of g.entries()) {
      const socket = join(h.lab.dir, `g${i + 1}-${stamp}.sock`);
      gws.push(await SegwProcess.start(h, 'gateway', gatewayConfig(i, socket), { name: `g${i + 1}-${stamp}`, files: key, timeoutMs: 30_000 }));
    }
    const ctl = async <T>(gw: SegwProcess, m: string) => gw.ctl<T>(m);
    await eventually(async () => (await ctl<{ state: string }>(gws[0]!, 'vrrp')).state === 'Master', { what: 'g1 VRRP master', timeoutMs: 20_000 });
    await eventually(() => g[0]!.hasAddress(`${VIP}/24`), { what: 'g1 holds the VIP', timeoutMs: 10_000 });
    const master = gws[0]!;
    const client = await ControlClient.connect(master.controlSocket);
    return {
      pid: master.process.pid!,
      halfOpen: async () => (await client.call<{ halfOpen: number }>('status')).halfOpen,
      stop: async () => {
        client.close();
        for (const gw of gws) await gw.kill();
        // A killed master leaves the VIP behind (no resign): the next responder starts clean.
        for (const h of g) await h.exec('ip', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], { allowFail: true });
      },
    };
  } catch (err) {
    for (const gw of gws) await gw.kill();
    for (const h of g) await h.exec('ip', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], { allowFail: true });
    throw err;
  }
}

async function startCharon(host: Host): Promise<Responder> {
  await host.exec('ip', ['addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
  const swanctl = charonRanSwanctl(RAN, VIP);
  const charon = `ikesa_table_size = 4096
  dos_protection = yes
  cookie_threshold = ${COOKIE_THRESHOLD}
  block_threshold = ${HALF_OPEN_PER_PEER}`;
  const debug = process.env.FLOOD_DEBUG === '1';
  const ss = await StrongSwan.start(host, { name: `flood${Date.now()}`, swanctl, charon, logLevels: debug ? { ike: 1, cfg: 1, net: 1, enc: 1 } : CHARON_QUIET });
  return {
    pid: pidIn(host, 'charon'),
    halfOpen: async () => {
      const r = await ss.swanctl(['--stats']);
      const m = /IKE_SAs: \d+ total, (\d+) half-open/.exec(r.stdout);
      if (!m) throw new Error(`swanctl --stats: no half-open count in ${r.stdout}`);
      return Number(m[1]);
    },
    stop: async () => {
      if (debug) process.stderr.write(ss.log.slice(-6000));
      await ss.process.stop('SIGKILL', 2000);
      await host.exec('ip', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0'], { allowFail: true });
    },
  };
}

/** Samples half-open SAs and RSS every 250 ms until stopped (bounded by the run's own deadline). */
function sampler(r: Responder): { stop(): Promise<{ halfOpenMax: number; rssMax: number }> } {
  let halfOpenMax = 0;
  let rssMax = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      rssMax = Math.max(rssMax, rssBytes(r.pid));
      halfOpenMax = Math.max(halfOpenMax, await r.halfOpen());
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { halfOpenMax, rssMax };
    },
  };
}

interface SimJson {
  report: { count: number; up: number; allUpMs: number | null; failures: Record<string, number> };
}

async function runSimulator(sim: Host, tag: string, durationS: number): Promise<SimJson['report']> {
  const file = join(sim.lab.dir, `sim-${tag}.yaml`);
  const json = join(sim.lab.dir, `sim-${tag}.json`);
  writeFileSync(file, stringify({
    simulate: {
      count: LEGIT,
      endpoints: SIM,
      'subnet-pool': POOL,
      psk: PSK,
      'gateway-id': GW_ID,
      clusters: [VIP],
      'remote-ts': [CORE_TS],
      arrival: { rate: ARRIVAL, burst: Math.max(1, Math.round(ARRIVAL / 10)) },
      reconnect: { initial: '1s', max: '4s' },
      retransmit: { timeout: 1, base: 1.8, tries: 4 }, // strongSwan's schedule shortened to fit the run
      dpd: '5m',
      progress: '5s',
    },
  }));
  const p = sim.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', file,
    '--exit-when-up', '--duration', String(durationS), '--json', json], {
    name: `simulator-${tag}`,
    cwd: REPO,
    env: { ...process.env, SEGW_LOG_LEVEL: 'error', NODE_TEST_CONTEXT: undefined },
    logFile: join(sim.lab.dir, `simulator-${tag}.log`),
  });
  try {
    // The JSON is written before the simulator deletes its SAs; the deletes are not part of the flood.
    await p.waitFor(/simulator memory: /, (durationS + 60) * 1000);
    if (!existsSync(json)) throw new Error(`simulator wrote no report:\n${p.output.slice(-2000)}`);
    if (process.env.FLOOD_DEBUG === '1') process.stderr.write(p.output.slice(-4000));
    return (JSON.parse(readFileSync(json, 'utf8')) as SimJson).report;
  } finally {
    await p.stop('SIGKILL', 2000);
  }
}

async function oneRun(hosts: { g: Host[]; sim: Host; flood: Host }, who: Who, rep: number): Promise<Row> {
  const resp = hosts.g[0]!;
  const r = who === 'segw' ? await startSegwCluster(hosts.g) : await startCharon(resp);
  try {
    const rssBefore = rssBytes(r.pid);
    const snmp0 = udpSnmp(resp);
    const cpu0 = cpuTimes(r.pid);
    const t0 = performance.now();
    const samples = sampler(r);
    const flood = runFlood(hosts.flood, { target: VIP, sources: FLOOD, rate: RATE, seconds: SECONDS, proposal: PROPOSAL });
    await sleep(2000);
    const legit = runSimulator(hosts.sim, `${who}${rep}`, SECONDS - 2); // stops when all are up, or with the flood
    const [f, report] = await Promise.all([flood, legit]);
    await eventually(async () => (await recvQueue(resp)) === 0, { what: 'the responder queue drained', timeoutMs: 60_000, intervalMs: 200 });
    const cpu1 = cpuTimes(r.pid);
    const wall = (performance.now() - t0) / 1000;
    const snmp1 = udpSnmp(resp);
    const s = await samples.stop();
    const read = snmp1.InDatagrams! - snmp0.InDatagrams!;
    const row: Row = {
      who,
      rep,
      sent: f.sent,
      readPerSec: read / f.seconds,
      answeredPerSec: f.answered / f.seconds,
      rcvbufDrops: snmp1.RcvbufErrors! - snmp0.RcvbufErrors!,
      cpuUsPerDatagram: ((cpu1.total - cpu0.total) * 1000) / Math.max(1, read),
      cpuShare: (cpu1.total - cpu0.total) / 1000 / wall,
      halfOpenMax: s.halfOpenMax,
      rssBeforeMiB: rssBefore / 2 ** 20,
      rssMaxMiB: s.rssMax / 2 ** 20,
      legitUp: report.up,
      legitAllUpS: report.allUpMs === null ? null : report.allUpMs / 1000,
      failures: report.failures,
    };
    progress(`${who} #${rep}: sent ${f.sent} in ${f.seconds.toFixed(1)} s, read ${row.readPerSec.toFixed(0)}/s, answered ${row.answeredPerSec.toFixed(0)}/s, ` +
      `drops ${row.rcvbufDrops}, ${row.cpuUsPerDatagram.toFixed(1)} µs CPU/datagram (${(row.cpuShare * 100).toFixed(0)}% of a core), ` +
      `half-open max ${row.halfOpenMax}, RSS ${row.rssBeforeMiB.toFixed(0)} -> max ${row.rssMaxMiB.toFixed(0)} MiB, legit ${row.legitUp}/${LEGIT}` +
      `${row.legitAllUpS === null ? '' : ` (all up in ${row.legitAllUpS.toFixed(1)} s)`}, failures ${JSON.stringify(row.failures)}`);
    return row;
  } finally {
    await r.stop();
  }
}

function table(rows: Row[]): string {
  const head = '| responder | sent | read/s | answered/s | rcvbuf drops | CPU µs/datagram read | CPU (cores) | half-open max | RSS MiB before | RSS MiB max | legit up | all up (s) |';
  const out = [head, `|${'---|'.repeat(12)}`];
  for (const who of WHO) {
    const rs = rows.filter((r) => r.who === who);
    if (!rs.length) continue;
    const up = rs.map((r) => (100 * r.legitUp) / LEGIT);
    out.push(`| ${who} | ${stat(rs.map((r) => r.sent))} | ${stat(rs.map((r) => r.readPerSec))} | ${stat(rs.map((r) => r.answeredPerSec))} | ` +
      `${stat(rs.map((r) => r.rcvbufDrops))} | ${stat(rs.map((r) => r.cpuUsPerDatagram))} | ${stat(rs.map((r) => r.cpuShare), 2)} | ` +
      `${stat(rs.map((r) => r.halfOpenMax))} | ${stat(rs.map((r) => r.rssBeforeMiB))} | ${stat(rs.map((r) => r.rssMaxMiB))} | ` +
      `${stat(up)} % | ${stat(rs.map((r) => r.legitAllUpS ?? NaN))} |`);
  }
  const segw = rows.filter((r) => r.who === 'segw');
  const verdict = segw.length === 0 ? [] : [
    '',
    `segw bounds: half-open <= ${HALF_OPEN_MAX} (halfOpenMax; cookies above ${COOKIE_THRESHOLD}), measured max ${Math.max(...segw.map((r) => r.halfOpenMax))}; ` +
      `CPU <= ${CPU_LIMIT} core, measured median ${median(segw.map((r) => r.cpuShare)).toFixed(2)}; ` +
      `legit >= 99 %, measured min ${Math.min(...segw.map((r) => (100 * r.legitUp) / LEGIT)).toFixed(1)} %`,
  ];
  return [`bench/flood: median (min..max) of ${REPEAT} runs; ${RATE} IKE_SA_INIT/s for ${SECONDS} s from ${FLOOD.length} addresses at the VIP; ` +
    `${LEGIT} base stations (simulator, ${SIM.length} addresses, ${ARRIVAL}/s); load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`, ...out, ...verdict].join('\n');
}

async function main(): Promise<void> {
  const disarm = armWatchdog(Number(args['max-minutes']), progress);
  const rows: Row[] = [];
  await withLab('flood', async (lab) => {
    const sw = await lab.switch('lan');
    const g: Host[] = [];
    for (const [i, a] of GW.entries()) {
      const h = await lab.host(`g${i + 1}`);
      await sw.attach(h, `${a}/24`, { ifname: 'eth0' });
      // The core side (the child's local TS): charon's kernel-libipsec routes a child only with a
      // local address inside it (../shared/PEERS.md).
      await lab.lan(h, '192.0.2.1/24');
      g.push(h);
    }
    const sim = await lab.host('sim');
    await sw.attach(sim, SIM.map((a) => `${a}/24`), { ifname: 'eth0' });
    const flood = await lab.host('flood');
    await sw.attach(flood, FLOOD.map((a) => `${a}/24`), { ifname: 'eth0' });
    for (let rep = 1; rep <= REPEAT; rep++) {
      // Alternate the order so a drift in machine load does not favour one side.
      for (const who of rep % 2 ? WHO : [...WHO].reverse()) rows.push(await oneRun({ g, sim, flood }, who, rep));
    }
  });
  console.log(table(rows));
  if (args.json) writeFileSync(args.json, JSON.stringify({ args, rows }, null, 2));
  disarm();
}

await main();
