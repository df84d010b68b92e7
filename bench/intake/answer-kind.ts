/**
 * What an answer to a flood's IKE_SA_INIT request is, read from its first payload without
 * decoding the rest (the generator reads tens of thousands a second): the responder's full
 * IKE_SA_INIT response leads with SA (RFC 7296 §1.2), every bare answer is one Notify (RFC 5685
 * §4 N(REDIRECT), §2.6 N(COOKIE), §2.25 TEMPORARY_FAILURE, or another error), read with the
 * codec's declared header formats.
 */
import { NotifyError, NotifyStatus, PayloadType } from '../../src/ike/constants.js';
import { GENERIC_HEADER, IKE_HEADER, NOTIFY_BODY, type GenericHeaderWire } from '../../src/ike/codec/formats/index.js';
import { Reader } from '../../src/ike/codec/struct.js';

export const ANSWER_KINDS = ['redirect', 'cookie', 'temporary-failure', 'init-response', 'other-notify', 'other'] as const;
export type AnswerKind = (typeof ANSWER_KINDS)[number];

const generic: GenericHeaderWire = { critical: false };

export function answerKind(buf: Buffer): AnswerKind {
  const r = new Reader(buf);
  if (r.read(IKE_HEADER, buf.length) === null) return 'other';
  const first = r.next;
  if (first === PayloadType.SA) return 'init-response';
  if (first !== PayloadType.NOTIFY || r.read(GENERIC_HEADER, buf.length, generic) === null) return 'other';
  const n = r.read(NOTIFY_BODY, r.extent);
  if (n === null) return 'other';
  switch (n.notifyType) {
    case NotifyStatus.REDIRECT:
      return 'redirect';
    case NotifyStatus.COOKIE:
      return 'cookie';
    case NotifyError.TEMPORARY_FAILURE:
      return 'temporary-failure';
    default:
      return 'other-notify';
  }
}

export function noAnswers(): Record<AnswerKind, number> {
  return Object.fromEntries(ANSWER_KINDS.map((k) => [k, 0])) as Record<AnswerKind, number>;
}
