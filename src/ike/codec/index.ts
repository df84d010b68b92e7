/**
 * The IKEv2 message codec (RFC 7296 §3, RFC 7383): the public API. Formats are declared in
 * ./formats/ and read and written by ./struct.ts; see each module for the rules it applies.
 */
export { decodeMessage, encodeMessage, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOADS } from './message.js';
export type { DecodeLimits, DecodeResult } from './message.js';
export { CodecErrorCode } from './errors.js';
export type { AnswerNotify, CodecError } from './errors.js';
export { decodeStruct, encodeStruct } from './struct.js';
export type * from './types.js';
