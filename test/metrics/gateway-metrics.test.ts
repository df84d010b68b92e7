/**
 * A running Gateway (stub kernel, loopback) scraped over HTTP at GET /metrics while segw's own
 * initiator sets up IKE SAs against it: the numbers move with the real exchanges.
 *
 *   IKE_SA_INIT, IKE_AUTH from a base station with the right PSK  -->  established 0 -> 1,
 *     setup histogram count 0 -> 1, one child SA, one injected route installed
 *   the same with a wrong PSK  <--  N(AUTHENTICATION_FAILED)  -->  a responder failure by that name
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/eventually.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { bsConfig, PSK } from '../exchange/harness.js';

let dir: string;
let gw: Gateway;
const daemons: IkeDaemon[] = [];
const port = 20_000 + Math.floor(Math.random() * 20_000);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-metrics-'));
  const cfg = parseGatewayConfig(
    {
      node: { name: 'gw-metrics' },
      ike: { listen: ['127.0.0.1'], port, nattPort: port + 1 },
      kernel: { ipsec: 'stub' },
      control: { enabled: false },
      metrics: { listen: '127.0.0.1:0' },
      connections: {
        bs: {
          local: { id: 'gw.example.net', auth: 'psk' },
          remote: { id: '%any', auth: 'psk' },
          psk: PSK,
          ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
          children: { lte: { localTs: ['203.0.113.0/24'], remoteTs: ['198.51.100.0/24'], espProposals: ['aes128gcm16-esn'] } },
        },
      },
    },
    join(dir, 'gw.yaml'),
  );
  gw = await Gateway.start(cfg);
});

after(async () => {
  for (const d of daemons) await d.stop();
  await gw?.stop({ notifyPeers: false });
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const { host, port } = gw.metrics!.server!.address;
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The exposition text as `name{a="x",b="y"}` -> value (labels in the order printed). */
async function scrape(): Promise<Map<string, number>> {
  const r = await get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  const out = new Map<string, number>();
  for (const line of r.body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(m, `exposition line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function baseStation(psk: string, spiBase: number): Promise<IkeDaemon> {
  const auth = { method: 'psk' as const, secret: psk };
  const d = new IkeDaemon({
    connections: [bsConfig(false, { local: { id: 'bs1.example.net', auth }, remote: { addrs: ['127.0.0.1'], id: 'gw.example.net', auth }, remotePort: port, retransmit: { timeout: 0.5, base: 1.5, tries: 1 } })],
    kernel: new StubKernelIpsec({ firstSpi: spiBase }),
    listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }],
  });
  daemons.push(d);
  await d.start();
  return d;
}

test('GET /metrics: IKE SAs, the setup histogram, child SAs and routes follow a real exchange; failures are counted by notify', async () => {
  const before = await scrape();
  assert.equal(before.get('segw_ike_sas{state="established"}'), 0);
  assert.equal(before.get('segw_ike_sa_setup_seconds_count{role="responder"}'), 0);
  assert.equal(before.get('segw_child_sas'), 0);
  assert.equal(before.get('segw_routes{state="installed"}'), 0);
  assert.equal(before.get('segw_ike_sa_events_total{event="established"}'), 0);

  const bs = await baseStation(PSK, 0xc1000001);
  const up = await bs.establish('bs');
  assert.equal((await up.outcome).ok, true, 'the base station established its IKE SA');
  await eventually(async () => (await scrape()).get('segw_child_sas') === 1, { what: 'the gateway counts one child SA' });

  const after1 = await scrape();
  assert.equal(after1.get('segw_ike_sas{state="established"}'), 1);
  assert.equal(after1.get('segw_ike_sas{state="connecting"}'), 0);
  assert.equal(after1.get('segw_ike_sa_setup_seconds_count{role="responder"}'), 1);
  assert.ok(after1.get('segw_ike_sa_setup_seconds_bucket{le="+Inf",role="responder"}') === 1, 'the +Inf bucket holds the one setup');
  assert.equal(after1.get('segw_ike_sa_events_total{event="established"}'), 1);
  assert.equal(after1.get('segw_child_sa_events_total{event="established"}'), 1);
  assert.equal(after1.get('segw_ike_exchanges_total{exchange="IKE_SA_INIT",role="responder",result="ok"}'), 1);
  assert.equal(after1.get('segw_ike_exchanges_total{exchange="IKE_AUTH",role="responder",result="ok"}'), 1);
  await eventually(async () => (await scrape()).get('segw_routes{state="installed"}') === 1, { what: 'the base station subnet route is installed' });

  const wrong = await baseStation('not-the-secret-at-all-0123', 0xc2000001);
  const refused = await wrong.establish('bs');
  assert.equal((await refused.outcome).ok, false, 'a wrong PSK is refused');
  await eventually(async () => (await scrape()).get('segw_ike_sa_failures_total{role="responder",reason="AUTHENTICATION_FAILED"}') === 1, {
    what: 'the refusal is counted by its notify',
  });
  const after2 = await scrape();
  assert.equal(after2.get('segw_ike_sas{state="established"}'), 1, 'the refused SA never counted as established');
  assert.equal(after2.get('segw_ike_sa_setup_seconds_count{role="responder"}'), 1);
  assert.equal(after2.get('segw_ike_exchanges_total{exchange="IKE_SA_INIT",role="responder",result="ok"}'), 2);
  assert.equal(after2.get('segw_ike_exchanges_total{exchange="IKE_AUTH",role="responder",result="failed"}'), 1);

  assert.equal((await (await bs.terminate(up.sa)).outcome).ok, true, 'the base station deleted its IKE SA');
  await eventually(async () => (await scrape()).get('segw_ike_sas{state="established"}') === 0, { what: 'the deleted SA leaves the gauge' });
  const after3 = await scrape();
  assert.equal(after3.get('segw_ike_sa_events_total{event="deleted"}'), 1);
  assert.equal(after3.get('segw_ike_exchanges_total{exchange="INFORMATIONAL",role="responder",result="ok"}'), 1, 'the Delete');
  assert.equal(after3.get('segw_child_sas'), 0);
});

test('only GET /metrics is served', async () => {
  assert.equal((await get('/')).status, 404);
  assert.equal((await get('/metrics?x=1')).status, 200);
});
