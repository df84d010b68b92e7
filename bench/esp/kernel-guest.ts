/**
 * bench/esp --kernel, the guest side (run in the user-mode-linux guest by ./kernel.ts): iperf3
 * TCP over the same two namespaces, in one boot, rows taking turns RUNS times:
 *   - plain veth (no tunnel);
 *   - XFRM programmed by segw (gateway, kernel.ipsec: xfrm) <-> charon kernel-netlink;
 *   - XFRM programmed by charon (gateway) <-> charon kernel-netlink: the reference;
 *   - segw's userspace engine (gateway, kernel.ipsec: userspace) <-> charon kernel-libipsec,
 *     for what the userspace path does on the same guest.
 * The guest has one CPU and no AES-NI (generic GCM): only the ratios inside one run mean
 * anything. CPU per MB is the guest's busy time (/proc/stat) during the iperf3 run.
 * Prints one JSON line `SEGW-BENCH {...}` for the host to tabulate.
 */
import { readFileSync } from 'node:fs';
import { withLab, type Lab } from '../../src/lab/lab.js';
import { StrongSwan } from '../../src/lab/peers/strongswan.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import { iperf3 } from '../../src/lab/peers/iperf.js';
import { buildTopology, type Topology } from '../../test/interop/support/topology.js';
import { segwConfig, swanBaseStation, swanGateway } from '../../test/interop/support/configs.js';
import { oneTunnel } from '../../test/interop/support/sas.js';
import { GCM } from '../../test/kernel-esp/guest/tunnel.js';
import { eventually } from '../../src/lab/eventually.js';
import { swanView } from '../../test/interop/support/sas.js';

const SECS = Number(process.env.SECONDS_PER_RUN ?? 5);
const RUNS = Number(process.env.RUNS ?? 3);
const HZ = 100; // USER_HZ

function busyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
}

interface Sample { bps: number; usPerMb: number }

async function measure(topo: Topology, inner: boolean): Promise<Sample> {
  const [server, client] = inner ? [topo.gwLan.addr, topo.bsLan.addr] : [topo.gwAddr, topo.bsAddr];
  const t0 = busyTicks();
  const bps = (await iperf3(topo.bs, topo.gw, { serverAddr: server, clientAddr: client, seconds: SECS })).bitsPerSecond;
  const busy = (busyTicks() - t0) / HZ;
  const mb = (bps / 8 / 1e6) * SECS;
  return { bps, usPerMb: mb > 0 ? (busy * 1e6) / mb : 0 };
}

type Row = 'veth' | 'segw-xfrm' | 'charon-xfrm' | 'segw-userspace';

async function row(kind: Row): Promise<Sample> {
  return withLab(`bk${kind.replace(/[^a-z]/g, '').slice(0, 8)}`, async (lab: Lab) => {
    const topo = await buildTopology(lab);
    if (kind === 'veth') return measure(topo, false);
    const lans = { bs: topo.bsLan, gw: topo.gwLan };
    const libipsec = kind === 'segw-userspace';
    let segw: SegwProcess | undefined;
    let gwSs: StrongSwan | undefined;
    if (kind === 'charon-xfrm') {
      gwSs = await StrongSwan.start(topo.gw, { name: 'gw', swanctl: swanGateway(GCM, topo.gwAddr, lans), libipsec: false });
    } else {
      const g = segwConfig(GCM, 'gateway', topo.gwAddr, undefined, lans);
      g.config.log = { level: 'info' }; // SegwProcess waits for the 'gateway started' info line
      g.config.kernel = kind === 'segw-xfrm'
        ? { ipsec: 'xfrm', routes: { via: topo.bsAddr } }
        : { ipsec: 'userspace', userspace: { tun: 'segw0', mtu: 1400, threads: 1 } };
      segw = await SegwProcess.start(topo.gw, 'gateway', g.config, { files: g.files, dist: true, timeoutMs: 30_000 });
    }
    const bs = await StrongSwan.start(topo.bs, { name: 'bs', swanctl: swanBaseStation(GCM, topo.bsAddr, topo.gwAddr, lans), libipsec });
    try {
      await bs.initiate('net', { ike: 'tun', timeoutS: 20 });
      if (segw) await oneTunnel(bs, segw);
      else await eventually(async () => (await swanView(gwSs!))[0]?.children.some((c) => c.state === 'INSTALLED'), { timeoutMs: 20_000 });
      return await measure(topo, true);
    } finally {
      await bs.stop();
      await gwSs?.stop();
      await segw?.stop();
    }
  });
}

const rows: Row[] = ['veth', 'segw-xfrm', 'charon-xfrm', 'segw-userspace'];
const samples: Record<Row, Sample[]> = { veth: [], 'segw-xfrm': [], 'charon-xfrm': [], 'segw-userspace': [] };
const errors: Record<string, string> = {};
for (let i = 0; i < RUNS; i++) {
  for (const r of rows) {
    try {
      samples[r].push(await row(r));
    } catch (err) {
      errors[r] = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300);
    }
  }
}
console.log(`SEGW-BENCH ${JSON.stringify({ secs: SECS, runs: RUNS, samples, errors })}`);
process.exit();
