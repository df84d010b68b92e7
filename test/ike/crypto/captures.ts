/**
 * The two strongSwan captures in ../shared/captures, reduced to their IKE messages, for the
 * crypto known-answer tests. Until src/ike/codec exports decodeMessage this walks the generic
 * payload headers itself (RFC 7296 §3.1, §3.2): enough to find nonces, SPIs and the SK payload.
 */
import { join } from 'node:path';
import { CAPTURES_DIR, readKeys, readUdpDatagrams } from '../../support/pcap.js';
import { DhGroup, EncrId, ExchangeType, HeaderFlag, IKE_HEADER_LENGTH, IKE_NATT_PORT, IKE_PORT, IntegId, PayloadType, PrfId } from '../../../src/ike/constants.js';
import type { IkeSuite } from '../../../src/ike/crypto/index.js';

export interface RawPayload {
  type: number;
  /** Offset of the generic payload header within the message. */
  offset: number;
  /** Everything after the 4-octet generic payload header. */
  body: Buffer;
}

export interface CapturedIkeMessage {
  frame: number;
  /** The whole IKE message (non-ESP marker removed). */
  bytes: Buffer;
  spiI: Buffer;
  spiR: Buffer;
  exchangeType: number;
  isResponse: boolean;
  fromInitiator: boolean;
  messageId: number;
  /** Payloads outside the SK payload, in order. */
  payloads: RawPayload[];
}

export interface Capture {
  name: string;
  keys: Map<string, Buffer>;
  messages: CapturedIkeMessage[];
}

export const CAPTURE_NAMES = ['psk-aesgcm128-ecp256', 'psk-aescbc256-sha256-x25519'] as const;
export const CAPTURE_PSK = Buffer.from('capture-psk-0123');

/** The IKE proposal each capture selected (README.md / the keys files). */
export const CAPTURE_SUITES: Record<string, IkeSuite> = {
  // IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256
  'psk-aesgcm128-ecp256': { encr: EncrId.ENCR_AES_GCM_16, encrKeyLength: 128, integ: IntegId.NONE, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.ECP_256 },
  // IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519
  'psk-aescbc256-sha256-x25519': { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 256, integ: IntegId.AUTH_HMAC_SHA2_256_128, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.CURVE25519 },
};


function walkPayloads(msg: Buffer): RawPayload[] {
  const out: RawPayload[] = [];
  let next = msg[16];
  let off = IKE_HEADER_LENGTH;
  while (next !== PayloadType.NONE && off + 4 <= msg.length) {
    const len = msg.readUInt16BE(off + 2);
    out.push({ type: next, offset: off, body: msg.subarray(off + 4, off + len) });
    if (next === PayloadType.SK || next === PayloadType.SKF) break; // last payload; its Next Payload is the inner one
    next = msg[off];
    off += len;
  }
  return out;
}

export function loadCapture(name: string): Capture {
  const keys = readKeys(join(CAPTURES_DIR, `${name}.keys.txt`));
  const messages: CapturedIkeMessage[] = [];
  for (const d of readUdpDatagrams(join(CAPTURES_DIR, `${name}.pcap`))) {
    let bytes: Buffer;
    if (d.sport === IKE_PORT && d.dport === IKE_PORT) bytes = d.payload;
    else if ((d.sport === IKE_NATT_PORT || d.dport === IKE_NATT_PORT) && d.payload.length > 4 && d.payload.readUInt32BE(0) === 0) {
      bytes = d.payload.subarray(4); // RFC 3948 §2.2 non-ESP marker
    } else continue;
    if (bytes.length < IKE_HEADER_LENGTH) continue;
    const flags = bytes[19];
    messages.push({
      frame: d.frame,
      bytes,
      spiI: bytes.subarray(0, 8),
      spiR: bytes.subarray(8, 16),
      exchangeType: bytes[18],
      isResponse: (flags & HeaderFlag.RESPONSE) !== 0,
      fromInitiator: (flags & HeaderFlag.INITIATOR) !== 0,
      messageId: bytes.readUInt32BE(20),
      payloads: walkPayloads(bytes),
    });
  }
  return { name, keys, messages };
}

export function findMessage(c: Capture, exchangeType: number, isResponse: boolean): CapturedIkeMessage {
  const m = c.messages.find((x) => x.exchangeType === exchangeType && x.isResponse === isResponse);
  if (!m) throw new Error(`${c.name}: no ${exchangeType} ${isResponse ? 'response' : 'request'}`);
  return m;
}

export function payloadOf(m: CapturedIkeMessage, type: number): RawPayload {
  const p = m.payloads.find((x) => x.type === type);
  if (!p) throw new Error(`frame ${m.frame}: no payload ${type}`);
  return p;
}

/** Ni, Nr, SPIs and the IKE_SA_INIT messages of a capture. */
export function saInit(c: Capture) {
  const req = findMessage(c, ExchangeType.IKE_SA_INIT, false);
  const resp = findMessage(c, ExchangeType.IKE_SA_INIT, true);
  return {
    req,
    resp,
    ni: payloadOf(req, PayloadType.NONCE).body,
    nr: payloadOf(resp, PayloadType.NONCE).body,
    spiI: resp.spiI,
    spiR: resp.spiR,
  };
}

/** What the SK payload of a captured message holds once opened (RFC 7296 §3.14). */
export interface OpenedSk {
  plaintext: Buffer;
  payloads: RawPayload[];
}

/**
 * Opens the SK payload of a captured message with `open` (an SkTransform's open) and walks the
 * inner payloads. Returns null when the ICV does not verify.
 */
export function openSk(m: CapturedIkeMessage, open: (aad: Buffer, body: Buffer) => Buffer | null): OpenedSk | null {
  const sk = payloadOf(m, PayloadType.SK);
  const aad = m.bytes.subarray(0, sk.offset + 4);
  const plaintext = open(aad, sk.body);
  if (!plaintext) return null;
  const padLength = plaintext[plaintext.length - 1];
  const inner = plaintext.subarray(0, plaintext.length - 1 - padLength);
  const payloads: RawPayload[] = [];
  let next = m.bytes[sk.offset]; // the SK payload's Next Payload is the first inner payload
  let off = 0;
  while (next !== PayloadType.NONE && off + 4 <= inner.length) {
    const len = inner.readUInt16BE(off + 2);
    payloads.push({ type: next, offset: off, body: inner.subarray(off + 4, off + len) });
    next = inner[off];
    off += len;
  }
  return { plaintext, payloads };
}
