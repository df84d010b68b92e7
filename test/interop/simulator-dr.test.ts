/**
 * Disaster recovery of 200 simulated base stations, in namespaces: `segw basestation` in
 * simulator mode (one process, host "sim") against a primary cluster of 3 `segw gateway`s and a
 * backup cluster of 2, all on one bridge. Every gateway runs the stub kernel with route injection
 * on (a /32 per base station, recorded by the stub net kernel and listed by `status`), so stale
 * routes would show.
 *
 *   sim 198.51.100.1 ──┬── p1 198.51.100.11  primary cluster address (no VRRP on this branch:
 *                      ├── p2 198.51.100.12  the cluster address is p1's own; p2 and p3 only
 *                      ├── p3 198.51.100.13  receive what a balancer would redirect to them)
 *                      ├── b1 198.51.100.21  backup cluster address
 *                      └── b2 198.51.100.22
 *
 * Kill every primary gateway (SIGKILL: no Delete): every base station is up on the backup within
 * BOUND_MS; restore the primary: after the fail-back hold every base station is back on it, and
 * the backup gateways keep no SA and no injected route.
 *
 * BOUND_MS: DPD 1 s + retransmissions given up after 0.5+0.75+1.125 s + the first back-off
 * (< 1 s) + setup on a CPU shared with the other engineers: 2.4 + 2 + slack; 20 s asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { Lab, withLab, type Host } from '../../src/lab/lab.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import type { LabProcess } from '../../src/lab/process.js';
import { ControlClient } from '../../src/control/client.js';
import { eventually } from '../support/eventually.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const PSK = 'simulator dr interop psk 0123456789';
const N = 200;
const BOUND_MS = 20_000;
const PRIMARY = ['198.51.100.11', '198.51.100.12', '198.51.100.13'];
const BACKUP = ['198.51.100.21', '198.51.100.22'];

function gatewayConfig(name: string, addr: string): Record<string, unknown> {
  return {
    node: { name },
    log: { level: 'info' },
    ike: { listen: [addr], cookieThreshold: 100_000, halfOpenPerPeer: 100_000, halfOpenMax: 100_000 },
    kernel: { ipsec: 'stub', routes: { enabled: true, dev: 'eth0' } },
    connections: {
      ran: {
        local: { id: 'gw.segw.example', auth: 'psk' },
        remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
        psk: PSK,
        ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
        children: { core: { localTs: ['203.0.113.0/24'], remoteTs: ['198.18.0.0/15'], espProposals: ['aes128gcm16'] } },
      },
    },
  };
}

/** The per-gateway counts of the simulator's last progress line. */
function lastDistribution(sim: LabProcess): Record<string, number> {
  const lines = sim.output.split('\n').filter((l) => / up \d+\/\d+ .*\| ETA /.test(l));
  const last = lines[lines.length - 1];
  if (!last) return {};
  const gws = last.split(' | ')[2] ?? '';
  return Object.fromEntries(gws.split(', ').filter((x) => x !== '-').map((x) => { const [g, n] = x.split(' '); return [g!, Number(n)]; }));
}

async function ikeSas(gw: SegwProcess): Promise<{ state: string }[]> {
  const c = await ControlClient.connect(gw.controlSocket);
  try {
    return ((await c.call('list-sas', {})) as { ikeSas: { state: string }[] }).ikeSas;
  } finally {
    c.close();
  }
}

/** Routes the gateway injected for base-station subnets (`status`; the stub kernel records them). */
async function injected(gw: SegwProcess): Promise<string[]> {
  const c = await ControlClient.connect(gw.controlSocket);
  try {
    const st = (await c.call('status', {})) as { routes: { prefix: string; installed: boolean }[] };
    return st.routes.filter((r) => r.installed && r.prefix.startsWith('198.18.')).map((r) => r.prefix);
  } finally {
    c.close();
  }
}

