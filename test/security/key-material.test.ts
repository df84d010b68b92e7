/**
 * No key material in segw's logs, at any level (issue 15): two daemons run a whole PSK exchange
 * (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA rekeys of the child and of the IKE SA, DPD, delete)
 * and a certificate exchange through the production logger (src/log createRootLogger, with its
 * redaction) at level trace into a log file; every line is searched for the PSK, every SK_*
 * key of every IKE SA (SK_d, SK_ai/ar, SK_ei/er, SK_pi/pr, spied as the SAs install them), every
 * ESP key the kernel received, and the private key PEM (see ./secrets.ts for the forms). The
 * failure paths too: a kernel that refuses an SA at either end or a policy, a wrong PSK.
 * The cluster key: load reports between two members on loopback (signed, forged, replayed,
 * truncated, wrong-key, a member leaving) and the gateway config that reads the key file (its
 * warnings and errors, the parsed config printed as JSON and by util.inspect), here; a whole
 * cluster in namespaces (VRRP, redirect, reload, failover) is ./cluster-key-material.test.ts.
 * File permissions of what segw writes: the log file here; every file a running gateway
 * creates (log, control socket and its directory, after a rotation too) is ./file-modes.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import pino from 'pino';
import { createRootLogger, setRootLogger, type Logger } from '../../src/log/index.js';
import { IkeSa } from '../../src/ike/sa/ike-sa.js';
import type { IkeKeys } from '../../src/ike/crypto/types.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import { bsConfig, gwConfig, Pair, PSK } from '../exchange/harness.js';
import { TestPki } from '../ike/crypto/pki.js';
import { eventually } from '../support/eventually.js';
import { findSecrets, type Secret } from './secrets.js';
import { ClusterKey } from '../../src/cluster/key.js';
import { ClusterMember, type MemberSettings } from '../../src/cluster/member.js';
import { encodeReport } from '../../src/cluster/report.js';
import { parseGatewayConfig } from '../../src/config/gateway.js';
import { sample } from '../cluster/fixtures.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'segw-sec-'));
});
after(() => {
  setRootLogger(pino({ level: 'silent' }));
  rmSync(dir, { recursive: true, force: true });
});

/** Every SK_* key an IKE SA installs while `fn` runs (copied before setKeys wipes SK_d). */
async function spyingKeys(fn: () => Promise<void>): Promise<{ keys: Secret[]; calls: number }> {
  const keys: Secret[] = [];
  let calls = 0;
  const original = IkeSa.prototype.setKeys;
  IkeSa.prototype.setKeys = function (this: IkeSa, suite, k: IkeKeys, nonces) {
    calls++;
    for (const [name, v] of Object.entries(k)) if (Buffer.isBuffer(v) && v.length > 0) keys.push({ what: `${name} of ${this.initiator ? 'bs' : 'gw'}`, bytes: Buffer.from(v) });
    return original.call(this, suite, k, nonces);
  };
  try {
    await fn();
  } finally {
    IkeSa.prototype.setKeys = original;
  }
  return { keys, calls };
}

function espKeys(p: Pair): Secret[] {
  const out: Secret[] = [];
  for (const side of [p.bs, p.gw]) {
    for (const sa of side.kernel.sas.values()) {
      out.push({ what: `ESP encryption key of SPI ${sa.spi.toString(16)}`, bytes: Buffer.from(sa.encryptionKey) });
      if (sa.integrityKey?.length) out.push({ what: `ESP integrity key of SPI ${sa.spi.toString(16)}`, bytes: Buffer.from(sa.integrityKey) });
    }
  }
  return out;
}

/** Routes the process logger to a fresh file at trace; returns the file and how to read it. */
function traceLog(name: string): { file: string; lines: () => Promise<string[]>; log: Logger } {
  const file = join(dir, name);
  // An open descriptor: the destination is ready at once (a path opens asynchronously).
  const log = createRootLogger({ level: 'trace', destination: openSync(file, 'a', 0o600) });
  setRootLogger(log);
  return {
    file,
    log,
    lines: async () => {
      // Writes are asynchronous and in order: once this marker is in the file, all lines are.
      log.fatal('end of test log');
      await eventually(() => readFileSync(file, 'utf8').includes('end of test log'), 'the log is written');
      return readFileSync(file, 'utf8').split('\n').filter(Boolean);
    },
  };
}

