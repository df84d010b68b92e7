/**
 * IKE intake under a spoofed IKE_SA_INIT flood (issue 18 item 3): segw beside strongSwan's charon,
 * measured in one run, each with its own default DoS protection (segw: cookies above 30 half-open
 * SAs; charon: dos_protection = yes, cookies at 30 half-open SAs too).
 *
 *   [gen] 198.51.100.10..19 (real initiators), 198.51.100.100..199 (flood)  ──veth──  198.51.100.1 [resp]
 *
 * Per run: a fresh responder; bench/intake/flood.ts floods port 500 at `--rate` for `--seconds`
 * from 100 source addresses; one second in, `--legit` real initiators (src/initiator in its own
 * process, strongSwan-like retransmissions shortened to fit the run) try to connect. Reported:
 * datagrams/s the responder read (UDP InDatagrams of its namespace, after its queue drained) and
 * answered (answers received by the flood sockets), kernel receive-buffer drops, responder CPU
 * per datagram read, and how many of the real initiators got their IKE SA and child up.
 * The table shows the median of `--repeat` runs (>= 3 by default) with min and max.
 *
 * As root; not part of npm test. Everything is removed at the end, on failure and on SIGINT.
 *   node --import tsx bench/intake/run.ts [--rate 10000,100000] [--seconds 10] [--repeat 3] [--legit 10]
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { withLab, type Host } from '../../src/lab/lab.js';
import { eventually } from '../../src/lab/eventually.js';
import { StrongSwan } from '../../src/lab/peers/strongswan.js';
import { GeneratorProcess, type RemoteGeneratorOptions } from '../../src/initiator/remote.js';
import { cpuTimes, pidIn } from '../ike-setup/procfs.js';
import { recvQueue, runFlood, udpSnmp } from './measure.js';
import { RAN_PROPOSAL as PROPOSAL, RAN_GW_ID as GW_ID, RAN_POOL as POOL, segwRanConnections, charonRanSwanctl, CHARON_QUIET } from '../ran-profile.js';
import { armWatchdog } from '../watchdog.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000,100000' },
    seconds: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
    legit: { type: 'string', default: '10' },
    json: { type: 'string' },
    'max-minutes': { type: 'string', default: '30' },
  },
});
const RATES = args.rate!.split(',').map(Number);
const SECONDS = Number(args.seconds);
const REPEAT = Number(args.repeat);
const LEGIT = Number(args.legit);
if (RATES.some((r) => !(r > 0 && r <= 200_000)) || !(SECONDS > 0 && SECONDS <= 60) || !(LEGIT >= 1 && LEGIT <= 10)) {
  throw new Error('--rate 1..200000 (comma list), --seconds 1..60, --legit 1..10: the flood stays bounded');
}

const RESP = '198.51.100.1';
const LEGIT_ADDRS = Array.from({ length: LEGIT }, (_, i) => `198.51.100.${10 + i}`);
const FLOOD_ADDRS = Array.from({ length: 100 }, (_, i) => `198.51.100.${100 + i}`);
const PSK = 'intake-bench-psk-0123456789abcdef';
const CORE_TS = '203.0.113.0/24';
const RAN = { psk: PSK, coreTs: CORE_TS };

type Who = 'segw' | 'charon';
interface Row {
  who: Who;
  rate: number;
  rep: number;
  sent: number;
  readPerSec: number;
  answeredPerSec: number;
  rcvbufDrops: number;
  /** UDP datagrams the responder sent (OutDatagrams) and failed to send (SndbufErrors), per second. */
  sentPerSec: number;
  sndbufErrors: number;
  cpuUsPerDatagram: number;
  cpuShare: number;
  legitOk: number;
}

const progress = (s: string) => process.stderr.write(`[intake] ${s}\n`);

async function startSegw(host: Host): Promise<{ pid: number; stop(): Promise<void> }> {
  const name = `segw-intake-${Date.now()}`;
  const cfg = {
    node: { name },
    log: { level: 'warn' },
    ike: { listen: [RESP] }, // default DoS protection: cookies above 30 half-open SAs
    kernel: { ipsec: 'stub', routes: { enabled: false } },
    connections: segwRanConnections(RAN),
  };
  const file = join(host.lab.dir, `${name}.yaml`);
  writeFileSync(file, stringify(cfg));
  const proc = host.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'gateway', '--config', file], {
    name,
    cwd: REPO,
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: undefined },
    logFile: join(host.lab.dir, `${name}.log`),
  });
  await eventually(async () => (await host.exec('ss', ['-Hlun', 'sport = :500'])).stdout.trim() !== '' || (!proc.running && Promise.reject(new Error(proc.output))), {
    what: 'segw on UDP 500',
    timeoutMs: 30_000,
  });
  return { pid: proc.pid!, stop: () => proc.stop('SIGKILL', 2000) };
}

async function startCharon(host: Host): Promise<{ pid: number; stop(): Promise<void> }> {
  const swanctl = charonRanSwanctl(RAN, RESP);
  // Default DoS protection (cookies at 30 half-open SAs, 5 per IP blocked); log off as in bench/ike-setup.
  const ss = await StrongSwan.start(host, { name: `intake${Date.now()}`, swanctl, charon: 'ikesa_table_size = 4096', logLevels: CHARON_QUIET });
  return { pid: pidIn(host, 'charon'), stop: () => ss.process.stop('SIGKILL', 2000) };
}

