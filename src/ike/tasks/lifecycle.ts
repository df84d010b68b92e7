/**
 * Timer-driven actions of IKE and child SAs (RFC 7296 §2.4 liveness, §2.8 and §2.18 rekeying,
 * hard expiry): each turns into a task queued on the IKE SA. The SAs reach these through their
 * context (SaContext.tasks, see tasks/index.ts), so the SA classes never import a task.
 */
import type { ChildSa } from '../sa/child-sa.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { ChildState } from '../sa/child-sa.js';
import { IkeState } from '../sa/state.js';
import { ChildDelete } from './child-delete.js';
import { ChildRekey } from './child-rekey.js';
import { IkeDelete } from './ike-delete.js';
import { IkeDpd } from './ike-dpd.js';
import { IkeRekey } from './ike-rekey.js';
import { TaskType } from './task.js';

async function recentChildTraffic(sa: IkeSa, withinMs: number): Promise<boolean> {
  const now = Date.now();
  for (const c of sa.children) {
    if (!c.isInstalled) continue;
    try {
      const counters = await sa.ctx.kernel.querySa(c.inRef);
      if (counters.lastUsedMs > 0 && now - counters.lastUsedMs < withinMs) return true;
    } catch {
      // an SA the kernel lost: DPD decides
    }
  }
  return false;
}

export async function dpd(sa: IkeSa): Promise<void> {
  const d = sa.conn?.dpdMs ?? 0;
  if (sa.state !== IkeState.ESTABLISHED || d <= 0) return;
  const idle = sa.ctx.scheduler.now() - sa.lastInbound;
  if (idle < d || sa.tm.busy || (await recentChildTraffic(sa, d))) {
    sa.armDpd();
    return;
  }
  if (!sa.tm.hasTask(TaskType.IKE_DPD)) sa.queueTask(new IkeDpd(true));
  sa.armDpd();
  await sa.tm.initiate();
}

export async function peerMoved(sa: IkeSa, addressChanged: boolean): Promise<void> {
  if (sa.state !== IkeState.ESTABLISHED) return;
  // New tunnel endpoint addresses in the policies' templates (their selectors stay); a child
  // being rekeyed gets its successor on the new endpoints; the others move in place or,
  // where the kernel cannot, are rekeyed now.
  if (addressChanged) for (const c of sa.children) await c.retemplatePolicies();
  for (const c of [...sa.children]) {
    if (c.state !== ChildState.INSTALLED || (await c.followPeer())) continue;
    await rekeyChild(c);
  }
}

export async function rekeyIke(sa: IkeSa): Promise<void> {
  if (sa.state !== IkeState.ESTABLISHED || sa.tm.hasTask(TaskType.IKE_REKEY)) return;
  sa.queueTask(new IkeRekey(sa, true));
  await sa.tm.initiate();
}

export async function expireIke(sa: IkeSa): Promise<void> {
  if (sa.isDead) return;
  sa.log.info('IKE SA lifetime expired');
  if (sa.tm.hasTask(TaskType.IKE_DELETE)) {
    await sa.destroy('hard lifetime');
    return;
  }
  sa.tm.unqueue(() => true);
  sa.queueTask(new IkeDelete(sa, true));
  await sa.tm.initiate();
}

export async function deleteRekeyed(sa: IkeSa): Promise<void> {
  if (sa.isDead) return;
  if (sa.state === IkeState.REKEYED && !sa.tm.hasTask(TaskType.IKE_DELETE)) {
    sa.queueTask(new IkeDelete(sa, true));
    await sa.tm.initiate();
    return;
  }
  if (sa.state !== IkeState.ESTABLISHED) await sa.destroy('delete wait over');
}

export async function rekeyChild(c: ChildSa): Promise<void> {
  const sa = c.ike;
  if (c.state !== ChildState.INSTALLED || sa.state !== IkeState.ESTABLISHED) return;
  sa.queueTask(new ChildRekey(sa, true, c));
  await sa.tm.initiate();
}

export async function expireChild(c: ChildSa): Promise<void> {
  const sa = c.ike;
  if (c.state === ChildState.DELETED) return;
  c.log.info('child SA hard lifetime expired');
  if (sa.state !== IkeState.ESTABLISHED) {
    await c.remove('hard lifetime');
    return;
  }
  sa.queueTask(new ChildDelete(sa, true, [c], 'hard lifetime'));
  await sa.tm.initiate();
}
