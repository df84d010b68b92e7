/**
 * IKEv2 message fragmentation (RFC 7383): splitting a protected message into Encrypted
 * Fragment (SKF) messages, and reassembling them, one FragmentReassembler per IKE SA.
 *
 * Sending (§2.5): the inner payloads are encoded once and the octets cut into chunks (chunk
 * boundaries need not fall between payloads). Each chunk is padded and protected on its own;
 * every fragment carries the original header (same Message ID), Fragment Number 1..n and
 * Total Fragments n; fragment 1's Next Payload is the first inner payload's type, the others 0.
 *
 * Receiving (§2.6.2), per IKE SA and Message ID:
 *   - each fragment's ICV is verified before it is kept; a failing one is dropped;
 *   - duplicates are ignored (without decrypting them again), any order is accepted;
 *   - a fragment whose Total Fragments is larger than the collected set's means the peer
 *     re-fragmented (smaller PMTU): the collected set is discarded and collection restarts;
 *     a smaller Total Fragments is ignored;
 *   - a verified fragment of another Message ID starts a new set (the caller has already
 *     checked the Message ID against its window; retransmitted requests of the last exchange
 *     are the caller's: RFC 7383 §2.6.1 resends the cached response on fragment 1 only);
 *   - the set is bounded in fragments and in octets; exceeding a bound discards it.
 */
import { IKE_HEADER_LENGTH, PayloadType } from '../constants.js';
import type { SkTransform } from '../crypto/types.js';
import { CodecErrorCode, dropped, type CodecError } from './errors.js';
import { SKF_FIXED_LENGTH } from './formats/index.js';
import { encodeChain, type DecodeLimits } from './message.js';
import { decodeInner, openEncrypted, paddedPlaintext, sealMessage, type Decoded } from './protected.js';
import { Writer } from './struct.js';
import type { IkeHeader, IkeMessage, Payload, SkfPayload } from './types.js';

/** Octets of the IP and UDP headers and the non-ESP marker around each IKE message. */
export const IPV4_HEADER_LENGTH = 20;
export const IPV6_HEADER_LENGTH = 40;
export const UDP_HEADER_LENGTH = 8;
export const NON_ESP_MARKER_LENGTH = 4;
/**
 * RFC 7383 §2.5.1: without PMTU knowledge, fragment for the smallest datagram every host must
 * accept: 576 octets over IPv4 (RFC 791), 1280 over IPv6 (RFC 8200).
 */
export const DEFAULT_FRAGMENT_SIZE_IPV4 = 576;
export const DEFAULT_FRAGMENT_SIZE_IPV6 = 1280;

export interface FragmentOptions {
  /** The IP version of the IKE transport (default 4). */
  ipVersion?: 4 | 6;
  /** Port 4500: each datagram starts with the 4-octet non-ESP marker (default false). */
  nonEspMarker?: boolean;
}

/** Octets in each datagram outside the IKE message: IP header (no options), UDP, marker. */
export function datagramOverhead(opts: FragmentOptions = {}): number {
  const ip = opts.ipVersion === 6 ? IPV6_HEADER_LENGTH : IPV4_HEADER_LENGTH;
  return ip + UDP_HEADER_LENGTH + (opts.nonEspMarker ? NON_ESP_MARKER_LENGTH : 0);
}

/** The most inner-payload octets one fragment carries when IP packets are `maxFragmentSize`. */
export function fragmentCapacity(sk: SkTransform, maxFragmentSize: number, opts: FragmentOptions = {}): number {
  const block = Math.max(sk.blockSize, 1);
  const perMessage = IKE_HEADER_LENGTH + 4 + SKF_FIXED_LENGTH + sk.ivLength + sk.icvLength;
  const room = maxFragmentSize - datagramOverhead(opts) - perMessage; // for content, padding, Pad Length
  return Math.floor(room / block) * block - 1;
}

/**
 * Splits a protected message into SKF messages, each an IKE message whose IP packet is at most
 * `maxFragmentSize` octets (IP header + UDP header + [non-ESP marker] + IKE message). Returns
 * one or more fragments. Throws if the size leaves no room for content (a configuration bug).
 */
export function fragmentMessage(
  header: IkeHeader,
  payloads: readonly Payload[],
  sk: SkTransform,
  maxFragmentSize: number,
  opts: FragmentOptions = {},
): Buffer[] {
  const capacity = fragmentCapacity(sk, maxFragmentSize, opts);
  if (capacity < 1) throw new Error(`fragmentMessage: ${maxFragmentSize} octets leave no room for content`);
  const inner = new Writer(2048);
  encodeChain(inner, payloads, true);
  const content = inner.bytes();
  const total = Math.max(1, Math.ceil(content.length / capacity));
  if (total > 0xffff) throw new Error(`fragmentMessage: ${total} fragments exceed Total Fragments' range`);
  const first = payloads[0]?.type ?? PayloadType.NONE;
  const out: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    const chunk = new Writer(capacity + sk.blockSize + 1);
    chunk.raw(content.subarray(i * capacity, Math.min((i + 1) * capacity, content.length)));
    const plaintext = paddedPlaintext(chunk, sk.blockSize);
    out.push(sealMessage(header, i === 0 ? first : PayloadType.NONE, plaintext, sk, { fragmentNumber: i + 1, totalFragments: total }));
  }
  return out;
}

