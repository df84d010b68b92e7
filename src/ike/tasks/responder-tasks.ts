/**
 * Which tasks answer a request (strongSwan's task_manager process_request): chosen by exchange
 * type and, for CREATE_CHILD_SA and INFORMATIONAL, by the payloads; and how a new responder
 * task meets our own outstanding exchange (collisions, RFC 7296 §2.8.1, §2.25).
 */
import { ExchangeType, NotifyError, NotifyStatus, PayloadType, ProtocolId } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { ChildCreate } from './child-create.js';
import { ChildDelete } from './child-delete.js';
import { ChildRekey } from './child-rekey.js';
import { IkeAuth } from './ike-auth.js';
import { IkeDelete } from './ike-delete.js';
import { IkeDpd } from './ike-dpd.js';
import { IkeInit } from './ike-init.js';
import { IkeRekey } from './ike-rekey.js';
import { IkeRedirect } from './ike-redirect.js';
import { IkePeerError } from './ike-peer-error.js';
import type { Task } from './task.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { IkeState } from '../sa/state.js';
import { errorNotify, hasNotify, payloadOf, payloadsOf } from '../sa/payloads.js';

export function createResponderTasks(sa: IkeSa, msg: IkeMessage): Task[] {
  const established = sa.state === IkeState.ESTABLISHED || sa.state === IkeState.REKEYED || sa.state === IkeState.DELETING;
  switch (msg.header.exchangeType) {
    case ExchangeType.IKE_SA_INIT:
      return sa.state === IkeState.CONNECTING && !sa.skIn ? [new IkeInit(sa, false)] : [];
    case ExchangeType.IKE_AUTH:
      return sa.state === IkeState.CONNECTING && sa.skIn ? [new IkeAuth(sa, false), new ChildCreate(sa, false, undefined, { inAuth: true })] : [];
    case ExchangeType.CREATE_CHILD_SA: {
      if (!established) return [];
      if (hasNotify(msg, NotifyStatus.REKEY_SA)) return [new ChildRekey(sa, false, undefined)];
      const saP = payloadOf(msg, PayloadType.SA);
      if (saP?.proposals.some((p) => p.protocol === ProtocolId.IKE)) return [new IkeRekey(sa, false)];
      return [new ChildCreate(sa, false, undefined)];
    }
    case ExchangeType.INFORMATIONAL: {
      if (!established && !sa.skIn) return [];
      const deletes = payloadsOf(msg, PayloadType.DELETE);
      if (deletes.some((d) => d.protocol === ProtocolId.IKE)) return [new IkeDelete(sa, false)];
      // Error notifies (AUTHENTICATION_FAILED ends the SA; the others are logged): ike-peer-error.ts.
      const tasks: Task[] = errorNotify(msg) ? [new IkePeerError(sa)] : [];
      if (deletes.some((d) => d.protocol === ProtocolId.ESP || d.protocol === ProtocolId.AH)) tasks.push(new ChildDelete(sa, false));
      else if (hasNotify(msg, NotifyStatus.REDIRECT)) tasks.push(new IkeRedirect(sa, false));
      return tasks.length > 0 ? tasks : [new IkeDpd(false)];
    }
    default:
      return [];
  }
}

/** Called after the responder tasks processed the request, before they build the response. */
export function handleCollisions(tasks: readonly Task[], active: readonly Task[]): void {
  const ourIkeRekey = active.some((a) => a instanceof IkeRekey && a.initiator);
  for (const r of tasks) {
    if (r instanceof ChildRekey || r instanceof ChildCreate) {
      // §2.25.2: no child work while we rekey the IKE SA.
      if (ourIkeRekey) {
        r.refuse(NotifyError.TEMPORARY_FAILURE);
        continue;
      }
    }
    if (r instanceof ChildRekey && r.old) {
      for (const a of active) if (a instanceof ChildRekey && a.initiator && a.old === r.old) a.collide(r);
    }
  }
}
