/**
 * Protected messages: the Encrypted payload (RFC 7296 §3.14) built and opened through an
 * SkTransform (../crypto/types.ts). The codec owns the layout — padding, Pad Length, the
 * associated data (IKE header through the SK/SKF payload header, final lengths written) — and
 * the transform owns the cryptography.
 *
 * Outcomes of opening (./errors.ts): before the ICV verifies everything is dropped silently;
 * after, a malformed content is answered with INVALID_SYNTAX and an unknown critical payload
 * with UNSUPPORTED_CRITICAL_PAYLOAD, in the protected response.
 */
import { IKE_HEADER_LENGTH, PayloadType } from '../constants.js';
import type { SkTransform } from '../crypto/types.js';
import { CodecErrorCode, dropped, invalidSyntax, unsupportedCritical, type CodecError } from './errors.js';
import { GENERIC_HEADER, IKE_HEADER, SKF_BODY, SKF_FIXED_LENGTH } from './formats/index.js';
import { decodeChain, DEFAULT_MAX_PAYLOADS, encodeChain, writeGenericHeader, writeHeader, type DecodeLimits } from './message.js';
import { Reader, Writer } from './struct.js';
import type { IkeHeader, IkeMessage, Payload, SkPayload } from './types.js';

export type ProtectedResult = { ok: true; message: IkeMessage } | { ok: false; error: CodecError };

