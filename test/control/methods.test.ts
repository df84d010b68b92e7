/**
 * Every control method against two real IkeDaemons over UDP on loopback (stub kernels), each
 * with its own control socket: what the operator asks for happens on both ends, and the answer
 * describes the outcome (new SPIs after a rekey, the SA gone after a delete).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../src/control/server.js';
import { ControlClient } from '../../src/control/client.js';
import { ControlError, ControlErrorCode } from '../../src/control/protocol.js';
import type { IkeSaView, ChildSaView } from '../../src/control/views.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { logger } from '../../src/log/index.js';
import { bsConfig, gwConfig, PSK } from '../exchange/harness.js';
import { eventually } from '../support/eventually.js';

let dir: string;
let gw: IkeDaemon, bs: IkeDaemon;
let gwKernel: StubKernelIpsec;
let gwCtl: ControlServer, bsCtl: ControlServer;
let g: ControlClient, b: ControlClient;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-ctl-'));
  gwKernel = new StubKernelIpsec();
  gw = new IkeDaemon({ connections: [gwConfig(false)], kernel: gwKernel, listen: [{ address: '127.0.0.1', port: 0, natTPort: 0 }] });
  await gw.start();
  const ikePort = gw.endpoints()[0]!.port;
  bs = new IkeDaemon({
    connections: [
      bsConfig(false, { remote: { addrs: ['127.0.0.1'], id: 'gw.example.net', auth: { method: 'psk', secret: PSK } }, remotePort: ikePort }),
      bsConfig(false, {
        name: 'bs-wrong-psk',
        local: { id: 'bs1.example.net', auth: { method: 'psk', secret: 'not the secret' } },
        remote: { addrs: ['127.0.0.1'], id: 'gw.example.net', auth: { method: 'psk', secret: 'not the secret' } },
        remotePort: ikePort,
      }),
    ],
    kernel: new StubKernelIpsec({ firstSpi: 0xc1000001 }),
    listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }],
  });
  await bs.start();
  gwCtl = await ControlServer.listen({ path: join(dir, 'gw.sock'), target: { daemon: gw, status: () => ({ node: 'gw' }) }, log: logger('control') });
  bsCtl = await ControlServer.listen({ path: join(dir, 'bs.sock'), target: { daemon: bs, status: () => ({ node: 'bs' }) }, log: logger('control') });
  g = await ControlClient.connect(gwCtl.path);
  b = await ControlClient.connect(bsCtl.path);
});

after(async () => {
  g.close();
  b.close();
  await gwCtl.close();
  await bsCtl.close();
  await bs.stop();
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
});

const list = async (c: ControlClient) => (await c.call<{ ikeSas: IkeSaView[] }>('list-sas')).ikeSas;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof ControlError, String(e));
    return e.controlCode;
  }
}

/** Both ends list the same single IKE SA and child, with mirrored SPIs. */
async function agree(): Promise<{ ike: IkeSaView; child: ChildSaView }> {
  const [gs, bss] = [await list(g), await list(b)];
  assert.equal(gs.length, 1, JSON.stringify(gs));
  assert.equal(bss.length, 1, JSON.stringify(bss));
  const [gi, bi] = [gs[0]!, bss[0]!];
  assert.equal(gi.name, bi.name);
  assert.equal(gi.state, 'ESTABLISHED');
  assert.equal(bi.state, 'ESTABLISHED');
  assert.equal(gi.children.length, 1);
  assert.equal(bi.children.length, 1);
  const [gc, bc] = [gi.children[0]!, bi.children[0]!];
  assert.equal(gc.state, 'INSTALLED');
  assert.equal(gc.spiIn, bc.spiOut);
  assert.equal(gc.spiOut, bc.spiIn);
  assert.deepEqual(gc.localTs, bc.remoteTs);
  return { ike: gi, child: gc };
}

test('initiate: answers with the established IKE SA and its child; both ends list it', async () => {
  const r = await b.call<{ ike: IkeSaView }>('initiate', { connection: 'bs' });
  assert.equal(r.ike.state, 'ESTABLISHED');
  assert.equal(r.ike.initiator, true);
  assert.equal(r.ike.remote.id, 'gw.example.net');
  assert.equal(r.ike.children[0]?.state, 'INSTALLED');
  const { ike, child } = await agree();
  assert.equal(ike.initiator, false);
  assert.equal(ike.remote.id, 'bs1.example.net');
  assert.equal(ike.local.id, 'gw.example.net');
  assert.deepEqual(ike.proposal, { encryption: 'ENCR_AES_GCM_16', keySize: 128, integrity: null, prf: 'PRF_HMAC_SHA2_256', dhGroup: 'ECP_256' });
  assert.deepEqual(child.localTs, ['203.0.113.0/24']);
  assert.deepEqual(child.remoteTs, ['198.51.100.0/24']);
  assert.equal(child.esp?.encryption, 'aes-gcm-16');
  // Filters and counters.
  const byConn = await g.call<{ ikeSas: IkeSaView[] }>('list-sas', { connection: 'gw', counters: true });
  assert.equal(byConn.ikeSas.length, 1);
  assert.ok(byConn.ikeSas[0]!.children[0]!.counters, 'counters from the stub kernel');
  assert.equal((await g.call<{ ikeSas: IkeSaView[] }>('list-sas', { connection: 'other' })).ikeSas.length, 0);
  assert.equal((await g.call<{ ikeSas: IkeSaView[] }>('list-sas', { ike: ike.spiR })).ikeSas[0]?.name, ike.name);
});

