/**
 * What must hold on the fault-matrix cluster once a fault has converged, as a pure function of a
 * snapshot (./cluster.ts takes it) so every rule is unit-tested on its own:
 *
 *   - exactly one VRRP master among the running gateways, it alone holds the VIP, and the base
 *     stations' LAN resolves the VIP to its MAC (its gratuitous ARP reached them);
 *   - every base station is up: the simulator says so, and its identity has exactly one
 *     established IKE SA across the cluster (none twice, none on a stopped gateway);
 *   - nothing leaked on a running gateway: no IKE SA that is not established, one TUN device,
 *     the data plane holds exactly two SAs (in, out) and three policies (in, out, fwd) per
 *     installed child SA, and the kernel's `proto segw` routes are exactly the /32s of the
 *     children it serves;
 *   - no stale injected route anywhere: a gateway that is not running holds none (a gateway that
 *     was killed and not restarted yet is named, with what it left).
 */

export interface GatewaySnapshot {
  name: string;
  running: boolean;
  /** VRRP state ('Master', 'Backup', ...); null when the gateway did not answer. */
  vrrp: string | null;
  holdsVip: boolean;
  mac: string;
  /** Established IKE SAs: the peer's identity and its children's remote selectors. */
  established: { peer: string; children: { state: string; remoteTs: string[] }[] }[];
  /** IKE SAs in any other state (half-open, rekeying, deleting), by state. */
  other: string[];
  /** The data plane's SA and policy counts (status espDrops.installed); null if unknown. */
  dataPlane: { sas: number; policies: number } | null;
  /** `ip route show proto segw` in the gateway's namespace, as prefixes (a.b.c.d/32). */
  kernelRoutes: string[];
  /** TUN devices in the gateway's namespace. */
  tuns: string[];
}

export interface ClusterSnapshot {
  gateways: GatewaySnapshot[];
  /** The simulator's last progress: base stations up of `count`. */
  sim: { up: number; count: number } | null;
  /** The MAC the base stations' LAN holds for the VIP ('' if none). */
  vipNeighbour: string;
  /** A strongSwan base station's own view, when the cluster has one: IKE SAs established, child SAs installed. */
  strongSwan?: { established: number; installed: number };
}

/** The base stations every gateway must serve between them (count), as the simulator numbers them. */
export interface Expectation {
  count: number;
  /** Identity of base station i. */
  identity: (i: number) => string;
  /** Identities of base stations other than the simulator's (a strongSwan), each to be served once. */
  extra?: string[];
}

const host32 = (ts: string): string => {
  // The simulator's selectors are single addresses: "a.b.c.d/32" or a range "a.b.c.d-a.b.c.d".
  const [from, to] = ts.split('-');
  if (to !== undefined) return from === to ? `${from}/32` : ts;
  return ts.includes('/') ? ts : `${ts}/32`;
};

/**
 * Every rule broken in `s`, one line each (empty when the cluster has converged). `killed` names
 * gateways killed and not restarted yet: what they left (routes, TUN, VIP in their namespace) is
 * expected until they start again, which must clean it (`leftovers` lists it).
 */
export function violations(s: ClusterSnapshot, want: Expectation, killed: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const running = s.gateways.filter((g) => g.running);
  const masters = running.filter((g) => g.vrrp === 'Master');
  if (masters.length !== 1) out.push(`${masters.length} VRRP masters (${masters.map((g) => g.name).join(', ') || 'none'})`);
  const vipHolders = s.gateways.filter((g) => g.holdsVip && !killed.has(g.name));
  if (vipHolders.length !== 1 || (masters.length === 1 && vipHolders[0] !== masters[0])) {
    out.push(`VIP held by ${vipHolders.map((g) => g.name).join(', ') || 'nobody'}`);
  }
  if (masters.length === 1 && s.vipNeighbour !== masters[0]!.mac) {
    out.push(`the base stations resolve the VIP to ${s.vipNeighbour || 'nothing'}, not to ${masters[0]!.name} (${masters[0]!.mac})`);
  }
  if (!s.sim || s.sim.count !== want.count || s.sim.up !== want.count) {
    out.push(`simulator: ${s.sim ? `${s.sim.up}/${s.sim.count}` : 'no progress yet'} up, want ${want.count}`);
  }
  if (s.strongSwan && (s.strongSwan.established !== 1 || s.strongSwan.installed !== 1)) {
    out.push(`strongSwan: ${s.strongSwan.established} IKE SAs established, ${s.strongSwan.installed} child SAs installed (want 1 and 1)`);
  }
  out.push(...identityViolations(s.gateways, want));
  for (const g of s.gateways) {
    if (g.running) out.push(...leakViolations(g));
    else if (!killed.has(g.name)) out.push(...leftovers(g).map((l) => `${g.name} (stopped) left ${l}`));
  }
  return out;
}

