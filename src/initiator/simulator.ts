/**
 * The base-station simulator: N simulated base stations in one process, each a connection of
 * the load generator (its own identity, keys, nonces and /32 traffic selector, population.ts)
 * kept up by a ConnectionKeeper with the same back-off and disaster recovery as a real
 * `segw basestation` (keeper.ts, recovery.ts): no second implementation.
 *
 *   Simulator
 *     ├─ LoadGenerator: shards (one IkeDaemon per local endpoint), the connections
 *     ├─ ConnectionKeeper per shard: back-off, clusters, fail-back probes, redirects followed
 *     ├─ pacer: first attempts at `ratePerSec`, at most `burst` at once (token bucket)
 *     └─ per base station, in typed arrays: state, when it was started, first up, down since,
 *        the gateway it is on; failures by reason, redirects by target
 *
 * With traffic base stations (traffic.ts, `traffic` here only for progress and the report), K of
 * them install their child SAs in a real userspace ESP data plane and probe an echo service
 * behind the gateways while up; the others keep the null kernel.
 *
 * A base station is "up" when its first child SA is installed (childUp), "down" when the IKE
 * SA it was up on is lost. Setup latency is from its first attempt to its first child, with
 * every retry between; recovery latency is from a loss to the next child.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/index.js';
import { logger } from '../log/index.js';
import type { RetransmitSettings } from '../ike/config.js';
import { gatewayIdToString } from '../ike/redirect/notify.js';
import type { IkeSa } from '../ike/sa/ike-sa.js';
import type { KernelIpsec } from '../kernel/types.js';
import { NotifyType, nameOf } from '../ike/constants.js';
import { ConnectionKeeper } from './keeper.js';
import { LoadGenerator } from './load-generator.js';
import { connectionName, indexOfConnection, type LocalEndpoint } from './population.js';
import { DEFAULT_RECONNECT, type RandomSource, type ReconnectBounds } from './reconnect.js';
import { DEFAULT_MOVE_ON, type Failback, type RecoveryPolicy } from './recovery.js';
import { OutcomeCounts, summarize, type LatencySummary } from './stats.js';
import type { TrafficCounts, TrafficSummary } from './traffic-probe.js';

export interface SimulatorOptions {
  count: number;
  endpoints: LocalEndpoint[];
  /** Base station i protects the i-th /subnetLength of this pool (default /32 or /128 each). */
  subnetPool: string;
  subnetLength?: number;
  psk: string;
  /** The gateways' identity (IDr) expected; default any. */
  gatewayId?: string;
  /** Cluster addresses: primary first, then backups in order. */
  clusters: string[];
  /** The gateways' IKE port (default 500). */
  port?: number;
  failback?: Failback;
  moveOn?: readonly number[];
  /** Core-side selectors of each child SA. */
  remoteTs: string[];
  /** First attempts per second, and how many may go at once. */
  arrival: { ratePerSec: number; burst: number };
  reconnect?: ReconnectBounds;
  /** DPD interval in seconds (how a dead cluster is noticed); default 30. */
  dpdDelay?: number;
  retransmit?: RetransmitSettings;
  ikeProposals?: string[];
  espProposals?: string[];
  kernel?: (shard: number) => KernelIpsec;
  recvBufferSize?: number;
  random?: RandomSource;
  log?: Logger;
  /** The traffic base stations' probes (traffic.ts), for progress and the report. */
  traffic?: { counts(): TrafficCounts[]; summary(): TrafficSummary };
}

/** Where a base station is (one octet each). */
export const SimState = { WAITING: 0, CONNECTING: 1, UP: 2, RETRYING: 3 } as const;

export interface SimProgress {
  elapsedMs: number;
  count: number;
  waiting: number;
  connecting: number;
  up: number;
  retrying: number;
  /** Base stations that came up (first time or again) per second since the last snapshot. */
  upPerSec: number;
  perGateway: Record<string, number>;
  /** Seconds until every base station is up at the recent rate; null when unknown. */
  etaS: number | null;
  /** With traffic base stations: how many pass traffic now, probes sent and answered. */
  traffic?: TrafficSummary;
}

/** One traffic base station in the report: its probe counts and the gateway it is on. */
export interface TrafficRow extends TrafficCounts {
  /** The gateway address its tunnel is on now, or null when it is down. */
  gateway: string | null;
}

