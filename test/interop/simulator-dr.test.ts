/**
 * Disaster recovery of 200 simulated base stations between two real segw clusters (issue 13), in
 * namespaces: a primary cluster of 3 `segw gateway`s on VIP 198.51.100.10 and a backup cluster of
 * 2 on VIP 198.51.100.20, each cluster electing its VIP holder with VRRPv3 and balancing with
 * RFC 5685 redirects at IKE_SA_INIT. Every gateway runs the userspace ESP engine with route
 * injection (a /32 per base station into its TUN device, `proto segw`) and has a UDP echo
 * service (RFC 862) at 192.0.2.1 on its loopback. `segw basestation` simulates the 200 base
 * stations from one process (host "sim"); 10 of them carry traffic: their child SAs in the
 * simulator's own userspace ESP engine, probes to 192.0.2.1 every 300 ms.
 *
 *   sim 198.51.100.100 ──┬── p1 .1 ┐ VRRP vrid 51, VIP .10     lo 192.0.2.1 (echo) on each
 *        (lan bridge)    ├── p2 .2 ├ primary cluster           TUN segw0: injected routes
 *                        ├── p3 .3 ┘ (priorities 200/150/100)
 *                        ├── b1 .4 ┐ VRRP vrid 52, VIP .20
 *                        └── b2 .5 ┘ backup cluster
 *
 * A probe is answered only through the tunnels: the simulator routes 192.0.2.0/24 into its TUN
 * only, and a gateway reaches 198.18.0.0/16 only by the routes it injected for its own SAs.
 *
 * kill -9 of every primary gateway (no Delete, no route withdrawal: their TUN devices vanish with
 * them): every base station is up on the backup cluster within BOUND_MS and traffic passes there;
 * the primary cluster restarted (fresh processes): after the fail-back hold every base station is
 * back on it, traffic passes again, and no gateway keeps a stale SA or injected route. Each
 * traffic base station must have passed traffic on 3 tunnels at least: primary, backup, primary.
 *
 * BOUND_MS: the loss is noticed by DPD (1 s) whose retransmissions give up after 0.5 + 0.75 +
 * 1.125 s; the SA was with a member, so the base station first tries the primary VIP again (a
 * lost member is not a lost cluster: src/initiator/recovery.ts) and that IKE_SA_INIT gives up
 * after the same 2.4 s; each back-off is at most 1 s; then IKE_SA_INIT to the backup VIP, a
 * redirect and a full setup for 200 base stations against 2 gateways on 2 shared cores. Measured
 * (printed as `fail-over:`) before the VIP retry: 5.7, 5.6, 6.0 s (8.9 s the worst seen); with
 * it: 9.2 s; asserted 30 s, room for a machine loaded by parallel suites. Fail-back
 * in the same runs: 9.4, 19.6, 11.2 s from the restart (4.6-6.1 s of it starting the gateways);
 * the slow one had 34 fail-back attempts whose setup gave up on a busy primary and went back to
 * the backup for another hold, as the policy says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { Lab, withLab, type Host } from '../../src/lab/lab.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import type { LabProcess } from '../../src/lab/process.js';
import type { SimReport } from '../../src/initiator/simulator.js';
import { eventually } from '../support/eventually.js';
import { startUdpEcho } from './support/udp-echo.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const PSK = 'simulator dr interop psk 0123456789';
const N = 200;
const K = 10;
const BOUND_MS = 30_000;
const HOLD_S = 3;
const ECHO = '192.0.2.1';
const SIM = '198.51.100.100';

interface ClusterSpec {
  name: string;
  vip: string;
  vrid: number;
  members: { host: string; addr: string; priority: number }[];
  keyFile: string;
}
const PRIMARY: ClusterSpec = {
  name: 'primary', vip: '198.51.100.10', vrid: 51, keyFile: 'primary.key',
  members: [{ host: 'p1', addr: '198.51.100.1', priority: 200 }, { host: 'p2', addr: '198.51.100.2', priority: 150 }, { host: 'p3', addr: '198.51.100.3', priority: 100 }],
};
const BACKUP: ClusterSpec = {
  name: 'backup', vip: '198.51.100.20', vrid: 52, keyFile: 'backup.key',
  members: [{ host: 'b1', addr: '198.51.100.4', priority: 200 }, { host: 'b2', addr: '198.51.100.5', priority: 150 }],
};
/** Where a base station of a cluster may be: a member (redirected) or the VIP (the master kept it). */
const addressesOf = (c: ClusterSpec) => new Set([c.vip, ...c.members.map((m) => m.addr)]);

