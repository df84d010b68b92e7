/**
 * The snapshot adapters, one per subsystem. Each declares its families and maps a snapshot
 * object to samples; the snapshot types are declared here structurally, so a subsystem's own
 * status() or stats() result is handed in as it is (or through a one-line mapping where its
 * field names differ). Sources a gateway has today are wired in src/gateway/gateway.ts; the
 * others are hooks: `gw.metrics.addSource(vrrpAdapter, () => ...)`.
 */
import type { SourceAdapter, Sample } from './registry.js';
import type { MembersView } from '../cluster/view.js';

const entries = (r: Record<string, number>, label: string): Sample[] =>
  Object.entries(r).map(([k, value]) => ({ labels: { [label]: k }, value }));

// ---------------------------------------------------------------------------------------------
// IKE (the SA tables and the daemon's inbound counters; events and latency are in ./ike.ts)

export interface IkeSnapshot {
  /** IKE SAs by state (IkeState names). */
  sas: Record<string, number>;
  childSas: number;
  /** IkeDaemon.counters: inbound datagrams dropped or answered specially, by reason. */
  inbound: Record<string, number>;
  /** Exchanges completed, keyed `EXCHANGE role result` (SaContext.exchanges). */
  exchanges: Record<string, number>;
}

/** Every state is shown, also at zero, so a dashboard's series exist before the first SA. */
const IKE_STATES = ['CONNECTING', 'ESTABLISHED', 'REKEYED', 'DELETING'] as const;

