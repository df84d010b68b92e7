/**
 * tshark (an independent IKEv2 dissector) reads what the codec encodes: no malformed packet, no
 * expert warning or error; given the keys, it decrypts encodeProtected / fragmentMessage output
 * and finds the integrity checksum correct, which checks the SK layout (IV, padding, Pad
 * Length, ICV, associated data) from outside.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessage, encodeMessage, encodeProtected, encodeStruct, fragmentMessage, REDIRECT_DATA } from '../../../src/ike/codec/index.js';
import { createSkTransform } from '../../../src/ike/crypto/index.js';
import type { IkeSuite } from '../../../src/ike/crypto/types.js';
import { DhGroup, EncrId, ExchangeType, GatewayIdType, HeaderFlag, IntegId, NotifyError, NotifyStatus, PayloadType, PrfId } from '../../../src/ike/constants.js';
import type { IkeHeader, Payload, SaPayload } from '../../../src/ike/codec/types.js';
import { writePcap, type OutDatagram } from '../../support/pcap-write.js';
import { CAPTURES, ikeMessages } from './captures.js';
import { everyPayload, header } from './samples.js';

/** Wireshark's severity values for expert info (epan/proto.h PI_WARN, PI_ERROR). */
const PI_WARN = 0x00600000;

interface Suite {
  suite: IkeSuite;
  spiI: string;
  spiR: string;
  encrName: string;
  integName: string;
  skEi: Buffer;
  skEr: Buffer;
  skAi: Buffer;
  skAr: Buffer;
}

const SUITES: Suite[] = [
  {
    suite: { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 128, integ: IntegId.NONE, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 },
    spiI: 'a1a1a1a1a1a1a1a1',
    spiR: 'b1b1b1b1b1b1b1b1',
    encrName: 'AES-GCM-128 with 16 octet ICV [RFC5282]',
    integName: 'NONE [RFC4306]',
    skEi: Buffer.alloc(20, 0x11),
    skEr: Buffer.alloc(20, 0x22),
    skAi: Buffer.alloc(0),
    skAr: Buffer.alloc(0),
  },
  {
    suite: { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 256, integ: IntegId.AUTH_HMAC_SHA2_256_128, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.CURVE25519 },
    spiI: 'a2a2a2a2a2a2a2a2',
    spiR: 'b2b2b2b2b2b2b2b2',
    encrName: 'AES-CBC-256 [RFC3602]',
    integName: 'HMAC_SHA2_256_128 [RFC4868]',
    skEi: Buffer.alloc(32, 0x33),
    skEr: Buffer.alloc(32, 0x44),
    skAi: Buffer.alloc(32, 0x55),
    skAr: Buffer.alloc(32, 0x66),
  },
];

const uat = (s: Suite) =>
  `uat:ikev2_decryption_table:${s.spiI},${s.spiR},${s.skEi.toString('hex')},${s.skEr.toString('hex')},"${s.encrName}",` +
  `${s.skAi.toString('hex')},${s.skAr.toString('hex')},"${s.integName}"`;

function hdr(s: Suite, exchangeType: number, flags: number, messageId: number): IkeHeader {
  return { ...header(exchangeType, flags, messageId), spiI: Buffer.from(s.spiI, 'hex'), spiR: Buffer.from(s.spiR, 'hex') };
}

const n = (notifyType: number, data: Buffer = Buffer.alloc(0)): Payload => ({ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType, data });
const natT = (payload: Buffer): OutDatagram => ({ sport: 4500, dport: 4500, payload: Buffer.concat([Buffer.alloc(4), payload]) });
const ike = (payload: Buffer): OutDatagram => ({ sport: 500, dport: 500, payload });

