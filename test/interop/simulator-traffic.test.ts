/**
 * Simulated base stations that carry traffic (issue 13): `segw basestation` in simulator mode
 * with `--traffic 4` of 20 base stations, against one `segw gateway` on the userspace ESP engine.
 * An echo service (RFC 862) sits behind the gateway at 192.0.2.1 (its loopback).
 *
 *   sim 198.51.100.100 ── lan ── gw 198.51.100.1     lo 192.0.2.1 (UDP echo)
 *   TUN segwsim0: 198.18.0.0, .5, .10, .15 (inner)    TUN segw0: injected /32 per base station
 *
 * Neither side has a route to the other's inner addresses except through its TUN device (the
 * simulator's remote-ts route, the gateway's injected routes), so an answered probe went through
 * ESP both ways. The other 16 base stations keep the null kernel: their SAs exist on the gateway
 * but the simulator has no data plane for them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { Lab, withLab } from '../../src/lab/lab.js';
import { SegwProcess } from '../../src/lab/peers/segw.js';
import type { SimReport } from '../../src/initiator/simulator.js';
import { eventually } from '../support/eventually.js';
import { startUdpEcho } from './support/udp-echo.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const PSK = 'simulator traffic interop psk 0123456789';
const GW = '198.51.100.1';
const SIM = '198.51.100.100';
const ECHO = '192.0.2.1';
const N = 20;
const K = 4;

test(`${K} of ${N} simulated base stations carry UDP echo traffic through the userspace ESP data plane`, { timeout: 120_000 }, async () => {
  let labId = '';
  await withLab('simtraffic', async (lab) => {
    labId = lab.id;
    const sw = await lab.switch('lan');
    const simHost = await lab.host('sim');
    const gwHost = await lab.host('gw');
    await sw.attach(simHost, `${SIM}/24`, { ifname: 'eth0' });
    await sw.attach(gwHost, `${GW}/24`, { ifname: 'eth0' });
    await startUdpEcho(gwHost, ECHO);
    const gw = await SegwProcess.start(gwHost, 'gateway', {
      node: { name: 'gw' },
      log: { level: 'info' },
      ike: { listen: [GW] },
      kernel: { ipsec: 'userspace', userspace: { tun: 'segw0', threads: 1 } },
      connections: {
        ran: {
          local: { id: 'gw.segw.example', auth: 'psk' },
          remote: { id: '%any', addrs: ['%any'], auth: 'psk' },
          psk: PSK,
          ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
          children: { core: { localTs: ['192.0.2.0/24'], remoteTs: ['198.18.0.0/16'], espProposals: ['aes128gcm16'] } },
        },
      },
    });

    const simFile = join(lab.dir, 'sim.yaml');
    const jsonFile = join(lab.dir, 'sim-report.json');
    writeFileSync(simFile, stringify({
      simulate: {
        count: N,
        endpoints: [SIM],
        'subnet-pool': '198.18.0.0/16',
        psk: PSK,
        'gateway-id': 'gw.segw.example',
        clusters: [GW],
        'remote-ts': ['192.0.2.0/24'],
        arrival: { rate: 50, burst: 10 },
        progress: '200ms',
        traffic: { count: 1, target: ECHO, interval: '200ms' },
      },
    }));
    const sim = simHost.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', simFile, '--traffic', String(K), '--json', jsonFile], {
      name: 'simulator',
      cwd: REPO,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: 'warn' },
      logFile: join(lab.dir, 'simulator.log'),
    });
    try {
      // Every traffic base station passing, and 20 probes answered at least (5 each on average).
      await sim.waitFor(new RegExp(`up ${N}/${N} .*\\| traffic ${K}/${K} passing, (?:[2-9]\\d|\\d{3,})/`), 60_000);
      // The gateway injected a route into its TUN per base station: the echo's way back.
      const routes = (await gwHost.exec('ip', ['-4', 'route', 'show', 'proto', 'segw'])).stdout.trim().split('\n');
      assert.equal(routes.filter((r) => / dev segw0 /.test(r)).length, N);
    } finally {
      await sim.stop('SIGTERM', 30_000);
    }
    const { report } = JSON.parse(readFileSync(jsonFile, 'utf8')) as { report: SimReport };
    assert.equal(report.up, N);
    const t = report.traffic!;
    assert.equal(t.summary.baseStations, K);
    assert.deepEqual(t.baseStations.map((b) => b.index), [0, 5, 10, 15], 'spread evenly over the population');
    for (const b of t.baseStations) {
      assert.equal(b.gateway, GW, `bs ${b.index} is on the gateway`);
      assert.ok(b.received >= 2 && b.received <= b.sent, `bs ${b.index}: ${b.received} of ${b.sent} probes answered`);
      assert.deepEqual([b.tunnels, b.tunnelsPassed], [1, 1], `bs ${b.index}: one tunnel, traffic passed on it`);
      assert.equal(b.sendErrors, 0);
    }
    assert.match(sim.output, new RegExp(`traffic: ${K} base stations, \\d+ passing; probes sent \\d+, answered \\d+`));
    // The simulator deleted its SAs and its TUN device went with its engine.
    await eventually(async () => (await gw.ctl<{ ikeSas: unknown[] }>('list-sas')).ikeSas.length === 0, { what: 'the gateway empty after the simulator stopped', timeoutMs: 15_000 });
    assert.equal((await simHost.exec('ip', ['link', 'show', 'segwsim0'], { allowFail: true })).code !== 0, true, 'the TUN device is gone');
    await gw.stop();
  });
  assert.deepEqual(await Lab.leftovers(labId), { namespaces: [], links: [] });
});
