/**
 * Two IkeDaemons over real UDP sockets on loopback (node:dgram, the non-ESP marker on the
 * NAT-T socket): a PSK tunnel comes up, DPD works, and the delete cleans both stub kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { IkeState, type IkeSa } from '../../src/ike/sa/ike-sa.js';
import { bsConfig, gwConfig } from './harness.js';
import { eventually } from '../support/eventually.js';

const until = (cond: () => boolean) => eventually(cond, { timeoutMs: 5000, intervalMs: 5 });

test('two daemons over UDP on 127.0.0.1 and 127.0.0.2: IKE SA and child up, DPD, delete', async () => {
  const gwKernel = new StubKernelIpsec();
  const bsKernel = new StubKernelIpsec({ firstSpi: 0xc1000001 });
  const gw = new IkeDaemon({ connections: [gwConfig(false)], kernel: gwKernel, listen: [{ address: '127.0.0.1', port: 0, natTPort: 0 }] });
  await gw.start();
  const ikePort = gw.endpoints()[0]!.port; // the first socket bound is the plain IKE port
  assert.ok(ikePort > 0);
  const bs = new IkeDaemon({
    connections: [bsConfig(false, { remote: { addrs: ['127.0.0.1'], id: 'gw.example.net', auth: { method: 'psk', secret: 'correct horse battery staple' } }, remotePort: ikePort })],
    kernel: bsKernel,
    listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }],
  });
  await bs.start();
  try {
    const sa: IkeSa = await bs.initiate('bs');
    await until(() => sa.state === IkeState.ESTABLISHED && gwKernel.sas.size === 2);
    assert.equal(bsKernel.sas.size, 2);
    await bs.dpd(sa);
    await until(() => !sa.tm.busy);
    await bs.terminate(sa);
    await until(() => sa.isDead && gwKernel.sas.size === 0);
    assert.equal(bsKernel.sas.size, 0);
    assert.equal(gw.manager.ikeSaCount, 0);
  } finally {
    await bs.stop();
    await gw.stop();
  }
});
