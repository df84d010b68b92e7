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

test('stub KernelIpsec, lean mode: answers like a kernel (EEXIST, ESRCH, ENOENT) while keeping only keys', async () => {
  for (const lean of [false, true]) {
    const k = new StubKernelIpsec({ lean, recordOps: false });
    const spi = await k.allocateSpi('192.0.2.7', '192.0.2.1', 'esp');
    const sa = {
      dst: '192.0.2.1', src: '192.0.2.7', spi, protocol: 'esp' as const, direction: 'in' as const, mode: 'tunnel' as const, reqid: 1,
      encryption: 'aes-gcm-16' as const, encryptionKey: Buffer.alloc(20), esn: true, replayWindow: 32,
      lifetime: { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n }, localTs: [], remoteTs: [],
    };
    await k.updateSa(sa);
    await k.addSa({ ...sa, dst: '2001:db8::1', src: '2001:db8::7' });
    await assert.rejects(k.addSa(sa), /EEXIST/);
    await assert.rejects(k.updateSa({ ...sa, spi: spi + 1000 }), /ESRCH/);
    assert.equal(k.saCount, 2);
    assert.equal(k.sas.size, lean ? 0 : 2, 'lean keeps no parameters');
    assert.equal((await k.querySa(sa)).packets, 0n);
    const l = { family: 4 as const, protocol: 0, startAddr: '203.0.113.0', endAddr: '203.0.113.255', startPort: 0, endPort: 65535 };
    const r = { family: 4 as const, protocol: 0, startAddr: '198.18.0.5', endAddr: '198.18.0.5', startPort: 0, endPort: 65535 };
    const pol = (direction: 'in' | 'out' | 'fwd', src = l, dst = r) =>
      ({ direction, src, dst, tmplSrc: '192.0.2.1', tmplDst: '192.0.2.7', reqid: 1, mode: 'tunnel' as const, priority: 1 });
    for (const d of ['out', 'in', 'fwd'] as const) await k.addPolicy(pol(d, d === 'out' ? l : r, d === 'out' ? r : l));
    await assert.rejects(k.addPolicy(pol('in', r, l)), /EEXIST/);
    await k.addPolicy(pol('in', l, r)); // the same selectors the other way round: another policy
    assert.equal(k.policyCount, 4);
    await k.deletePolicy(pol('in', l, r));
    await assert.rejects(k.deletePolicy(pol('in', l, r)), /ENOENT/);
    await k.deletePolicy(pol('fwd', r, l));
    await k.addPolicy(pol('fwd', r, l));
    assert.equal(k.policyCount, 3);
    await k.deleteSa(sa);
    await assert.rejects(k.deleteSa(sa), /ESRCH/);
    await assert.rejects(k.querySa(sa), /ESRCH/);
    assert.equal(k.saCount, 1);
  }
});
