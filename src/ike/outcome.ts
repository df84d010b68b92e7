/**
 * Outcomes of the daemon's actions (STYLE habit 10): an action (initiate, rekey, delete, DPD,
 * redirect) queues its task(s) and hands back a promise that the task manager settles from the
 * tasks' final status (Task.onEnd). Callers (the control socket, drain, disaster recovery)
 * await it; they never poll SA state or read the task manager.
 *
 * An outcome is a value, never a rejection: `ok` with what the action produced, or the reason
 * it did not happen and whether that was the SA's state when asked (INVALID_STATE) or what
 * happened on the wire (FAILED: refused by the peer, no answer, SA torn down).
 */
import { nameOf, NotifyType } from './constants.js';
import { Status, type Task, type TaskEnd } from './tasks/task.js';

export const OutcomeError = {
  /** The SA was not in a state to do this (not established, already being rekeyed or deleted). */
  INVALID_STATE: 'INVALID_STATE',
  /** The exchange did not succeed: the peer refused, never answered, or the SA went away. */
  FAILED: 'FAILED',
} as const;
export type OutcomeError = (typeof OutcomeError)[keyof typeof OutcomeError];

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: OutcomeError; reason: string };

/** An action whose first request is on its way (or which needed none); `outcome` settles later. */
export interface Started<T> {
  readonly outcome: Promise<Outcome<T>>;
}

export function succeeded<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function failed<T>(reason: string, error: OutcomeError = OutcomeError.FAILED): Outcome<T> {
  return { ok: false, error, reason };
}

/** An action refused before anything was queued. */
export function refusedNow<T>(reason: string): Started<T> {
  return { outcome: Promise.resolve(failed<T>(reason, OutcomeError.INVALID_STATE)) };
}

/**
 * Resolves with how `task` ended, once any follow-up it queued (Task.followUp: the delete that
 * completes a rekey) ended too. Watchers chain: a task already watched keeps its first watcher.
 * Never rejects.
 */
export function watch(task: Task): Promise<TaskEnd> {
  return new Promise((resolve) => {
    const before = task.onEnd;
    task.onEnd = (end) => {
      before?.(end);
      const next = end.status === Status.SUCCESS ? task.followUp : undefined;
      if (!next) {
        resolve(end);
        return;
      }
      // Attached synchronously: the task manager starts the follow-up only after this returns.
      void watch(next).then(() => resolve(end));
    };
  });
}

/** Why a task did not succeed, for an outcome: its final status and the peer's error notify. */
export function whyNot(task: Task, end: TaskEnd): string {
  const notify = task.peerError !== undefined ? ` (the peer answered ${nameOf(NotifyType, task.peerError)})` : '';
  if (end.status === Status.SUCCESS) {
    return notify ? `${task.type} refused${notify}` : `${task.type} ended without a result (what it acted on changed or went away meanwhile)`;
  }
  return `${end.reason}${notify}`;
}