export interface SimReport {
  count: number;
  up: number;
  notUp: number;
  /** From the first attempt until every base station was up (null: not all came up). */
  allUpMs: number | null;
  setupsPerSec: number;
  setupLatency: LatencySummary;
  /** From a loss to being up again (disaster recovery, gateway restarts). */
  recoveryLatency: LatencySummary;
  losses: number;
  redirects: Record<string, number>;
  distribution: Record<string, number>;
  failures: Record<string, number>;
  clusterMoves: number;
  /** With traffic base stations: the totals and every one of them. */
  traffic?: { summary: TrafficSummary; baseStations: TrafficRow[] };
}

const PACE_MS = 10;

export class Simulator {
  private readonly state: Uint8Array;
  private readonly startedAt: Float64Array;
  private readonly firstUpAt: Float64Array;
  private readonly downSince: Float64Array;
  private readonly current: (IkeSa | undefined)[];
  private readonly gateway: Uint16Array;
  private readonly gateways: string[] = [''];
  private readonly recovery: number[] = [];
  private readonly failures = new OutcomeCounts();
  private readonly redirects = new Map<string, number>();
  /** SAs a gateway redirected (RFC 5685): their end is not a failure, the followed SA stands for them. */
  private readonly redirectedSas = new WeakSet<IkeSa>();
  private readonly keepers: ConnectionKeeper[] = [];
  private gen!: LoadGenerator;
  private pacer: NodeJS.Timeout | undefined;
  private next = 0;
  private tokens = 0;
  private t0 = 0;
  private lastPace = 0;
  private allUpAt = 0;
  private losses = 0;
  private ups = 0;
  private lastSnap = { at: 0, ups: 0 };
  private readonly log: Logger;
  /** Base stations in each SimState (kept with every change, so "all up?" is O(1) per event). */
  private readonly inState = [0, 0, 0, 0];
  private allUpWaiters: (() => void)[] = [];

  private constructor(private readonly o: SimulatorOptions) {
    const n = o.count;
    this.state = new Uint8Array(n);
    this.startedAt = new Float64Array(n).fill(NaN);
    this.firstUpAt = new Float64Array(n).fill(NaN);
    this.downSince = new Float64Array(n).fill(NaN);
    this.current = new Array<IkeSa | undefined>(n);
    this.gateway = new Uint16Array(n);
    this.log = o.log ?? logger('simulator');
    this.inState[SimState.WAITING] = n;
  }

  private setState(i: number, s: number): void {
    this.inState[this.state[i]!]!--;
    this.inState[s]!++;
    this.state[i] = s;
  }

  static async create(o: SimulatorOptions): Promise<Simulator> {
    if (o.clusters.length === 0) throw new Error('simulator: at least one cluster address');
    if (!(o.arrival.ratePerSec > 0) || !(o.arrival.burst >= 1)) throw new Error('simulator: arrival rate must be > 0 and burst >= 1');
    const sim = new Simulator(o);
    const policy: RecoveryPolicy = { clusters: o.clusters, failback: o.failback ?? { mode: 'never' }, moveOn: o.moveOn ?? DEFAULT_MOVE_ON };
    const shards = o.endpoints.length;
    for (let s = 0; s < shards; s++) {
      const names: string[] = [];
      for (let i = s; i < o.count; i += shards) names.push(connectionName(i));
      sim.keepers.push(new ConnectionKeeper({ connections: names, bounds: o.reconnect ?? DEFAULT_RECONNECT, random: o.random, recovery: () => policy, log: sim.log }));
    }
    sim.gen = await LoadGenerator.create({
      population: { count: o.count, subnetPool: o.subnetPool, subnetLength: o.subnetLength, endpoints: o.endpoints },
      target: { address: o.clusters[0]!, ...(o.port ? { port: o.port } : {}), ...(o.gatewayId ? { id: o.gatewayId } : {}) },
      psk: o.psk,
      ikeProposals: o.ikeProposals,
      espProposals: o.espProposals,
      remoteTs: o.remoteTs,
      retransmit: o.retransmit,
      dpdDelay: o.dpdDelay ?? 30,
      kernel: o.kernel,
      recvBufferSize: o.recvBufferSize,
      log: sim.log,
      events: (s) => ({
        ...sim.keepers[s]!.events,
        childUp: (c) => sim.onUp(c.ike),
        ikeDown: (sa, reason) => {
          sim.keepers[s]!.events.ikeDown?.(sa, reason);
          sim.onDown(sa);
        },
        ikeFailed: (sa, reason) => {
          sim.keepers[s]!.events.ikeFailed?.(sa, reason);
          sim.onFailed(sa, reason);
        },
        redirected: (sa, to) => {
          sim.redirectedSas.add(sa);
          const t = gatewayIdToString(to);
          sim.redirects.set(t, (sim.redirects.get(t) ?? 0) + 1);
        },
      }),
    });
    const daemons = sim.gen.endpoints();
    for (let s = 0; s < shards; s++) sim.keepers[s]!.start(daemons[s]!.daemon, { initiate: false });
    return sim;
  }

