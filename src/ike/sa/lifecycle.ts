/**
 * Timer-driven actions of IKE and child SAs (RFC 7296 §2.4 liveness, §2.8 and §2.18 rekeying,
 * hard expiry): each turns into a task queued on the IKE SA. Kept apart from the SA classes so
 * those do not import the tasks.
 */
import { ChildState, childLifecycle, type ChildSa } from './child-sa.js';
import { IkeState, registerIkeLifecycle, type IkeSa } from './ike-sa.js';
import { ChildDelete } from '../tasks/child-delete.js';
import { ChildRekey } from '../tasks/child-rekey.js';
import { IkeDelete } from '../tasks/ike-delete.js';
import { IkeDpd } from '../tasks/ike-dpd.js';
import { IkeRekey } from '../tasks/ike-rekey.js';
import { TaskType } from '../tasks/task.js';

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

registerIkeLifecycle((sa: IkeSa) => ({
  async dpd() {
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
  },
  async peerMoved(addressChanged: boolean) {
    if (sa.state !== IkeState.ESTABLISHED) return;
    // New tunnel endpoint addresses in the policies' templates (their selectors stay); a child
    // being rekeyed gets its successor on the new endpoints; the others move in place or,
    // where the kernel cannot, are rekeyed now.
    if (addressChanged) for (const c of sa.children) await c.retemplatePolicies();
    for (const c of [...sa.children]) {
      if (c.state !== ChildState.INSTALLED || (await c.followPeer())) continue;
      await childLifecycle.rekey(c);
    }
  },
  async rekey() {
    if (sa.state !== IkeState.ESTABLISHED || sa.tm.hasTask(TaskType.IKE_REKEY)) return;
    sa.queueTask(new IkeRekey(sa, true));
    await sa.tm.initiate();
  },
  async expire() {
    if (sa.isDead) return;
    sa.log.info('IKE SA lifetime expired');
    if (sa.tm.hasTask(TaskType.IKE_DELETE)) {
      await sa.destroy('hard lifetime');
      return;
    }
    sa.tm.unqueue(() => true);
    sa.queueTask(new IkeDelete(sa, true));
    await sa.tm.initiate();
  },
  async deleteRekeyed() {
    if (sa.isDead) return;
    if (sa.state === IkeState.REKEYED && !sa.tm.hasTask(TaskType.IKE_DELETE)) {
      sa.queueTask(new IkeDelete(sa, true));
      await sa.tm.initiate();
      return;
    }
    if (sa.state !== IkeState.ESTABLISHED) await sa.destroy('delete wait over');
  },
}));

childLifecycle.rekey = async (c: ChildSa) => {
  const sa = c.ike;
  if (c.state !== ChildState.INSTALLED || sa.state !== IkeState.ESTABLISHED) return;
  sa.queueTask(new ChildRekey(sa, true, c));
  await sa.tm.initiate();
};

childLifecycle.expire = async (c: ChildSa) => {
  const sa = c.ike;
  if (c.state === ChildState.DELETED) return;
  c.log.info('child SA hard lifetime expired');
  if (sa.state !== IkeState.ESTABLISHED) {
    await c.remove('hard lifetime');
    return;
  }
  sa.queueTask(new ChildDelete(sa, true, [c], 'hard lifetime'));
  await sa.tm.initiate();
};

/** Kernel expiry events (bytes/packets/sequence, from KernelIpsec): soft rekeys, hard deletes. */
export function onKernelExpire(c: ChildSa, kind: 'soft' | 'hard'): Promise<void> {
  return c.ike.run(() => (kind === 'soft' ? childLifecycle.rekey(c) : childLifecycle.expire(c)));
}

export const lifecycleLoaded = true;
