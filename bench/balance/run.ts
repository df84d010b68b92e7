/**
 * bench/balance: N simulated base stations (segw's own IKE initiator, each its own identity)
 * arrive in bursts at the VRRP master of a 3-member segw cluster of different capacities
 * (in-process gateways, stub kernel, loopback; VRRP is not on this branch, so the master role
 * is a role source the run sets). Prints each member's tunnels and weighted load and the
 * max/min ratio (goal <= 1.05), for a steady master and for a master that changes half way
 * (`--switch`: gw1 becomes backup, gw2 master, and the later bursts go to gw2 as they would to
 * the VIP).
 *
 *   node --import tsx bench/balance/run.ts --n 10000 --burst 500
 *   node --import tsx bench/balance/run.ts --n 10000 --burst 500 --switch
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gateway } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { UdpIkeSocket } from '../../src/ike/transport/udp.js';
import { eventually } from '../../src/lab/eventually.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import type { MemberRoleName } from '../../src/cluster/report.js';
import { createRootLogger, setRootLogger } from '../../src/log/index.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '10000' }, burst: { type: 'string', default: '500' }, gap: { type: 'string', default: '1000' }, switch: { type: 'boolean', default: false } } });
const N = Number(values.n);
const BURST = Number(values.burst);
/** Milliseconds between bursts: arrivals do not wait for earlier setups to finish. */
const GAP_MS = Number(values.gap);
if (!(N > 0 && N <= 100_000) || !(BURST > 0) || !(GAP_MS >= 0 && GAP_MS <= 60_000)) throw new Error('--n 1..100000, --burst > 0, --gap 0..60000 (ms)');
/** The base stations' socket's receive buffer (SO_RCVBUF, capped by net.core.rmem_max). */
const RECV_BUFFER = 8 << 20;
/** Setup attempts per base station (the first and the keeper's retries). */
const ATTEMPTS = 4;
const CAPACITY = [6000, 9000, 15000];
const PSK = 'balance bench pre-shared key';
const base = 30_000 + Math.floor(Math.random() * 10_000);
const addr = (i: number) => `127.0.0.${51 + i}`;
const VIP = '127.0.0.50';
setRootLogger(createRootLogger({ level: 'error' }));

function config(i: number, dir: string) {
  return parseGatewayConfig(
    {
      node: { name: `gw${i + 1}` },
      ike: { listen: [addr(i)], port: base, nattPort: base + 1, halfOpenMax: 100000, cookieThreshold: 100000, halfOpenPerPeer: 100000 },
      kernel: { ipsec: 'stub' },
      connections: {
        bs: {
          local: { id: 'gw.example.net', auth: 'psk' },
          remote: { id: '%any', auth: 'psk' },
          psk: PSK,
          ikeProposals: ['aes128gcm16-prfsha256-x25519'],
          children: { lte: { localTs: ['203.0.113.0/24'], remoteTs: ['10.0.0.0/8'], espProposals: ['aes128gcm16-esn'] } },
        },
      },
      cluster: {
        address: addr(i),
        vips: ['203.0.113.10/24'],
        keyFile: 'cluster.key',
        redirect: 'init',
        capacity: { maxTunnels: CAPACITY[i], bandwidth: '1G' },
        weights: { tunnels: 1, bandwidth: 0, cpu: 0 },
        reports: { listen: addr(i), port: base + 10, interval: '200ms', staleAfter: 50, peers: [0, 1, 2].filter((j) => j !== i).map(addr) },
        vrrp: { interface: 'lo', vrid: 9 },
      },
    },
    join(dir, `gw${i + 1}.yaml`),
  );
}

