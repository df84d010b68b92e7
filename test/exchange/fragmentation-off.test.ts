/**
 * RFC 7383 §2.3: fragmentation is used only when both ends announced
 * N(IKEV2_FRAGMENTATION_SUPPORTED). A base station with `fragmentation: false` does not announce
 * it; the gateway, configured to fragment above 1280 octets, then answers an IKE_AUTH that is far
 * larger (a chain of three RSA-3072 certificates) in one SK message, never in SKF fragments.
 * (Both announcing: test/exchange/certificates.test.ts, IKE_AUTH fragmented both ways.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Pair, describe } from './harness.js';
import { TestPki, type Issued } from '../ike/crypto/pki.js';
import { decodeMessage } from '../../src/ike/codec/index.js';
import { PayloadType } from '../../src/ike/constants.js';
import { IkeState } from '../../src/ike/sa/ike-sa.js';

let pki: TestPki;
let root: Issued;
let inter: Issued[];
before(() => {
  pki = new TestPki();
  root = pki.selfSigned('C=CH, O=segw test, CN=segw Root CA', 'rsa', 3072);
  inter = [pki.issue(root, 'C=CH, O=segw test, CN=Intermediate 1', 'rsa', 3072, ['--ca'])];
  inter.push(pki.issue(inter[0]!, 'C=CH, O=segw test, CN=Intermediate 2', 'rsa', 3072, ['--ca']));
});
after(() => pki.cleanup());

const pem = (i: Issued) => readFileSync(i.certFile, 'utf8');
const lastPayload = (data: Buffer) => {
  const r = decodeMessage(data);
  assert.ok(r.ok);
  return r.message.payloads.at(-1)!.type;
};

test('a peer that did not announce IKEV2_FRAGMENTATION_SUPPORTED gets whole IKE_AUTH messages, however large (RFC 7383 §2.3)', async () => {
  const chain = [...inter].reverse().map(pem);
  const end = (cn: string) => pki.issue(inter[1]!, `C=CH, O=segw test, CN=${cn}`, 'rsa', 3072, ['--san', cn]);
  const [gwCert, bsCert] = [end('gw.example.net'), end('bs1.example.net')];
  const p = new Pair({
    bs: {
      fragmentation: false,
      local: { id: 'bs1.example.net', auth: { method: 'pubkey', certs: [pem(bsCert), ...chain], privateKey: readFileSync(bsCert.keyFile, 'utf8') } },
      remote: { addrs: ['192.0.2.1'], id: 'gw.example.net', auth: { method: 'pubkey', cacerts: [pem(root)] } },
    },
    gw: {
      fragmentSize: 1280,
      local: { id: 'gw.example.net', auth: { method: 'pubkey', certs: [pem(gwCert), ...chain], privateKey: readFileSync(gwCert.keyFile, 'utf8') } },
      remote: { addrs: ['%any'], id: '%any', auth: { method: 'pubkey', cacerts: [pem(root)] } },
    },
  });
  await p.start();
  try {
    const bsSa = await p.initiate();
    // IKE_SA_INIT { SA, KE, Ni, N(NAT_DETECTION_*), ... } -->   without IKEV2_FRAGMENTATION_SUPPORTED
    assert.doesNotMatch(describe(p.wire.queue[0]!), /IKEV2_FRAGMENTATION_SUPPORTED/);
    await p.next();
    // <-- IKE_SA_INIT { SA, KE, Nr, ... }   the gateway does not announce it either
    assert.doesNotMatch(describe(p.wire.queue[0]!), /IKEV2_FRAGMENTATION_SUPPORTED/);
    await p.next();
    // IKE_AUTH SK { IDi, CERT x3, ... } -->   one datagram
    assert.equal(p.wire.queue.length, 1);
    assert.equal(lastPayload(p.wire.queue[0]!.data), PayloadType.SK);
    await p.next();
    // <-- IKE_AUTH SK { IDr, CERT x3, AUTH, SA, TSi, TSr }   one datagram above the fragment size
    assert.equal(p.wire.queue.length, 1, 'the response came in fragments');
    const resp = p.wire.queue[0]!.data;
    assert.equal(lastPayload(resp), PayloadType.SK);
    assert.ok(resp.length + 28 > 1280, `the response (${resp.length} octets) would not have needed fragments: the test proves nothing`);
    await p.run();
    assert.equal(bsSa.state, IkeState.ESTABLISHED);
    assert.equal(p.gw.kernel.sas.size, 2);
  } finally {
    await p.stop();
  }
});
