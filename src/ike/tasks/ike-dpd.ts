/**
 * Liveness check (RFC 7296 §1.4, §2.4): an empty INFORMATIONAL request, answered by an empty
 * response. The initiator needs nothing but the answer; no answer means the retransmission
 * give-up tears the SA down. The responder also uses this task for INFORMATIONAL requests
 * with nothing it acts on (status notifies, unknown payloads).
 */
import { ExchangeType } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { Status, TaskType, type Task } from './task.js';

export class IkeDpd implements Task {
  readonly type = TaskType.IKE_DPD;
  readonly exchange = ExchangeType.INFORMATIONAL;

  constructor(readonly initiator: boolean) {}

  async build(_msg: IkeMessage): Promise<Status> {
    return this.initiator ? Status.NEED_MORE : Status.SUCCESS;
  }

  async process(_msg: IkeMessage): Promise<Status> {
    return this.initiator ? Status.SUCCESS : Status.NEED_MORE;
  }
}