export const ikeTablesAdapter: SourceAdapter<IkeSnapshot> = {
  name: 'ike',
  families: [
    { name: 'segw_ike_sas', help: 'IKE SAs by state', type: 'gauge', labels: ['state'] },
    { name: 'segw_child_sas', help: 'Installed child SAs', type: 'gauge', labels: [] },
    {
      name: 'segw_ike_exchanges_total',
      help: 'IKE exchanges completed, by exchange type (RFC 7296 names), our role, and result (ok; failed: an error notify in the response; timeout: retransmissions exhausted)',
      type: 'counter',
      labels: ['exchange', 'role', 'result'],
    },
    {
      name: 'segw_ike_inbound_dropped_total',
      help: 'Inbound IKE datagrams dropped or answered specially (cookie_sent, retransmit_answered), by reason',
      type: 'counter',
      labels: ['reason'],
    },
  ],
  samples(s) {
    const states = new Set<string>([...IKE_STATES, ...Object.keys(s.sas)]);
    return {
      segw_ike_sas: [...states].map((st) => ({ labels: { state: st.toLowerCase() }, value: s.sas[st] ?? 0 })),
      segw_child_sas: [{ value: s.childSas }],
      segw_ike_inbound_dropped_total: entries(s.inbound, 'reason'),
      segw_ike_exchanges_total: Object.entries(s.exchanges).map(([k, value]) => {
        const [exchange = '', role = '', result = ''] = k.split(' ');
        return { labels: { exchange, role, result }, value };
      }),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Route injection

export interface RoutesSnapshot {
  routes: readonly { prefix: string; children: number; installed: boolean }[];
  /** Kernel requests that failed (netlink errors), by operation. */
  errors: Readonly<Record<string, number>>;
}

export const routesAdapter: SourceAdapter<RoutesSnapshot> = {
  name: 'routes',
  families: [
    { name: 'segw_routes', help: 'Base-station subnets wanted by child SAs: installed in the kernel, or pending', type: 'gauge', labels: ['state'] },
    { name: 'segw_route_errors_total', help: 'Route injection kernel requests that failed (netlink errors), by operation', type: 'counter', labels: ['op'] },
  ],
  samples(s) {
    const installed = s.routes.filter((r) => r.installed).length;
    return {
      segw_routes: [
        { labels: { state: 'installed' }, value: installed },
        { labels: { state: 'pending' }, value: s.routes.length - installed },
      ],
      segw_route_errors_total: entries({ inject: 0, withdraw: 0, ...s.errors }, 'op'),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Cluster membership (src/cluster: the `members` view)

export const clusterAdapter: SourceAdapter<MembersView> = {
  name: 'cluster',
  families: [
    { name: 'segw_cluster_members', help: 'Cluster members (this one included) by state', type: 'gauge', labels: ['state'] },
    { name: 'segw_cluster_member_stale', help: '1 when the member is stale (no load report for K intervals)', type: 'gauge', labels: ['member'] },
    { name: 'segw_cluster_member_utilization', help: 'Weighted utilization 0..1 from the member\'s last load report', type: 'gauge', labels: ['member'] },
    { name: 'segw_cluster_member_tunnels', help: 'IKE SAs (tunnels) in the member\'s last load report', type: 'gauge', labels: ['member'] },
    { name: 'segw_cluster_member_child_sas', help: 'Child SAs in the member\'s last load report', type: 'gauge', labels: ['member'] },
    { name: 'segw_cluster_member_report_age_seconds', help: 'Seconds since the member\'s newest accepted report', type: 'gauge', labels: ['member'] },
    { name: 'segw_cluster_reports_sent_total', help: 'Load reports sent', type: 'counter', labels: [] },
    { name: 'segw_cluster_report_send_errors_total', help: 'Load reports that could not be sent', type: 'counter', labels: [] },
    { name: 'segw_cluster_reports_accepted_total', help: 'Load reports accepted from other members', type: 'counter', labels: [] },
    { name: 'segw_cluster_reports_rejected_total', help: 'Load reports rejected, by reason', type: 'counter', labels: ['reason'] },
  ],
  samples(v) {
    const per = (f: (m: MembersView['members'][number]) => number): Sample[] => v.members.map((m) => ({ labels: { member: m.id }, value: f(m) }));
    const byState: Record<string, number> = { live: 0, stale: 0, draining: 0 };
    for (const m of v.members) byState[m.state] = (byState[m.state] ?? 0) + 1;
    return {
      segw_cluster_members: entries(byState, 'state'),
      segw_cluster_member_stale: per((m) => (m.stale ? 1 : 0)),
      segw_cluster_member_utilization: per((m) => m.utilization),
      segw_cluster_member_tunnels: per((m) => m.load.tunnels),
      segw_cluster_member_child_sas: per((m) => m.load.childSas),
      segw_cluster_member_report_age_seconds: per((m) => m.lastReportAgeMs / 1000),
      segw_cluster_reports_sent_total: [{ value: v.reports.sent }],
      segw_cluster_report_send_errors_total: [{ value: v.reports.sendErrors }],
      segw_cluster_reports_accepted_total: [{ value: v.reports.accepted }],
      segw_cluster_reports_rejected_total: entries(v.reports.rejected, 'reason'),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Hook: the balancer's redirects (RFC 5685)

export interface RedirectSnapshot {
  /** Redirects sent, by target member and reason (e.g. load, drain). */
  redirects: readonly { target: string; reason: string; count: number }[];
  /** This member is draining (takes no new base stations). */
  draining?: boolean;
}

export const redirectAdapter: SourceAdapter<RedirectSnapshot> = {
  name: 'redirect',
  families: [
    { name: 'segw_redirects_total', help: 'RFC 5685 redirects sent, by target member and reason', type: 'counter', labels: ['target', 'reason'] },
    { name: 'segw_draining', help: '1 while this member drains (takes no new base stations)', type: 'gauge', labels: [] },
  ],
  samples(s) {
    return {
      segw_redirects_total: s.redirects.map((r) => ({ labels: { target: r.target, reason: r.reason }, value: r.count })),
      segw_draining: s.draining === undefined ? [] : [{ value: s.draining ? 1 : 0 }],
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Hook: VRRP instances (src/vrrp VrrpInstance.status())

export interface VrrpSnapshot {
  vrid: number;
  /** RFC 5798 §6.4 state: Initialize, Backup, Master (any case). */
  state: string;
  transitions: number;
  advertsIn: number;
  advertsOut: number;
  checksumMismatches: number;
}

const VRRP_STATES = ['initialize', 'backup', 'master'] as const;

export const vrrpAdapter: SourceAdapter<readonly VrrpSnapshot[]> = {
  name: 'vrrp',
  families: [
    { name: 'segw_vrrp_state', help: '1 for the VRRP instance\'s current state (RFC 5798 §6.4), 0 for the others', type: 'gauge', labels: ['vrid', 'state'] },
    { name: 'segw_vrrp_transitions_total', help: 'VRRP state transitions', type: 'counter', labels: ['vrid'] },
    { name: 'segw_vrrp_adverts_total', help: 'VRRP advertisements received (in) and sent (out)', type: 'counter', labels: ['vrid', 'direction'] },
    { name: 'segw_vrrp_checksum_errors_total', help: 'VRRP advertisements dropped for a bad checksum', type: 'counter', labels: ['vrid'] },
  ],
  samples(list) {
    const out: Record<string, Sample[]> = { segw_vrrp_state: [], segw_vrrp_transitions_total: [], segw_vrrp_adverts_total: [], segw_vrrp_checksum_errors_total: [] };
    for (const v of list) {
      const vrid = String(v.vrid);
      const cur = v.state.toLowerCase();
      for (const st of VRRP_STATES) out.segw_vrrp_state!.push({ labels: { vrid, state: st }, value: st === cur ? 1 : 0 });
      out.segw_vrrp_transitions_total!.push({ labels: { vrid }, value: v.transitions });
      out.segw_vrrp_adverts_total!.push({ labels: { vrid, direction: 'in' }, value: v.advertsIn }, { labels: { vrid, direction: 'out' }, value: v.advertsOut });
      out.segw_vrrp_checksum_errors_total!.push({ labels: { vrid }, value: v.checksumMismatches });
    }
    return out;
  },
};

// ---------------------------------------------------------------------------------------------
// Hook: the data plane (KernelIpsec.stats(), optional per backend)

export interface DataPlaneCounters {
  packets: { in: number; out: number };
  bytes?: { in: number; out: number };
  /** Dropped packets by direction and reason (no-sa, replay, integrity, ...). */
  drops: { in: Record<string, number>; out: Record<string, number> };
}

export interface DataPlaneSnapshot extends DataPlaneCounters {
  /** Per lane (a TUN queue or socket and the thread serving it), when the backend has lanes. */
  lanes?: readonly (DataPlaneCounters & { lane: string })[];
}

export const dataPlaneAdapter: SourceAdapter<DataPlaneSnapshot> = {
  name: 'dataplane',
  families: [
    { name: 'segw_esp_packets_total', help: 'ESP packets processed, by direction (in: decrypted, out: encrypted)', type: 'counter', labels: ['direction', 'lane'] },
    { name: 'segw_esp_bytes_total', help: 'ESP bytes processed, by direction', type: 'counter', labels: ['direction', 'lane'] },
    { name: 'segw_esp_drops_total', help: 'ESP packets dropped, by direction and reason', type: 'counter', labels: ['direction', 'reason', 'lane'] },
  ],
  samples(s) {
    const out: Record<string, Sample[]> = { segw_esp_packets_total: [], segw_esp_bytes_total: [], segw_esp_drops_total: [] };
    const add = (c: DataPlaneCounters, lane: string) => {
      for (const direction of ['in', 'out'] as const) {
        out.segw_esp_packets_total!.push({ labels: { direction, lane }, value: c.packets[direction] });
        if (c.bytes) out.segw_esp_bytes_total!.push({ labels: { direction, lane }, value: c.bytes[direction] });
        for (const [reason, value] of Object.entries(c.drops[direction])) out.segw_esp_drops_total!.push({ labels: { direction, reason, lane }, value });
      }
    };
    add(s, 'all');
    for (const l of s.lanes ?? []) add(l, l.lane);
    return out;
  },
};
