/**
 * Netlink messages (linux/netlink.h): struct nlmsghdr, the NLMSG_ERROR acknowledgement (struct
 * nlmsgerr plus extended-ack TLVs), and splitting a received datagram into messages.
 *
 *   +----------+------------+----------+----------+----------+---------------------------+
 *   | nlmsg_len| nlmsg_type |nlmsg_flags| nlmsg_seq| nlmsg_pid| family header | attributes |
 *   |   u32    |    u16     |   u16     |   u32    |   u32    |  NLMSG_ALIGN'd, then TLVs   |
 *   +----------+------------+----------+----------+----------+---------------------------+
 */
import { attr, attrs, decodeAttrs, nlBinary, nlString, nlU32 } from './attr.js';
import { NLM_F_ACKFLAGS, NLMSG, nlmsgAlign } from './constants.js';
import { s32, struct, u16, u32 } from './struct.js';

export const nlmsghdr = struct('nlmsghdr', {
  nlmsg_len: u32,
  nlmsg_type: u16,
  nlmsg_flags: u16,
  nlmsg_seq: u32,
  nlmsg_pid: u32,
});
export const NLMSG_HDRLEN = nlmsghdr.size;

export const nlmsgerr = struct('nlmsgerr', {
  error: s32,
  msg: nlmsghdr,
});

export const NLMSGERR = attrs('NLMSGERR_ATTR', {
  NLMSGERR_ATTR_MSG: attr(1, nlString),
  NLMSGERR_ATTR_OFFS: attr(2, nlU32),
  NLMSGERR_ATTR_COOKIE: attr(3, nlBinary),
  NLMSGERR_ATTR_POLICY: attr(4, nlBinary),
  NLMSGERR_ATTR_MISS_TYPE: attr(5, nlU32),
  NLMSGERR_ATTR_MISS_NEST: attr(6, nlU32),
});

/** A received (or built) message: header fields and the payload after the header. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after nlmsghdr, up to nlmsg_len (the family header and attributes). */
  payload: Buffer;
}

/** Builds one message; the payload parts are concatenated (each already aligned by its codec). */
export function encodeMessage(h: { type: number; flags: number; seq?: number; pid?: number }, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const len = NLMSG_HDRLEN + body.length;
  const b = Buffer.alloc(nlmsgAlign(len));
  nlmsghdr.write(b, 0, { nlmsg_len: len, nlmsg_type: h.type, nlmsg_flags: h.flags, nlmsg_seq: h.seq ?? 0, nlmsg_pid: h.pid ?? 0 });
  body.copy(b, NLMSG_HDRLEN);
  return b;
}

/** Rewrites the sequence number of an encoded message in place (the socket assigns it). */
export function setSeq(msg: Buffer, seq: number): void {
  u32.write(msg, nlmsghdr.offsetOf('nlmsg_seq'), seq >>> 0);
}

/**
 * Splits a datagram into messages. A truncated or inconsistent header ends the walk and is
 * reported in `malformed` (the caller logs it; the socket treats it as a lost reply).
 */
export function splitMessages(b: Buffer): { messages: NlMessage[]; malformed?: string } {
  const messages: NlMessage[] = [];
  let o = 0;
  while (o + NLMSG_HDRLEN <= b.length) {
    const h = nlmsghdr.decode(b, o);
    if (h.nlmsg_len < NLMSG_HDRLEN || o + h.nlmsg_len > b.length) {
      return { messages, malformed: `nlmsg_len ${h.nlmsg_len} at offset ${o} of a ${b.length}-octet datagram` };
    }
    messages.push({
      type: h.nlmsg_type,
      flags: h.nlmsg_flags,
      seq: h.nlmsg_seq,
      pid: h.nlmsg_pid,
      payload: b.subarray(o + NLMSG_HDRLEN, o + h.nlmsg_len),
    });
    o += nlmsgAlign(h.nlmsg_len);
  }
  if (o < b.length) return { messages, malformed: `${b.length - o} trailing octets` };
  return { messages };
}

export interface AckInfo {
  /** 0 for a positive ACK, else a negative errno. */
  error: number;
  /** The header of the request this acknowledges. */
  request: { type: number; flags: number; seq: number; pid: number };
  /** The kernel's extended-ack message (NLMSGERR_ATTR_MSG), when it gave one. */
  extAck?: string;
  /** Offset of the offending attribute inside the request (NLMSGERR_ATTR_OFFS). */
  extAckOffset?: number;
  missingType?: number;
}

/** Parses an NLMSG_ERROR message (flags are the error message's own: NLM_F_CAPPED, NLM_F_ACK_TLVS). */
export function parseAck(m: NlMessage): AckInfo {
  if (m.payload.length < 4) return { error: 0, request: { type: 0, flags: 0, seq: m.seq, pid: m.pid } };
  const error = s32.read(m.payload, 0, 4);
  const hasHdr = m.payload.length >= nlmsgerr.size;
  const h = hasHdr ? nlmsghdr.decode(m.payload, 4) : undefined;
  const info: AckInfo = {
    error,
    request: { type: h?.nlmsg_type ?? 0, flags: h?.nlmsg_flags ?? 0, seq: h?.nlmsg_seq ?? m.seq, pid: h?.nlmsg_pid ?? m.pid },
  };
  if (!(m.flags & NLM_F_ACKFLAGS.NLM_F_ACK_TLVS) || !h) return info;
  // The TLVs follow the echoed request: its header only when capped (or on success), else all of it.
  const echoed = m.flags & NLM_F_ACKFLAGS.NLM_F_CAPPED || error === 0 ? NLMSG_HDRLEN : nlmsgAlign(h.nlmsg_len);
  const tlv = decodeAttrs(NLMSGERR, m.payload, 4 + echoed);
  if (tlv.NLMSGERR_ATTR_MSG) info.extAck = tlv.NLMSGERR_ATTR_MSG;
  if (tlv.NLMSGERR_ATTR_OFFS !== undefined) info.extAckOffset = tlv.NLMSGERR_ATTR_OFFS;
  if (tlv.NLMSGERR_ATTR_MISS_TYPE !== undefined) info.missingType = tlv.NLMSGERR_ATTR_MISS_TYPE;
  return info;
}

/** The int error code an NLMSG_DONE carries (0, or a negative errno when a dump failed). */
export function doneError(m: NlMessage): number {
  return m.type === NLMSG.NLMSG_DONE && m.payload.length >= 4 ? s32.read(m.payload, 0, 4) : 0;
}
