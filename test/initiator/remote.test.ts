/**
 * The generator in a child process, driven over JSON lines (as bench/ike-setup runs it inside a
 * lab namespace): create, establish, counts, teardown, errors as values with their code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { GeneratorProcess, RemoteGeneratorError } from '../../src/initiator/remote.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const PSK = 'remote generator psk 0123456789';

test('a generator process: 10 SAs up against an in-process responder, counted, torn down; bad requests answered with a code', async () => {
  const kernel = new StubKernelIpsec({ recordOps: false });
  const gw = new IkeDaemon({
    connections: [{
      name: 'ran',
      local: { id: 'gw.segw.example', auth: { method: 'psk', secret: PSK } },
      remote: { addrs: ['%any'], auth: { method: 'psk', secret: PSK } },
      ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
      children: [{ name: 'core', localTs: ['203.0.113.0/24'], remoteTs: ['198.18.0.0/15'], espProposals: ['aes128gcm16'] }],
    }],
    kernel,
    listen: [{ address: '127.0.0.1', port: 0, natTPort: 0 }],
  });
  await gw.start();
  const gen = GeneratorProcess.start([process.execPath, '--import', 'tsx', 'src/initiator/main.ts'], { cwd: REPO });
  try {
    await assert.rejects(gen.establish({ concurrency: 1 }), (e: unknown) => e instanceof RemoteGeneratorError && e.code === 'SEGW_INITIATOR');
    await assert.rejects(
      gen.create({ population: { count: 300, subnetPool: '198.18.0.0/24', endpoints: [{ address: '127.0.0.2' }] }, target: { address: '127.0.0.1' }, psk: PSK, remoteTs: ['203.0.113.0/24'] }),
      /need more than the 256/,
    );
    const c = await gen.create({
      population: { count: 10, subnetPool: '198.18.0.0/24', endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] },
      target: { address: '127.0.0.1', port: gw.endpoints()[0]!.port },
      psk: PSK,
      remoteTs: ['203.0.113.0/24'],
    });
    assert.equal(c.count, 10);
    assert.ok(c.endpoints[0]!.port! > 0);
    const r = await gen.establish({ concurrency: 4 });
    assert.equal(r.established, 10, JSON.stringify(r.failures));
    assert.equal((await gen.counts()).ESTABLISHED, 10);
    assert.equal(gw.manager.childSaCount, 10);
    const u = await gen.usage();
    assert.ok(u.pid > 0 && u.cpuUserMs > 0);
    assert.equal((await gen.teardown({ concurrency: 4 })).deleted, 10);
    await gw.idle();
    assert.equal(gw.manager.ikeSaCount, 0);
    // A fresh generator in the same process.
    await gen.reset();
    await gen.create({
      population: { count: 2, subnetPool: '198.18.1.0/24', endpoints: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] },
      target: { address: '127.0.0.1', port: gw.endpoints()[0]!.port },
      psk: PSK,
      remoteTs: ['203.0.113.0/24'],
    });
    assert.equal((await gen.establish({ concurrency: 2 })).established, 2);
  } finally {
    await gen.close();
    await gw.stop();
  }
  assert.equal(await gen.exited, 0);
});
