/**
 * The two strongSwan captures in ../shared/captures, reduced to their IKE messages and decoded
 * with the segw codec, for the crypto known-answer tests.
 */
import { join } from 'node:path';
import { CAPTURES_DIR, readKeys, readUdpDatagrams } from '../../support/pcap.js';
import { DhGroup, EncrId, ExchangeType, HeaderFlag, IKE_HEADER_LENGTH, IKE_NATT_PORT, IKE_PORT, IntegId, PayloadType, PrfId } from '../../../src/ike/constants.js';
import { decodeMessage, decodeProtected } from '../../../src/ike/codec/index.js';
import type { IkeMessage, NoncePayload, Payload } from '../../../src/ike/codec/types.js';
import type { SkTransform } from '../../../src/ike/crypto/index.js';
import type { IkeSuite } from '../../../src/ike/crypto/index.js';

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
  /** As decodeMessage gives it: for a protected message, the SK payload is the last. */
  decoded: { message: IkeMessage; raw: Buffer };
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
    const r = decodeMessage(bytes);
    if (!r.ok) throw new Error(`frame ${d.frame}: ${r.error.code} ${r.error.detail}`);
    const flags = r.message.header.flags;
    messages.push({
      frame: d.frame,
      bytes,
      spiI: r.message.header.spiI,
      spiR: r.message.header.spiR,
      exchangeType: r.message.header.exchangeType,
      isResponse: (flags & HeaderFlag.RESPONSE) !== 0,
      fromInitiator: (flags & HeaderFlag.INITIATOR) !== 0,
      messageId: r.message.header.messageId,
      decoded: { message: r.message, raw: r.raw },
    });
  }
  return { name, keys, messages };
}

export function findMessage(c: Capture, exchangeType: number, isResponse: boolean): CapturedIkeMessage {
  const m = c.messages.find((x) => x.exchangeType === exchangeType && x.isResponse === isResponse);
  if (!m) throw new Error(`${c.name}: no ${exchangeType} ${isResponse ? 'response' : 'request'}`);
  return m;
}

/** The first payload of a type in a list (the caller names its interface). */
export function payloadOf<P extends Payload>(payloads: readonly Payload[], type: P['type']): P {
  const p = payloads.find((x) => x.type === type && !('unknown' in x));
  if (!p) throw new Error(`no payload ${type}`);
  return p as P;
}

/** Ni, Nr, SPIs and the IKE_SA_INIT messages of a capture. */
export function saInit(c: Capture) {
  const req = findMessage(c, ExchangeType.IKE_SA_INIT, false);
  const resp = findMessage(c, ExchangeType.IKE_SA_INIT, true);
  return {
    req,
    resp,
    ni: payloadOf<NoncePayload>(req.decoded.message.payloads, PayloadType.NONCE).data,
    nr: payloadOf<NoncePayload>(resp.decoded.message.payloads, PayloadType.NONCE).data,
    spiI: resp.spiI,
    spiR: resp.spiR,
  };
}

/** The inner payloads of a captured protected message, or null when `sk` does not open it. */
export function openSk(m: CapturedIkeMessage, sk: SkTransform): Payload[] | null {
  const r = decodeProtected(m.decoded, sk);
  return r.ok ? r.message.payloads : null;
}
