/**
 * One inbound message for a known IKE SA, after the SA manager found it by SPI: responses go
 * to the initiating side of the task manager, requests are checked for retransmission
 * (answered from the cache), message ID (§2.3), integrity (SK/SKF, §3.14, RFC 7383), and
 * payload rules, then handed to the responding side. Everything dropped is counted.
 */
import { ExchangeType } from '../constants.js';
import { CodecErrorCode, isResponse, type CodecError, type Decoded } from '../codec/index.js';
import type { Endpoint } from '../../net/endpoint.js';
import { DropReason } from './counters.js';
import type { IkeSa } from './ike-sa.js';
import { checkRules, fragmentOf, openInbound } from './wire.js';

/** Maps a codec error to a drop reason. */
export function reasonOf(e: CodecError): DropReason {
  switch (e.code) {
    case CodecErrorCode.TRUNCATED:
    case CodecErrorCode.LENGTH_MISMATCH:
      return DropReason.TRUNCATED;
    case CodecErrorCode.INVALID_MAJOR_VERSION:
    case CodecErrorCode.UNSUPPORTED_VERSION:
      return DropReason.INVALID_MAJOR_VERSION;
    case CodecErrorCode.ICV_FAILED:
    case CodecErrorCode.BAD_ENCRYPTED_LENGTH:
      return DropReason.INTEGRITY;
    case CodecErrorCode.BAD_FRAGMENT:
    case CodecErrorCode.FRAGMENT_LIMIT:
      return DropReason.FRAGMENT_INVALID;
    case CodecErrorCode.MISSING_PAYLOAD:
    case CodecErrorCode.UNEXPECTED_PAYLOAD:
    case CodecErrorCode.REPEATED_PAYLOAD:
      return DropReason.INVALID_SYNTAX;
    default:
      return DropReason.MALFORMED;
  }
}

export async function handleInbound(sa: IkeSa, d: Decoded, remote: Endpoint, local: Endpoint): Promise<void> {
  if (sa.isDead) {
    sa.ctx.counters.inc(DropReason.SA_GONE);
    return;
  }
  const { header } = d.message;
  if (isResponse(header)) return handleResponse(sa, d, remote, local);
  return handleRequest(sa, d, remote, local);
}

async function handleResponse(sa: IkeSa, d: Decoded, remote: Endpoint, local: Endpoint): Promise<void> {
  const counters = sa.ctx.counters;
  const { header } = d.message;
  if (header.exchangeType === ExchangeType.IKE_SA_INIT) {
    if (!sa.initiator || sa.skIn || header.messageId !== 0) {
      counters.inc(DropReason.UNEXPECTED_RESPONSE);
      return;
    }
    const bad = checkRules(d.message);
    if (bad) {
      counters.inc(reasonOf(bad));
      return;
    }
    // A forged answer (RFC 5685 §4) is not recorded as the response the AUTH payloads sign.
    if (!sa.tm.isAnswer(d.message)) {
      counters.inc(DropReason.BAD_RESPONSE);
      return;
    }
    sa.recordInit('response', d.raw);
    await sa.tm.processResponse(d.message);
    return;
  }
  if (!sa.skIn || header.messageId !== sa.tm.nextRequestId || !sa.tm.busy) {
    counters.inc(DropReason.UNEXPECTED_RESPONSE);
    return;
  }
  const opened = openInbound(d, sa.skIn, sa);
  if (opened.kind === 'pending') return;
  if (opened.kind === 'error') {
    counters.inc(reasonOf(opened.error));
    return;
  }
  const bad = checkRules(opened.msg);
  if (bad) {
    counters.inc(reasonOf(bad));
    sa.log.debug({ detail: bad.detail }, 'response breaks the payload rules');
  }
  sa.authenticatedFrom(remote, local);
  await sa.tm.processResponse(opened.msg);
}

async function handleRequest(sa: IkeSa, d: Decoded, remote: Endpoint, local: Endpoint): Promise<void> {
  const counters = sa.ctx.counters;
  const { header } = d.message;
  const mid = header.messageId;
  if (header.exchangeType === ExchangeType.IKE_SA_INIT || !sa.skIn) {
    // IKE_SA_INIT requests reach an SA only through the manager's half-open lookup.
    counters.inc(DropReason.UNEXPECTED_RESPONSE);
    return;
  }
  const frag = fragmentOf(d);
  if (mid === sa.tm.expectedRequestId - 1) {
    // A retransmission: answered from the cache only if it is the very datagram answered
    // before (its digest; for a fragmented request fragment #1's, RFC 7383 §2.6.1), which was
    // verified then: no decryption here, and no answer to anything else.
    if (!sa.tm.answerRetransmit(mid, d.raw, frag?.fragmentNumber ?? 1, remote)) counters.inc(DropReason.INVALID_MESSAGE_ID);
    return;
  }
  if (!sa.tm.acceptsRequest(mid)) {
    counters.inc(DropReason.INVALID_MESSAGE_ID);
    return;
  }
  const opened = openInbound(d, sa.skIn, sa);
  // The datagram that will be answered is remembered (a notify error is answered too; the
  // other errors, a failed ICV among them, are not).
  if ((opened.kind !== 'error' || opened.error.notify) && (frag?.fragmentNumber ?? 1) === 1) sa.tm.noteRequest(d.raw);
  if (opened.kind === 'pending') return;
  if (opened.kind === 'error') {
    counters.inc(reasonOf(opened.error));
    if (opened.error.notify) answerError(sa, mid, header.exchangeType, opened.error);
    return;
  }
  const bad = checkRules(opened.msg);
  if (bad) {
    counters.inc(reasonOf(bad));
    if (bad.notify) answerError(sa, mid, header.exchangeType, bad);
    return;
  }
  sa.authenticatedFrom(remote, local);
  await sa.tm.processRequest(opened.msg);
}

function answerError(sa: IkeSa, mid: number, exchangeType: number, e: CodecError): void {
  sa.log.info({ code: e.code, detail: e.detail }, 'request refused with a notify');
  sa.tm.answerError(mid, exchangeType, e.notify!.notifyType, e.notify!.data);
  // §2.21.2: a broken IKE_AUTH ends the half-open SA.
  if (exchangeType === ExchangeType.IKE_AUTH) void sa.destroy('invalid IKE_AUTH request');
}