test('dpd: the peer answers; the answer says so', async () => {
  const { ike } = await agree();
  const r = await g.call<{ alive: boolean; ike: string }>('dpd', { ike: ike.name });
  assert.equal(r.alive, true);
  assert.equal(r.ike, ike.name);
});

test('rekey-child from either end: new SPIs on both ends, the old child deleted on both', async () => {
  const before = await agree();
  const r = await g.call<{ old: ChildSaView; child: ChildSaView }>('rekey-child', { child: before.child.spiIn });
  assert.equal(r.old.spiIn, before.child.spiIn);
  assert.equal(r.old.state, 'DELETED');
  assert.notEqual(r.child.spiIn, before.child.spiIn);
  const mid = await agree();
  assert.equal(mid.child.spiIn, r.child.spiIn);
  // From the initiator's end, naming the child by its outbound SPI.
  const bsChild = (await list(b))[0]!.children[0]!;
  const r2 = await b.call<{ child: ChildSaView }>('rekey-child', { child: bsChild.spiOut });
  const after = await agree();
  assert.equal(after.child.spiOut, r2.child.spiIn);
  assert.equal(gwKernel.sas.size, 2, 'one inbound and one outbound SA left in the kernel');
});

test('rekey-ike: a new IKE SA with new SPIs carries the child; the old one is gone on both ends', async () => {
  const before = await agree();
  const r = await b.call<{ old: string; ike: IkeSaView }>('rekey-ike', { ike: before.ike.name });
  assert.equal(r.old, before.ike.name);
  assert.notEqual(r.ike.name, before.ike.name);
  const after = await agree();
  assert.equal(after.ike.name, r.ike.name);
  assert.equal(after.child.spiIn, before.child.spiIn, 'the child moved to the new IKE SA unchanged');
  // The old name is no longer known.
  assert.equal(await codeOf(g.call('dpd', { ike: before.ike.name })), ControlErrorCode.NOT_FOUND);
});

test('terminate-child then terminate-ike: each gone from both ends and both kernels', async () => {
  const { ike, child } = await agree();
  const r = await g.call<{ deleted: ChildSaView }>('terminate-child', { child: child.spiIn });
  assert.equal(r.deleted.state, 'DELETED');
  assert.equal(gwKernel.sas.size, 0);
  const [gi] = await list(g);
  const [bi] = await list(b);
  assert.equal(gi?.children.length, 0);
  assert.equal(bi?.children.length, 0);
  assert.equal(await codeOf(g.call('rekey-child', { child: child.spiIn })), ControlErrorCode.NOT_FOUND);
  const t = await g.call<{ deleted: string; notified: boolean }>('terminate-ike', { ike: ike.name });
  assert.deepEqual(t, { deleted: ike.name, notified: true });
  assert.deepEqual(await list(g), []);
  await eventually(async () => (await list(b)).length === 0, { what: 'the peer to delete its end too', timeoutMs: 1000, intervalMs: 10 });
});

test('INVALID_STATE on an SA being deleted; FAILED when authentication fails; TIMEOUT when the peer never answers', async () => {
  await b.call('initiate', { connection: 'bs' });
  const { ike } = await agree();
  const sa = gw.manager.ikeSaList().find((s) => s.name === ike.name)!;
  await gw.terminate(sa); // the Delete is sent: DELETING until the answer arrives, then gone
  const again = await codeOf(g.call('rekey-ike', { ike: ike.name }));
  assert.ok(again === ControlErrorCode.INVALID_STATE || again === ControlErrorCode.NOT_FOUND, again);
  await eventually(async () => (await list(b)).length === 0, { what: 'the base station\'s end deleted', timeoutMs: 1000, intervalMs: 10 });
  assert.equal(await codeOf(b.call('initiate', { connection: 'bs-wrong-psk' })), ControlErrorCode.FAILED);
  assert.deepEqual(await list(b), []);
  // 127.0.0.3 has no IKE daemon: with timeoutMs 200 the answer is TIMEOUT, and the SA keeps trying.
  assert.equal(await codeOf(b.call('initiate', { connection: 'bs', remote: '127.0.0.3', timeoutMs: 200 })), ControlErrorCode.TIMEOUT);
  const pending = await list(b);
  assert.equal(pending.length, 1);
  assert.equal(pending[0]!.state, 'CONNECTING');
  const f = await b.call<{ notified: boolean }>('terminate-ike', { ike: pending[0]!.spiI });
  assert.equal(f.notified, false, 'a half-open SA is removed locally');
  assert.deepEqual(await list(b), []);
});

test('a FAILED answer carries the daemon outcome: why the IKE SA did not come up', async () => {
  await assert.rejects(b.call('initiate', { connection: 'bs-wrong-psk' }), (e: unknown) => {
    assert.ok(e instanceof ControlError, String(e));
    assert.equal(e.controlCode, ControlErrorCode.FAILED);
    assert.match(e.message, /IKE_AUTH failed/);
    assert.match(e.message, /AUTHENTICATION_FAILED/);
    return true;
  });
  assert.deepEqual(await list(b), []);
});
