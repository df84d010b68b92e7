/**
 * Three gateways (stub kernel) with `cluster: { redirect: init }` on loopback, gw1 the VRRP
 * master (a fixed role source: VRRP is not on this branch), capacities 100/200/300: a burst of
 * 120 base stations (each its own identity) arriving at gw1 ends balanced (each member within
 * one base station of its share by capacity); `drain` on gw2 over the control socket moves its base stations to gw1 and gw3;
 * `redirects` counts per target and reason; `methods` lists the cluster methods.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { ControlClient } from '../../src/control/client.js';
import type { MembersView } from '../../src/cluster/view.js';
import type { RedirectCounts } from '../../src/cluster/balancer.js';
import type { DrainStatus } from '../../src/cluster/drain.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { bsConfig, PSK } from '../exchange/harness.js';
import { eventually } from '../support/eventually.js';
import { runSegw } from '../support/segw-cli.js';

const base = 22_000 + Math.floor(Math.random() * 18_000);
const REPORT_PORT = base + 10;
const N = 120;
const CAPACITY = [100, 200, 300];
const addr = (i: number) => `127.0.0.${41 + i}`;
let dir: string;
const gws: (Gateway | undefined)[] = [];
let bs: IkeDaemon | undefined;

function config(i: number) {
  const name = `gw${i + 1}`;
  return parseGatewayConfig(
    {
      node: { name },
      // Every member on the same port of its own address: a redirect names only the address.
      ike: { listen: [addr(i)], port: base, nattPort: base + 1 },
      kernel: { ipsec: 'stub' },
      control: { socket: join(dir, `${name}.sock`) },
      connections: {
        bs: {
          local: { id: 'gw.example.net', auth: 'psk' },
          remote: { id: '%any', auth: 'psk' },
          psk: PSK,
          ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
          children: { lte: { localTs: ['203.0.113.0/24'], remoteTs: ['198.51.100.0/16'], espProposals: ['aes128gcm16-esn'] } },
        },
      },
      cluster: {
        address: addr(i),
        vips: ['203.0.113.10/24'],
        keyFile: 'cluster.key',
        redirect: 'init',
        capacity: { maxTunnels: CAPACITY[i], bandwidth: '1G' },
        weights: { tunnels: 1, bandwidth: 0, cpu: 0 },
        reports: { listen: addr(i), port: REPORT_PORT, interval: '100ms', staleAfter: 50, peers: [0, 1, 2].filter((j) => j !== i).map(addr) },
        drain: { rate: 200 },
        vrrp: { interface: 'lo', vrid: 9 },
      },
    },
    join(dir, `${name}.yaml`),
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-gw-balance-'));
  writeFileSync(join(dir, 'cluster.key'), `${'c4'.repeat(32)}\n`, { mode: 0o600 });
  for (let i = 0; i < 3; i++) gws[i] = await Gateway.start(config(i), { role: { role: () => (i === 0 ? 'master' : 'backup') } });
});

after(async () => {
  await bs?.stop();
  for (const g of gws) await g?.stop({ notifyPeers: false });
  rmSync(dir, { recursive: true, force: true });
});

async function call<T>(node: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const c = await ControlClient.connect(join(dir, `${node}.sock`));
  try {
    return await c.call<T>(method, params);
  } finally {
    c.close();
  }
}


const segwCtl = (args: string[]) => runSegw(['ctl', ...args]);

const tunnelsAt = () => gws.map((g) => g!.daemon.manager.ikeSaList().filter((s) => s.established && !s.isDead).length);

test(`a burst of ${N} base stations at the master ends balanced over members of capacities ${CAPACITY.join('/')}`, async () => {
  const conns = Array.from({ length: N }, (_, k) =>
    bsConfig(false, {
      name: `bs${k}`,
      local: { id: `bs${k}.example.net`, auth: { method: 'psk', secret: PSK } },
      remote: { addrs: [addr(0)], id: 'gw.example.net', auth: { method: 'psk', secret: PSK } },
      remotePort: base,
      // Under a loaded CI a 1 s first retransmission would duplicate many of the 120 exchanges.
      retransmit: { timeout: 10, base: 2, tries: 3 },
      children: [{ name: 'lte', localTs: [`198.51.${k >> 8}.${k & 255}/32`], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16-esn'] }],
    }),
  );
  bs = new IkeDaemon({ connections: conns, kernel: new StubKernelIpsec({ firstSpi: 0xc3000001 }), listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] });
  await bs.start();
  // The master knows every member before the burst (their first reports arrived).
  await eventually(async () => (await call<MembersView>('gw1', 'members')).members.filter((m) => m.eligible).length === 3, 'three live members at gw1');
  const outcomes = await Promise.all(conns.map(async (c) => (await bs!.establish(c.name)).outcome));
  const up = await Promise.all(outcomes);
  assert.deepEqual(up.filter((o) => !o.ok).map((o) => (o as { reason: string }).reason), [], 'every base station is up');
  const t = tunnelsAt();
  assert.equal(t.reduce((a, b) => a + b, 0), N);
  // Balanced to one base station: each member holds its share of N by capacity, within 1 (at
  // N = 120 one tunnel is 5% of the smallest member's share, so max/min <= 1.05 is asked of the
  // larger run in bench/, not here).
  const total = CAPACITY.reduce((a, b) => a + b, 0);
  t.forEach((n, i) => assert.ok(Math.abs(n - (N * CAPACITY[i]!) / total) <= 1, `balanced: tunnels ${t.join('/')} for capacities ${CAPACITY.join('/')}`));
  // The members table agrees once the reports caught up.
  const view = await eventually(async () => {
    const v = await call<MembersView>('gw1', 'members');
    return v.members.reduce((n, m) => n + m.load.tunnels, 0) === N ? v : undefined;
  }, 'every tunnel in the reports');
  assert.deepEqual(view.members.map((m) => m.load.tunnels), t, 'the reports show the same tunnels');
  const r = await call<RedirectCounts>('gw1', 'redirects');
  const redirected = Object.fromEntries(r.redirects.map((x) => [x.target, x.count]));
  assert.deepEqual(redirected, { gw2: t[1], gw3: t[2] });
  assert.equal(r.served.best, t[0]);
});

test('drain gw2 over the control socket: its base stations move to gw1 and gw3; undrain restores it', async () => {
  const before = tunnelsAt();
  assert.ok(before[1]! > 0);
  const methods = await call<{ methods: { name: string }[] }>('gw2', 'methods');
  for (const m of ['redirects', 'drain', 'undrain']) assert.ok(methods.methods.some((x) => x.name === m), `methods lists ${m}`);
  const started = await call<DrainStatus>('gw2', 'drain');
  assert.equal(started.state, 'draining');
  const done = await eventually(async () => {
    const s = await call<DrainStatus>('gw2', 'drain');
    return s.state === 'drained' && s.remaining === 0 ? s : undefined;
  }, { what: 'gw2 drained', timeoutMs: 20_000 });
  assert.equal(done.redirected, before[1]);
  await eventually(() => {
    const t = tunnelsAt();
    return t[1] === 0 && t[0]! + t[2]! === N;
  }, 'every base station up on gw1 or gw3');
  // The gateways count an SA up when they send the IKE_AUTH response; the base station a moment later.
  const all = await eventually(() => {
    const up = bs!.manager.ikeSaList().filter((s) => s.established && !s.isDead);
    return up.length === N ? up : undefined;
  }, 'every base station up on its side');
  assert.ok(all.every((s) => s.remote.address !== addr(1)));
  // gw1's table shows gw2 draining.
  await eventually(async () => (await call<MembersView>('gw1', 'members')).members.find((m) => m.id === 'gw2')?.draining, 'DRAINING in gw2\'s report');
  const r = await call<RedirectCounts>('gw2', 'redirects');
  assert.equal(r.redirects.filter((x) => x.reason === 'drain').reduce((n, x) => n + x.count, 0), before[1]);
  const ctl = await segwCtl(['--socket', join(dir, 'gw2.sock'), 'redirects']);
  assert.equal(ctl.code, 0, ctl.stderr);
  assert.match(ctl.stdout, /^target\s+address\s+reason\s+count$/m, 'a human table');
  assert.match(ctl.stdout, new RegExp(`^gw[13]\\s+127\\.0\\.0\\.4[13]\\s+drain\\s+\\d+$`, 'm'));
  assert.match(ctl.stdout, /^drained\s/m);
  const json = await segwCtl(['--socket', join(dir, 'gw2.sock'), '--json', 'redirects']);
  assert.equal((JSON.parse(json.stdout) as RedirectCounts).node, 'gw2');
  const undrained = await call<DrainStatus>('gw2', 'undrain');
  assert.equal(undrained.state, 'idle');
  await eventually(async () => (await call<MembersView>('gw1', 'members')).members.find((m) => m.id === 'gw2')?.draining === false, 'gw2 takes peers again');
});
