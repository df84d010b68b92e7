/**
 * The one place the IKE SA code meets the codec: outbound messages are encoded (IKE_SA_INIT
 * and unprotected answers in the clear, everything else under SK, fragmented with SKF above
 * the configured size when the peer supports RFC 7383), inbound SK/SKF messages are opened
 * and reassembled, and the payload rules are checked.
 */
import { createHash } from 'node:crypto';
import { ExchangeType, PayloadType } from '../constants.js';
import {
  checkPayloads,
  decodeProtected,
  encodeMessage,
  encodeProtected,
  fragmentMessage,
  FragmentReassembler,
  isResponse,
  type CodecError,
  type Decoded,
} from '../codec/index.js';
import { datagramOverhead } from '../codec/fragment.js';
import type { IkeMessage, SkfPayload } from '../codec/types.js';
import type { SkTransform } from '../crypto/types.js';

export interface OutboundOptions {
  ipVersion: 4 | 6;
  natT: boolean;
}

/** Encodes one message into the datagram(s) that carry it. */
export function encodeOutbound(msg: IkeMessage, sk: SkTransform | undefined, fragmentSize: number, opts?: OutboundOptions): Buffer[] {
  if (msg.header.exchangeType === ExchangeType.IKE_SA_INIT || !sk) return [encodeMessage(msg)];
  const whole = encodeProtected(msg.header, msg.payloads, sk);
  if (fragmentSize <= 0) return [whole];
  const fo = { ipVersion: opts?.ipVersion ?? 4, nonEspMarker: opts?.natT ?? false } as const;
  if (whole.length + datagramOverhead(fo) <= fragmentSize) return [whole];
  return fragmentMessage(msg.header, msg.payloads, sk, fragmentSize, fo);
}

export type Opened =
  | { kind: 'message'; msg: IkeMessage }
  | { kind: 'pending' }
  | { kind: 'error'; error: CodecError };

/** The SKF payload of a fragment message, if it is one. */
export function fragmentOf(d: Decoded): SkfPayload | undefined {
  const last = d.message.payloads[d.message.payloads.length - 1];
  return last?.type === PayloadType.SKF && !('unknown' in last) ? (last as SkfPayload) : undefined;
}

/** Opens an SK message, or adds an SKF fragment to the SA's reassembler. */
export function openInbound(d: Decoded, sk: SkTransform, holder: { reassembly: unknown }): Opened {
  if (fragmentOf(d)) {
    const r = (holder.reassembly ??= new FragmentReassembler()) as FragmentReassembler;
    const res = r.add(d, sk);
    if (!res.ok) return { kind: 'error', error: res.error };
    if (!res.complete) return { kind: 'pending' };
    holder.reassembly = undefined;
    return { kind: 'message', msg: res.message };
  }
  const res = decodeProtected(d, sk);
  return res.ok ? { kind: 'message', msg: res.message } : { kind: 'error', error: res.error };
}

/**
 * The digest a retransmission is recognized by (RFC 7296 §2.1: a retransmitted request is the
 * same datagram; RFC 7383 §2.6.1: for a fragmented one, fragment #1 stands for it). SHA-256 of
 * the whole IKE message (without the non-ESP marker, so a request that moved to port 4500 still
 * matches): a header that merely repeats the SPIs and message ID does not.
 */
export function datagramDigest(raw: Buffer): Buffer {
  return createHash('sha256').update(raw).digest();
}

/** Payload rules of the exchange; the error says whether to answer (INVALID_SYNTAX) or drop. */
export function checkRules(msg: IkeMessage): CodecError | undefined {
  const c = checkPayloads(msg.header.exchangeType, isResponse(msg.header), msg.payloads);
  return c.ok ? undefined : c.error;
}
