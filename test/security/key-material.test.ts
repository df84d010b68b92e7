/**
 * No key material in segw's logs, at any level (issue 15): two daemons run a whole PSK exchange
 * (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA rekeys of the child and of the IKE SA, DPD, delete)
 * and a certificate exchange through the production logger (src/log createRootLogger, with its
 * redaction) at level trace into a log file; every line is searched for the PSK, every SK_*
 * key of every IKE SA (SK_d, SK_ai/ar, SK_ei/er, SK_pi/pr, spied as the SAs install them), every
 * ESP key the kernel received, and the private key PEM (see ./secrets.ts for the forms).
 * The cluster key (src/cluster) is not on this branch yet: add it to `secrets` when it lands.
 * File permissions of what segw writes: the log file here; the control socket (0600) is
 * test/control/server.test.ts "the socket is created mode 0600 and removed at close".
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createRootLogger, setRootLogger, type Logger } from '../../src/log/index.js';
import { IkeSa } from '../../src/ike/sa/ike-sa.js';
import type { IkeKeys } from '../../src/ike/crypto/types.js';
import type { ConnectionConfig } from '../../src/ike/config.js';
import { bsConfig, gwConfig, Pair, PSK } from '../exchange/harness.js';
import { TestPki } from '../ike/crypto/pki.js';
import { eventually } from '../support/eventually.js';
import { findSecrets, type Secret } from './secrets.js';

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
