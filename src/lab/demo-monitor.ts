/**
 * What the demo prints while it waits: one line per second or two, read from the live system.
 *
 *   [ 41.2s] gw1 M 68t 134r 9.6kbit/s | gw2 B 66t | gw3 B 67t || gw4 M 0t | gw5 B 0t || core 201 routes: gw1 68 gw2 66 gw3 67 || bs1 on gw2 esp out 240 in 238 || ping ok 118 lost 2 || sim up 200/200
 *
 * Per gateway (from its control socket: `vrrp`, `members`, `redirects`): its VRRP role (M master,
 * B backup, I initialize, x down), tunnels it serves (t), base stations it redirected (r), D when
 * draining, its data-plane rate. The core router's routes learned by BGP, per gateway (its
 * kernel table). The strongSwan base station's ESP packet counters and the gateway it is on
 * (swanctl) and the gateway the core routes its LAN to; the pings it carries to the server behind the core; the simulator's progress.
 */
import type { MembersView } from '../cluster/view.js';
import type { RedirectCounts } from '../cluster/balancer.js';
import { eventually } from './eventually.js';
import type { Host } from './lab.js';
import type { LabProcess } from './process.js';
import type { StrongSwan } from './peers/strongswan.js';
import type { ViciSection } from './peers/vici-raw.js';
import type { GatewayNode } from './demo-site.js';
import { STRONGSWAN_LAN, gwCoreAddr, gwName } from './demo-config.js';

export interface GatewaySnap {
  name: string;
  up: boolean;
  role: string;
  tunnels: number;
  redirected: number;
  draining: boolean;
  bytesPerSec: number;
}

export interface Snapshot {
  atMs: number;
  gateways: GatewaySnap[];
  /** The core router's BGP routes per gateway name. */
  coreRoutes: Record<string, number>;
  coreTotal: number;
  /** The strongSwan base station: the gateway its established IKE SA is with, its ESP packets. */
  bs1: { on: string; packetsOut: number; packetsIn: number } | undefined;
  ping: { answered: number; lost: number };
  sim: { up: number; count: number } | undefined;
}

const ROLE: Record<string, string> = { Master: 'M', Backup: 'B', Initialize: 'I' };

async function gatewaySnap(g: GatewayNode): Promise<GatewaySnap> {
  const down: GatewaySnap = { name: g.name, up: false, role: 'x', tunnels: 0, redirected: 0, draining: false, bytesPerSec: 0 };
  if (!g.alive) return down;
  try {
    const [vrrp, members, redirects] = await Promise.all([
      g.ctl<{ state: string }>('vrrp'),
      g.ctl<MembersView>('members'),
      g.ctl<RedirectCounts>('redirects'),
    ]);
    const self = members.members.find((m) => m.self);
    return {
      name: g.name,
      up: true,
      role: ROLE[vrrp.state] ?? vrrp.state,
      tunnels: self?.load.tunnels ?? 0,
      redirected: redirects.redirects.reduce((n, r) => n + r.count, 0),
      draining: self?.draining ?? false,
      bytesPerSec: self?.load.bytesPerSec ?? 0,
    };
  } catch {
    return down; // exiting, or killed between the check and the call
  }
}

/**
 * `ip route show proto bird` on the core: routes per gateway (by next hop), and the gateway its
 * route to bs1's LAN points at (the member that serves bs1, as the core sees it).
 */
async function coreRoutes(core: Host, count: number): Promise<{ per: Record<string, number>; total: number; bs1?: string }> {
  const byHop = new Map(Array.from({ length: count }, (_, i) => [gwCoreAddr(i), gwName(i)]));
  const out = (await core.exec('ip', ['-4', 'route', 'show', 'proto', 'bird'], { allowFail: true })).stdout;
  const per: Record<string, number> = {};
  let total = 0;
  let bs1: string | undefined;
  for (const line of out.split('\n').filter(Boolean)) {
    total++;
    const hop = /via (\S+)/.exec(line)?.[1];
    const name = (hop && byHop.get(hop)) ?? hop ?? '?';
    per[name] = (per[name] ?? 0) + 1;
    if (line.startsWith(`${STRONGSWAN_LAN.net} `)) bs1 = name;
  }
  return { per, total, bs1 };
}

/** bs1's established IKE SA (swanctl): its ESP packets; `on` is the gateway the core routes bs1's LAN to. */
function bs1Traffic(sas: ViciSection[], on: string | undefined): Snapshot['bs1'] {
  for (const entry of sas) {
    for (const sa of Object.values(entry)) {
      if (typeof sa !== 'object' || Array.isArray(sa) || sa.state !== 'ESTABLISHED') continue;
      let packetsOut = 0;
      let packetsIn = 0;
      const children = sa['child-sas'];
      for (const c of typeof children === 'object' && !Array.isArray(children) ? Object.values(children) : []) {
        if (typeof c !== 'object' || Array.isArray(c)) continue;
        packetsOut += Number(c['packets-out'] ?? 0);
        packetsIn += Number(c['packets-in'] ?? 0);
      }
      return { on: on ?? `${String(sa['remote-host'])} (no route at the core)`, packetsOut, packetsIn };
    }
  }
  return undefined;
}

