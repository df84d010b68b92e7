/**
 * A look at an IKE_SA_INIT request without decoding it (RFC 7296 §2.6): under a flood the
 * responder answers N(COOKIE) to every request without a valid cookie, and needs for that only
 * the header, the Nonce (Ni) and a COOKIE notify if it is the first payload. The chain is
 * walked with the declared generic header and only the Notify that leads it is read; the other
 * payloads (SA, KE, ...) are skipped unread. Anything else, or anything malformed, is undefined:
 * the caller then decodes the message as usual.
 */
import { ExchangeType, HeaderFlag, IKE_HEADER_LENGTH, IKE_MAJOR_VERSION, NotifyStatus, PayloadType } from '../constants.js';
import { GENERIC_HEADER, IKE_HEADER, NOTIFY_BODY, type GenericHeaderWire } from './formats/index.js';
import { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOADS } from './message.js';
import { Reader } from './struct.js';
import type { IkeHeader } from './types.js';

export interface InitRequestPeek {
  header: IkeHeader;
  /** Ni's data (a view into the datagram). */
  nonce: Buffer;
  /** The COOKIE notify's data when it is the first payload (§2.6), a view. */
  cookie: Buffer | undefined;
}

const generic: GenericHeaderWire = { critical: false };

/** The header, Ni and leading COOKIE of an IKE_SA_INIT request (SPIr zero, message ID 0). */
export function peekInitRequest(buf: Buffer): InitRequestPeek | undefined {
  if (buf.length < IKE_HEADER_LENGTH || buf.length > DEFAULT_MAX_MESSAGE_SIZE) return undefined;
  const r = new Reader(buf);
  const header = r.read(IKE_HEADER, buf.length);
  if (header === null || r.length !== buf.length || header.majorVersion !== IKE_MAJOR_VERSION) return undefined;
  if (header.exchangeType !== ExchangeType.IKE_SA_INIT || header.messageId !== 0) return undefined;
  if ((header.flags & (HeaderFlag.INITIATOR | HeaderFlag.RESPONSE)) !== HeaderFlag.INITIATOR) return undefined;
  if (!header.spiR.every((b) => b === 0)) return undefined;
  let nonce: Buffer | undefined;
  let cookie: Buffer | undefined;
  let type = r.next;
  for (let i = 0; type !== PayloadType.NONE; i++) {
    if (i >= DEFAULT_MAX_PAYLOADS || r.read(GENERIC_HEADER, buf.length, generic) === null) return undefined;
    const next = r.next;
    const end = r.extent;
    if (type === PayloadType.NONCE) {
      nonce = buf.subarray(r.pos, end);
    } else if (type === PayloadType.NOTIFY && i === 0) {
      const n = r.read(NOTIFY_BODY, end);
      if (n === null) return undefined;
      if (n.notifyType === NotifyStatus.COOKIE) cookie = n.data;
    }
    r.pos = end;
    type = next;
  }
  if (r.pos !== buf.length || !nonce) return undefined;
  return { header, nonce, cookie };
}