test('the secret search finds a key however it is printed (so the tests below can fail)', async () => {
  const key = Buffer.from('00112233445566778899aabbccddeeff0123456789abcdef', 'hex');
  const { log, lines } = traceLog('canary.log');
  log.trace({ sk: key.toString('base64') }, 'b64');
  log.debug({ part: key.subarray(5, 13).toString('hex') }, 'part');
  log.info({ bytes: [...key] }, 'byte array'); // (a Buffer itself prints as "[unable to serialize...]")
  log.warn(`upper ${key.toString('hex').toUpperCase()}`);
  log.error({ psk: 'x' }, `psk ${PSK}`);
  const got = await lines();
  const hits = findSecrets(got, [{ what: 'key', bytes: key }, { what: 'psk', bytes: Buffer.from(PSK), text: PSK }]);
  assert.equal(hits.length, 5, `${hits.join('\n')}\n--- lines:\n${got.join('\n')}`);
});

const SUITES = [
  { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16-esn', keysPerSa: 5 }, // AEAD: no SK_a, no ESP integrity key
  { ike: 'aes256-sha256-x25519', esp: 'aes128-sha256', keysPerSa: 7 },
];

for (const suite of SUITES) {
  test(`a PSK exchange (${suite.ike}, ESP ${suite.esp}) with rekeys, DPD and delete logs no PSK, SK_* or ESP key at level trace`, async () => {
    const { lines } = traceLog(`psk-${suite.ike}.log`);
    let secrets: Secret[] = [{ what: 'PSK', bytes: Buffer.from(PSK), text: PSK }];
    const children = bsConfig(false).children.map((c) => ({ ...c, espProposals: [suite.esp] }));
    const p = new Pair({ bs: { ikeProposals: [suite.ike], children }, gw: { ikeProposals: [suite.ike], children: gwConfig(false).children.map((c) => ({ ...c, espProposals: [suite.esp] })) } });
    await p.start();
    try {
      const { keys: ikeKeys, calls } = await spyingKeys(async () => {
        const { bsSa } = await p.connect();
        secrets = secrets.concat(espKeys(p));
        const child = bsSa.children[0]!;
        await p.bs.daemon.rekeyChild(child);
        await p.run();
        secrets = secrets.concat(espKeys(p));
        await p.bs.daemon.rekeyIke(bsSa);
        await p.run();
        const live = p.bs.daemon.manager.ikeSaList().find((s) => !s.isDead)!;
        await p.bs.daemon.dpd(live);
        await p.run();
        await p.bs.daemon.terminate(live);
        await p.run();
      });
      // Two IKE SAs (the first and its rekey) on both ends.
      assert.equal(calls, 4, 'setKeys calls');
      assert.equal(ikeKeys.length, 4 * suite.keysPerSa, 'SK_* keys spied');
      secrets = secrets.concat(ikeKeys);
    } finally {
      await p.stop();
    }
    const got = await lines();
    assert.ok(got.some((l) => l.includes('"level":"trace"') || l.includes('"level":"debug"')), 'nothing logged below info: the test would prove nothing');
    assert.ok(got.length > 10, `only ${got.length} log lines`);
    assert.deepEqual(findSecrets(got, secrets), []);
  });
}

test('a certificate exchange logs no private key (PEM, DER) at level trace', async () => {
  const pki = new TestPki();
  try {
    const root = pki.selfSigned('C=CH, O=segw test, CN=segw Root CA', 'ecdsa', 256);
    const ends: Record<'bs' | 'gw', Partial<ConnectionConfig>> = { bs: {}, gw: {} };
    const secrets: Secret[] = [];
    for (const [side, id] of [['bs', 'bs1.example.net'], ['gw', 'gw.example.net']] as const) {
      const cert = pki.issue(root, `C=CH, O=segw test, CN=${id}`, 'ecdsa', 256, ['--san', id]);
      const keyPem = readFileSync(cert.keyFile, 'utf8');
      const der = cert.key.export({ format: 'der', type: 'pkcs8' });
      secrets.push({ what: `${side} private key (PKCS#8 DER)`, bytes: der });
      for (const line of keyPem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'))) {
        secrets.push({ what: `${side} private key PEM line`, bytes: Buffer.from(line), text: line });
      }
      const other = side === 'bs' ? { addrs: ['192.0.2.1'], id: 'gw.example.net' } : { addrs: ['%any'], id: '%any' };
      ends[side] = {
        local: { id, auth: { method: 'pubkey', certs: [readFileSync(cert.certFile, 'utf8')], privateKey: keyPem } },
        remote: { ...other, auth: { method: 'pubkey', cacerts: [readFileSync(root.certFile, 'utf8')] } },
      };
    }
    const { lines } = traceLog('cert.log');
    const p = new Pair({ bs: ends.bs, gw: ends.gw });
    await p.start();
    try {
      await p.connect();
    } finally {
      await p.stop();
    }
    const got = await lines();
    assert.ok(got.length > 5, `only ${got.length} log lines`);
    assert.deepEqual(findSecrets(got, secrets), []);
    assert.ok(!got.some((l) => l.includes('PRIVATE KEY')), 'a PEM private key header in the log');
  } finally {
    pki.cleanup();
  }
});

test('the log file segw creates is mode 0600 (it names peers, addresses and identities)', async () => {
  const old = process.umask(0o022); // the usual daemon umask: would give 0644 if not asked
  try {
    const file = join(dir, 'new.log');
    const log = createRootLogger({ level: 'info', destination: file });
    log.info('first line');
    await eventually(() => existsSync(file) && readFileSync(file, 'utf8').includes('first line'), 'the line is written');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // An existing file keeps the mode the operator gave it (a log group may read it).
    const kept = join(dir, 'kept.log');
    writeFileSync(kept, '', { mode: 0o640 });
    const log2 = createRootLogger({ level: 'info', destination: kept });
    log2.info('appended');
    await eventually(() => readFileSync(kept, 'utf8').includes('appended'), 'the line is appended');
    assert.equal(statSync(kept).mode & 0o777, 0o640);
  } finally {
    process.umask(old);
  }
});

const CLUSTER_PORT = 21_000 + Math.floor(Math.random() * 20_000);
const memberAddr = (i: number) => `127.0.0.${61 + i}`;

function memberSettings(i: number, key: ClusterKey): MemberSettings {
  return {
    nodeId: `gw${i + 1}`,
    address: `198.51.100.${61 + i}`,
    capacity: { maxTunnels: 100, bandwidthBps: 1e9 },
    weights: { tunnels: 1, bandwidth: 1, cpu: 1 },
    ceiling: 0.8,
    reportIntervalMs: 50,
    staleAfter: 20,
    listen: { address: memberAddr(i), port: CLUSTER_PORT },
    peers: [{ address: memberAddr(1 - i), port: CLUSTER_PORT }],
    key,
  };
}

/** Sends datagrams to member 0 from member 1's address (the only source it takes reports from). */
async function sendAsPeer(datagrams: Buffer[]): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: memberAddr(1), port: 0 }, () => r()));
  try {
    for (const d of datagrams) await new Promise<void>((r, j) => sock.send(d, CLUSTER_PORT, memberAddr(0), (e) => (e ? j(e) : r())));
  } finally {
    sock.close();
  }
}