  /** The local endpoints bound (ephemeral ports resolved). */
  endpoints(): LocalEndpoint[] {
    return this.gen.endpoints().map((e) => e.ike);
  }

  /** Starts the arrivals; base stations are kept up from then on until close(). */
  start(): void {
    this.t0 = this.lastPace = performance.now();
    this.lastSnap = { at: this.t0, ups: 0 };
    this.tokens = Math.min(this.o.arrival.burst, 1);
    this.pacer = setInterval(() => this.pace(), PACE_MS);
    this.pace();
  }

  /** Token bucket: ratePerSec tokens a second, at most `burst` saved. */
  private pace(): void {
    const now = performance.now();
    const { ratePerSec, burst } = this.o.arrival;
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastPace) / 1000) * ratePerSec);
    this.lastPace = now;
    const shards = this.keepers.length;
    while (this.tokens >= 1 && this.next < this.o.count) {
      const i = this.next++;
      this.tokens--;
      this.setState(i, SimState.CONNECTING);
      this.startedAt[i] = now;
      this.keepers[i % shards]!.initiateNow(connectionName(i));
    }
    if (this.next >= this.o.count && this.pacer) {
      clearInterval(this.pacer);
      this.pacer = undefined;
    }
  }

  private onUp(sa: IkeSa): void {
    const i = indexOfConnection(sa.conn?.name ?? '');
    if (!(i >= 0 && i < this.o.count) || this.current[i] === sa) return;
    const now = performance.now();
    if (Number.isNaN(this.firstUpAt[i]!)) this.firstUpAt[i] = now;
    if (!Number.isNaN(this.downSince[i]!)) this.recovery.push(now - this.downSince[i]!);
    this.downSince[i] = NaN;
    this.current[i] = sa;
    this.setState(i, SimState.UP);
    this.gateway[i] = this.gatewayIndex(sa.remote.address);
    this.ups++;
    if (this.allUpAt === 0 && this.upCount() === this.o.count) {
      this.allUpAt = now;
      for (const w of this.allUpWaiters.splice(0)) w();
    }
  }

  private upCount(): number {
    return this.inState[SimState.UP]!;
  }

  private onDown(sa: IkeSa): void {
    const i = indexOfConnection(sa.conn?.name ?? '');
    if (this.current[i] !== sa) return;
    this.current[i] = undefined;
    this.gateway[i] = 0;
    // Deleted by a fail-back or the operator: the keeper initiates again; counted as a loss.
    this.setState(i, SimState.RETRYING);
    this.downSince[i] = performance.now();
    this.losses++;
  }

  private onFailed(sa: IkeSa, reason: string): void {
    const i = indexOfConnection(sa.conn?.name ?? '');
    if (!(i >= 0 && i < this.o.count)) return;
    // A fail-back probe ends as a failed SA too; it is not an attempt of the base station.
    if (this.keepers[i % this.keepers.length]!.isProbe(sa) || this.redirectedSas.has(sa)) return;
    const notify = sa.refusedWith === undefined ? '' : ` (${nameOf(NotifyType, sa.refusedWith)})`;
    this.failures.inc(`${reason}${notify}`);
    if (this.state[i] !== SimState.UP) this.setState(i, SimState.RETRYING);
  }

  private gatewayIndex(addr: string): number {
    let g = this.gateways.indexOf(addr);
    if (g < 0) g = this.gateways.push(addr) - 1;
    return g;
  }

  /** Resolves once every base station is up (at once if they are). */
  allUp(): Promise<void> {
    if (this.allUpAt > 0) return Promise.resolve();
    return new Promise((resolve) => this.allUpWaiters.push(resolve));
  }

  /** Base stations up per gateway address now. */
  distribution(): Record<string, number> {
    const c = new Array<number>(this.gateways.length).fill(0);
    for (let i = 0; i < this.o.count; i++) if (this.state[i] === SimState.UP) c[this.gateway[i]!]!++;
    const out: Record<string, number> = {};
    for (let g = 1; g < c.length; g++) if (c[g]! > 0) out[this.gateways[g]!] = c[g]!;
    return out;
  }

  /** Indices of base stations that are not up. */
  notUp(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.o.count; i++) if (this.state[i] !== SimState.UP) out.push(i);
    return out;
  }

  /** The IKE SA base station i is up on, if it is. */
  sa(i: number): IkeSa | undefined {
    return this.state[i] === SimState.UP ? this.current[i] : undefined;
  }

  progress(): SimProgress {
    const now = performance.now();
    const c = this.inState;
    const dt = (now - this.lastSnap.at) / 1000;
    const upPerSec = dt > 0 ? (this.ups - this.lastSnap.ups) / dt : 0;
    this.lastSnap = { at: now, ups: this.ups };
    const missing = this.o.count - c[SimState.UP]!;
    return {
      elapsedMs: Math.round(now - this.t0),
      count: this.o.count,
      waiting: c[SimState.WAITING]!,
      connecting: c[SimState.CONNECTING]!,
      up: c[SimState.UP]!,
      retrying: c[SimState.RETRYING]!,
      upPerSec: Math.round(upPerSec * 10) / 10,
      perGateway: this.distribution(),
      etaS: missing === 0 ? 0 : upPerSec > 0 ? Math.round(missing / upPerSec) : null,
      ...(this.o.traffic ? { traffic: this.o.traffic.summary() } : {}),
    };
  }

  report(): SimReport {
    const up = this.upCount();
    const allUpMs = this.allUpAt > 0 ? this.allUpAt - this.t0 : null;
    const setup = new Float64Array(this.o.count);
    for (let i = 0; i < this.o.count; i++) setup[i] = this.firstUpAt[i]! - this.startedAt[i]!;
    return {
      count: this.o.count,
      up,
      notUp: this.o.count - up,
      allUpMs: allUpMs === null ? null : Math.round(allUpMs),
      setupsPerSec: allUpMs ? Math.round((this.o.count / allUpMs) * 1000 * 10) / 10 : 0,
      setupLatency: summarize(setup),
      recoveryLatency: summarize(this.recovery),
      losses: this.losses,
      redirects: Object.fromEntries([...this.redirects].sort()),
      distribution: this.distribution(),
      failures: this.failures.toJSON(),
      clusterMoves: this.keepers.reduce((n, k) => n + k.moves(), 0),
      ...(this.o.traffic ? { traffic: this.trafficReport(this.o.traffic) } : {}),
    };
  }

  private trafficReport(t: NonNullable<SimulatorOptions['traffic']>): NonNullable<SimReport['traffic']> {
    const baseStations = t.counts().map((c) => ({ ...c, gateway: this.sa(c.index)?.remote.address ?? null }));
    return { summary: t.summary(), baseStations };
  }

  /** Stops keeping base stations up and drops every SA locally (gateways are not told), or with Deletes. */
  async close(opts: { notifyPeers?: boolean; concurrency?: number } = {}): Promise<void> {
    if (this.pacer) clearInterval(this.pacer);
    this.pacer = undefined;
    for (const k of this.keepers) k.stop();
    if (opts.notifyPeers) await this.deleteAll(opts.concurrency ?? 256);
    await this.gen.close();
  }

  /** INFORMATIONAL D(IKE) for every SA a base station is up on, `concurrency` at a time. */
  private async deleteAll(concurrency: number): Promise<void> {
    const daemons = this.gen.endpoints().map((e) => e.daemon);
    const todo = this.current.map((sa, i) => [sa, i] as const).filter(([sa]) => sa && !sa.isDead);
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const [sa, i] = todo[next++]!;
        await (await daemons[i % daemons.length]!.terminate(sa!)).outcome;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  }
}
