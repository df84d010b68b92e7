/**
 * IKE_AUTH with certificates (RFC 7296 §2.15, RFC 7427): ECDSA P-256 and RSA-3072 end
 * entities under a CA made with strongSwan's `pki`; CERTREQ by CA key hash; a chain long
 * enough that IKE_AUTH is fragmented (RFC 7383) both ways; a wrong CA is refused with
 * AUTHENTICATION_FAILED, and so is a certificate its CA's CRL revokes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Pair, describe } from './harness.js';
import { TestPki, type Issued } from '../ike/crypto/pki.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';
import type { ConnectionConfig } from '../../src/ike/config.js';

let pki: TestPki;
let root: Issued;
let otherRoot: Issued;
let inter: Issued[];

before(() => {
  pki = new TestPki();
  root = pki.selfSigned('C=CH, O=segw test, CN=segw Root CA', 'rsa', 3072);
  otherRoot = pki.selfSigned('C=CH, O=elsewhere, CN=Other CA', 'ecdsa', 256);
  inter = [pki.issue(root, 'C=CH, O=segw test, CN=Intermediate 1', 'rsa', 3072, ['--ca'])];
  inter.push(pki.issue(inter[0]!, 'C=CH, O=segw test, CN=Intermediate 2', 'rsa', 3072, ['--ca']));
});
after(() => pki.cleanup());

const pem = (i: Issued) => readFileSync(i.certFile, 'utf8');
const keyPem = (i: Issued) => readFileSync(i.keyFile, 'utf8');

function certEnds(opts: { type: 'rsa' | 'ecdsa'; size: number; chain?: Issued[]; trust?: Issued }): { bs: Partial<ConnectionConfig>; gw: Partial<ConnectionConfig>; bsCert: Issued } {
  const issuer = opts.chain?.at(-1) ?? root;
  const gwCert = pki.issue(issuer, 'C=CH, O=segw test, CN=gw.example.net', opts.type, opts.size, ['--san', 'gw.example.net']);
  const bsCert = pki.issue(issuer, 'C=CH, O=segw test, CN=bs1.example.net', opts.type, opts.size, ['--san', 'bs1.example.net']);
  const chainPems = [...(opts.chain ?? [])].reverse().map(pem);
  const trust = pem(opts.trust ?? root);
  return {
    bsCert,
    bs: {
      local: { id: 'bs1.example.net', auth: { method: 'pubkey', certs: [pem(bsCert), ...chainPems], privateKey: keyPem(bsCert) } },
      remote: { addrs: ['192.0.2.1'], id: 'gw.example.net', auth: { method: 'pubkey', cacerts: [pem(root)] } },
    },
    gw: {
      local: { id: 'gw.example.net', auth: { method: 'pubkey', certs: [pem(gwCert), ...chainPems], privateKey: keyPem(gwCert) } },
      remote: { addrs: ['%any'], id: '%any', auth: { method: 'pubkey', cacerts: [trust] } },
    },
  };
}

for (const [type, size] of [['ecdsa', 256], ['rsa', 3072]] as const) {
  test(`certificates: ${type.toUpperCase()}-${size} end entities, CERTREQ, RFC 7427 signatures`, async () => {
    const ends = certEnds({ type, size });
    // Unfragmented here (the in-memory wire carries any size); fragmentation has its own test.
    const p = new Pair({ bs: { ...ends.bs, fragmentation: false }, gw: { ...ends.gw, fragmentation: false } });
    await p.start();
    const bsSa = await p.initiate();
    await p.next();
    // <-- IKE_SA_INIT { SA, KE, Nr, N(...), CERTREQ }
    assert.match(describe(p.wire.queue[0]!), /CERTREQ/);
    await p.next();
    // IKE_AUTH { IDi, CERT, N(INITIAL_CONTACT), CERTREQ, IDr, AUTH, SA, TSi, TSr } -->
    assert.equal(describe(p.wire.queue[0]!, { skIn: bsSa.skOut } as never), 'IKE_AUTH request #1 { IDi, CERT, N(INITIAL_CONTACT), CERTREQ, IDr, AUTH, SA, TSi, TSr }');
    await p.run();
    const gwSa = p.peerOf(bsSa, p.gw)!;
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(gwSa.state, IkeState.ESTABLISHED);
    assert.equal(gwSa.peerId, 'bs1.example.net');
    assert.equal(p.gw.kernel.sas.size, 2);
    await p.stop();
  });
}

test('a certificate chain too big for one datagram: IKE_AUTH fragmented both ways (RFC 7383)', async () => {
  const ends = certEnds({ type: 'rsa', size: 3072, chain: inter });
  const p = new Pair({ bs: { ...ends.bs, fragmentSize: 1280 }, gw: { ...ends.gw, fragmentSize: 1280 } });
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next();
  const authFrags = p.wire.queue.length;
  assert.ok(authFrags > 1, `IKE_AUTH request in ${authFrags} fragments`);
  for (const d of p.wire.queue) assert.ok(d.data.length + 28 <= 1280, 'each fragment fits 1280 octets with IP+UDP');
  // Lose the response fragments once: the retransmitted request (all fragments) is answered
  // from the cache, once, on fragment #1.
  for (let i = 0; i < authFrags; i++) await p.next();
  const respFrags = p.wire.queue.length;
  assert.ok(respFrags > 1, `IKE_AUTH response in ${respFrags} fragments`);
  p.wire.dropAll();
  await p.advance(1000);
  assert.equal(p.wire.queue.length, authFrags);
  for (let i = 0; i < authFrags; i++) await p.next();
  assert.equal(p.wire.queue.length, respFrags);
  assert.equal(p.gw.daemon.counters.retransmit_answered, 1);
  assert.equal(p.gw.daemon.counters.retransmit_fragment, authFrags - 1);
  await p.run();
  assert.equal(bsSa.state, IkeState.ESTABLISHED);
  assert.equal(p.gw.kernel.sas.size, 2);
  await p.stop();
});

/** IKE_AUTH answered with AUTHENTICATION_FAILED; the base station gives up; nothing installed at either end. */
async function refusedAtAuth(p: Pair): Promise<void> {
  await p.start();
  const bsSa = await p.initiate();
  await p.next();
  await p.next();
  await p.next();
  assert.equal(describe(p.wire.queue[0]!, bsSa), 'IKE_AUTH response #1 { N(AUTHENTICATION_FAILED) }');
  await p.run();
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  assert.equal(p.gw.kernel.sas.size + p.gw.kernel.larval.size, 0);
  assert.equal(p.bs.kernel.sas.size + p.bs.kernel.larval.size, 0);
  await p.stop();
}

