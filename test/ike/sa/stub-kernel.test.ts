import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StubKernelIpsec } from '../../../src/kernel/stub/ipsec.js';
import { StubKernelNet } from '../../../src/kernel/stub/net.js';

test('stub KernelIpsec: SPI allocation, update of larval SAs, injected failures, expiry events', async () => {
  const k = new StubKernelIpsec();
  const spi = await k.allocateSpi('192.0.2.7', '192.0.2.1', 'esp');
  assert.equal(k.larval.size, 1);
  const sa = {
    dst: '192.0.2.1', src: '192.0.2.7', spi, protocol: 'esp' as const, direction: 'in' as const, mode: 'tunnel' as const, reqid: 1,
    encryption: 'aes-gcm-16' as const, encryptionKey: Buffer.alloc(20), esn: true, replayWindow: 32,
    lifetime: { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n }, localTs: [], remoteTs: [],
  };
  await k.updateSa(sa);
  assert.equal(k.sas.size, 1);
  assert.equal(k.larval.size, 0);
  k.failNext('addSa');
  await assert.rejects(k.addSa({ ...sa, spi: 5 }), /injected/);
  let got = '';
  k.setEventHandler({ onExpire: (ref, kind) => (got = `${ref.spi}/${kind}`) });
  k.expire(sa, 'soft');
  assert.equal(got, `${spi}/soft`);
  await k.deleteSa(sa);
  await assert.rejects(k.deleteSa(sa), /ESRCH/);
  const n = new StubKernelNet();
  await n.addRoute({ dst: '198.51.100.0/24', protocol: 200 });
  assert.equal((await n.listRoutes({ protocol: 200 })).length, 1);
});