function gatewayConfig(c: ClusterSpec, i: number, tag: string): Record<string, unknown> {
  const m = c.members[i]!;
  return {
    node: { name: `${m.host}${tag}` },
    log: { level: 'info' },
    // 200 base stations from one address: above the per-peer half-open and cookie defaults. A
    // fail-back probe the master answers itself (not redirected) leaves a half-open SA (no
    // IKE_AUTH follows; IKEv2 has no way to abandon one): freed after 5 s here, not the 30 s default.
    ike: { listen: [m.addr], cookieThreshold: 100_000, halfOpenPerPeer: 100_000, halfOpenMax: 100_000, halfOpenTimeout: 5 },
    kernel: { ipsec: 'userspace', userspace: { tun: 'segw0', threads: 1 } },
    connections: {
      ran: {
        local: { id: 'gw.segw.example', auth: 'psk' },
        remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
        psk: PSK,
        ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
        // A base station that gave up a setup this member completed (its IKE_AUTH answer came
        // after the base station's retransmissions gave up) and came back on another member
        // leaves an SA here no INITIAL_CONTACT reaches: the gateway's own DPD removes it.
        dpd: 3,
        retransmit: { timeout: 0.5, base: 1.5, tries: 2 },
        children: { core: { localTs: ['192.0.2.0/24'], remoteTs: ['198.18.0.0/16'], espProposals: ['aes128gcm16'] } },
      },
    },
    cluster: {
      address: m.addr,
      vips: [`${c.vip}/24`],
      redirect: 'init',
      keyFile: c.keyFile,
      capacity: { maxTunnels: 1000, bandwidth: '1G' },
      reports: { listen: m.addr, interval: '200ms', staleAfter: 3, peers: c.members.filter((_, j) => j !== i).map((o) => o.addr) },
      vrrp: { interface: 'eth0', vrid: c.vrid, priority: m.priority, advertInterval: '100ms' },
    },
  };
}

interface Progress {
  perGateway: Record<string, number>;
  traffic: { passing: number; of: number; received: number; sent: number } | undefined;
}

/** The simulator's last complete progress line. */
function lastProgress(sim: LabProcess): Progress | undefined {
  const lines = sim.output.split('\n').slice(0, -1).filter((l) => / up \d+\/\d+ .*\| ETA /.test(l));
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  const gws = last.split(' | ')[2] ?? '';
  const perGateway = Object.fromEntries(gws.split(', ').filter((x) => x !== '-').map((x) => { const [g, n] = x.split(' '); return [g!, Number(n)]; }));
  const t = / \| traffic (\d+)\/(\d+) passing, (\d+)\/(\d+) answered/.exec(last);
  return { perGateway, traffic: t ? { passing: Number(t[1]), of: Number(t[2]), received: Number(t[3]), sent: Number(t[4]) } : undefined };
}

/** How many base stations the last progress line shows up on the cluster's addresses. */
function upOn(sim: LabProcess, c: ClusterSpec): number {
  const p = lastProgress(sim);
  const on = addressesOf(c);
  return Object.entries(p?.perGateway ?? {}).reduce((n, [g, k]) => n + (on.has(g) ? k : 0), 0);
}

/** Every traffic base station's latest probe answered within the last 3 intervals. */
const trafficPasses = (sim: LabProcess) => lastProgress(sim)?.traffic?.passing === K;

interface GatewayState {
  /** IKE SAs in list-sas (any state), ESTABLISHED ones, and the prefixes injected (`proto segw`). */
  sas: number;
  established: number;
  routes: string[];
}

async function routesIn(h: Host): Promise<string[]> {
  const out = (await h.exec('ip', ['-4', 'route', 'show', 'proto', 'segw'])).stdout.trim();
  return out === '' ? [] : out.split('\n').map((l) => l.split(' ')[0]!).sort();
}

async function stateOf(h: Host, gw: SegwProcess | undefined): Promise<GatewayState> {
  const routes = await routesIn(h);
  if (!gw) return { sas: 0, established: 0, routes };
  const { ikeSas } = await gw.ctl<{ ikeSas: { state: string }[] }>('list-sas');
  return { sas: ikeSas.length, established: ikeSas.filter((s) => s.state === 'ESTABLISHED').length, routes };
}

/** The base stations' subnets, as injected routes show them. */
const ALL_SUBNETS = Array.from({ length: N }, (_, i) => `198.18.${i >> 8}.${i & 255}`).sort();