function legitOptions(): RemoteGeneratorOptions {
  return {
    population: { count: LEGIT, subnetPool: POOL, endpoints: LEGIT_ADDRS.map((address) => ({ address })) },
    target: { address: RESP, id: GW_ID },
    psk: PSK,
    ikeProposals: [PROPOSAL],
    espProposals: ['aes128gcm16'],
    remoteTs: [CORE_TS],
    // strongSwan's schedule shortened to fit the run: 1 s, x1.8, 4 tries (~22 s in all).
    retransmit: { timeout: 1, base: 1.8, tries: 4 },
  };
}

async function oneRun(gen: Host, resp: Host, legit: GeneratorProcess, who: Who, rate: number, rep: number): Promise<Row> {
  const r = who === 'segw' ? await startSegw(resp) : await startCharon(resp);
  try {
    await legit.create(legitOptions());
    const snmp0 = udpSnmp(resp);
    const cpu0 = cpuTimes(r.pid);
    const t0 = performance.now();
    const flood = runFlood(gen, { target: RESP, sources: FLOOD_ADDRS, rate, seconds: SECONDS, proposal: PROPOSAL });
    await new Promise((res) => setTimeout(res, 1000));
    const ok = legit.establish({ concurrency: LEGIT, setupTimeoutMs: 25_000 });
    const [f, report] = await Promise.all([flood, ok]);
    await eventually(async () => (await recvQueue(resp)) === 0, { what: 'the responder queue drained', timeoutMs: 60_000, intervalMs: 200 });
    const cpu1 = cpuTimes(r.pid);
    const wall = (performance.now() - t0) / 1000;
    const snmp1 = udpSnmp(resp);
    const read = snmp1.InDatagrams! - snmp0.InDatagrams!;
    const row: Row = {
      who,
      rate,
      rep,
      sent: f.sent,
      readPerSec: read / f.seconds,
      answeredPerSec: f.answered / f.seconds,
      rcvbufDrops: snmp1.RcvbufErrors! - snmp0.RcvbufErrors!,
      sentPerSec: (snmp1.OutDatagrams! - snmp0.OutDatagrams!) / f.seconds,
      sndbufErrors: snmp1.SndbufErrors! - snmp0.SndbufErrors!,
      cpuUsPerDatagram: ((cpu1.total - cpu0.total) * 1000) / Math.max(1, read),
      cpuShare: (cpu1.total - cpu0.total) / 1000 / wall,
      legitOk: report.established,
    };
    progress(`${who} ${rate}/s #${rep}: sent ${f.sent}, read ${row.readPerSec.toFixed(0)}/s, answered ${row.answeredPerSec.toFixed(0)}/s (responder sent ${row.sentPerSec.toFixed(0)}/s, ` +
      `${row.sndbufErrors} send errors), drops ${row.rcvbufDrops}, ${row.cpuUsPerDatagram.toFixed(1)} µs CPU/datagram (${(row.cpuShare * 100).toFixed(0)}% of a core), legit ${row.legitOk}/${LEGIT}`);
    await legit.teardown({ concurrency: LEGIT, notifyPeer: false });
    return row;
  } finally {
    await legit.close().catch(() => {});
    await r.stop();
  }
}

function stat(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  const f = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `${f(med)} (${f(s[0]!)}..${f(s[s.length - 1]!)})`;
}

function table(rows: Row[]): string {
  const out = ['| offered/s | responder | sent | read/s | answered/s | rcvbuf drops | CPU µs/datagram read | CPU (cores) | legit up |', '|---|---|---|---|---|---|---|---|---|'];
  for (const rate of RATES) {
    for (const who of ['segw', 'charon'] as Who[]) {
      const rs = rows.filter((r) => r.rate === rate && r.who === who);
      if (!rs.length) continue;
      out.push(`| ${rate} | ${who} | ${stat(rs.map((r) => r.sent))} | ${stat(rs.map((r) => r.readPerSec))} | ${stat(rs.map((r) => r.answeredPerSec))} | ` +
        `${stat(rs.map((r) => r.rcvbufDrops))} | ${stat(rs.map((r) => r.cpuUsPerDatagram))} | ${stat(rs.map((r) => r.cpuShare))} | ` +
        `${stat(rs.map((r) => r.legitOk))}/${LEGIT} |`);
    }
  }
  return `median (min..max) of ${REPEAT} runs, ${SECONDS} s floods from ${FLOOD_ADDRS.length} addresses, ${LEGIT} real initiators\n${out.join('\n')}`;
}

async function main(): Promise<void> {
  const disarm = armWatchdog(Number(args['max-minutes']), progress);
  const rows: Row[] = [];
  await withLab('intake', async (lab) => {
    const gen = await lab.host('gen');
    const resp = await lab.host('resp');
    await lab.link(gen, resp, { a: [...LEGIT_ADDRS, ...FLOOD_ADDRS].map((a) => `${a}/24`), b: `${RESP}/24` });
    await lab.lan(resp, '203.0.113.1/24');
    for (const rate of RATES) {
      for (let rep = 1; rep <= REPEAT; rep++) {
        // Alternate the order so a drift in machine load does not favour one side.
        for (const who of (rep % 2 ? ['segw', 'charon'] : ['charon', 'segw']) as Who[]) {
          const legit = GeneratorProcess.start(['ip', 'netns', 'exec', gen.ns, process.execPath, '--import', 'tsx', 'src/initiator/main.ts'], {
            cwd: REPO,
            env: { ...process.env, SEGW_LOG_LEVEL: 'warn', NODE_TEST_CONTEXT: undefined },
          });
          rows.push(await oneRun(gen, resp, legit, who, rate, rep));
        }
      }
    }
  });
  console.log(table(rows));
  if (args.json) writeFileSync(args.json, JSON.stringify({ args, rows }, null, 2));
  disarm();
}

await main();
