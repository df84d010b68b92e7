/** Load reports and a settable membership for balancer tests. */
import type { MembershipView } from '../../src/cluster/balancer.js';
import type { LoadReport } from '../../src/cluster/report.js';
import type { MemberEntry } from '../../src/cluster/table.js';

export function report(id: string, address: string, o: { tunnels?: number; max?: number; bps?: number; bw?: number; draining?: boolean; leaving?: boolean } = {}): LoadReport {
  return {
    nodeId: id,
    address,
    epoch: 1n,
    sequence: 1n,
    intervalMs: 1000,
    role: 'backup',
    draining: o.draining ?? false,
    leaving: o.leaving ?? false,
    load: { tunnels: o.tunnels ?? 0, childSas: o.tunnels ?? 0, bytesPerSec: o.bps ?? 0, cpu: 0 },
    capacity: { maxTunnels: o.max ?? 1000, bandwidthBps: o.bw ?? 1e9 },
  };
}

/** A membership whose entries the test sets (self first); `lastAt` is when each report "arrived". */
export class FakeMembership implements MembershipView {
  rows: { report: LoadReport; stale?: boolean; lastAt?: number }[] = [];
  constructor(readonly selfId: string) {}
  entries(): MemberEntry[] {
    return this.rows.map((r) => ({ report: r.report, from: undefined, lastAt: r.lastAt ?? 0, stale: r.stale ?? false, self: r.report.nodeId === this.selfId }));
  }
}

export const TUNNELS_ONLY = { tunnels: 1, bandwidth: 0, cpu: 0 };
