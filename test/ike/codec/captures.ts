/**
 * The IKE messages of the strongSwan captures in ../shared/captures (README there), with what
 * tshark (an independent decoder) says about each: the ground truth for known-answer tests.
 */
import { CAPTURES_DIR, readKeys, readUdpDatagrams } from '../../support/pcap.js';

export interface CapturedIke {
  capture: string;
  frame: number;
  port: number;
  /** The IKE message, without the non-ESP marker. */
  bytes: Buffer;
}

/** Every IKE message of a capture: UDP 500, and UDP 4500 after the 4-octet non-ESP marker. */
export function ikeMessages(capture: string): CapturedIke[] {
  const out: CapturedIke[] = [];
  for (const d of readUdpDatagrams(`${CAPTURES_DIR}${capture}.pcap`)) {
    if (d.dport === 500 || d.sport === 500) {
      out.push({ capture, frame: d.frame, port: 500, bytes: d.payload });
    } else if ((d.dport === 4500 || d.sport === 4500) && d.payload.length >= 4 && d.payload.subarray(0, 4).equals(Buffer.alloc(4))) {
      out.push({ capture, frame: d.frame, port: 4500, bytes: d.payload.subarray(4) });
    } // else ESP-in-UDP: skipped
  }
  return out;
}

export function captureKeys(capture: string): Map<string, Buffer> {
  return readKeys(`${CAPTURES_DIR}${capture}.keys.txt`);
}

export interface Expected {
  frame: number;
  port: number;
  spiI: string;
  spiR: string;
  exchangeType: number;
  flags: number;
  messageId: number;
  /** Payload types of the message (for SK: the SK payload only). */
  payloads: number[];
  /** SK's Next Payload: the first payload inside. */
  firstInner?: number;
  notifies?: number[];
  length: number;
}

const GCM_SPI_I = '194dc5500f660ec4';
const GCM_SPI_R = '146221822969ef5e';
const CBC_SPI_I = 'a67729cf2cd71bab';
const CBC_SPI_R = '988accb10d51d4f8';
const INIT_REQ_N = [16388, 16389, 16430, 16431, 16406];
const INIT_RESP_N = [16388, 16389, 16430, 16431, 16418, 16404];

/** From `tshark -T fields -e isakmp.*` over the captures. */
export const EXPECTED: Record<string, Expected[]> = {
  'psk-aesgcm128-ecp256': [
    { frame: 11, port: 500, spiI: GCM_SPI_I, spiR: '0000000000000000', exchangeType: 34, flags: 0x08, messageId: 0, payloads: [33, 34, 40, 41, 41, 41, 41, 41], notifies: INIT_REQ_N, length: 264 },
    { frame: 12, port: 500, spiI: GCM_SPI_I, spiR: GCM_SPI_R, exchangeType: 34, flags: 0x20, messageId: 0, payloads: [33, 34, 40, 41, 41, 41, 41, 41, 41], notifies: INIT_RESP_N, length: 272 },
    { frame: 13, port: 4500, spiI: GCM_SPI_I, spiR: GCM_SPI_R, exchangeType: 35, flags: 0x08, messageId: 1, payloads: [46], firstInner: 35, length: 267 },
    { frame: 14, port: 4500, spiI: GCM_SPI_I, spiR: GCM_SPI_R, exchangeType: 35, flags: 0x20, messageId: 1, payloads: [46], firstInner: 36, length: 218 },
    { frame: 19, port: 4500, spiI: GCM_SPI_I, spiR: GCM_SPI_R, exchangeType: 37, flags: 0x08, messageId: 2, payloads: [46], firstInner: 42, length: 65 },
    { frame: 20, port: 4500, spiI: GCM_SPI_I, spiR: GCM_SPI_R, exchangeType: 37, flags: 0x20, messageId: 2, payloads: [46], firstInner: 0, length: 57 },
  ],
  'psk-aescbc256-sha256-x25519': [
    { frame: 7, port: 500, spiI: CBC_SPI_I, spiR: '0000000000000000', exchangeType: 34, flags: 0x08, messageId: 0, payloads: [33, 34, 40, 41, 41, 41, 41, 41], notifies: INIT_REQ_N, length: 240 },
    { frame: 8, port: 500, spiI: CBC_SPI_I, spiR: CBC_SPI_R, exchangeType: 34, flags: 0x20, messageId: 0, payloads: [33, 34, 40, 41, 41, 41, 41, 41, 41], notifies: INIT_RESP_N, length: 248 },
    { frame: 9, port: 4500, spiI: CBC_SPI_I, spiR: CBC_SPI_R, exchangeType: 35, flags: 0x08, messageId: 1, payloads: [46], firstInner: 35, length: 288 },
    { frame: 10, port: 4500, spiI: CBC_SPI_I, spiR: CBC_SPI_R, exchangeType: 35, flags: 0x20, messageId: 1, payloads: [46], firstInner: 36, length: 240 },
    { frame: 15, port: 4500, spiI: CBC_SPI_I, spiR: CBC_SPI_R, exchangeType: 37, flags: 0x00, messageId: 0, payloads: [46], firstInner: 41, length: 80 },
    { frame: 16, port: 4500, spiI: CBC_SPI_I, spiR: CBC_SPI_R, exchangeType: 37, flags: 0x28, messageId: 0, payloads: [46], firstInner: 0, length: 80 },
    { frame: 21, port: 4500, spiI: CBC_SPI_I, spiR: CBC_SPI_R, exchangeType: 37, flags: 0x08, messageId: 2, payloads: [46], firstInner: 42, length: 80 },
    { frame: 22, port: 4500, spiI: CBC_SPI_I, spiR: CBC_SPI_R, exchangeType: 37, flags: 0x20, messageId: 2, payloads: [46], firstInner: 0, length: 80 },
  ],
};

export const CAPTURES = Object.keys(EXPECTED);
