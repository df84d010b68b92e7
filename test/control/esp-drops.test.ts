/**
 * ESP drops reach the operator: a gateway IkeDaemon on the userspace engine (in a lab
 * namespace) brings up a child SA with a base station (stub kernel), then bad-ICV and replayed
 * ESP packets for that child are sent at the engine's UDP 4500 socket. `list-sas {counters}`
 * shows them on the child by reason, `status` engine-wide by reason and in total.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab } from '../../src/lab/lab.js';
import { ControlServer } from '../../src/control/server.js';
import { ControlClient } from '../../src/control/client.js';
import type { EspDropsView, IkeSaView } from '../../src/control/views.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { UserspaceIpsec } from '../../src/kernel/userspace/backend.js';
import { logger } from '../../src/log/index.js';
import { bsConfig, gwConfig, PSK } from '../exchange/harness.js';
import { bareEngine, gcmSa, icmpEcho } from '../support/esp-fixtures.js';
import { eventually } from '../support/eventually.js';

const ENGINE_ADDR = '198.51.100.1';

test('bad-ICV and replayed ESP show in list-sas (per child, by reason) and status (by reason, in total)', async () => {
  await withLab('espdrops', async (lab) => {
    const host = await lab.host('gw');
    await host.addAddress('lo', `${ENGINE_ADDR}/32`);
    const dir = mkdtempSync(join(tmpdir(), 'segw-drops-'));
    const engine = UserspaceIpsec.open({ netns: host.ns, tunName: 'segw0', udp: [{ address: ENGINE_ADDR, port: 4500 }] });
    const bsKernel = new StubKernelIpsec({ firstSpi: 0xc1000001 });
    const gw = new IkeDaemon({ connections: [gwConfig(false)], kernel: engine, listen: [{ address: '127.0.0.1', port: 0, natTPort: 0 }] });
    let bs: IkeDaemon | undefined, ctl: ControlServer | undefined, client: ControlClient | undefined;
    const sealer = bareEngine();
    try {
      await gw.start();
      bs = new IkeDaemon({
        connections: [bsConfig(false, { remote: { addrs: ['127.0.0.1'], id: 'gw.example.net', auth: { method: 'psk', secret: PSK } }, remotePort: gw.endpoints()[0]!.port })],
        kernel: bsKernel,
        listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }],
      });
      await bs.start();
      ctl = await ControlServer.listen({ path: join(dir, 'gw.sock'), target: { daemon: gw, status: () => ({ node: 'gw' }) }, log: logger('control') });
      client = await ControlClient.connect(ctl.path);
      await bs.initiate('bs');
      await eventually(() => gw.manager.liveChildren().length === 1, { what: 'the child SA installed on the gateway' });
      // The base station's outbound SA is the gateway's inbound one: seal with its keys.
      const out = await eventually(() => [...bsKernel.sas.values()].find((s) => s.direction === 'out'), {
        what: 'the child SA installed on the base station',
      });
      const spi = out.spi >>> 0;
      const o = sealer.addSa({ ...gcmSa({ spi, encryptionKey: out.encryptionKey, esn: out.esn }), direction: 'out' });
      const inner = icmpEcho('198.51.100.7', '203.0.113.7');
      const good = sealer.espSeal(o, inner, 4).packet!;
      const forged = Buffer.from(sealer.espSeal(o, inner, 4).packet!);
      forged[forged.length - 1] ^= 0x01;
      // good (delivered), good again (replay), forged twice (integrity).
      const packets = [good, good, forged, forged].map((p) => p.toString('hex'));
      const send = `const s=require('node:dgram').createSocket('udp4');const p=${JSON.stringify(packets)};` +
        `(async()=>{for(const h of p)await new Promise((r,j)=>s.send(Buffer.from(h,'hex'),4500,'${ENGINE_ADDR}',(e)=>e?j(e):r()));s.close();})();`;
      await host.exec(process.execPath, ['-e', send]);

      const child = async () => {
        const r = await client!.call<{ ikeSas: IkeSaView[] }>('list-sas', { counters: true });
        return r.ikeSas[0]?.children[0]?.counters;
      };
      await eventually(async () => (await child())?.dropsIn.integrity === '2', { what: 'two integrity drops on the child' });
      const c = (await child())!;
      assert.equal(c.packetsIn, '1');
      assert.deepEqual(c.dropsIn, { replay: '1', integrity: '2', other: '0' });

      const st = await client.call<{ node: string; espDrops: EspDropsView }>('status');
      assert.equal(st.node, 'gw');
      assert.equal(st.espDrops.available, true);
      if (!st.espDrops.available) return;
      assert.equal(st.espDrops.in.replay, 1);
      assert.equal(st.espDrops.in.integrity, 2);
      assert.equal(st.espDrops.totalIn, 3);
    } finally {
      sealer.close();
      client?.close();
      await ctl?.close();
      await bs?.stop();
      await gw.stop();
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
