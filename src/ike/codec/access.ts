/** Small typed accessors over decoded payload lists. */
import { HeaderFlag, NOTIFY_ERROR_MAX, PayloadType } from '../constants.js';
import type {
  AuthPayload,
  CertPayload,
  CertReqPayload,
  CpPayload,
  DeletePayload,
  EapPayload,
  IdPayload,
  IkeHeader,
  KePayload,
  NoncePayload,
  NotifyPayload,
  Payload,
  SaPayload,
  SkfPayload,
  SkPayload,
  TsPayload,
  VendorIdPayload,
} from './types.js';

/** The model interface of each known payload type. */
export interface PayloadByType {
  [PayloadType.SA]: SaPayload;
  [PayloadType.KE]: KePayload;
  [PayloadType.IDi]: IdPayload;
  [PayloadType.IDr]: IdPayload;
  [PayloadType.CERT]: CertPayload;
  [PayloadType.CERTREQ]: CertReqPayload;
  [PayloadType.AUTH]: AuthPayload;
  [PayloadType.NONCE]: NoncePayload;
  [PayloadType.NOTIFY]: NotifyPayload;
  [PayloadType.DELETE]: DeletePayload;
  [PayloadType.VENDOR_ID]: VendorIdPayload;
  [PayloadType.TSi]: TsPayload;
  [PayloadType.TSr]: TsPayload;
  [PayloadType.SK]: SkPayload;
  [PayloadType.CP]: CpPayload;
  [PayloadType.EAP]: EapPayload;
  [PayloadType.SKF]: SkfPayload;
}
export type KnownPayloadType = keyof PayloadByType;

function isKnown(p: Payload, type: number): boolean {
  return p.type === type && !('unknown' in p);
}

/** Every payload of a type, in message order. */
export function payloadsOf<T extends KnownPayloadType>(payloads: readonly Payload[], type: T): PayloadByType[T][] {
  const out: PayloadByType[T][] = [];
  for (const p of payloads) if (isKnown(p, type)) out.push(p as PayloadByType[T]);
  return out;
}

/** The first payload of a type, or undefined. */
export function firstOf<T extends KnownPayloadType>(payloads: readonly Payload[], type: T): PayloadByType[T] | undefined {
  for (const p of payloads) if (isKnown(p, type)) return p as PayloadByType[T];
  return undefined;
}

/** The first Notify of a type (RFC 7296 §3.10.1), or undefined. */
export function findNotify(payloads: readonly Payload[], notifyType: number): NotifyPayload | undefined {
  for (const p of payloads) {
    if (isKnown(p, PayloadType.NOTIFY) && (p as NotifyPayload).notifyType === notifyType) return p as NotifyPayload;
  }
  return undefined;
}

export function hasNotify(payloads: readonly Payload[], notifyType: number): boolean {
  return findNotify(payloads, notifyType) !== undefined;
}

/** The first error Notify (type below 16384, §3.10.1), or undefined. */
export function firstErrorNotify(payloads: readonly Payload[]): NotifyPayload | undefined {
  for (const p of payloads) {
    if (isKnown(p, PayloadType.NOTIFY) && (p as NotifyPayload).notifyType <= NOTIFY_ERROR_MAX) return p as NotifyPayload;
  }
  return undefined;
}

/** RFC 7296 §3.1 flags. */
export function isResponse(header: IkeHeader): boolean {
  return (header.flags & HeaderFlag.RESPONSE) !== 0;
}

/** The sender is the original initiator of the IKE SA. */
export function fromInitiator(header: IkeHeader): boolean {
  return (header.flags & HeaderFlag.INITIATOR) !== 0;
}
