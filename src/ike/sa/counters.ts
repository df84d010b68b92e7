/**
 * Why inbound IKE datagrams were dropped or answered specially, counted by reason (the daemon
 * exposes them; tests assert them). Names are stable: metrics and tests match on them.
 */
export const DropReason = {
  /** Shorter than an IKE header, or the header's length disagrees with the datagram. */
  TRUNCATED: 'truncated',
  /** Not decodable (bad payload chain, lengths, unknown critical payload...). */
  MALFORMED: 'malformed',
  /** Major version other than 2 (answered with INVALID_MAJOR_VERSION when a request). */
  INVALID_MAJOR_VERSION: 'invalid_major_version',
  /** Payloads not allowed in this exchange (RFC 7296 §3 tables), or missing mandatory ones. */
  INVALID_SYNTAX: 'invalid_syntax',
  /** No IKE SA for the SPIs (answered with INVALID_IKE_SPI when a request, §2.21.4). */
  UNKNOWN_SPI: 'unknown_spi',
  /** Integrity check (ICV) failed: forged, replayed across keys, or corrupted. */
  INTEGRITY: 'integrity',
  /** Request with a message ID outside the window (§2.3). */
  INVALID_MESSAGE_ID: 'invalid_message_id',
  /** Response to no outstanding request, or with the wrong message ID. */
  UNEXPECTED_RESPONSE: 'unexpected_response',
  /** Retransmitted request answered from the cached response (counted, not dropped). */
  RETRANSMIT_ANSWERED: 'retransmit_answered',
  /**
   * A request with the previous message ID that is not the datagram answered before (a forged
   * or altered header: answering it would reflect the cached response to a spoofed source).
   */
  RETRANSMIT_MISMATCH: 'retransmit_mismatch',
  /** Retransmitted fragment other than #1 (RFC 7383 §2.6.1: answer only fragment 1). */
  RETRANSMIT_FRAGMENT: 'retransmit_fragment',
  /** IKE_SA_INIT dropped because half-open limits (per peer or in total) were reached. */
  HALF_OPEN_LIMIT: 'half_open_limit',
  /** IKE_SA_INIT admitted beyond halfOpenMax, from an address that authenticated before. */
  HALF_OPEN_RESERVE: 'half_open_reserve',
  /** IKE_SA_INIT answered with N(COOKIE) (§2.6). */
  COOKIE_SENT: 'cookie_sent',
  /** IKE_SA_INIT answered with N(REDIRECT) (RFC 5685 §4), no SA made. */
  INIT_REDIRECTED: 'init_redirected',
  /** IKE_SA_INIT refused by the redirect provider (TEMPORARY_FAILURE: every member full), no SA made. */
  INIT_REFUSED: 'init_refused',
  /** IKE_SA_INIT with a COOKIE that does not verify. */
  COOKIE_INVALID: 'cookie_invalid',
  /** The SA was busy with too many queued datagrams. */
  BUSY: 'busy',
  /** A fragment that could not be used (bad numbers, too many, reassembly limits). */
  FRAGMENT_INVALID: 'fragment_invalid',
  /** Response to our request carried something we cannot use (logged by the task). */
  BAD_RESPONSE: 'bad_response',
  /** Message for an SA that is being deleted or already rekeyed away. */
  SA_GONE: 'sa_gone',
  /** IKE_SA_INIT request on an unexpected port or from an address we do not serve. */
  NO_CONFIG: 'no_config',
  /** An unprotected answer (COOKIE, version, INVALID_IKE_SPI) not sent: larger than its request. */
  ANSWER_LARGER: 'answer_larger_than_request',
  /** An outbound datagram the socket could not send (left to retransmission, §2.1). */
  SEND_ERROR: 'send_error',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export class Counters {
  private readonly values = new Map<string, number>();
  inc(reason: DropReason | string, n = 1): void {
    this.values.set(reason, (this.values.get(reason) ?? 0) + n);
  }
  get(reason: DropReason | string): number {
    return this.values.get(reason) ?? 0;
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.values);
  }
}
