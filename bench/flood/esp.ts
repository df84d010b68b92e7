/**
 * bench/flood ESP row (issue 15): a segw<->segw tunnel (userspace ESP, static keys, AES-128-GCM,
 * ESP-in-UDP; test/support/esp-tunnel.ts) carries iperf3 TCP from a to b, without and then with
 * malformed ESP (test/support/malformed-esp.ts: bad SPI, bad ICV, truncated, replays, wrong
 * lengths) flooded from a's namespace at b's port 4500 as fast as one sender thread goes
 * (test/support/udp-flood.ts, unpaced). Per run: the flood's rate, b's drop counters by reason
 * over the flood, b's UDP receive-buffer drops, the tunnel's goodput both ways.
 * The table: median (min..max) of --repeat runs, the two rows taking turns.
 *
 *   node --import tsx bench/flood/esp.ts [--seconds 8] [--repeat 3] [--json FILE]
 * As root; not part of npm test. Bounded: every flood stops at seconds + 2 s or 20 M datagrams.
 */
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { withLab } from '../../src/lab/lab.js';
import { iperf3 } from '../../src/lab/peers/iperf.js';
import { segwTunnel, type Side } from '../../test/support/esp-tunnel.js';
import { MALFORMED_KINDS, malformedEsp } from '../../test/support/malformed-esp.js';
import { udpSnmp } from '../intake/measure.js';
import { stat } from './stats.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '8' }, repeat: { type: 'string', default: '3' }, json: { type: 'string' } },
});
const SECONDS = Number(args.seconds);
const REPEAT = Number(args.repeat);
if (!(SECONDS >= 2 && SECONDS <= 60) || !(REPEAT >= 1 && REPEAT <= 10)) throw new Error('--seconds 2..60, --repeat 1..10');

interface Row {
  flood: boolean;
  rep: number;
  mbps: number;
  floodPerSec: number;
  drops: Record<string, number>;
  rcvbufDrops: number;
}

async function dropsIn(s: Side): Promise<Record<string, number>> {
  const st = await s.ipsec.stats();
  if (!st.available) throw new Error(`no drop counters: ${st.reason}`);
  return st.drops.in;
}

async function oneRun(a: Side, b: Side, payloads: string[], flood: boolean, rep: number): Promise<Row> {
  const d0 = await dropsIn(b);
  const u0 = udpSnmp(b.host);
  let gen: ReturnType<typeof a.host.spawn> | undefined;
  if (flood) {
    const spec = { source: a.outer, target: b.outer, port: 4500, payloads, rate: 0, seconds: SECONDS + 2, count: 20_000_000 };
    gen = a.host.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/support/udp-flood.ts'), JSON.stringify(spec)], { cwd: REPO, name: 'esp-flood' });
    await gen.waitFor(/"started":true/, 20_000);
  }
  try {
    const r = await iperf3(a.host, b.host, { serverAddr: b.inner, clientAddr: a.inner, seconds: SECONDS });
    let floodPerSec = 0;
    if (gen) {
      const m = await gen.waitFor(/\{"sent":(\d+),"sendErrors":\d+,"seconds":([\d.]+)\}/, 30_000);
      floodPerSec = Number(m[1]) / Number(m[2]);
    }
    const d1 = await dropsIn(b);
    const u1 = udpSnmp(b.host);
    const drops = Object.fromEntries(Object.keys(d1).map((k) => [k, (d1[k] ?? 0) - (d0[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    const row: Row = { flood, rep, mbps: r.bitsPerSecond / 1e6, floodPerSec, drops, rcvbufDrops: u1.RcvbufErrors! - u0.RcvbufErrors! };
    process.stderr.write(`[flood-esp] #${rep} ${flood ? 'flood' : 'quiet'}: ${row.mbps.toFixed(0)} Mbit/s, flood ${floodPerSec.toFixed(0)}/s, drops ${JSON.stringify(drops)}, rcvbuf ${row.rcvbufDrops}\n`);
    return row;
  } finally {
    await gen?.stop('SIGKILL', 2000);
  }
}

const rows: Row[] = [];
await withLab('floodesp', async (lab) => {
  const { a, b } = await segwTunnel(lab);
  try {
    if (!(await a.host.ping(b.inner, { count: 3, timeoutS: 2 }))) throw new Error('the tunnel does not pass traffic');
    const sets = malformedEsp({ spi: a.out.spi, encryptionKey: a.out.encryptionKey, esn: a.out.esn, innerSrc: a.inner, innerDst: b.inner, replayUpTo: 3 }, 64);
    const payloads = sets[0]!.packets.flatMap((_, i) => sets.map((s) => s.packets[i]!.toString('hex')));
    for (let rep = 1; rep <= REPEAT; rep++) {
      for (const flood of rep % 2 ? [false, true] : [true, false]) rows.push(await oneRun(a, b, payloads, flood, rep));
    }
  } finally {
    await a.ipsec.close();
    await b.ipsec.close();
  }
});

const reasons = [...new Set(rows.flatMap((r) => Object.keys(r.drops)))].sort();
const out = [
  `bench/flood ESP: iperf3 TCP a -> b through a segw<->segw userspace tunnel, ${SECONDS} s per run, median (min..max) of ${REPEAT}; ` +
    `malformed kinds ${MALFORMED_KINDS.join(', ')} interleaved; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  `| run | tunnel Mbit/s | flood datagrams/s | ${reasons.map((r) => `drops ${r}`).join(' | ')} | rcvbuf drops |`,
  `|${'---|'.repeat(4 + reasons.length)}`,
];
for (const flood of [false, true]) {
  const rs = rows.filter((r) => r.flood === flood);
  out.push(`| ${flood ? 'with flood' : 'no flood'} | ${stat(rs.map((r) => r.mbps))} | ${flood ? stat(rs.map((r) => r.floodPerSec)) : '-'} | ` +
    `${reasons.map((k) => stat(rs.map((r) => r.drops[k] ?? 0))).join(' | ')} | ${stat(rs.map((r) => r.rcvbufDrops))} |`);
}
console.log(out.join('\n'));
if (args.json) writeFileSync(args.json, JSON.stringify({ args, rows }, null, 2));
