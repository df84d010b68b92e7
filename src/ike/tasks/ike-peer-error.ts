/**
 * An INFORMATIONAL request that carries an error notify (RFC 7296 §2.21.2, §3.10.1), either
 * role. Answered, as every request, with an empty response; then:
 *
 *   HDR, SK {N(AUTHENTICATION_FAILED)}  -->
 *                                       <--  HDR, SK {}        and the IKE SA is deleted
 *
 * Which error types end the IKE SA (and so its children and their injected routes):
 *
 *   AUTHENTICATION_FAILED  torn down. §2.21.2: an initiator that rejects the responder's AUTH
 *                          (a wrong certificate, identity or PSK) "MAY" say so in a separate
 *                          INFORMATIONAL exchange (strongSwan and libreswan do); it has no IKE
 *                          SA any more, so ours would black-hole traffic. Sent at any later time
 *                          it also withdraws the peer's acceptance of our authentication.
 *   any other error type   logged at warn, the SA kept. §3.10.1: "Unrecognized error types in
 *                          a request ... MUST be ignored, and they should be logged". The
 *                          errors of the child part of IKE_AUTH (NO_PROPOSAL_CHOSEN,
 *                          TS_UNACCEPTABLE, SINGLE_PAIR_REQUIRED, INTERNAL_ADDRESS_FAILURE,
 *                          FAILED_CP_REQUIRED) leave the IKE SA up (§2.21.2: "If the failure is
 *                          related to creating the Child SA, the IKE SA is still created"), and
 *                          a peer that refuses a child deletes it with a Delete payload, which
 *                          ChildDelete handles. INVALID_SYNTAX and the rest name no SA the peer
 *                          lost: a peer that dropped the IKE SA sends D(IKE) or stops answering
 *                          (then DPD and the retransmission give-up end it).
 *
 * Delete payloads in the same message win (the factory picks IkeDelete/ChildDelete first).
 *
 * The initiator's side of the same rule is TellAuthFailed: segw as initiator that refuses the
 * responder's AUTH tells it so, then drops the SA (on the answer, or when retransmission gives up).
 */
import { ExchangeType, NOTIFY_ERROR_MAX, NotifyError, NotifyType, PayloadType, nameOf } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { IkeState, type IkeSa } from '../sa/ike-sa.js';
import { notifies } from '../sa/payloads.js';
import { Status, TaskType, type Task } from './task.js';

/** Error notifies that, received in an INFORMATIONAL request, end the IKE SA (see above). */
const FATAL_IN_REQUEST: ReadonlySet<number> = new Set([NotifyError.AUTHENTICATION_FAILED]);

export class IkePeerError implements Task {
  readonly type = TaskType.INFORMATIONAL;
  readonly exchange = ExchangeType.INFORMATIONAL;
  readonly initiator = false;
  /** Why the SA goes (the task manager's destroy reason), once process decided it does. */
  destroyReason: string | undefined;

  constructor(private readonly sa: IkeSa) {}

  async process(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    const errors = notifies(msg).filter((n) => n.notifyType <= NOTIFY_ERROR_MAX);
    const names = errors.map((n) => nameOf(NotifyType, n.notifyType));
    const fatal = errors.find((n) => FATAL_IN_REQUEST.has(n.notifyType));
    if (!fatal) {
      sa.log.warn({ notify: names }, 'peer reported an error in an INFORMATIONAL request; ignored (RFC 7296 §3.10.1)');
      return Status.NEED_MORE;
    }
    const name = nameOf(NotifyType, fatal.notifyType);
    this.destroyReason = `peer sent ${name}`;
    sa.log.warn(
      { notify: names, state: sa.state, children: sa.children.length },
      `peer sent ${name} (it rejected our authentication, RFC 7296 §2.21.2); deleting the IKE SA and its child SAs`,
    );
    if (sa.state !== IkeState.REKEYED) sa.state = IkeState.DELETING;
    return Status.NEED_MORE;
  }

  /** An empty response; DESTROY when the error ends the SA (after the response is sent). */
  async build(_msg: IkeMessage): Promise<Status> {
    return this.destroyReason ? Status.DESTROY : Status.SUCCESS;
  }
}

/** Initiator: INFORMATIONAL { N(AUTHENTICATION_FAILED) } after refusing the responder's AUTH (§2.21.2). */
export class TellAuthFailed implements Task {
  readonly type = TaskType.INFORMATIONAL;
  readonly exchange = ExchangeType.INFORMATIONAL;
  readonly initiator = true;
  readonly destroyReason = 'responder authentication failed';

  async build(msg: IkeMessage): Promise<Status> {
    msg.payloads.push({ type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyError.AUTHENTICATION_FAILED, data: Buffer.alloc(0) });
    return Status.NEED_MORE;
  }

  async process(_msg: IkeMessage): Promise<Status> {
    return Status.DESTROY;
  }
}