test('load reports (signed, forged, replayed, truncated, wrong key) and the cluster config log no cluster key at level trace', async () => {
  const { lines } = traceLog('cluster.log');
  const octets = randomBytes(32);
  const hex = octets.toString('hex');
  const other = randomBytes(32);
  const secrets: Secret[] = [
    { what: 'cluster key (file text)', bytes: Buffer.from(hex), text: hex },
    { what: 'cluster key (octets behind the text)', bytes: octets },
    { what: 'a forger\'s key', bytes: other },
  ];
  // The config path: a key file others may read (warned), a short one (refused), the parsed config printed.
  const keyFile = join(dir, 'cluster.key');
  writeFileSync(keyFile, `${hex}\n`, { mode: 0o644 });
  const shortFile = join(dir, 'short.key');
  writeFileSync(shortFile, 'c0ffee-not-long-enough\n', { mode: 0o600 });
  secrets.push({ what: 'the short key', bytes: Buffer.from('c0ffee-not-long-enough'), text: 'c0ffee-not-long-enough' });
  const doc = (file: string) => ({
    node: { name: 'gw1' },
    ike: { listen: ['127.0.0.1'] },
    kernel: { ipsec: 'stub' },
    connections: { bs: { local: { id: 'gw.example.net', auth: 'psk' }, remote: { id: '%any', auth: 'psk' }, psk: PSK, ikeProposals: ['aes128gcm16-prfsha256-ecp256'], children: { lte: { localTs: ['203.0.113.0/24'], remoteTs: ['198.51.100.0/24'], espProposals: ['aes128gcm16'] } } } },
    cluster: { address: '198.51.100.61', vips: ['203.0.113.10/24'], keyFile: file, capacity: { maxTunnels: 100, bandwidth: '1G' }, reports: { listen: '127.0.0.61', peers: ['127.0.0.62'] }, vrrp: { interface: 'lo', vrid: 9 } },
  });
  const cfg = parseGatewayConfig(doc(keyFile), join(dir, 'gw.yaml'));
  let refusal = '';
  try {
    parseGatewayConfig(doc(shortFile), join(dir, 'gw.yaml'));
  } catch (err) {
    refusal = (err as Error).message;
  }
  assert.match(refusal, /has 22 octets; use at least 32/, 'the short key was not refused');
  const printed = [JSON.stringify(cfg), inspect(cfg, { depth: 10 }), refusal, ...cfg.warnings];

  const key = new ClusterKey(Buffer.from(hex));
  const members: ClusterMember[] = [];
  try {
    for (const i of [0, 1]) members.push(await ClusterMember.start({ cfg: memberSettings(i, key), load: { sample: () => ({ tunnels: 3, childSas: 3, bytesPerSec: 10, cpu: 0.1 }) }, role: { role: () => (i === 0 ? 'master' : 'backup') } }));
    const row = () => members[0]!.members().members.find((r) => r.id === 'gw2');
    await eventually(() => row() && !row()!.stale, 'gw1 takes gw2\'s signed reports');
    const epoch = BigInt(row()!.epoch);
    const forged = Buffer.from(encodeReport(sample({ nodeId: 'gw2', epoch, sequence: 10n ** 9n }), key));
    forged.writeUInt32BE(0, 29);
    await sendAsPeer([
      forged,
      encodeReport(sample({ nodeId: 'gw2', epoch, sequence: 1n }), key), // a replay
      encodeReport(sample({ nodeId: 'gw2', epoch: epoch - 1n, sequence: 10n ** 9n }), key), // an older epoch
      encodeReport(sample({ nodeId: 'gw2', epoch, sequence: 10n ** 9n }), key).subarray(0, 70),
      encodeReport(sample({ nodeId: 'gw2', epoch, sequence: 10n ** 9n }), new ClusterKey(other)),
    ]);
    await eventually(() => {
      const r = members[0]!.members().reports.rejected;
      return r['bad-mac'] >= 2 && r.replay >= 1 && r['old-epoch'] >= 1 && r.truncated >= 1;
    }, 'the five bad datagrams are dropped by reason');
    printed.push(JSON.stringify(members[0]!.members()), inspect(members[0]!, { depth: 6 }));
    await members[1]!.stop(); // leaving: the last report says so
    await eventually(() => row()?.left === true, 'gw2 seen leaving');
  } finally {
    for (const m of members) await m.stop();
  }
  const got = (await lines()).concat(printed);
  assert.ok(got.some((l) => l.includes('load report dropped')), 'no drop was logged: the test would prove nothing');
  assert.ok(got.some((l) => l.includes('readable by group or others')), 'the key file warning was not logged');
  assert.deepEqual(findSecrets(got, secrets), []);
});

