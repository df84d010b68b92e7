/**
 * Whole IKEv2 messages (RFC 7296 §3.1, §3.2): the header, then a chain of payloads linked by
 * their Next Payload fields. Reading and writing go through ./struct.ts; this file follows the
 * chain, enforces the message-level rules and returns values, never exceptions.
 *
 * Decoding order (each step's failure and what the RFC says to do with it: ./errors.ts):
 *   1. size: at least the 28-octet header, at most `maxMessageSize`
 *   2. header; major version (answer INVALID_MAJOR_VERSION above 2), then Length == datagram
 *   3. payload chain: generic header, Payload Length within the message, body by its table;
 *      unknown types kept as UnknownPayload, SK/SKF must end the message
 *   4. an unknown critical payload in an unprotected message: UNSUPPORTED_CRITICAL_PAYLOAD
 *      (in a protected one, decodeProtected reports it once the ICV verified)
 */
import { IKE_HEADER_LENGTH, IKE_MAJOR_VERSION, nameOf, PayloadType } from '../constants.js';
import {
  CodecErrorCode,
  dropped,
  invalidMajorVersion,
  unsupportedCritical,
  type CodecError,
} from './errors.js';
import { GENERIC_HEADER, IKE_HEADER, PAYLOAD_FORMATS, UNKNOWN_BODY, type GenericHeaderWire } from './formats/index.js';
import { Reader, Writer } from './struct.js';
import type { IkeHeader, IkeMessage, Payload } from './types.js';

/** Implementation limits (not from the RFC). */
export interface DecodeLimits {
  /** Largest message accepted, in octets (a UDP datagram carries at most 65,535). */
  maxMessageSize?: number;
  /** Most payloads in one message (or inside one SK payload). */
  maxPayloads?: number;
}
export const DEFAULT_MAX_MESSAGE_SIZE = 65535;
export const DEFAULT_MAX_PAYLOADS = 256;

export type DecodeResult =
  | { ok: true; message: IkeMessage; raw: Buffer }
  | { ok: false; error: CodecError };

/** The outcome of following one payload chain. */
export interface ChainStatus {
  error: { code: CodecErrorCode; detail: string } | null;
  /** Type of the first unknown payload with the critical bit, or -1. */
  unknownCritical: number;
  /** Whether the chain ended with SK or SKF. */
  encrypted: boolean;
}

/**
 * Decodes one IKE message (without the non-ESP marker). Never throws; `raw` is `buf` itself,
 * kept for the AUTH computation (RFC 7296 §2.15) and the SK associated data.
 */
export function decodeMessage(buf: Buffer, limits: DecodeLimits = {}): DecodeResult {
  const maxSize = limits.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (buf.length < IKE_HEADER_LENGTH) {
    return fail(dropped(CodecErrorCode.TRUNCATED, `${buf.length} octets, an IKE header needs ${IKE_HEADER_LENGTH}`));
  }
  if (buf.length > maxSize) {
    return fail(dropped(CodecErrorCode.TOO_LARGE, `${buf.length} octets, limit ${maxSize}`));
  }
  const r = new Reader(buf);
  const header = r.read(IKE_HEADER, buf.length);
  if (header === null) return fail(dropped(CodecErrorCode.TRUNCATED, r.error ?? 'IKE header'));
  const first = r.next;
  if (header.majorVersion > IKE_MAJOR_VERSION) return fail(invalidMajorVersion(header.majorVersion, header));
  if (header.majorVersion < IKE_MAJOR_VERSION) {
    return fail(dropped(CodecErrorCode.UNSUPPORTED_VERSION, `major version ${header.majorVersion}`, header));
  }
  if (r.length !== buf.length) {
    return fail(dropped(CodecErrorCode.LENGTH_MISMATCH, `header Length ${r.length}, datagram ${buf.length} octets`, header));
  }
  const payloads: Payload[] = [];
  const status = decodeChain(r, first, buf.length, payloads, limits.maxPayloads ?? DEFAULT_MAX_PAYLOADS, false);
  if (status.error) return fail(dropped(status.error.code, status.error.detail, header));
  if (status.unknownCritical >= 0 && !status.encrypted) return fail(unsupportedCritical(status.unknownCritical, header));
  return { ok: true, message: { header, payloads }, raw: buf };
}

function fail(error: CodecError): DecodeResult {
  return { ok: false, error };
}

/** Scratch for generic payload headers: read, used, overwritten by the next one. */
const genericScratch: GenericHeaderWire = { critical: false };

/**
 * Follows a payload chain from `r.pos` to `end`, starting with payload type `first`, appending
 * to `out`. `inner`: the chain is inside an SK/SKF payload, where another SK/SKF is an error.
 */