test('a revoked base station certificate (the CA\'s CRL lists it): AUTHENTICATION_FAILED; the others still come up', async () => {
  const ends = certEnds({ type: 'ecdsa', size: 256 });
  const withCrl = (crl: Buffer): Partial<ConnectionConfig> => ({
    ...ends.gw,
    remote: { ...ends.gw.remote!, auth: { method: 'pubkey', cacerts: [pem(root)], crls: [crl] } },
  });
  await refusedAtAuth(new Pair({ bs: ends.bs, gw: withCrl(pki.crl(root, [ends.bsCert])) }));
  // A CRL (DER this time) that lists another serial: the base station is served.
  const served = new Pair({ bs: ends.bs, gw: withCrl(pki.crl(root, ['7e57'], [], 'der')) });
  await served.start();
  const { gwSa } = await served.connect();
  assert.equal(gwSa.state, IkeState.ESTABLISHED);
  await served.stop();
});

test('a certificate from an untrusted CA: AUTHENTICATION_FAILED, nothing installed', async () => {
  const ends = certEnds({ type: 'ecdsa', size: 256, trust: otherRoot });
  await refusedAtAuth(new Pair({ bs: ends.bs, gw: ends.gw }));
});

test('a wrong PSK: AUTHENTICATION_FAILED, both ends clean', async () => {
  const p = new Pair({ bs: { local: { id: 'bs1.example.net', auth: { method: 'psk', secret: 'wrong' } } } });
  await p.start();
  const bsSa = await p.initiate();
  await p.run();
  assert.equal(bsSa.state, IkeState.DESTROYED);
  assert.equal(p.gw.daemon.manager.ikeSaCount, 0);
  assert.equal(p.bs.kernel.larval.size + p.gw.kernel.larval.size, 0);
  await p.stop();
});