test(`${N} simulated base stations, ${K} with traffic: primary VRRP cluster (3) killed -> all on the backup cluster (2) within ${BOUND_MS / 1000} s; restored -> fail-back after ${HOLD_S} s, traffic before and after, nothing stale`, { timeout: 240_000 }, async () => {
  let labId = '';
  await withLab('simdr', async (lab) => {
    labId = lab.id;
    const sw = await lab.switch('lan');
    const simHost = await lab.host('sim');
    await sw.attach(simHost, `${SIM}/24`, { ifname: 'eth0' });
    const hosts = new Map<string, Host>();
    for (const m of [...PRIMARY.members, ...BACKUP.members]) {
      const h = await lab.host(m.host);
      await sw.attach(h, `${m.addr}/24`, { ifname: 'eth0' });
      await startUdpEcho(h, ECHO);
      hosts.set(m.host, h);
    }
    const files = { [PRIMARY.keyFile]: `${randomBytes(32).toString('hex')}\n`, [BACKUP.keyFile]: `${randomBytes(32).toString('hex')}\n` };
    const gws = new Map<string, SegwProcess>();
    const startCluster = async (c: ClusterSpec, tag = '') => {
      const started = await Promise.all(c.members.map((m, i) => SegwProcess.start(hosts.get(m.host)!, 'gateway', gatewayConfig(c, i, tag), { files, name: `gw-${m.host}${tag}`, timeoutMs: 60_000 })));
      started.forEach((g, i) => gws.set(c.members[i]!.host, g));
      await eventually(async () => hosts.get(c.members[0]!.host)!.hasAddress(`${c.vip}/24`), { what: `${c.name} VIP on its master`, timeoutMs: 10_000 });
    };
    await startCluster(PRIMARY);
    await startCluster(BACKUP);
    const states = async (c: ClusterSpec) => Promise.all(c.members.map((m) => stateOf(hosts.get(m.host)!, gws.get(m.host))));
    /** The cluster holds exactly one SA and one injected route per base station, and nothing else. */
    const holdsAll = async (c: ClusterSpec) => {
      const s = await states(c);
      const routes = s.flatMap((x) => x.routes).sort();
      return s.every((x) => x.sas === x.established && x.established === x.routes.length) && routes.length === N && routes.every((r, i) => r === ALL_SUBNETS[i]);
    };
    const holdsNothing = async (c: ClusterSpec) => (await states(c)).every((x) => x.sas === 0 && x.routes.length === 0);
    /** For failure messages: what each gateway holds. */
    const describe = async () => {
      const line = async (c: ClusterSpec) => (await states(c)).map((x, i) => `${c.members[i]!.host}: ${x.sas} SAs (${x.established} established), ${x.routes.length} routes`).join('; ');
      return `${await line(PRIMARY)}; ${await line(BACKUP)}`;
    };
    const withState = async (err: unknown): Promise<never> => {
      throw new Error(`${(err as Error).message}; ${await describe()}`);
    };

    const simFile = join(lab.dir, 'sim.yaml');
    const jsonFile = join(lab.dir, 'sim-report.json');
    writeFileSync(simFile, stringify({
      simulate: {
        count: N,
        endpoints: [SIM],
        'subnet-pool': '198.18.0.0/16',
        psk: PSK,
        'gateway-id': 'gw.segw.example',
        clusters: [PRIMARY.vip, BACKUP.vip],
        'remote-ts': ['192.0.2.0/24'],
        arrival: { rate: 100, burst: 20 },
        reconnect: { initial: '1s', max: '4s' },
        dpd: 1,
        retransmit: { timeout: 0.5, base: 1.5, tries: 2 },
        failback: `${HOLD_S}s`,
        probe: '1s',
        progress: '200ms',
        traffic: { count: K, target: ECHO, interval: '300ms' },
      },
    }));
    const sim = simHost.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', simFile, '--json', jsonFile], {
      name: 'simulator',
      cwd: REPO,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: 'error' },
      logFile: join(lab.dir, 'simulator.log'),
    });
    /** Failure messages carry the simulator's last lines, what each gateway holds and its ESP drops. */
    const withOutput = async (err: unknown): Promise<never> => {
      const drops = await Promise.all([...gws].map(async ([h, g]) => `${h}: ${JSON.stringify((await g.ctl<{ espDrops: unknown }>('status')).espDrops)}`));
      throw new Error(`${(err as Error).message}; ${await describe()}; ESP drops ${drops.join('; ')}; simulator running: ${sim.running}; output:\n${sim.output.slice(-2500)}`);
    };

    try {
      await eventually(() => upOn(sim, PRIMARY) === N && trafficPasses(sim), { what: `${N} base stations up on the primary cluster, traffic passing`, timeoutMs: 60_000, intervalMs: 200 }).catch(withOutput);
      await eventually(() => holdsAll(PRIMARY), { what: 'one SA and one injected route per base station in the primary cluster', timeoutMs: 10_000 }).catch(withState);
      assert.ok(await holdsNothing(BACKUP), 'the backup cluster holds nothing yet');

      // Every primary gateway dies without a word.
      const t0 = Date.now();
      for (const m of PRIMARY.members) await gws.get(m.host)!.kill();
      for (const m of PRIMARY.members) gws.delete(m.host);
      await eventually(() => upOn(sim, BACKUP) === N, { what: `${N} base stations up on the backup cluster`, timeoutMs: BOUND_MS, intervalMs: 100 }).catch(withOutput);
      const failoverMs = Date.now() - t0;
      console.log(`fail-over: all ${N} base stations up on the backup cluster ${failoverMs} ms after the primary cluster was killed (bound ${BOUND_MS} ms)`);
      await eventually(() => trafficPasses(sim), { what: 'traffic passes on the backup cluster', timeoutMs: 10_000, intervalMs: 100 }).catch(withOutput);
      await eventually(() => holdsAll(BACKUP), { what: 'the injected routes moved to the backup cluster, one SA each', timeoutMs: 10_000 }).catch(withState);
      for (const m of PRIMARY.members) assert.deepEqual(await routesIn(hosts.get(m.host)!), [], `${m.host} (killed) has no injected route left`);

      // The primary cluster comes back (fresh processes, nothing kept).
      const t1 = Date.now();
      await startCluster(PRIMARY, '-2');
      const t2 = Date.now();
      await eventually(() => upOn(sim, PRIMARY) === N, { what: `${N} base stations back on the primary cluster`, timeoutMs: 90_000, intervalMs: 100 }).catch(withOutput);
      const failbackMs = Date.now() - t2;
      console.log(`fail-back: all ${N} base stations back on the primary cluster ${Date.now() - t1} ms after its restart began (its 3 gateways up and the VIP held after ${t2 - t1} ms, then ${failbackMs} ms; hold ${HOLD_S} s, probe 1 s)`);
      await eventually(() => trafficPasses(sim), { what: 'traffic passes on the primary cluster again', timeoutMs: 10_000, intervalMs: 100 }).catch(withOutput);
      await eventually(async () => (await holdsNothing(BACKUP)) && (await holdsAll(PRIMARY)), {
        what: 'the backup cluster keeps no SA and no injected route; the primary one SA and route per base station',
        timeoutMs: 15_000,
      }).catch(withState);
    } finally {
      // The report, and Deletes for every SA.
      await sim.stop('SIGTERM', 30_000);
      if (!/base stations: \d+, up/.test(sim.output) || process.exitCode) console.log(sim.output.slice(-4000));
    }
    assert.match(sim.output, new RegExp(`base stations: ${N}, up ${N}, not up 0`));
    const { report } = JSON.parse(readFileSync(jsonFile, 'utf8')) as { report: SimReport };
    const r = report.recoveryLatency;
    console.log(`simulator: recovery latency p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms over ${r.count}; cluster moves ${report.clusterMoves}; failures ${JSON.stringify(report.failures)}; traffic ${JSON.stringify(report.traffic?.summary)}`);
    assert.equal(report.notUp, 0, 'no base station left without a tunnel');
    assert.ok(report.recoveryLatency.count >= 2 * N, `every base station recovered twice (fail-over and fail-back): ${report.recoveryLatency.count}`);
    const onPrimary = addressesOf(PRIMARY);
    for (const b of report.traffic!.baseStations) {
      assert.ok(b.gateway !== null && onPrimary.has(b.gateway), `bs ${b.index} ends on the primary cluster (${b.gateway})`);
      assert.ok(b.tunnelsPassed >= 3, `bs ${b.index}: traffic passed on ${b.tunnelsPassed} of ${b.tunnels} tunnels (primary, backup, primary)`);
      assert.ok(b.receivedOnTunnel > 0, `bs ${b.index}: traffic on its tunnel after the fail-back`);
      assert.equal(b.sendErrors, 0);
    }
    // The simulator deleted every SA: each gateway withdrew its routes.
    await eventually(async () => (await holdsNothing(PRIMARY)) && (await holdsNothing(BACKUP)), { what: 'every gateway empty after the simulator stopped', timeoutMs: 15_000 }).catch(withState);
    for (const g of gws.values()) await g.stop();
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
