/**
 * A Gateway (stub kernel) as the control socket reports it while a base station rekeys: the
 * injected route for the base station's subnet stays installed and is wanted by exactly one
 * child through child rekeys and IKE SA rekeys started by either end, and goes with the tunnel.
 * Regression: route injection used to key children by their IKE SA's name (changed by an IKE
 * rekey) and ignored child rekeys, so routes leaked, or were withdrawn under live children.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/eventually.js';
import { Gateway, type GatewayStatus } from '../../src/gateway/gateway.js';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { ControlClient } from '../../src/control/client.js';
import type { ChildSaView, IkeSaView } from '../../src/control/views.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import { bsConfig, PSK } from '../exchange/harness.js';

let dir: string;
let gw: Gateway;
let bs: IkeDaemon;
let ctl: ControlClient;
const port = 20_000 + Math.floor(Math.random() * 20_000);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-gw-routes-'));
  const cfg = parseGatewayConfig(
    {
      node: { name: 'gw-routes' },
      ike: { listen: ['127.0.0.1'], port, nattPort: port + 1 },
      kernel: { ipsec: 'stub' },
      control: { socket: join(dir, 'gw.sock') },
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
  bs = new IkeDaemon({
    connections: [bsConfig(false, { remote: { addrs: ['127.0.0.1'], id: 'gw.example.net', auth: { method: 'psk', secret: PSK } }, remotePort: port })],
    kernel: new StubKernelIpsec({ firstSpi: 0xc1000001 }),
    listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }],
  });
  await bs.start();
  ctl = await ControlClient.connect(join(dir, 'gw.sock'));
});

after(async () => {
  ctl.close();
  await bs.stop();
  await gw.stop({ notifyPeers: false });
  rmSync(dir, { recursive: true, force: true });
});

const until = (cond: () => boolean | Promise<boolean>, what: string) => eventually(cond, { what, timeoutMs: 5000, intervalMs: 10 });

const routes = async () => (await ctl.call<GatewayStatus>('status')).routes;
const oneRoute = [{ prefix: '198.51.100.0/24', children: 1, installed: true }];
const gwSas = async () => (await ctl.call<{ ikeSas: IkeSaView[] }>('list-sas')).ikeSas;
const settled = async () => {
  const sas = await gwSas();
  return sas.length === 1 && sas[0]!.state === IkeState.ESTABLISHED && sas[0]!.children.length === 1 && sas[0]!.tasks.active.length === 0;
};

test('the injected route follows child and IKE SA rekeys from either end, and goes with the tunnel', async () => {
  const sa = await bs.initiate('bs');
  await until(() => sa.established && sa.children.length === 1, 'tunnel up');
  await until(settled, 'gateway settled');
  assert.deepEqual(await routes(), oneRoute);

  // Base station rekeys the child, then the IKE SA.
  await bs.rekeyChild(sa.children[0]!);
  await until(async () => (await gwSas())[0]?.children[0]?.spiOut !== undefined && sa.children.length === 1 && sa.children[0]!.state === 'INSTALLED' && !sa.tm.busy, 'bs child rekey');
  await until(settled, 'gateway settled');
  assert.deepEqual(await routes(), oneRoute, 'after the base station rekeyed the child');
  await bs.rekeyIke(sa);
  await until(() => sa.isDead, 'old IKE SA deleted');
  await until(settled, 'gateway settled');
  assert.deepEqual(await routes(), oneRoute, 'after the base station rekeyed the IKE SA');

  // The gateway rekeys both (control socket).
  let [ike] = await gwSas();
  await ctl.call<{ child: ChildSaView }>('rekey-child', { child: ike!.children[0]!.spiIn });
  assert.deepEqual(await routes(), oneRoute, 'after the gateway rekeyed the child');
  [ike] = await gwSas();
  const r = await ctl.call<{ ike: IkeSaView }>('rekey-ike', { ike: ike!.name });
  await until(settled, 'gateway settled');
  assert.deepEqual(await routes(), oneRoute, 'after the gateway rekeyed the IKE SA');

  // The tunnel goes: so does the route.
  await ctl.call('terminate-ike', { ike: r.ike.name });
  await until(async () => (await routes()).every((x) => x.children === 0 && !x.installed), 'route withdrawn');
});
