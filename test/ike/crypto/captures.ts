/**
 * The two strongSwan captures in ../shared/captures, reduced to their IKE messages, for the
 * crypto known-answer tests. Until src/ike/codec exports decodeMessage this walks the generic
 * payload headers itself (RFC 7296 §3.1, §3.2): enough to find nonces, SPIs and the SK payload.
 */
import { join } from 'node:path';
import { CAPTURES_DIR, readKeys, readUdpDatagrams } from '../../support/pcap.js';
import { ExchangeType, HeaderFlag, IKE_HEADER_LENGTH, IKE_NATT_PORT, IKE_PORT, PayloadType } from '../../../src/ike/constants.js';

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
