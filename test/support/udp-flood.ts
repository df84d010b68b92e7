/**
 * A bounded UDP flood of given payloads, run inside a lab namespace (tests and bench/flood):
 *
 *   node --import tsx test/support/udp-flood.ts '{"source":"198.51.100.1","target":"198.51.100.2","port":4500,
 *     "payloads":["hex",...],"rate":0,"seconds":3,"count":200000}'
 *
 * Sends the payloads round robin from one socket (the addon's, src/kernel/ike-udp.ts: no
 * marker added), at `rate` per second or, with rate 0, as fast as one thread sends them, until
 * `count` datagrams or `seconds` of wall clock, whichever comes first. Prints one JSON line when
 * it starts sending ({"started":true}) and one at the end: { sent, sendErrors, seconds }.
 */
import { setImmediate as yieldNow, setTimeout as sleep } from 'node:timers/promises';
import { NativeUdpIkeSocket } from '../../src/kernel/ike-udp.js';

interface FloodArgs {
  source: string;
  target: string;
  port: number;
  payloads: string[];
  rate: number;
  seconds: number;
  count: number;
}

const MAX_COUNT = 50_000_000;
const MAX_SECONDS = 120;

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as FloodArgs;
  if (!a.source || !a.target || !(a.port > 0) || !a.payloads?.length || !(a.rate >= 0) || !(a.seconds > 0 && a.seconds <= MAX_SECONDS) || !(a.count > 0 && a.count <= MAX_COUNT)) {
    throw new Error(`udp-flood: {source, target, port, payloads[], rate >= 0, seconds 0..${MAX_SECONDS}, count 1..${MAX_COUNT}}`);
  }
  const payloads = a.payloads.map((h) => Buffer.from(h, 'hex'));
  const sock = NativeUdpIkeSocket.bind({ address: a.source, port: 0, natT: false, recvBufferSize: 1 << 16 });
  const to = { address: a.target, port: a.port };
  let sent = 0;
  process.stdout.write('{"started":true}\n');
  const t0 = performance.now();
  const end = t0 + a.seconds * 1000;
  while (sent < a.count) {
    const now = performance.now();
    if (now >= end) break;
    // Paced: what the rate allows by now (catching up after a stall); unpaced: a burst, then a turn of the loop.
    const due = a.rate > 0 ? Math.min(a.count, Math.floor(((now - t0) / 1000) * a.rate)) : Math.min(a.count, sent + 512);
    for (; sent < due; sent++) sock.send(payloads[sent % payloads.length]!, to);
    if (a.rate > 0) await sleep(1);
    else await yieldNow();
  }
  const seconds = (performance.now() - t0) / 1000;
  const sendErrors = sock.stats.sendErrors;
  await sock.close();
  process.stdout.write(JSON.stringify({ sent, sendErrors, seconds }) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`udp-flood: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