/** Reassembly bounds (implementation limits). */
export interface ReassemblyLimits extends DecodeLimits {
  /** Most fragments in one message (a larger Total Fragments is dropped). */
  maxFragments?: number;
  /** Most decrypted octets collected for one message. */
  maxBytes?: number;
}
export const DEFAULT_MAX_FRAGMENTS = 128;
export const DEFAULT_MAX_REASSEMBLED_BYTES = 65535;

export type FragmentResult =
  | { ok: true; complete: false; duplicate: boolean }
  | { ok: true; complete: true; message: IkeMessage }
  | { ok: false; error: CodecError };

const PENDING: FragmentResult = { ok: true, complete: false, duplicate: false };
const DUPLICATE: FragmentResult = { ok: true, complete: false, duplicate: true };

/** Collects the fragments of one message at a time for one IKE SA (module comment above). */
export class FragmentReassembler {
  private messageId = -1;
  private header: IkeHeader | null = null;
  private total = 0;
  private received = 0;
  private bytes = 0;
  private firstInner = PayloadType.NONE as number;
  private parts: (Buffer | undefined)[] = [];
  private readonly maxFragments: number;
  private readonly maxBytes: number;

  constructor(private readonly limits: ReassemblyLimits = {}) {
    this.maxFragments = limits.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.maxBytes = limits.maxBytes ?? DEFAULT_MAX_REASSEMBLED_BYTES;
  }

  /** The set being collected, for logs and tests; null when idle. */
  get pending(): { messageId: number; total: number; received: number; bytes: number } | null {
    return this.total === 0 ? null : { messageId: this.messageId, total: this.total, received: this.received, bytes: this.bytes };
  }

  /** Forgets any collected fragments (IKE SA rekeyed or deleted, exchange abandoned). */
  reset(): void {
    this.messageId = -1;
    this.header = null;
    this.total = 0;
    this.received = 0;
    this.bytes = 0;
    this.firstInner = PayloadType.NONE;
    this.parts = [];
  }

  /** Adds one decoded SKF message; returns pending, the whole message, or why it was dropped. */
  add(decoded: Decoded, sk: SkTransform): FragmentResult {
    const { header, payloads } = decoded.message;
    const skf = payloads[payloads.length - 1];
    if (payloads.length !== 1 || skf.type !== PayloadType.SKF || 'unknown' in skf) {
      return this.drop(CodecErrorCode.NOT_PROTECTED, 'not a message with one SKF payload', header);
    }
    const { fragmentNumber: n, totalFragments: t } = skf as SkfPayload;
    if (n < 1 || t < 1 || n > t) return this.drop(CodecErrorCode.BAD_FRAGMENT, `fragment ${n} of ${t}`, header);
    if (t > this.maxFragments) return this.drop(CodecErrorCode.FRAGMENT_LIMIT, `${t} fragments, limit ${this.maxFragments}`, header);
    const sameSet = this.total > 0 && header.messageId === this.messageId;
    if (sameSet && t < this.total) {
      return this.drop(CodecErrorCode.BAD_FRAGMENT, `Total Fragments ${t} below ${this.total}: ignored (RFC 7383 §2.6.2)`, header);
    }
    if (sameSet && t === this.total && this.parts[n - 1] !== undefined) return DUPLICATE;
    const opened = openEncrypted(decoded.raw, (skf as SkfPayload).body, sk, header);
    if (!opened.ok) return opened;
    // Verified: only now may it replace what was collected.
    if (!sameSet || t > this.total) this.start(header, t);
    else if (header.exchangeType !== this.header?.exchangeType || header.flags !== this.header.flags) {
      return this.drop(CodecErrorCode.BAD_FRAGMENT, 'exchange type or flags differ from the other fragments', header);
    }
    if (n === 1) this.firstInner = (skf as SkfPayload).firstInner;
    this.bytes += opened.content.length;
    if (this.bytes > this.maxBytes) {
      const detail = `${this.bytes} octets collected, limit ${this.maxBytes}`;
      this.reset();
      return this.drop(CodecErrorCode.FRAGMENT_LIMIT, detail, header);
    }
    this.parts[n - 1] = opened.content;
    this.received++;
    return this.received === this.total ? this.finish() : PENDING;
  }

  private start(header: IkeHeader, total: number): void {
    this.reset();
    this.messageId = header.messageId;
    this.header = header;
    this.total = total;
    this.parts = new Array(total);
  }

  private finish(): FragmentResult {
    const header = this.header as IkeHeader;
    const content = Buffer.concat(this.parts as Buffer[], this.bytes);
    const firstInner = this.firstInner;
    this.reset();
    const result = decodeInner(header, [], firstInner, content, this.limits);
    return result.ok ? { ok: true, complete: true, message: result.message } : result;
  }

  private drop(code: CodecErrorCode, detail: string, header: IkeHeader): FragmentResult {
    return { ok: false, error: dropped(code, detail, header) };
  }
}
