/**
 * Redirecting an established IKE SA (RFC 5685 §5), both roles:
 *
 *   gateway                                  client (sent REDIRECT_SUPPORTED)
 *   HDR, SK {N(REDIRECT(new GW))}  -->
 *                                  <--  HDR, SK {}
 *   the client then connects to the new gateway (IKE_SA_INIT with N(REDIRECTED_FROM)) and
 *   deletes this IKE SA.
 *
 * The cluster uses it to drain a member; the client side is what a base station runs.
 */
import { ExchangeType, NotifyStatus } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { decodeRedirect, encodeRedirect, gatewayIdToString, type GatewayId } from '../redirect/notify.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { IkeFlag, IkeState } from '../sa/state.js';
import { addNotify, notifyOf } from '../sa/payloads.js';
import { IkeDelete } from './ike-delete.js';
import { Status, TaskType, type Task } from './task.js';

export class IkeRedirect implements Task {
  readonly type = TaskType.INFORMATIONAL;
  readonly exchange = ExchangeType.INFORMATIONAL;
  private target: GatewayId | undefined;

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
    target?: GatewayId,
  ) {
    this.target = target;
  }

  async build(msg: IkeMessage): Promise<Status> {
    const sa = this.sa;
    if (this.initiator) {
      // Only a peer that announced support may be redirected (RFC 5685 §3).
      if (!sa.has(IkeFlag.PEER_REDIRECT) || sa.state !== IkeState.ESTABLISHED) return Status.SUCCESS;
      addNotify(msg, NotifyStatus.REDIRECT, encodeRedirect(this.target!));
      sa.log.info({ to: gatewayIdToString(this.target!) }, 'redirecting an established IKE SA');
      return Status.NEED_MORE;
    }
    // Responder (the client): answer, then move to the new gateway and delete this SA.
    if (this.target && sa.conn?.followRedirects && sa.initiator) {
      sa.log.info({ to: gatewayIdToString(this.target) }, 'gateway redirects this IKE SA');
      sa.ctx.followRedirect(sa, this.target);
      sa.queueTask(new IkeDelete(sa, true));
    }
    return Status.SUCCESS;
  }

  async process(msg: IkeMessage): Promise<Status> {
    if (this.initiator) return Status.SUCCESS; // the client deletes the SA when it has moved
    const n = notifyOf(msg, NotifyStatus.REDIRECT);
    const r = n ? decodeRedirect(n.data) : undefined;
    if (r && r.nonce.length === 0) this.target = r.gw;
    return Status.NEED_MORE;
  }
}