/** A decoded message (from decodeMessage) with the octets it was decoded from. */
export interface Decoded {
  message: IkeMessage;
  raw: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** RFC 7296 §3.14: the payloads, then Padding and Pad Length up to a whole number of blocks. */
export function paddedPlaintext(content: Writer, blockSize: number): Buffer {
  const block = Math.max(blockSize, 1);
  const padLength = (block - ((content.pos + 1) % block)) % block;
  content.ensure(padLength + 1);
  content.buf.fill(0, content.pos, (content.pos += padLength)); // any value is allowed; zeros
  content.uint(1, padLength);
  return content.bytes();
}

/** The SKF fields of one fragment (RFC 7383 §2.5). */
export interface FragmentFields {
  fragmentNumber: number;
  totalFragments: number;
}

/**
 * Builds a message whose only payload is SK (fragment null) or SKF: header, payload header,
 * then the transform's IV || ciphertext || ICV over `plaintext` (already padded).
 */
export function sealMessage(header: IkeHeader, firstInner: number, plaintext: Buffer, sk: SkTransform, fragment: FragmentFields | null): Buffer {
  const fixed = fragment ? SKF_FIXED_LENGTH : 0;
  const bodyLength = sk.ivLength + plaintext.length + sk.icvLength;
  const payloadLength = 4 + fixed + bodyLength;
  const w = new Writer(IKE_HEADER_LENGTH + 4 + fixed);
  writeHeader(w, header, fragment ? PayloadType.SKF : PayloadType.SK);
  const at = w.pos;
  w.next = firstInner;
  writeGenericHeader(w, false);
  if (fragment) w.write(SKF_BODY, { ...fragment, body: EMPTY });
  w.patchLength(GENERIC_HEADER, at, payloadLength);
  w.patchLength(IKE_HEADER, 0, at + payloadLength);
  const aad = w.bytes();
  const body = sk.seal(aad, plaintext);
  if (body.length !== bodyLength) throw new Error(`SkTransform.seal returned ${body.length} octets, expected ${bodyLength}`);
  const out = Buffer.allocUnsafe(aad.length + bodyLength);
  aad.copy(out, 0);
  body.copy(out, aad.length);
  return out;
}

/** Encodes a protected message: every payload goes inside one SK payload. */
export function encodeProtected(header: IkeHeader, payloads: readonly Payload[], sk: SkTransform): Buffer {
  const content = new Writer(1024);
  encodeChain(content, payloads, true);
  const first = payloads[0]?.type ?? PayloadType.NONE;
  return sealMessage(header, first, paddedPlaintext(content, sk.blockSize), sk, null);
}

export type OpenResult = { ok: true; content: Buffer } | { ok: false; error: CodecError };

/**
 * Verifies and decrypts the body of the SK/SKF payload that ends `raw`, and strips the padding.
 * `content` is the inner payload octets (for SKF: this fragment's share of them).
 */
export function openEncrypted(raw: Buffer, body: Buffer, sk: SkTransform, header: IkeHeader): OpenResult {
  const block = Math.max(sk.blockSize, 1);
  const cipherLength = body.length - sk.ivLength - sk.icvLength;
  if (cipherLength < block || cipherLength % block !== 0) {
    const detail = `encrypted body of ${body.length} octets: IV ${sk.ivLength} + ICV ${sk.icvLength} + whole ${block}-octet blocks expected`;
    return { ok: false, error: dropped(CodecErrorCode.BAD_ENCRYPTED_LENGTH, detail, header) };
  }
  const aad = raw.subarray(0, raw.length - body.length);
  let padded: Buffer | null;
  try {
    padded = sk.open(aad, body);
  } catch (e) {
    return { ok: false, error: dropped(CodecErrorCode.CRYPTO_ERROR, `SkTransform.open threw: ${(e as Error).message}`, header) };
  }
  if (padded === null) return { ok: false, error: dropped(CodecErrorCode.ICV_FAILED, 'integrity check failed', header) };
  // Pad Length is the last octet of the plaintext (§3.14; layout in formats/header.ts).
  const padLength = padded.length > 0 ? padded[padded.length - 1] : 0;
  if (padded.length === 0 || padLength + 1 > padded.length) {
    return { ok: false, error: invalidSyntax(CodecErrorCode.BAD_PADDING, `Pad Length ${padLength} in ${padded.length} octets`, header) };
  }
  return { ok: true, content: padded.subarray(0, padded.length - padLength - 1) };
}

/**
 * Decodes the inner payloads of a verified SK/SKF content and applies the post-ICV rules.
 * `outer` are the payloads before SK (authenticated by the same ICV).
 */
export function decodeInner(header: IkeHeader, outer: Payload[], firstInner: number, content: Buffer, limits: DecodeLimits): ProtectedResult {
  const payloads = outer;
  const r = new Reader(content);
  const status = decodeChain(r, firstInner, content.length, payloads, limits.maxPayloads ?? DEFAULT_MAX_PAYLOADS, true);
  if (status.error) return { ok: false, error: invalidSyntax(status.error.code, `inside SK: ${status.error.detail}`, header) };
  for (const p of payloads) {
    if ('unknown' in p && p.critical) return { ok: false, error: unsupportedCritical(p.type, header) };
  }
  return { ok: true, message: { header, payloads, protected: true } };
}

/**
 * Opens the SK payload of a decoded message: verifies the ICV, decrypts, strips padding and
 * decodes the payloads inside. The result's payloads are the outer ones before SK (normally
 * none) followed by the inner ones; `protected` is true. SKF messages go to FragmentReassembler.
 */
export function decodeProtected(decoded: Decoded, sk: SkTransform, limits: DecodeLimits = {}): ProtectedResult {
  const { message, raw } = decoded;
  const { header, payloads } = message;
  const last = payloads[payloads.length - 1];
  if (last === undefined || last.type !== PayloadType.SK || 'unknown' in last) {
    const detail = last?.type === PayloadType.SKF ? 'an SKF fragment: use FragmentReassembler' : 'no SK payload';
    return { ok: false, error: dropped(CodecErrorCode.NOT_PROTECTED, detail, header) };
  }
  const skp = last as SkPayload;
  const opened = openEncrypted(raw, skp.body, sk, header);
  if (!opened.ok) return opened;
  return decodeInner(header, payloads.slice(0, -1), skp.firstInner, opened.content, limits);
}