function identityViolations(gateways: GatewaySnapshot[], want: Expectation): string[] {
  const out: string[] = [];
  const where = new Map<string, string[]>();
  for (const g of gateways) for (const sa of g.established) where.set(sa.peer, [...(where.get(sa.peer) ?? []), g.name]);
  let missing = 0;
  const examples: string[] = [];
  const ids = [...Array(want.count).keys()].map(want.identity).concat(want.extra ?? []);
  for (const id of ids) {
    const at = where.get(id) ?? [];
    where.delete(id);
    if (at.length === 0) {
      missing++;
      if (examples.length < 3) examples.push(id);
    } else if (at.length > 1) out.push(`${id} has ${at.length} IKE SAs (${at.join(', ')})`);
  }
  if (missing > 0) out.push(`${missing} base stations without an IKE SA (${examples.join(', ')}${missing > examples.length ? ', ...' : ''})`);
  for (const [id, at] of where) out.push(`IKE SA of an unknown peer ${id} on ${at.join(', ')}`);
  for (const g of gateways.filter((x) => !x.running && x.established.length > 0)) out.push(`${g.name} is not running but reported ${g.established.length} IKE SAs`);
  return out;
}

function leakViolations(g: GatewaySnapshot): string[] {
  const out: string[] = [];
  if (g.other.length > 0) out.push(`${g.name}: ${g.other.length} IKE SAs not established (${[...new Set(g.other)].join(', ')})`);
  if (g.tuns.length !== 1) out.push(`${g.name}: ${g.tuns.length} TUN devices (${g.tuns.join(', ') || 'none'}), want 1`);
  const children = g.established.flatMap((sa) => sa.children);
  const installed = children.filter((c) => c.state === 'INSTALLED');
  if (installed.length !== children.length) out.push(`${g.name}: ${children.length - installed.length} child SAs not installed`);
  if (g.established.some((sa) => sa.children.length !== 1)) out.push(`${g.name}: an IKE SA without exactly one child SA`);
  if (g.dataPlane === null) out.push(`${g.name}: the data plane's SA count is unknown`);
  else {
    if (g.dataPlane.sas !== 2 * installed.length) out.push(`${g.name}: the data plane holds ${g.dataPlane.sas} SAs for ${installed.length} child SAs (want ${2 * installed.length})`);
    // A tunnel-mode child has an in, an out and a fwd policy (RFC 4301 §4.4.1 SPD entries).
    if (g.dataPlane.policies !== 3 * installed.length) out.push(`${g.name}: the data plane holds ${g.dataPlane.policies} policies for ${installed.length} child SAs (want ${3 * installed.length})`);
  }
  const want = new Set(installed.flatMap((c) => c.remoteTs.map(host32)));
  const have = new Set(g.kernelRoutes);
  const stale = [...have].filter((r) => !want.has(r));
  const absent = [...want].filter((r) => !have.has(r));
  if (stale.length > 0) out.push(`${g.name}: ${stale.length} stale proto segw routes (${stale.slice(0, 3).join(', ')})`);
  if (absent.length > 0) out.push(`${g.name}: ${absent.length} routes missing for its children (${absent.slice(0, 3).join(', ')})`);
  if (g.kernelRoutes.length !== have.size) out.push(`${g.name}: duplicate proto segw routes`);
  return out;
}

/** What a gateway that is not running still has in its namespace (routes, TUN devices, the VIP). */
export function leftovers(g: GatewaySnapshot): string[] {
  const out: string[] = [];
  if (g.kernelRoutes.length > 0) out.push(`${g.kernelRoutes.length} proto segw routes`);
  if (g.tuns.length > 0) out.push(`TUN devices ${g.tuns.join(', ')}`);
  if (g.holdsVip) out.push('the VIP');
  return out;
}
