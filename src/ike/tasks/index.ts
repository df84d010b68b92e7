/**
 * The task factory the daemon hands to the SA layer (SaContext.tasks): responder tasks for a
 * request, collision handling, and the timer-driven actions. The one place where src/ike/sa
 * meets the concrete exchanges, and it is src/ike/daemon.ts that brings them together.
 */
import type { SaTasks } from '../sa/context.js';
import { deleteRekeyed, dpd, expireChild, expireIke, peerMoved, rekeyChild, rekeyIke } from './lifecycle.js';
import { createResponderTasks, handleCollisions } from './responder-tasks.js';

export const ikeTasks: SaTasks = {
  forRequest: createResponderTasks,
  handleCollisions,
  dpd,
  peerMoved,
  rekeyIke,
  expireIke,
  deleteRekeyed,
  rekeyChild,
  expireChild,
};
