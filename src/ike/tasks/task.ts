/**
 * The task model (strongSwan libcharon's): every IKEv2 exchange, or part of one, is a small
 * object whose role is fixed at construction. The task manager collects the tasks of one
 * exchange, lets each `build` its payloads into the outgoing message and `process` the
 * payloads of the incoming one, and acts on the status they return. Tasks never throw for a
 * protocol outcome; a throw is a bug (the manager logs it and tears the IKE SA down).
 *
 *   initiator:  build(request) -> [send] -> process(response)
 *   responder:  process(request) -> build(response) -> [send]
 */
import type { IkeMessage } from '../codec/types.js';

export const Status = {
  /** This task is done; drop it. */
  SUCCESS: 'SUCCESS',
  /** Keep going: the responder builds after processing; the initiator needs another exchange. */
  NEED_MORE: 'NEED_MORE',
  /** The exchange failed in a way that ends the IKE SA (after the response is sent, if any). */
  FAILED: 'FAILED',
  /** The IKE SA is to be destroyed (delete completed, redirect followed). */
  DESTROY: 'DESTROY',
} as const;
export type Status = (typeof Status)[keyof typeof Status];

export const TaskType = {
  IKE_INIT: 'IKE_INIT',
  IKE_AUTH: 'IKE_AUTH',
  CHILD_CREATE: 'CHILD_CREATE',
  CHILD_REKEY: 'CHILD_REKEY',
  CHILD_DELETE: 'CHILD_DELETE',
  IKE_REKEY: 'IKE_REKEY',
  IKE_DELETE: 'IKE_DELETE',
  IKE_DPD: 'IKE_DPD',
  INFORMATIONAL: 'INFORMATIONAL',
} as const;
export type TaskType = (typeof TaskType)[keyof typeof TaskType];

/**
 * How a task left its task manager: the final status it returned, or ABORTED when its IKE SA
 * went away (or the task was dropped) before it finished. `reason` says why it did not succeed.
 */
export type TaskEnd =
  | { status: typeof Status.SUCCESS }
  | { status: typeof Status.FAILED | typeof Status.DESTROY | 'ABORTED'; reason: string };

export interface Task {
  readonly type: TaskType;
  /** The exchange this task runs in (ExchangeType). */
  readonly exchange: number;
  readonly initiator: boolean;
  build(message: IkeMessage): Promise<Status>;
  process(message: IkeMessage): Promise<Status>;
  /**
   * Initiator: whether a response is an answer to this task's request at all. An unprotected
   * IKE_SA_INIT response can be forged by anyone who knows our SPI; a REDIRECT in it must carry
   * our Ni (RFC 5685 §4). A response this returns false for is dropped (counted) before
   * anything else: the request stays outstanding, its retransmission and give-up run on as if
   * the datagram never came, and the genuine answer is still taken. Absent: every response
   * with the right message ID is an answer.
   */
  answers?(response: IkeMessage): boolean;
  /**
   * The SA is going away with this task unfinished (give-up, delete, failure): release what
   * the task holds (an allocated SPI, a half-installed child). Never throws.
   */
  abort?(): Promise<void>;
  /** Why the IKE SA goes, for the log, when the task returned DESTROY for a reason of its own. */
  readonly destroyReason?: string;
  /**
   * Told once how the task ended (TaskEnd), by the task manager; set by whoever queued the task
   * and wants the outcome (the daemon's actions, see ike/outcome.ts). Moves with the task when an
   * IKE rekey moves it to the new SA.
   */
  onEnd?: (end: TaskEnd) => void;
  /**
   * A task this one queued to finish its work (the delete of what a rekey replaced): an action's
   * outcome is settled once that one ended too.
   */
  readonly followUp?: Task;
  /** The error notify (type) the peer answered with, when that is why the task failed. */
  readonly peerError?: number;
}

/** Tells the task's watcher, if any, how it ended; later calls for the same task do nothing. */
export function endTask(task: Task, end: TaskEnd): void {
  const f = task.onEnd;
  if (!f) return;
  task.onEnd = undefined;
  f(end);
}