/** What the codec sends, with how many protected messages tshark should decrypt. */
function datagrams(): { list: OutDatagram[]; encrypted: number } {
  const list: OutDatagram[] = [];
  let encrypted = 0;
  const all = everyPayload();
  list.push(ike(encodeMessage({ header: { ...header(), spiI: Buffer.alloc(8, 1) }, payloads: all })));
  for (const c of CAPTURES) {
    for (const m of ikeMessages(c)) {
      const d = decodeMessage(m.bytes);
      assert.ok(d.ok);
      const bytes = encodeMessage(d.message);
      list.push(m.port === 500 ? ike(bytes) : natT(bytes));
    }
  }
  // <-- IKE_SA_INIT responses of notifies only: COOKIE, INVALID_KE_PAYLOAD, REDIRECT (RFC 5685 §3)
  const redirect = encodeStruct(REDIRECT_DATA, { gwIdentType: GatewayIdType.IPV4, gwIdent: Buffer.from([198, 51, 100, 3]), nonce: Buffer.alloc(32, 0x4e) });
  const only: Payload[][] = [[n(NotifyStatus.COOKIE, Buffer.alloc(32, 0xc0))], [n(NotifyError.INVALID_KE_PAYLOAD, Buffer.from([0, 19]))], [n(NotifyStatus.REDIRECT, redirect)]];
  only.forEach((payloads, i) => list.push(ike(encodeMessage({ header: { ...header(ExchangeType.IKE_SA_INIT, HeaderFlag.RESPONSE), spiI: Buffer.alloc(8, 2 + i) }, payloads }))));
  for (const s of SUITES) {
    const fromI = createSkTransform(s.suite, s.skEi, s.skAi);
    const fromR = createSkTransform(s.suite, s.skEr, s.skAr);
    // IKE_AUTH { IDi, CERT, AUTH, SA, TSi, TSr, N(INITIAL_CONTACT) } -->
    const auth = [all[3], all[5], all[7], { type: PayloadType.SA, proposals: [(all[0] as SaPayload).proposals[1]] }, all[13], { ...all[13], type: PayloadType.TSr }, n(NotifyStatus.INITIAL_CONTACT)] as Payload[];
    list.push(natT(encodeProtected(hdr(s, ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 1), auth, fromI)));
    // <-- INFORMATIONAL { } (empty: liveness), INFORMATIONAL { D }
    list.push(natT(encodeProtected(hdr(s, ExchangeType.INFORMATIONAL, HeaderFlag.RESPONSE, 2), [], fromR)));
    list.push(natT(encodeProtected(hdr(s, ExchangeType.INFORMATIONAL, HeaderFlag.INITIATOR, 3), [all[11]], fromI)));
    encrypted += 3;
    // IKE_AUTH with a long certificate, in RFC 7383 fragments for a 576-octet path.
    const frags = fragmentMessage(hdr(s, ExchangeType.IKE_AUTH, HeaderFlag.INITIATOR, 4), [...auth, ...auth.slice(1, 2), ...auth.slice(1, 2)], fromI, 576, { nonEspMarker: true });
    assert.ok(frags.length > 1);
    for (const f of frags) list.push(natT(f));
    encrypted += frags.length;
  }
  return { list, encrypted };
}

test('tshark decodes every message the codec encodes without malformed or expert warning/error, and verifies each ICV', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segw-codec-'));
  try {
    const { list, encrypted } = datagrams();
    const file = join(dir, 'codec.pcap');
    writePcap(file, list);
    const opts = SUITES.flatMap((s) => ['-o', uat(s)]);
    const fields = execFileSync('tshark', ['-r', file, ...opts, '-T', 'fields', '-e', 'frame.number', '-e', 'isakmp.exchangetype', '-e', '_ws.malformed', '-e', '_ws.expert.severity', '-e', '_ws.expert.message'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const rows = fields.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
    assert.equal(rows.length, list.length, 'one row per frame');
    for (const [frame, exchange, malformed, severity, message] of rows) {
      assert.notEqual(exchange, '', `frame ${frame}: tshark saw no IKE message`);
      assert.equal(malformed, '', `frame ${frame}: malformed: ${message}`);
      const worst = Math.max(0, ...severity.split(',').filter(Boolean).map(Number));
      assert.ok(worst < PI_WARN, `frame ${frame}: expert ${worst}: ${message}`);
    }
    const verbose = execFileSync('tshark', ['-r', file, ...opts, '-V', '-O', 'isakmp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    const correct = verbose.match(/Integrity Checksum Data: .*\[correct\]/g) ?? [];
    assert.equal((verbose.match(/\[incorrect/g) ?? []).length, 0, 'no incorrect ICV');
    // The captured protected messages have no keys here; ours all verify and decrypt.
    assert.equal(correct.length, encrypted, 'every protected message the codec built verifies in tshark');
    assert.ok((verbose.match(/Decrypted Data/g) ?? []).length >= encrypted);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
