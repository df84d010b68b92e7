/**
 * SIGHUP on a running `segw gateway` (a real process on loopback, stub kernel): the config is
 * re-read; new and changed connections and PSKs apply to new IKE SAs while the established one
 * keeps running; a change to a restart-only key is refused by name; a bad file leaves the old
 * config in force; the daemon survives every SIGHUP and still stops cleanly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '../../src/control/client.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { IkeState, type IkeSa } from '../../src/ike/sa/ike-sa.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { eventually } from '../support/eventually.js';
import { freePorts, GatewayProcess, loopbackConfig, writeConfig } from './daemon.js';

const PSK_A = 'first-secret-0123456789';
const PSK_B = 'second-secret-9876543210';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'segw-reload-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Each base station its own subnet (two children with one policy would collide in the kernel). */
const SUBNET: Record<string, string> = { 'bs1.example.net': '198.51.100.0/24', 'bs2.example.net': '192.0.2.0/24' };

function gwConnection(id: string) {
  return {
    local: { id: 'gw.example.net', auth: 'psk' },
    remote: { id, auth: 'psk' },
    pskFile: 'psk.txt',
    ikeProposals: 'aes128gcm16-prfsha256-ecp256',
    children: { lte: { localTs: '203.0.113.0/24', remoteTs: SUBNET[id], espProposals: 'aes128gcm16' } },
  };
}

function bsConnection(port: number, psk: string, id: string): ConnectionConfig {
  const auth = { method: 'psk' as const, secret: psk };
  return {
    name: 'bs',
    local: { id, auth },
    remote: { addrs: ['127.0.0.1'], id: 'gw.example.net', auth },
    remotePort: port,
    ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
    children: [{ name: 'lte', localTs: [SUBNET[id]!], remoteTs: ['203.0.113.0/24'], espProposals: ['aes128gcm16'] }],
    retransmit: { timeout: 0.5, base: 1.5, tries: 2 },
  };
}

/** A base station on 127.0.0.2 that initiates once; resolves with its IKE SA once it is settled. */
async function baseStation(port: number, psk: string, id: string, daemons: IkeDaemon[]): Promise<IkeSa> {
  // Every base station its own SPI range: they share 127.0.0.2, where the gateway's outbound SAs go.
  const kernel = new StubKernelIpsec({ firstSpi: 0xc1000001 + daemons.length * 0x10000 });
  const d = new IkeDaemon({ connections: [bsConnection(port, psk, id)], kernel, listen: [{ address: '127.0.0.2', port: 0, natTPort: 0 }] });
  daemons.push(d);
  await d.start();
  const sa = await d.initiate('bs');
  await eventually(() => sa.isDead || (sa.state === IkeState.ESTABLISHED && sa.children.length > 0), { what: `${id}: IKE SA settled` });
  return sa;
}

async function ctl<T>(socket: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const c = await ControlClient.connect(socket);
  try {
    return await c.call<T>(method, params);
  } finally {
    c.close();
  }
}

