/**
 * Deleting the IKE SA (RFC 7296 §1.4.1), both roles:
 *
 *   HDR, SK {D(IKE)}  -->
 *                     <--  HDR, SK {}
 *
 * Deleting the IKE SA closes its children too (no separate deletes are needed). The
 * initiator destroys the SA when the response arrives (or retransmissions give up).
 */
import { ExchangeType, PayloadType, ProtocolId } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { IkeState } from '../sa/state.js';
import { Status, TaskType, type Task } from './task.js';

export class IkeDelete implements Task {
  readonly type = TaskType.IKE_DELETE;
  readonly exchange = ExchangeType.INFORMATIONAL;

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
  ) {}

  async build(msg: IkeMessage): Promise<Status> {
    if (this.initiator) {
      if (this.sa.state !== IkeState.REKEYED) this.sa.state = IkeState.DELETING;
      msg.payloads.push({ type: PayloadType.DELETE, protocol: ProtocolId.IKE, spis: [] });
      return Status.NEED_MORE;
    }
    // Responder: an empty response, then the SA goes.
    return Status.DESTROY;
  }

  async process(_msg: IkeMessage): Promise<Status> {
    if (this.initiator) return Status.DESTROY;
    // An SA replaced by a rekey stays REKEYED: its deletion is no loss of the IKE SA (the
    // children live on in the new one), so no ikeDown is reported for it.
    if (this.sa.state !== IkeState.REKEYED) this.sa.state = IkeState.DELETING;
    this.sa.log.info(this.sa.state === IkeState.REKEYED ? 'peer deletes the rekeyed IKE SA' : 'peer deletes the IKE SA');
    return Status.NEED_MORE;
  }
}
