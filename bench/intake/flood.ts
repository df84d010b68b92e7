/**
 * A spoofed IKE_SA_INIT flood, run inside the lab's generator namespace by bench/intake/run.ts:
 *
 *   node --import tsx bench/intake/flood.ts '{"target":"198.51.100.1","sources":[...],"rate":10000,"seconds":10}'
 *
 * The request is a genuine one: a segw initiator (stub kernel) is pointed at a local capture
 * socket and its first datagram is kept; each flood datagram is that message with a fresh
 * initiator SPI, so every one is a new half-open request to the responder. One socket per source
 * address (all of them configured on the generator's interface, so answers come back and are
 * counted). Bounded: `rate * seconds` datagrams at most, and `seconds` of wall clock. Prints one
 * JSON line: { sent, answered, kinds, sendErrors, seconds } (kinds: the answers by what they are,
 * ./answer-kind.ts).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { NativeUdpIkeSocket } from '../../src/kernel/ike-udp.js';
import { eventually } from '../../src/lab/eventually.js';
import { answerKind, noAnswers } from './answer-kind.js';

interface FloodArgs {
  target: string;
  port?: number;
  sources: string[];
  rate: number;
  seconds: number;
  proposal: string;
}

/** One IKE_SA_INIT request as segw's initiator sends it (SA, KE, Ni, N(NAT_DETECTION_*)...). */
async function captureInitRequest(proposal: string): Promise<Buffer> {
  const capture = NativeUdpIkeSocket.bind({ address: '127.0.0.1', port: 0, natT: false });
  let got: Buffer | undefined;
  capture.setReceiver((data) => (got ??= Buffer.from(data)));
  const d = new IkeDaemon({
    connections: [
      {
        name: 'flood',
        local: { id: 'flood.example', auth: { method: 'psk', secret: 'flood-secret-0123456789' } },
        remote: { addrs: ['127.0.0.1'], id: '%any', auth: { method: 'psk', secret: 'flood-secret-0123456789' } },
        remotePort: capture.local.port,
        ikeProposals: [proposal],
        children: [{ name: 'c', localTs: ['198.51.100.0/24'], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16'] }],
        retransmit: { timeoutMs: 60_000, base: 2, tries: 1 },
      },
    ],
    kernel: new StubKernelIpsec(),
    listen: [{ address: '127.0.0.1', port: 0, natTPort: 0 }],
  });
  try {
    await d.start();
    void d.initiate('flood').catch(() => {});
    return await eventually(() => got, { what: 'the captured IKE_SA_INIT', timeoutMs: 10_000 });
  } finally {
    await d.stop().catch(() => {});
    await capture.close();
  }
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as FloodArgs;
  if (!a.target || !a.sources?.length || !(a.rate > 0) || !(a.seconds > 0)) throw new Error('flood: {target, sources[], rate, seconds}');
  const template = await captureInitRequest(a.proposal);
  const socks = a.sources.map((address) => NativeUdpIkeSocket.bind({ address, port: 0, natT: false, recvBufferSize: 4 << 20 }));
  let answered = 0;
  const kinds = noAnswers();
  for (const s of socks) {
    s.setReceiver((data) => {
      answered++;
      kinds[answerKind(data)]++;
    });
  }
  const to = { address: a.target, port: a.port ?? 500 };
  const limit = Math.round(a.rate * a.seconds);
  const spis = randomBytes(8 * 4096);
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + a.seconds * 1000;
  // Paced in 1 ms steps: each step sends what the rate allows by now (catching up after a stall).
  while (sent < limit) {
    const now = performance.now();
    if (now >= end) break;
    const due = Math.min(limit, Math.floor(((now - t0) / 1000) * a.rate));
    for (; sent < due; sent++) {
      const msg = Buffer.from(template);
      spis.copy(msg, 0, (sent % 4096) * 8, (sent % 4096) * 8 + 8);
      msg.writeUInt32BE(sent >>> 0, 4); // unique across the 4096-entry table
      socks[sent % socks.length]!.send(msg, to);
    }
    await sleep(1);
  }
  const seconds = (performance.now() - t0) / 1000;
  await sleep(1500); // answers still in flight
  const sendErrors = socks.reduce((n, s) => n + s.stats.sendErrors, 0);
  await Promise.all(socks.map((s) => s.close()));
  process.stdout.write(JSON.stringify({ sent, answered, kinds, sendErrors, seconds }) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`flood: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