export function decodeChain(r: Reader, first: number, end: number, out: Payload[], maxPayloads: number, inner: boolean): ChainStatus {
  const status: ChainStatus = { error: null, unknownCritical: -1, encrypted: false };
  let type = first;
  while (type !== PayloadType.NONE) {
    const at = r.pos;
    if (out.length >= maxPayloads) return chainError(status, CodecErrorCode.TOO_MANY_PAYLOADS, `more than ${maxPayloads} payloads`);
    if (at + 4 > end) return chainError(status, CodecErrorCode.TRUNCATED, `${where(type, out, at)}: ${end - at} octets left for its header`);
    if (r.read(GENERIC_HEADER, end, genericScratch) === null) {
      return chainError(status, CodecErrorCode.BAD_PAYLOAD_LENGTH, `${where(type, out, at)}: ${r.error}`);
    }
    const next = r.next;
    const payEnd = r.extent;
    const format = PAYLOAD_FORMATS[type];
    const obj: Record<string, unknown> = { type };
    if (format === undefined) obj.unknown = true;
    if (format?.encrypted) obj.firstInner = next;
    if (genericScratch.critical) obj.critical = true;
    if (r.read(format?.body ?? UNKNOWN_BODY, payEnd, obj) === null) {
      return chainError(status, CodecErrorCode.MALFORMED_PAYLOAD, `${where(type, out, at)}: ${r.error}`);
    }
    out.push(obj as unknown as Payload);
    if (format === undefined && genericScratch.critical && status.unknownCritical < 0) status.unknownCritical = type;
    if (format?.encrypted) {
      if (inner) return chainError(status, CodecErrorCode.MISPLACED_ENCRYPTED, `${where(type, out, at)}: encrypted payload inside an encrypted payload`);
      if (payEnd !== end) return chainError(status, CodecErrorCode.MISPLACED_ENCRYPTED, `${where(type, out, at)}: not the last payload (§3.14)`);
      status.encrypted = true;
      return status;
    }
    type = next;
  }
  if (r.pos !== end) return chainError(status, CodecErrorCode.TRAILING_DATA, `${end - r.pos} octets after the last payload`);
  return status;
}

/** Names a payload for an error detail (only built on failure: the hot path makes no strings). */
function where(type: number, out: readonly Payload[], at: number): string {
  return `${nameOf(PayloadType, type)} payload #${out.length + 1} at offset ${at}`;
}

function chainError(status: ChainStatus, code: CodecErrorCode, detail: string): ChainStatus {
  status.error = { code, detail };
  return status;
}

/**
 * Encodes an unprotected message (IKE_SA_INIT), filling in Next Payload links and lengths. A
 * decoded protected message whose payloads still hold the SK payload re-encodes to the same
 * octets (the SK body is opaque). Throws only for values that cannot be encoded (a bug).
 */
export function encodeMessage(message: IkeMessage): Buffer {
  if (message.protected) throw new Error('encodeMessage: a protected message needs encodeProtected');
  const w = new Writer(1024);
  writeHeader(w, message.header, message.payloads[0]?.type ?? PayloadType.NONE);
  encodeChain(w, message.payloads, false);
  w.patchLength(IKE_HEADER, 0);
  return w.bytes();
}

/** Writes the IKE header with a zero Length (patch it with `w.patchLength(IKE_HEADER, start)`). */
export function writeHeader(w: Writer, header: IkeHeader, firstPayload: number): void {
  w.next = firstPayload;
  w.write(IKE_HEADER, header);
}

/** Writes payloads as a chain. `inner`: inside SK, where SK/SKF are not allowed. */
export function encodeChain(w: Writer, payloads: readonly Payload[], inner: boolean): void {
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i];
    const known = 'unknown' in p ? undefined : PAYLOAD_FORMATS[p.type];
    if (known === undefined && !('unknown' in p)) throw new Error(`encode: payload type ${p.type} has no format`);
    const start = w.pos;
    if (known?.encrypted) {
      if (inner || i !== payloads.length - 1) throw new Error('encode: SK/SKF must be the last outer payload');
      w.next = (p as { firstInner: number }).firstInner;
    } else {
      w.next = i + 1 < payloads.length ? payloads[i + 1].type : PayloadType.NONE;
    }
    writeGenericHeader(w, p.critical === true);
    w.write(known?.body ?? UNKNOWN_BODY, p);
    w.patchLength(GENERIC_HEADER, start);
  }
}

/** Writes a generic payload header with Next Payload `w.next` and a zero length (to patch). */
export function writeGenericHeader(w: Writer, critical: boolean): void {
  genericScratch.critical = critical;
  w.write(GENERIC_HEADER, genericScratch);
}