function bsConn(k: number, gw: string): ConnectionConfig {
  return {
    name: `bs${k}`,
    local: { id: `bs${k}.example.net`, auth: { method: 'psk', secret: PSK } },
    remote: { addrs: [gw], id: 'gw.example.net', auth: { method: 'psk', secret: PSK } },
    remotePort: base,
    ikeProposals: ['aes128gcm16-prfsha256-x25519'],
    children: [{ name: 'lte', localTs: [`10.${k >> 16}.${(k >> 8) & 255}.${k & 255}/32`], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16-esn'] }],
    // strongSwan's schedule (4 s, x1.8, 5 tries): a lost datagram costs seconds, not a run.
    retransmit: { timeout: 4, base: 1.8, tries: 5 },
  };
}

/** Failure reasons with the base station's name taken out, counted. */
function tally(reasons: Map<string, number>, reason: string): void {
  const r = reason.replace(/bs\d+/g, 'bsN');
  reasons.set(r, (reasons.get(r) ?? 0) + 1);
}

/** Kernel receive-buffer drops of this process's UDP sockets on 127.0.0.0/8 (/proc/net/udp "drops"). */
function loopbackUdpDrops(): number {
  return readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => /^[0-9A-F]{6}7F:/.test(f[1] ?? '')).reduce((n, f) => n + Number(f[12] ?? 0), 0);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'segw-bench-balance-'));
  writeFileSync(join(dir, 'cluster.key'), `${'b5'.repeat(32)}\n`, { mode: 0o600 });
  const roles: MemberRoleName[] = ['master', 'backup', 'backup'];
  const gws: Gateway[] = [];
  let bs: IkeDaemon | undefined;
  const started = performance.now();
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  try {
    for (let i = 0; i < 3; i++) gws.push(await Gateway.start(config(i, dir), { role: { role: () => roles[i]! } }));
    // Every member in every table before the first burst.
    await eventually(() => gws.every((g) => g.cluster!.members().members.filter((m) => m.eligible).length === 3) || undefined, { what: 'every member in every table', timeoutMs: 10_000 });
    let master = 0;
    // The VIP: base stations start IKE there; only the master serves it (as src/gateway/vrrp-node.ts
    // binds the VIP's socket on the master and closes it on the old one).
    const serveVip = async (i: number) => gws[i]!.daemon.addSocket(await UdpIkeSocket.bind({ address: VIP, port: base, natT: false, recvBufferSize: RECV_BUFFER }));
    await serveVip(0);
    const conns = Array.from({ length: N }, (_, k) => bsConn(k, VIP));
    // One socket for all N base stations: its receive buffer must hold a burst's answers (the
    // default 208 KiB holds ~160 and the rest are dropped, each costing a retransmit timeout).
    const sock = await UdpIkeSocket.bind({ address: '127.0.0.2', port: 0, natT: false, recvBufferSize: RECV_BUFFER });
    bs = new IkeDaemon({ connections: conns, kernel: new StubKernelIpsec({ firstSpi: 0xc5000001 }), sockets: [sock] });
    await bs.start();
    const drops0 = loopbackUdpDrops();
    let failed = 0;
    const reasons = new Map<string, number>();
    const outcomes: Promise<void>[] = [];
    let retried = 0;
    // A base station whose setup failed tries again after a jittered back-off, as
    // src/initiator/keeper.ts does (a setup in flight on the old master's VIP dies with the move).
    const keep = async (name: string): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        const o = await bs!.establish(name).then(({ outcome }) => outcome, (err: unknown) => ({ ok: false as const, reason: (err as Error).message }));
        if (o.ok) return;
        if (attempt >= ATTEMPTS) {
          failed++;
          tally(reasons, o.reason);
          return;
        }
        retried++;
        await sleep(1000 + Math.random() * 1000 * attempt);
      }
    };
    for (let b = 0; b < N; b += BURST) {
      if (values.switch && master === 0 && b >= N / 2) {
        // The VIP moves: datagrams queued on the old master's VIP socket are lost with it, and
        // their base stations retransmit to the VIP, now the new master's.
        roles[0] = 'backup';
        await gws[0]!.daemon.removeSocket({ address: VIP, port: base });
        roles[1] = 'master';
        await serveVip(1);
        master = 1;
      }
      for (const c of conns.slice(b, b + BURST)) outcomes.push(keep(c.name));
      await sleep(GAP_MS);
      if (process.env.BALANCE_DEBUG) {
        const m = gws[master]!;
        console.error(`burst ${b / BURST}: reported ${JSON.stringify(m.cluster!.members().members.map((x) => `${x.id}:${x.load.tunnels}`))} pending ${JSON.stringify(m.balancing!.redirects().pending)} actual ${JSON.stringify(gws.map((g) => g.daemon.manager.ikeSaList().filter((x) => x.established).length))}`);
      }
    }
    await Promise.all(outcomes);
    const secs = (performance.now() - started) / 1000;
    const tunnels = gws.map((g) => g.daemon.manager.ikeSaList().filter((s) => s.established && !s.isDead).length);
    const loads = tunnels.map((t, i) => t / CAPACITY[i]!);
    const ratio = Math.max(...loads) / Math.min(...loads);
    const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`\n${N} base stations, bursts of ${BURST} every ${GAP_MS} ms, master ${values.switch ? 'gw1 then gw2 (switched half way)' : 'gw1'}; ${failed} failed; ${secs.toFixed(1)} s; load average ${load0} -> ${load1}\n`);
    console.log('| member | capacity | tunnels | weighted load |');
    console.log('|---|---|---|---|');
    tunnels.forEach((t, i) => console.log(`| gw${i + 1} | ${CAPACITY[i]} | ${t} | ${(loads[i]! * 100).toFixed(2)}% |`));
    console.log(`\nmax/min weighted load: ${ratio.toFixed(4)} (goal <= 1.05) ${ratio <= 1.05 && failed === 0 ? 'OK' : 'NOT MET'}`);
    for (const [r, n] of reasons) console.log(`failed ${n}: ${r}`);
    console.log(`setups tried again after a failure: ${retried}`);
    console.log(`UDP receive-buffer drops on loopback during the run: ${loopbackUdpDrops() - drops0}; base-station retransmissions answered by the gateways: ${gws.reduce((n, g) => n + g.daemon.manager.counters.get('retransmit_answered'), 0)}`);
    for (const g of gws) console.log(`${g.cfg.node.name} redirects: ${JSON.stringify(g.balancing!.redirects().redirects.map((r) => `${r.target}:${r.reason}:${r.count}`))} served: ${JSON.stringify(g.balancing!.redirects().served)}`);
  } finally {
    await bs?.stop();
    for (const g of gws) await g.stop({ notifyPeers: false });
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
