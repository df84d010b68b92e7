/** Small helpers to read and make payloads of the message data model (no wire offsets here). */
import { NOTIFY_ERROR_MAX, PayloadType } from '../constants.js';
import type { IkeMessage, NotifyPayload, Payload } from '../codec/types.js';

/** The payload interface(s) whose `type` admits T (IDi and IDr share one interface). */
export type PayloadOf<T extends number> = Payload extends infer P
  ? P extends { unknown: true }
    ? never
    : P extends { type: infer U }
      ? T extends U
        ? P
        : never
      : never
  : never;

/** First payload of a type, typed. */
export function payloadOf<T extends Payload['type']>(msg: IkeMessage, type: T): PayloadOf<T> | undefined {
  return msg.payloads.find((p) => p.type === type) as PayloadOf<T> | undefined;
}

export function payloadsOf<T extends Payload['type']>(msg: IkeMessage, type: T): PayloadOf<T>[] {
  return msg.payloads.filter((p) => p.type === type) as PayloadOf<T>[];
}

export function notifies(msg: IkeMessage): NotifyPayload[] {
  return payloadsOf(msg, PayloadType.NOTIFY);
}

export function notifyOf(msg: IkeMessage, notifyType: number): NotifyPayload | undefined {
  return notifies(msg).find((n) => n.notifyType === notifyType);
}

export function hasNotify(msg: IkeMessage, notifyType: number): boolean {
  return notifyOf(msg, notifyType) !== undefined;
}

/** The first error notify (type < 16384) in a message, if any (RFC 7296 §3.10.1). */
export function errorNotify(msg: IkeMessage): NotifyPayload | undefined {
  return notifies(msg).find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
}

/** No octets (a notify without SPI or data); shared, nothing can be written into it. */
const EMPTY = Buffer.alloc(0);

export function notify(notifyType: number, data: Buffer = EMPTY, protocol = 0, spi: Buffer = EMPTY): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocol, spi, notifyType, data };
}

export function addNotify(msg: IkeMessage, notifyType: number, data?: Buffer, protocol?: number, spi?: Buffer): void {
  msg.payloads.push(notify(notifyType, data, protocol, spi));
}

export function spi32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function readSpi32(b: Buffer): number | undefined {
  return b.length === 4 ? b.readUInt32BE(0) : undefined;
}