test('SIGHUP reloads connections, PSKs and log.level without dropping the established SA; refuses restart-only keys and bad files', async () => {
  const [port, nattPort] = await freePorts();
  writeFileSync(join(dir, 'psk.txt'), `${PSK_A}\n`, { mode: 0o600 });
  const config = loopbackConfig(dir, port, nattPort, { connections: { bs1: gwConnection('bs1.example.net') } });
  const gw = GatewayProcess.spawn(dir, config);
  const daemons: IkeDaemon[] = [];
  try {
    await gw.waitForLog(/^gateway started$/);
    assert.equal(statSync(join(dir, 'gw.log')).mode & 0o777, 0o600, 'the log file is created 0600');
    const socket = join(dir, 'gw.sock');

    // IKE_SA_INIT, IKE_AUTH with PSK A -->  the tunnel every later step must not drop.
    const first = await baseStation(port, PSK_A, 'bs1.example.net', daemons);
    assert.equal(first.state, IkeState.ESTABLISHED);
    const { ikeSas: before } = await ctl<{ ikeSas: { name: string }[] }>(socket, 'list-sas');
    assert.equal(before.length, 1);

    // New PSK, a new connection, debug logging: all applied by SIGHUP.
    writeFileSync(join(dir, 'psk.txt'), `${PSK_B}\n`);
    writeConfig(gw.configFile, {
      ...config,
      log: { ...(config.log as object), level: 'debug' },
      connections: { bs1: gwConnection('bs1.example.net'), bs2: gwConnection('bs2.example.net') },
    });
    gw.kill('SIGHUP');
    const reloaded = await gw.waitForLog(/^config reloaded/);
    assert.deepEqual(reloaded.added, ['bs2']);
    assert.deepEqual(reloaded.logLevel, { from: 'info', to: 'debug' });

    // The established SA is still there, on both ends, and answers a liveness check.
    const { ikeSas: kept } = await ctl<{ ikeSas: { name: string; state: string }[] }>(socket, 'list-sas');
    assert.equal(kept.find((s) => s.name === before[0]!.name)?.state, 'ESTABLISHED');
    await daemons[0]!.dpd(first);
    await eventually(() => !first.tm.busy, { what: 'the DPD exchange on the old SA' });
    assert.equal(first.state, IkeState.ESTABLISHED);

    // New IKE SAs use the new PSK: the old one is refused, the new one (and the new connection) accepted.
    const stale = await baseStation(port, PSK_A, 'bs1.example.net', daemons);
    assert.ok(stale.isDead, 'IKE_AUTH with the replaced PSK fails');
    const fresh = await baseStation(port, PSK_B, 'bs2.example.net', daemons);
    assert.equal(fresh.state, IkeState.ESTABLISHED);

    // A restart-only key: refused by name, nothing applied, the daemon keeps answering. The log
    // was rotated meanwhile (as logrotate does): SIGHUP reopens it, refused reload or not.
    renameSync(join(dir, 'gw.log'), join(dir, 'gw.log.1'));
    writeConfig(gw.configFile, { ...config, ike: { ...(config.ike as object), port: port + 1 }, connections: { bs1: gwConnection('bs1.example.net') } });
    gw.kill('SIGHUP');
    const refused = await gw.waitForLog(/^reload refused: ike\.port cannot change while running/, 'reload refused: ike.port, in a new gw.log');
    assert.equal(statSync(join(dir, 'gw.log')).mode & 0o777, 0o600);
    assert.deepEqual(refused.restartOnly, ['ike.port']);
    const status = await ctl<{ ikeSas: number; halfOpen: number }>(socket, 'status');
    assert.equal(status.ikeSas, 2, 'still running with the bs1 SA and the bs2 SA (bs2 not removed)');
    assert.equal(status.halfOpen, 0, 'both past IKE_AUTH: none half-open');

    // A broken file: refused with the reason, the running config stays.
    writeFileSync(gw.configFile, 'node: [\n');
    const m = gw.logLines().length;
    gw.kill('SIGHUP');
    const bad = await gw.waitForLog(/^reload refused: the config file is not valid/, 'reload refused: not valid', m);
    assert.match(String(bad.error), /gw\.yaml:\d+:\d+/);
    assert.ok(gw.running);

    gw.kill('SIGTERM');
    await gw.exited;
    assert.equal(gw.exitCode, 0, gw.stderr);
    assert.equal(existsSync(socket), false, 'the control socket is removed at stop');
  } finally {
    await Promise.allSettled(daemons.map((d) => d.stop()));
    await gw.destroy();
  }
});

test('SIGHUP to a base station is logged and ignored: it keeps running and stops cleanly', async () => {
  const sub = mkdtempSync(join(dir, 'bs-'));
  const [port, nattPort] = await freePorts();
  const [gwPort] = await freePorts();
  const bs = {
    local: { id: 'bs1.example.net', auth: 'psk' },
    remote: { id: 'gw.example.net', addrs: ['127.0.0.1'], port: gwPort, auth: 'psk' },
    psk: PSK_A,
    ikeProposals: 'aes128gcm16-prfsha256-ecp256',
    children: { lte: { localTs: '198.51.100.0/24', remoteTs: '203.0.113.0/24', espProposals: 'aes128gcm16' } },
  };
  const node = GatewayProcess.spawn(sub, loopbackConfig(sub, port, nattPort, { connections: { bs } }), [], 'basestation');
  try {
    await node.waitForLog(/^gateway started$/);
    node.kill('SIGHUP');
    await node.waitForLog(/^SIGHUP: a base station does not reload its config/);
    assert.ok(node.running);
    node.kill('SIGTERM');
    await node.exited;
    assert.equal(node.exitCode, 0, node.stderr);
  } finally {
    await node.destroy();
  }
});
