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
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gateway } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import type { MemberRoleName } from '../../src/cluster/report.js';
import { createRootLogger, setRootLogger } from '../../src/log/index.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '10000' }, burst: { type: 'string', default: '500' }, switch: { type: 'boolean', default: false } } });
const N = Number(values.n);
const BURST = Number(values.burst);
const CAPACITY = [6000, 9000, 15000];
const PSK = 'balance bench pre-shared key';
const base = 30_000 + Math.floor(Math.random() * 10_000);
const addr = (i: number) => `127.0.0.${51 + i}`;
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
    retransmit: { timeout: 30, base: 2, tries: 3 },
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'segw-bench-balance-'));
  writeFileSync(join(dir, 'cluster.key'), `${'b5'.repeat(32)}\n`, { mode: 0o600 });
  const roles: MemberRoleName[] = ['master', 'backup', 'backup'];
  const gws: Gateway[] = [];
  let bs: IkeDaemon | undefined;
  const started = performance.now();
  try {
    for (let i = 0; i < 3; i++) gws.push(await Gateway.start(config(i, dir), { role: { role: () => roles[i]! } }));
    // Every member in every table before the first burst.
    const deadline = Date.now() + 10_000;
    while (gws.some((g) => g.cluster!.members().members.filter((m) => m.eligible).length < 3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    let master = 0;
    const conns = Array.from({ length: N }, (_, k) => bsConn(k, addr(0)));
    bs = new IkeDaemon({ connections: conns, kernel: new StubKernelIpsec({ firstSpi: 0xc5000001 }), listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] });
    await bs.start();
    let failed = 0;
    for (let b = 0; b < N; b += BURST) {
      if (values.switch && master === 0 && b >= N / 2) {
        roles[0] = 'backup';
        roles[1] = 'master';
        master = 1;
      }
      const burst = conns.slice(b, b + BURST);
      const outs = await Promise.all(burst.map(async (c) => (await bs!.establish(c.name, { remote: addr(master) })).outcome));
      failed += (await Promise.all(outs)).filter((o) => !o.ok).length;
    }
    const secs = (performance.now() - started) / 1000;
    const tunnels = gws.map((g) => g.daemon.manager.ikeSaList().filter((s) => s.established && !s.isDead).length);
    const loads = tunnels.map((t, i) => t / CAPACITY[i]!);
    const ratio = Math.max(...loads) / Math.min(...loads);
    console.log(`\n${N} base stations, bursts of ${BURST}, master ${values.switch ? 'gw1 then gw2 (switched half way)' : 'gw1'}; ${failed} failed; ${secs.toFixed(1)} s\n`);
    console.log('| member | capacity | tunnels | weighted load |');
    console.log('|---|---|---|---|');
    tunnels.forEach((t, i) => console.log(`| gw${i + 1} | ${CAPACITY[i]} | ${t} | ${(loads[i]! * 100).toFixed(2)}% |`));
    console.log(`\nmax/min weighted load: ${ratio.toFixed(4)} (goal <= 1.05) ${ratio <= 1.05 && failed === 0 ? 'OK' : 'NOT MET'}`);
    for (const g of gws) console.log(`${g.cfg.node.name} redirects: ${JSON.stringify(g.balancing!.redirects().redirects.map((r) => `${r.target}:${r.reason}:${r.count}`))} served: ${JSON.stringify(g.balancing!.redirects().served)}`);
  } finally {
    await bs?.stop();
    for (const g of gws) await g.stop({ notifyPeers: false });
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
