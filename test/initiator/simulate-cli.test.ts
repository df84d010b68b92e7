/**
 * `segw basestation --config SIM.yaml --simulate N`: the simulator from the command line against
 * an in-process segw responder on loopback: progress lines (stdout is not a TTY here: plain
 * lines), the report table, the JSON report, every SA deleted with the gateway at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { logger } from '../../src/log/index.js';
import { eventually } from '../support/eventually.js';
import { runSegw } from '../support/segw-cli.js';

const PSK = 'simulator cli test psk 0123456789';

const run = (args: string[]) => runSegw(args, { env: { SEGW_LOG_LEVEL: 'error' }, timeoutMs: 60_000 });

test('segw basestation --simulate 12: progress, report table and JSON; SAs deleted at the end', async () => {
  const kernel = new StubKernelIpsec({ recordOps: false });
  const gw = new IkeDaemon({
    connections: [{
      name: 'ran',
      local: { id: 'gw.segw.example', auth: { method: 'psk', secret: PSK } },
      remote: { addrs: ['%any'], id: '%any', auth: { method: 'psk', secret: PSK } },
      ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
      children: [{ name: 'core', localTs: ['203.0.113.0/24'], remoteTs: ['198.18.0.0/15'], espProposals: ['aes128gcm16'] }],
    }],
    kernel,
    listen: [{ address: '127.0.0.1', port: 0, natTPort: 0 }],
    log: logger('gw', { level: 'error' }),
  });
  await gw.start();
  const dir = mkdtempSync(join(tmpdir(), 'segw-sim-'));
  try {
    const port = gw.endpoints()[0]!.port;
    writeFileSync(join(dir, 'sim.yaml'), `simulate:
  count: 1000
  endpoints: [127.0.0.2]
  local-port: 0
  subnet-pool: 198.18.0.0/24
  psk: "${PSK}"
  gateway-id: gw.segw.example
  clusters: [127.0.0.1]
  port: ${port}
  remote-ts: 203.0.113.0/24
  arrival: { rate: 100, burst: 4 }
  reconnect: { initial: 200ms, max: 1s }
  progress: 100ms
`);
    const check = await run(['basestation', '--config', join(dir, 'sim.yaml'), '--simulate', '12', '--check']);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^simulator: 12 base stations from 127\.0\.0\.2, clusters 127\.0\.0\.1, fail-back never\n/);
    const r = await run(['basestation', '--config', join(dir, 'sim.yaml'), '--simulate', '12', '--exit-when-up', '--json', join(dir, 'r.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /up 12\/12 \(100\.0%\) connecting 0 retrying 0 waiting 0 \| [\d.]+\/s \| 127\.0\.0\.1 12 \| ETA 0s/);
    assert.match(r.stdout, /base stations: 12, up 12, not up 0; all up after [\d.]+ s/);
    assert.match(r.stdout, /latency \(ms\)\s+n\s+min\s+p50\s+p90\s+p99\s+max\nsetup\s+12 /);
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { config: { psk?: string }; report: { up: number; distribution: Record<string, number>; setupLatency: { count: number } } };
    assert.equal(json.report.up, 12);
    assert.deepEqual(json.report.distribution, { '127.0.0.1': 12 });
    assert.equal(json.report.setupLatency.count, 12);
    assert.equal(json.config.psk, undefined, 'the PSK is not written');
    await eventually(() => gw.manager.ikeSaCount === 0, 'the gateway has no SA left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await gw.stop();
  }
});