/** Replies and losses of a running `ping -O` (lost: "no answer yet" and send errors). */
export function pingCounts(output: string): { answered: number; lost: number } {
  const answered = output.match(/bytes from /g)?.length ?? 0;
  const lost = (output.match(/no answer yet/g)?.length ?? 0) + (output.match(/sendmsg:|Destination .* Unreachable/g)?.length ?? 0);
  return { answered, lost };
}

/** The simulator's last progress line: "12.3s up 950/1000 (95.0%) ...". */
export function simProgress(output: string): Snapshot['sim'] {
  const all = [...output.matchAll(/ up (\d+)\/(\d+) /g)];
  const last = all[all.length - 1];
  return last ? { up: Number(last[1]), count: Number(last[2]) } : undefined;
}

const rate = (bps: number): string => {
  const bits = bps * 8;
  return bits >= 1e6 ? `${(bits / 1e6).toFixed(1)}Mbit/s` : bits >= 1e3 ? `${(bits / 1e3).toFixed(1)}kbit/s` : bits > 0 ? `${bits}bit/s` : '';
};

export function formatSnapshot(s: Snapshot, t0: number): string {
  const cell = (g: GatewaySnap) =>
    g.up ? [g.name, g.role, `${g.tunnels}t`, g.redirected ? `${g.redirected}r` : '', g.draining ? 'D' : '', rate(g.bytesPerSec)].filter(Boolean).join(' ') : `${g.name} x`;
  const core = Object.entries(s.coreRoutes).sort(([a], [b]) => a.localeCompare(b)).map(([g, n]) => `${g} ${n}`).join(' ');
  const parts = [
    s.gateways.slice(0, 3).map(cell).join(' | '),
    s.gateways.slice(3).map(cell).join(' | '),
    `core ${s.coreTotal} routes${core ? `: ${core}` : ''}`,
    s.bs1 ? `bs1 on ${s.bs1.on} esp out ${s.bs1.packetsOut} in ${s.bs1.packetsIn}` : 'bs1 no tunnel',
    `ping ok ${s.ping.answered} lost ${s.ping.lost}`,
  ];
  if (s.sim) parts.push(`sim up ${s.sim.up}/${s.sim.count}`);
  return `[${((s.atMs - t0) / 1000).toFixed(1).padStart(5)}s] ${parts.join(' || ')}`;
}

/** The part of a snapshot that changes when something happens (not the counters). */
const shape = (s: Snapshot): string =>
  JSON.stringify([s.gateways.map((g) => [g.role, g.tunnels, g.draining]), s.coreRoutes, s.bs1?.on, s.sim?.up]);

export class Monitor {
  private lastShape = '';
  private lastPrint = 0;
  last: Snapshot | undefined;

  constructor(
    private readonly gateways: GatewayNode[],
    private readonly core: Host,
    private readonly bs1: StrongSwan,
    private readonly ping: LabProcess,
    private readonly sim: () => LabProcess | undefined,
    private readonly print: (line: string) => void,
    private readonly t0: number,
  ) {}

  async snapshot(): Promise<Snapshot> {
    const [gateways, routes, sas] = await Promise.all([
      Promise.all(this.gateways.map(gatewaySnap)),
      coreRoutes(this.core, this.gateways.length),
      this.bs1.listSas().catch(() => []),
    ]);
    const sim = this.sim();
    this.last = {
      atMs: Date.now(),
      gateways,
      coreRoutes: routes.per,
      coreTotal: routes.total,
      bs1: bs1Traffic(sas, routes.bs1),
      ping: pingCounts(this.ping.output),
      sim: sim && simProgress(sim.output),
    };
    return this.last;
  }

  /** Prints the snapshot when what it shows changed, or every 3 s anyway (the counters move). */
  show(s: Snapshot, force = false): void {
    const sh = shape(s);
    if (s.atMs === this.lastPrint) return;
    if (!force && sh === this.lastShape && s.atMs - this.lastPrint < 3000) return;
    this.lastShape = sh;
    this.lastPrint = s.atMs;
    this.print(formatSnapshot(s, this.t0));
  }

  /** Snapshots about every second, printed as they change, until `pred` holds; the last one. */
  async until(what: string, pred: (s: Snapshot) => boolean, timeoutMs: number): Promise<Snapshot> {
    const s = await eventually(async () => {
      const snap = await this.snapshot();
      this.show(snap);
      return pred(snap) ? snap : undefined;
    }, { what, timeoutMs, intervalMs: 1000 });
    this.show(s, true);
    return s;
  }
}
