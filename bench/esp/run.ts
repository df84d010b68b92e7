/**
 * bench/esp: throughput of segw's userspace ESP against its references, all in one run.
 *
 *   node --import tsx bench/esp/run.ts            (root: builds lab namespaces)
 *   SECONDS_PER_RUN=10 WORKERS=0,2 node --import tsx bench/esp/run.ts
 *
 * Rows: iperf3 TCP over plain veth; through a segw<->segw tunnel (static keys, AES-128-GCM,
 * ESP-in-UDP) for each worker setting; through strongSwan kernel-libipsec<->libipsec (charon
 * pair, PSK, the same cipher); and the engine's crypto loop (seal of 1400-byte packets, per
 * core) against `openssl speed -evp aes-128-gcm -bytes 1400`. Every namespace is removed at
 * the end (src/lab), every load is bounded by SECONDS_PER_RUN.
 * Goals (issue 5): segw >= 10x libipsec, >= 0.5x veth; crypto loop >= 0.8x openssl per core.
 */
import { execFileSync } from 'node:child_process';
import { withLab, type Host } from '../../src/lab/lab.js';
import { StrongSwan } from '../../src/lab/peers/strongswan.js';
import { childSas, ikeSas } from '../../src/lab/peers/vici-raw.js';
import { loadEsp } from '../../src/kernel/userspace/native.js';
import { segwTunnel } from '../../test/support/esp-tunnel.js';

const SECS = Number(process.env.SECONDS_PER_RUN ?? 8);
const WORKERS = (process.env.WORKERS ?? '0,2').split(',').map(Number);

async function iperf(client: Host, server: Host, serverAddr: string, clientAddr: string): Promise<number> {
  const srv = server.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', serverAddr], { name: 'iperf3-s' });
  await srv.waitFor(/Server listening/);
  const r = await client.exec('iperf3', ['-c', serverAddr, '-B', clientAddr, '-t', String(SECS), '-J'], {
    timeoutMs: (SECS + 30) * 1000,
  });
  await srv.exited;
  return JSON.parse(r.stdout).end.sum_received.bits_per_second as number;
}

async function veth(): Promise<number> {
  return withLab('bveth', async (lab) => {
    const a = await lab.host('a'), b = await lab.host('b');
    await lab.link(a, b, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    return iperf(a, b, '198.51.100.2', '198.51.100.1');
  });
}

async function segw(workers: number): Promise<number> {
  return withLab('bsegw', async (lab) => {
    const { a, b } = await segwTunnel(lab, { workers });
    try {
      return await iperf(a.host, b.host, b.inner, a.inner);
    } finally {
      await a.ipsec.close();
      await b.ipsec.close();
    }
  });
}

function swanctl(local: string, remote: string, lid: string, rid: string, lts: string, rts: string): string {
  return `connections { tun { local_addrs = ${local}
    remote_addrs = ${remote}
    proposals = aes128gcm16-prfsha256-x25519
    local { auth = psk
      id = ${lid} }
    remote { auth = psk
      id = ${rid} }
    children { net { local_ts = ${lts}
      remote_ts = ${rts}
      esp_proposals = aes128gcm16
      start_action = none } } } }
secrets { ike-1 { id-a = a.example
  id-b = b.example
  secret = "bench-psk-0123456789" } }
`;
}

async function libipsec(): Promise<number> {
  return withLab('bswan', async (lab) => {
    const a = await lab.host('a'), b = await lab.host('b');
    await lab.link(a, b, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
    await lab.lan(a, '192.0.2.1/25');
    await lab.lan(b, '192.0.2.129/25');
    const sb = await StrongSwan.start(b, { name: 'b', swanctl: swanctl('198.51.100.2', '198.51.100.1', 'b.example', 'a.example', '192.0.2.128/25', '192.0.2.0/25') });
    const sa = await StrongSwan.start(a, { name: 'a', swanctl: swanctl('198.51.100.1', '198.51.100.2', 'a.example', 'b.example', '192.0.2.0/25', '192.0.2.128/25') });
    try {
      await sa.initiate('net', { timeoutS: 20 });
      await sb.waitForSas((ev) => ev.some((e) => ikeSas(e).some(([, ike]) => childSas(ike).some((c) => c.state === 'INSTALLED'))));
      return await iperf(a, b, '192.0.2.129', '192.0.2.1');
    } finally {
      await sa.stop();
      await sb.stop();
    }
  });
}

function cryptoLoop(threads: number): number {
  const { espCryptoBench } = loadEsp();
  espCryptoBench({ size: 1400, count: 20_000, threads }); // warm up
  const r = espCryptoBench({ size: 1400, count: 400_000 / threads, threads });
  return (r.bytes * 8) / r.seconds;
}

function opensslSpeed(): number {
  const out = execFileSync('openssl', ['speed', '-evp', 'aes-128-gcm', '-bytes', '1400', '-seconds', '3'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const m = /AES-128-GCM\s+([\d.]+)k/.exec(out);
  if (!m) throw new Error(`cannot parse openssl speed output:\n${out}`);
  return Number(m[1]) * 1000 * 8;
}

const g = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;
const rows: [string, string, string][] = [];
const vethBps = await veth();
rows.push(['iperf3 TCP, plain veth', g(vethBps), '1.00x veth']);
const swanBps = await libipsec();
rows.push(['iperf3 TCP, strongSwan libipsec<->libipsec', g(swanBps), `${(swanBps / vethBps).toFixed(2)}x veth`]);
for (const w of WORKERS) {
  const bps = await segw(w);
  const label = w === 0 ? 'run to completion' : `${w} crypto workers`;
  rows.push([`iperf3 TCP, segw<->segw (${label})`, g(bps), `${(bps / swanBps).toFixed(1)}x libipsec, ${(bps / vethBps).toFixed(2)}x veth`]);
}
// The machine is shared: openssl and the engine's loop alternate, best of ROUNDS each.
const ROUNDS = 3;
let ossl = 0;
const loop = [0, 0];
for (let r = 0; r < ROUNDS; r++) {
  ossl = Math.max(ossl, opensslSpeed());
  loop[0] = Math.max(loop[0], cryptoLoop(1));
  loop[1] = Math.max(loop[1], cryptoLoop(2));
}
rows.push([`openssl speed -evp aes-128-gcm 1400 B (best of ${ROUNDS})`, g(ossl), '1.00x openssl']);
for (const t of [1, 2]) {
  const bps = loop[t - 1];
  rows.push([`engine seal loop, AES-128-GCM 1400 B, ${t} thread${t > 1 ? 's' : ''}`, g(bps), `${(bps / t / ossl).toFixed(2)}x openssl per core`]);
}
const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
console.log(`\nbench/esp (${SECS} s per iperf3 run, ${new Date().toISOString()})`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w[0])}  ${b.padStart(w[1])}  ${c}`);
