/**
 * The IKE message decoder (src/ike/codec) on raw datagrams: decodeMessage never throws; a
 * message it accepts re-encodes to one it decodes to the same value (the codec normalises
 * reserved bits, so the comparison is of decoded values, not octets); the notify data formats
 * (RFC 7296 §3.10.1, RFC 5685 §8, RFC 7427 §4) decode, and re-encode to the octets they came from,
 * and the per-exchange payload rules (rules.ts) judge any accepted message without throwing.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  checkPayloads,
  decodeMessage,
  decodeStruct,
  encodeMessage,
  encodeStruct,
  INVALID_KE_DATA,
  REDIRECT_DATA,
  REDIRECTED_FROM_DATA,
  SIGNATURE_HASH_ALGORITHMS_DATA,
  type Struct,
} from '../../../src/ike/codec/index.js';
import { NotifyType, PayloadType } from '../../../src/ike/constants.js';
import { invariant, type FuzzTarget } from '../registry.js';

const NOTIFY_FORMATS = new Map<number, Struct<unknown>>([
  [NotifyType.INVALID_KE_PAYLOAD, INVALID_KE_DATA as Struct<unknown>],
  [NotifyType.REDIRECT, REDIRECT_DATA as Struct<unknown>],
  [NotifyType.REDIRECTED_FROM, REDIRECTED_FROM_DATA as Struct<unknown>],
  [NotifyType.SIGNATURE_HASH_ALGORITHMS, SIGNATURE_HASH_ALGORITHMS_DATA as Struct<unknown>],
]);

export const target: FuzzTarget = {
  name: 'ike-decode',
  input: 'one IKE datagram (no non-ESP marker)',
  fuzz(data) {
    const r = decodeMessage(data);
    if (!r.ok) {
      invariant(typeof r.error.code === 'string' && r.error.code.length > 0, 'a decode error without a code');
      return;
    }
    const m = r.message;
    checkPayloads(m.header.exchangeType, (m.header.flags & 0x20) !== 0, m.payloads);
    for (const p of m.payloads) {
      if (p.type !== PayloadType.NOTIFY || !('notifyType' in p)) continue;
      const fmt = NOTIFY_FORMATS.get(p.notifyType);
      if (!fmt) continue;
      const d = decodeStruct(fmt, p.data);
      if (d.ok) invariant(encodeStruct(fmt, d.value).equals(p.data), `${fmt.name}: decoded data does not re-encode to its octets`);
    }
    if (m.payloads.some((p) => p.type === PayloadType.SK || p.type === PayloadType.SKF)) return;
    const again = decodeMessage(encodeMessage(m));
    invariant(again.ok, `re-encoded message does not decode: ${again.ok ? '' : again.error.code}`);
    invariant(isDeepStrictEqual(again.message, m), 'decode(encode(m)) differs from m');
  },
};