test('failure paths log no key at level trace: a kernel that refuses an SA (either end), a refused policy, a wrong PSK', async () => {
  const { lines } = traceLog('failures.log');
  const WRONG = `${PSK} but not quite`;
  let secrets: Secret[] = [
    { what: 'PSK', bytes: Buffer.from(PSK), text: PSK },
    { what: 'the wrong PSK', bytes: Buffer.from(WRONG), text: WRONG },
  ];
  /** Fails the first addSa of `side`'s kernel, keeping the keys it was handed. */
  const refuseSa = (p: Pair, side: 'bs' | 'gw') => {
    let done = false;
    p[side].kernel.failWhen = (op, arg) => {
      if (op !== 'addSa' || done) return undefined;
      done = true;
      const sa = arg as { encryptionKey: Buffer; integrityKey?: Buffer; spi: number };
      secrets.push({ what: `${side} ESP key of the refused SA ${sa.spi.toString(16)}`, bytes: Buffer.from(sa.encryptionKey) });
      return new Error(`addSa failed (injected at the ${side})`);
    };
  };
  let refusals = 0;
  const { keys } = await spyingKeys(async () => {
    for (const setup of [
      (p: Pair) => refuseSa(p, 'gw'),
      (p: Pair) => refuseSa(p, 'bs'),
      (p: Pair) => p.gw.kernel.failNext('addPolicy'),
    ]) {
      const p = new Pair();
      await p.start();
      try {
        setup(p);
        await p.initiate();
        await p.run();
        refusals += p.gw.daemon.manager.ikeSaCount === 0 ? 1 : 0;
      } finally {
        await p.stop();
      }
    }
    const p = new Pair({ gw: { local: { id: 'gw.example.net', auth: { method: 'psk', secret: WRONG } }, remote: { addrs: ['%any'], id: '%any', auth: { method: 'psk', secret: PSK } } } });
    await p.start();
    try {
      await p.initiate();
      await p.run();
      refusals += p.bs.daemon.manager.ikeSaCount === 0 ? 1 : 0;
    } finally {
      await p.stop();
    }
  });
  secrets = secrets.concat(keys);
  assert.equal(refusals, 4, 'every attempt failed as set up (else the failure paths did not run)');
  assert.equal(secrets.filter((s) => s.what.includes('refused SA')).length, 2, 'both refused SAs seen');
  const got = await lines();
  assert.ok(got.some((l) => /"level":"(error|warn)"/.test(l)), 'no failure was logged: the test would prove nothing');
  assert.deepEqual(findSecrets(got, secrets), []);
});
