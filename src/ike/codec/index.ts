/**
 * The IKEv2 message codec (RFC 7296 §3, RFC 7383): the public API. Wire formats are declared
 * as tables in ./formats/ and read and written by ./struct.ts only.
 *
 *   message.ts    decodeMessage / encodeMessage (unprotected messages, outer structure)
 *   protected.ts  encodeProtected / decodeProtected (SK payload through an SkTransform)
 *   fragment.ts   fragmentMessage / FragmentReassembler (SKF, RFC 7383)
 *   rules.ts      EXCHANGE_RULES / checkPayloads (allowed payloads per exchange)
 *   access.ts     typed accessors (findNotify, payloadsOf, ...)
 *   errors.ts     CodecErrorCode and which errors are answered (and with what) or dropped
 */
export { decodeMessage, encodeMessage, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOADS } from './message.js';
export { peekInitRequest } from './peek.js';
export type { InitRequestPeek } from './peek.js';
export type { DecodeLimits, DecodeResult } from './message.js';
export { decodeProtected, encodeProtected } from './protected.js';
export type { Decoded, ProtectedResult } from './protected.js';
export {
  fragmentMessage,
  fragmentCapacity,
  datagramOverhead,
  FragmentReassembler,
  DEFAULT_FRAGMENT_SIZE_IPV4,
  DEFAULT_FRAGMENT_SIZE_IPV6,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_REASSEMBLED_BYTES,
} from './fragment.js';
export type { FragmentOptions, FragmentResult, ReassemblyLimits } from './fragment.js';
export { checkPayloads, EXCHANGE_RULES } from './rules.js';
export type { Occurs, PayloadCheck, Shape } from './rules.js';
export { findNotify, firstErrorNotify, firstOf, fromInitiator, hasNotify, isResponse, payloadsOf } from './access.js';
export type { KnownPayloadType, PayloadByType } from './access.js';
export { CodecErrorCode } from './errors.js';
export type { AnswerNotify, CodecError } from './errors.js';
export { decodeStruct, encodeStruct } from './struct.js';
export { INVALID_KE_DATA, REDIRECT_DATA, REDIRECTED_FROM_DATA, SIGNATURE_HASH_ALGORITHMS_DATA } from './formats/notify-data.js';
export type { InvalidKeData, RedirectData, RedirectedFromData, SignatureHashAlgorithmsData } from './formats/notify-data.js';
export type { Struct, StructResult } from './struct.js';
export type * from './types.js';
