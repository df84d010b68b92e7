/**
 * What the codec returns when a message cannot be used: a stable code, a detail for logs, and
 * — only where RFC 7296 says a responder answers — the Notify to answer a *request* with.
 * Responses are never answered (RFC 7296 §2.21.1: "If the message is marked as a response, the
 * node ... MUST NOT respond"); the caller checks the header's RESPONSE flag.
 *
 * Drop silently vs answer, from RFC 7296:
 * - §3.10.1 INVALID_SYNTAX "may only be returned for and in an encrypted packet if the Message
 *   ID and cryptographic checksum were valid". So every syntax error found before the ICV of an
 *   SK payload has been verified (the IKE header, an unprotected IKE_SA_INIT message, the outer
 *   payloads of a protected one) is dropped silently; a syntax error inside a verified SK/SKF
 *   payload is answered with INVALID_SYNTAX in the protected response.
 * - §2.5 an unknown payload with the critical bit set: the message is rejected and the response
 *   to a request carries UNSUPPORTED_CRITICAL_PAYLOAD with the one-octet payload type as data.
 *   In an unprotected message this is answered at once; in a protected one only after the ICV
 *   verified (the unknown payload is then authenticated).
 * - §2.5 a higher major version: "MUST drop the message and SHOULD send an unauthenticated
 *   Notify message of type INVALID_MAJOR_VERSION"; the closest version supported (2.0) goes in
 *   the answer's header, the notify carries no data. A lower major version (IKEv1) is dropped.
 * - §3.14 / §2.21.2 an ICV that does not verify: the message is discarded, never answered.
 * - RFC 7383 §2.6.2 fragments that fail verification or are inconsistent are discarded.
 */
import { NotifyError } from '../constants.js';
import type { IkeHeader } from './types.js';

/** Stable reason codes. `notify` says which ones a request is answered for. */
export const CodecErrorCode = {
  /** Fewer octets than an IKE header, or a payload runs past the message. Drop. */
  TRUNCATED: 'TRUNCATED',
  /** Header Length differs from the datagram's size. Drop. */
  LENGTH_MISMATCH: 'LENGTH_MISMATCH',
  /** Larger than the configured message size limit. Drop. */
  TOO_LARGE: 'TOO_LARGE',
  /** More payloads than the implementation limit. Drop (answered INVALID_SYNTAX when inner). */
  TOO_MANY_PAYLOADS: 'TOO_MANY_PAYLOADS',
  /** Major version above 2: answer INVALID_MAJOR_VERSION (§2.5). */
  INVALID_MAJOR_VERSION: 'INVALID_MAJOR_VERSION',
  /** Major version below 2 (IKEv1): drop. */
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  /** A generic payload length below 4 or beyond the message. Drop (INVALID_SYNTAX when inner). */
  BAD_PAYLOAD_LENGTH: 'BAD_PAYLOAD_LENGTH',
  /** A payload's body is malformed (substructure lengths, counts, values). */
  MALFORMED_PAYLOAD: 'MALFORMED_PAYLOAD',
  /** Octets after the last payload. */
  TRAILING_DATA: 'TRAILING_DATA',
  /** SK/SKF is not the last payload (§3.14), or is nested inside another. */
  MISPLACED_ENCRYPTED: 'MISPLACED_ENCRYPTED',
  /** Unknown payload with the critical bit: answer UNSUPPORTED_CRITICAL_PAYLOAD (§2.5). */
  UNSUPPORTED_CRITICAL_PAYLOAD: 'UNSUPPORTED_CRITICAL_PAYLOAD',
  /** decodeProtected on a message without SK payload. Drop. */
  NOT_PROTECTED: 'NOT_PROTECTED',
  /** SK/SKF body shorter than IV + ICV + one block, or not whole blocks. Drop. */
  BAD_ENCRYPTED_LENGTH: 'BAD_ENCRYPTED_LENGTH',
  /** The integrity check failed. Drop (§3.14). */
  ICV_FAILED: 'ICV_FAILED',
  /** The SkTransform threw: a bug or a crypto failure, not the peer's doing. Drop. */
  CRYPTO_ERROR: 'CRYPTO_ERROR',
  /** Pad Length larger than the decrypted data: answer INVALID_SYNTAX. */
  BAD_PADDING: 'BAD_PADDING',
  /** RFC 7383: fragment numbering/consistency wrong. Drop. */
  BAD_FRAGMENT: 'BAD_FRAGMENT',
  /** RFC 7383: more fragments or octets than the reassembly limits. Drop. */
  FRAGMENT_LIMIT: 'FRAGMENT_LIMIT',
  /** Payload rules (./rules.ts): a required payload is missing. */
  MISSING_PAYLOAD: 'MISSING_PAYLOAD',
  /** Payload rules: a payload the exchange does not allow. */
  UNEXPECTED_PAYLOAD: 'UNEXPECTED_PAYLOAD',
  /** Payload rules: a payload allowed once appears more than once. */
  REPEATED_PAYLOAD: 'REPEATED_PAYLOAD',
  /** Payload rules: an exchange type without rules. Drop. */
  UNKNOWN_EXCHANGE: 'UNKNOWN_EXCHANGE',
} as const;
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode];

/** The Notify payload a responder puts in its answer (RFC 7296 §3.10). */
export interface AnswerNotify {
  readonly notifyType: number;
  readonly data: Buffer;
}

export interface CodecError {
  readonly code: CodecErrorCode;
  /** What was wrong, for logs (never key material: only offsets, lengths, type numbers). */
  readonly detail: string;
  /** Present only where the RFC says a request is answered; absent: drop silently. */
  readonly notify?: AnswerNotify;
  /** The header, when it could be read: to build the answer and to log. */
  readonly header?: IkeHeader;
}

const EMPTY = Buffer.alloc(0);

export function dropped(code: CodecErrorCode, detail: string, header?: IkeHeader): CodecError {
  return header ? { code, detail, header } : { code, detail };
}

/** INVALID_SYNTAX (§3.10.1): only for errors inside a verified SK/SKF payload. */
export function invalidSyntax(code: CodecErrorCode, detail: string, header?: IkeHeader): CodecError {
  return { code, detail, header, notify: { notifyType: NotifyError.INVALID_SYNTAX, data: EMPTY } };
}

/** UNSUPPORTED_CRITICAL_PAYLOAD (§2.5) with the one-octet payload type as data. */
export function unsupportedCritical(payloadType: number, header?: IkeHeader): CodecError {
  return {
    code: CodecErrorCode.UNSUPPORTED_CRITICAL_PAYLOAD,
    detail: `unknown payload type ${payloadType} marked critical`,
    header,
    notify: { notifyType: NotifyError.UNSUPPORTED_CRITICAL_PAYLOAD, data: Buffer.from([payloadType]) },
  };
}

/** INVALID_MAJOR_VERSION (§2.5): no data; the answer's header carries version 2.0. */
export function invalidMajorVersion(major: number, header: IkeHeader): CodecError {
  return {
    code: CodecErrorCode.INVALID_MAJOR_VERSION,
    detail: `major version ${major}, this implementation speaks 2`,
    header,
    notify: { notifyType: NotifyError.INVALID_MAJOR_VERSION, data: EMPTY },
  };
}
