/**
 * The cost of answering a flood one sendto per answer against one sendmmsg per received batch
 * (src/kernel/ike-udp.ts), measured in one process, in a lab namespace on loopback:
 *
 *   8 sender sockets (127.0.0.11..18) --N datagrams of 400 bytes--> rx (127.0.0.1), which answers
 *   each with 60 bytes (an N(COOKIE) response's size) to its source
 *
 *   batched   rx answers from inside its receiver: the answers of a batch leave in one sendmmsg
 *   sendto    rx answers from a microtask, after the batch: one sendto per answer (as before)
 *
 * Both modes send, read and answer the same datagrams; the difference in process CPU per
 * answered datagram is the answer path's. Modes alternate, median (min..max) of --repeat.
 *   node --import tsx bench/intake/send-batch.ts [--n 200000] [--repeat 5]
 */
import { parseArgs } from 'node:util';
import { setImmediate as turn } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { withLab } from '../../src/lab/lab.js';
import { eventually } from '../../src/lab/eventually.js';
import { NativeUdpIkeSocket } from '../../src/kernel/ike-udp.js';
import { stat } from '../flood/stats.js';

const { values: args } = parseArgs({ options: { n: { type: 'string', default: '200000' }, repeat: { type: 'string', default: '5' } } });
const N = Number(args.n);
const REPEAT = Number(args.repeat);
if (!(N >= 1000 && N <= 2_000_000) || !(REPEAT >= 1 && REPEAT <= 20)) throw new Error('--n 1000..2000000, --repeat 1..20');

type Mode = 'batched' | 'sendto';
const results: Record<Mode, number[]> = { batched: [], sendto: [] };
const calls: Record<Mode, number[]> = { batched: [], sendto: [] };

await withLab('sendbatch', async (lab) => {
  const h = await lab.host('h');
  const netns = `/run/netns/${h.ns}`;
  for (let i = 11; i <= 18; i++) await h.addAddress('lo', `127.0.0.${i}/8`).catch(() => {});
  const request = Buffer.alloc(400, 0x2a);
  const answer = Buffer.alloc(60, 0x2b);
  for (let rep = 1; rep <= REPEAT; rep++) {
    for (const mode of (rep % 2 ? ['batched', 'sendto'] : ['sendto', 'batched']) as Mode[]) {
      const rx = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, netns });
      const tx = Array.from({ length: 8 }, (_, i) => NativeUdpIkeSocket.bind({ address: `127.0.0.${11 + i}`, port: 0, netns }));
      try {
        let answered = 0;
        for (const t of tx) t.setReceiver(() => answered++);
        rx.setReceiver((_d, remote) => {
          if (mode === 'batched') rx.send(answer, remote);
          else queueMicrotask(() => rx.send(answer, remote));
        });
        const c0 = process.cpuUsage();
        for (let sent = 0; sent < N; ) {
          for (const end = Math.min(N, sent + 2000); sent < end; sent++) tx[sent % 8]!.send(request, rx.local);
          await turn();
          // Bounded queue: rx keeps up within two chunks, so the kernel drops nothing and both modes do the same work.
          const lost = tx.reduce((a, t) => a + t.stats.sendErrors, 0);
          if (rx.stats.datagrams + lost < sent - 4000) await eventually(() => rx.stats.datagrams + lost >= sent - 2000, { what: 'rx reading', timeoutMs: 30_000, intervalMs: 1 });
        }
        const lost = () => tx.reduce((a, t) => a + t.stats.sendErrors, 0);
        await eventually(() => rx.stats.datagrams + lost() >= N && answered + rx.stats.sendErrors >= rx.stats.datagrams, {
          what: 'every datagram read and answered', timeoutMs: 60_000, intervalMs: 20,
        });
        const c = process.cpuUsage(c0);
        results[mode].push((c.user + c.system) / answered);
        calls[mode].push(rx.stats.sent / rx.stats.sendCalls);
        process.stderr.write(`[send-batch] ${mode} #${rep}: ${answered} answered, ${((c.user + c.system) / answered).toFixed(2)} µs CPU per answered datagram, ${(rx.stats.sent / rx.stats.sendCalls).toFixed(1)} datagrams per send call\n`);
      } finally {
        for (const s of [rx, ...tx]) await s.close();
      }
    }
  }
});
console.log(`send-batch: ${N} datagrams per run, median (min..max) of ${REPEAT}; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('| answers | process CPU µs per answered datagram (send + read + answer + read answer) | datagrams per send call |');
console.log('|---|---|---|');
for (const m of ['sendto', 'batched'] as Mode[]) console.log(`| ${m} | ${stat(results[m], 2)} | ${stat(calls[m])} |`);
