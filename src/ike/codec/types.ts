/**
 * The in-memory form of IKEv2 messages (RFC 7296 §3): what the codec produces from bytes and
 * consumes to make bytes. Tasks build and read these; they never touch wire offsets.
 *
 * Numbers are the registry values from ../constants.ts (a payload's `type` is its Next Payload
 * code). Variable-length fields are Buffers; addresses in traffic selectors stay raw bytes here
 * and are turned into strings by the code that needs them.
 */
import type { PayloadType } from '../constants.js';

/** RFC 7296 §3.1 IKE header. */
export interface IkeHeader {
  spiI: Buffer; // 8 octets
  spiR: Buffer; // 8 octets, zero in the first IKE_SA_INIT request
  majorVersion: number;
  minorVersion: number;
  exchangeType: number;
  /** HeaderFlag bits: INITIATOR (sender is the original initiator), RESPONSE, VERSION. */
  flags: number;
  messageId: number;
}

interface PayloadBase {
  /** RFC 7296 §3.2 critical bit as received (encoders set it only for unknown payloads). */
  critical?: boolean;
}

/** RFC 7296 §3.3.5 data attribute other than KEY_LENGTH, as received. */
export interface TransformAttribute {
  type: number;
  /** TV format (AF=1): the 2-octet value. */
  tv?: number;
  /** TLV format (AF=0): the value octets. */
  value?: Buffer;
}

/** RFC 7296 §3.3.2 transform; keyLength from the KEY_LENGTH attribute (§3.3.5), in bits. */
export interface Transform {
  type: number;
  id: number;
  keyLength?: number;
  /**
   * Attributes other than one TV KEY_LENGTH, as received (absent when there are none). A
   * transform with an attribute the responder does not understand is unacceptable (§3.3.6).
   */
  attributes?: TransformAttribute[];
}

/** RFC 7296 §3.3.1 proposal: protocol, SPI (empty in IKE_SA_INIT), transforms. */
export interface Proposal {
  num: number;
  protocol: number;
  spi: Buffer;
  transforms: Transform[];
}

export interface SaPayload extends PayloadBase {
  type: typeof PayloadType.SA;
  proposals: Proposal[];
}

/** RFC 7296 §3.4 */
export interface KePayload extends PayloadBase {
  type: typeof PayloadType.KE;
  group: number;
  data: Buffer;
}

/** RFC 7296 §3.5 */
export interface IdPayload extends PayloadBase {
  type: typeof PayloadType.IDi | typeof PayloadType.IDr;
  idType: number;
  data: Buffer;
}

/** RFC 7296 §3.6 */
export interface CertPayload extends PayloadBase {
  type: typeof PayloadType.CERT;
  encoding: number;
  data: Buffer;
}

/** RFC 7296 §3.7: for X509_CERT_SIGNATURE, data is a concatenation of 20-octet SHA-1 hashes. */
export interface CertReqPayload extends PayloadBase {
  type: typeof PayloadType.CERTREQ;
  encoding: number;
  data: Buffer;
}

/** RFC 7296 §3.8 */
export interface AuthPayload extends PayloadBase {
  type: typeof PayloadType.AUTH;
  method: number;
  data: Buffer;
}

/** RFC 7296 §3.9 */
export interface NoncePayload extends PayloadBase {
  type: typeof PayloadType.NONCE;
  data: Buffer;
}

/** RFC 7296 §3.10: protocol 0 and empty SPI unless the notify concerns a child SA. */
export interface NotifyPayload extends PayloadBase {
  type: typeof PayloadType.NOTIFY;
  protocol: number;
  spi: Buffer;
  notifyType: number;
  data: Buffer;
}

/** RFC 7296 §3.11: IKE SA delete has no SPIs; ESP/AH delete lists 4-octet SPIs. */
export interface DeletePayload extends PayloadBase {
  type: typeof PayloadType.DELETE;
  protocol: number;
  spis: Buffer[];
}

/** RFC 7296 §3.12 */
export interface VendorIdPayload extends PayloadBase {
  type: typeof PayloadType.VENDOR_ID;
  data: Buffer;
}

/** RFC 7296 §3.13.1 */
export interface TrafficSelectorWire {
  tsType: number;
  ipProtocol: number;
  startPort: number;
  endPort: number;
  startAddr: Buffer; // 4 or 16 octets
  endAddr: Buffer;
  /**
   * Only for TS types other than TS_IPV4_ADDR_RANGE / TS_IPV6_ADDR_RANGE: the octets after
   * Selector Length (ports are then 0 and addresses empty); kept so the selector can be refused.
   */
  body?: Buffer;
}

export interface TsPayload extends PayloadBase {
  type: typeof PayloadType.TSi | typeof PayloadType.TSr;
  selectors: TrafficSelectorWire[];
}

/** RFC 7296 §3.15 */
export interface CfgAttribute {
  type: number;
  value: Buffer;
}

export interface CpPayload extends PayloadBase {
  type: typeof PayloadType.CP;
  cfgType: number;
  attributes: CfgAttribute[];
}

/** RFC 7296 §3.16 (EAP is not supported by segw, but the payload is carried). */
export interface EapPayload extends PayloadBase {
  type: typeof PayloadType.EAP;
  data: Buffer;
}

/**
 * RFC 7296 §3.14 Encrypted payload as it is on the wire: `firstInner` is its Next Payload
 * field (the first payload inside), `body` is IV || ciphertext || ICV.
 */
export interface SkPayload extends PayloadBase {
  type: typeof PayloadType.SK;
  firstInner: number;
  body: Buffer;
}

/** RFC 7383 §2.5 Encrypted Fragment payload. `firstInner` is 0 except in fragment 1. */
export interface SkfPayload extends PayloadBase {
  type: typeof PayloadType.SKF;
  firstInner: number;
  fragmentNumber: number;
  totalFragments: number;
  body: Buffer;
}

/** A payload type this implementation does not know; kept so it can be skipped or refused. */
export interface UnknownPayload extends PayloadBase {
  type: number;
  unknown: true;
  body: Buffer;
}

export type Payload =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | CertReqPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorIdPayload
  | TsPayload
  | CpPayload
  | EapPayload
  | SkPayload
  | SkfPayload
  | UnknownPayload;

/**
 * A whole message. For a protected message (one SK or SKF payload) `payloads` holds the inner
 * payloads once decrypted, and `protected` is true; the outer SK payload is not kept.
 */
export interface IkeMessage {
  header: IkeHeader;
  payloads: Payload[];
  protected?: boolean;
}