test(`${N} simulated base stations: primary cluster killed -> all on the backup within ${BOUND_MS / 1000} s; primary restored -> fail-back, nothing stale`, { timeout: 300_000 }, async () => {
  let labId = '';
  await withLab('simdr', async (lab) => {
    labId = lab.id;
    const sw = await lab.switch('core');
    const simHost = await lab.host('sim');
    await sw.attach(simHost, '198.51.100.1/24', { ifname: 'eth0' });
    const hosts = new Map<string, Host>();
    for (const [i, a] of [...PRIMARY, ...BACKUP].entries()) {
      const h = await lab.host(`g${i}`);
      await sw.attach(h, `${a}/24`, { ifname: 'eth0' });
      hosts.set(a, h);
    }
    const gws = new Map<string, SegwProcess>();
    const startGw = async (a: string, tag = '') => gws.set(a, await SegwProcess.start(hosts.get(a)!, 'gateway', gatewayConfig(`gw-${a.split('.')[3]}${tag}`, a)));
    for (const a of [...PRIMARY, ...BACKUP]) await startGw(a);

    const simFile = join(lab.dir, 'sim.yaml');
    writeFileSync(simFile, stringify({
      simulate: {
        count: N,
        endpoints: ['198.51.100.1'],
        'subnet-pool': '198.18.0.0/16',
        psk: PSK,
        'gateway-id': 'gw.segw.example',
        clusters: [PRIMARY[0], BACKUP[0]],
        'remote-ts': ['203.0.113.0/24'],
        arrival: { rate: 200, burst: 20 },
        reconnect: { initial: '1s', max: '4s' },
        dpd: 1,
        retransmit: { timeout: 0.5, base: 1.5, tries: 2 },
        failback: '3s',
        probe: '1s',
        progress: '200ms',
      },
    }));
    const sim = simHost.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', simFile], {
      name: 'simulator',
      cwd: REPO,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: 'error' },
      logFile: join(lab.dir, 'simulator.log'),
    });
    const on = (addr: string) => () => lastDistribution(sim)[addr] === N;
    await eventually(on(PRIMARY[0]!), { what: `${N} base stations up on the primary`, timeoutMs: 60_000, intervalMs: 200 }).catch((err) => {
      throw new Error(`${(err as Error).message}; simulator output:\n${sim.output.slice(-3000)}`);
    });
    assert.equal((await injected(gws.get(PRIMARY[0]!)!)).length, N, 'a route per base station on the primary');

    // Every primary gateway dies without a word.
    const t0 = Date.now();
    for (const a of PRIMARY) await gws.get(a)!.kill();
    await eventually(on(BACKUP[0]!), { what: `${N} base stations up on the backup`, timeoutMs: BOUND_MS, intervalMs: 100 }).catch((err) => {
      throw new Error(`${(err as Error).message}; simulator running: ${sim.running}; output:\n${sim.output.slice(-1500)}`);
    });
    const failoverMs = Date.now() - t0;
    console.log(`fail-over: all ${N} base stations up on the backup ${failoverMs} ms after the primary cluster was killed (bound ${BOUND_MS} ms)`);
    assert.equal((await ikeSas(gws.get(BACKUP[0]!)!)).filter((s) => s.state === 'ESTABLISHED').length, N);
    assert.equal((await injected(gws.get(BACKUP[0]!)!)).length, N);

    // The primary cluster comes back (fresh processes, nothing kept).
    const t1 = Date.now();
    for (const a of PRIMARY) await startGw(a, '-2');
    await eventually(on(PRIMARY[0]!), { what: `${N} base stations back on the primary`, timeoutMs: 60_000, intervalMs: 100 });
    console.log(`fail-back: all ${N} base stations back on the primary ${Date.now() - t1} ms after it was restarted (hold 3 s)`);
    await eventually(async () => (await ikeSas(gws.get(BACKUP[0]!)!)).length === 0 && (await injected(gws.get(BACKUP[0]!)!)).length === 0, {
      what: 'the backup keeps no SA and no injected route',
      timeoutMs: 15_000,
    });
    const p1 = await ikeSas(gws.get(PRIMARY[0]!)!);
    assert.equal(p1.filter((s) => s.state === 'ESTABLISHED').length, N, 'one SA per base station on the primary');
    assert.equal((await injected(gws.get(PRIMARY[0]!)!)).length, N);
    for (const a of [...PRIMARY.slice(1), BACKUP[1]!]) assert.deepEqual(await ikeSas(gws.get(a)!), [], `${a} holds nothing`);

    // The simulator stops: its report, and Deletes for every SA.
    await sim.stop('SIGTERM', 30_000);
    assert.match(sim.output, new RegExp(`base stations: ${N}, up ${N}, not up 0`));
    assert.match(sim.output, /recovery\s+(\d+) /);
    await eventually(async () => (await ikeSas(gws.get(PRIMARY[0]!)!)).filter((s) => s.state === 'ESTABLISHED').length === 0, { what: 'primary empty after the simulator stopped', timeoutMs: 15_000 });
    for (const g of gws.values()) if (g.process.running) await g.stop();
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
