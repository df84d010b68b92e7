/**
 * The membership table as the control socket's `members` method shows it: plain JSON, one row
 * per member (this one included), epochs and sequence numbers as decimal strings.
 */
import type { MemberRoleName } from './report.js';
import { utilization, type MemberEntry, type RejectReason, type Weights } from './table.js';

export interface MemberView {
  id: string;
  /** This member's own row. */
  self: boolean;
  /** Where base stations are redirected to reach it. */
  address: string;
  /** Its VRRP role (its own report's; this member's from its role source). */
  role: MemberRoleName;
  /** live, stale (silent for K intervals: no new base stations), or draining. */
  state: 'live' | 'stale' | 'draining';
  stale: boolean;
  draining: boolean;
  /** Its last report said it was stopping (a graceful stop). */
  left: boolean;
  /** Milliseconds since its newest accepted report. */
  lastReportAgeMs: number;
  /** The address its reports come from (null for this member). */
  from: string | null;
  reportIntervalMs: number;
  epoch: string;
  sequence: string;
  load: { tunnels: number; childSas: number; bytesPerSec: number; cpu: number };
  capacity: { maxTunnels: number; bandwidthBps: number };
  /** Weighted utilization 0..1 (more when over capacity), from this member's weights. */
  utilization: number;
  /** Live, not draining and below the ceiling: may take new base stations. */
  eligible: boolean;
}

export interface MembersView {
  node: string;
  ceiling: number;
  members: MemberView[];
  reports: { sent: number; sendErrors: number; accepted: number; rejected: Record<RejectReason, number> };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export function memberView(e: MemberEntry, now: number, weights: Weights, ceiling: number): MemberView {
  const r = e.report;
  const u = utilization(r, weights);
  return {
    id: r.nodeId,
    self: e.self,
    address: r.address,
    role: r.role,
    state: e.stale ? 'stale' : r.draining ? 'draining' : 'live',
    stale: e.stale,
    draining: r.draining,
    left: r.leaving,
    lastReportAgeMs: Math.max(0, Math.round(now - e.lastAt)),
    from: e.from ?? null,
    reportIntervalMs: r.intervalMs,
    epoch: r.epoch.toString(),
    sequence: r.sequence.toString(),
    load: { tunnels: r.load.tunnels, childSas: r.load.childSas, bytesPerSec: Math.round(r.load.bytesPerSec), cpu: round(r.load.cpu, 3) },
    capacity: { ...r.capacity },
    utilization: round(u, 4),
    eligible: !e.stale && !r.draining && u < ceiling,
  };
}
