/**
 * The load generator: many simulated base stations bringing up IKE SAs against one responder,
 * with segw's own initiator (IkeDaemon and the same tasks a real segw base station runs).
 *
 *   Population (index -> identity, subnet, endpoint)
 *        │
 *        ├─ shard 0: IkeDaemon on endpoint 0 ─┐   one shard per local endpoint (address:port),
 *        ├─ shard 1: IkeDaemon on endpoint 1 ─┤   one Scheduler for all, a NullKernelIpsec each
 *        └─ ...                               ┘
 *   establish({ concurrency })   C workers pull base stations; each initiates
 *                                IKE_SA_INIT + IKE_AUTH (+ first child) and waits for its outcome
 *   teardown({ concurrency })    INFORMATIONAL D(IKE) per SA (or a silent local drop)
 *
 * Outcomes are values: every base station ends a run established or failed with a reason
 * (`IKE_SA_INIT failed`, `IKE_AUTH failed`, `CHILD_SA failed`, `timeout`, `initiate error`);
 * nothing here throws for a protocol outcome. Success is seen through the daemon's events
 * (childUp of the first child), failure by one periodic sweep over the SAs in flight (the
 * daemon reports no event for an SA that dies before it is established), so per-SA cost is a
 * few array slots. Per base station the generator keeps its state, its IKE SA and its setup
 * latency in arrays indexed by base-station number: what the base-station simulator (100k base
 * stations, disaster recovery) builds on.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/index.js';
import { logger } from '../log/index.js';
import { IkeDaemon } from '../ike/daemon.js';
import type { ConnectionConfig, IkeDaemonSettings, LifetimeConfig, RetransmitSettings } from '../ike/config.js';
import { Scheduler } from '../ike/scheduler.js';
import type { IkeSa } from '../ike/sa/ike-sa.js';
import type { IkeEventSink } from '../ike/sa/context.js';
import type { ChildSa } from '../ike/sa/child-sa.js';
import type { GatewayId } from '../ike/redirect/notify.js';
import { UdpIkeSocket } from '../ike/transport/udp.js';
import type { IkeDatagramSocket } from '../net/endpoint.js';
import { IKE_NATT_PORT, IKE_PORT } from '../ike/constants.js';
import type { KernelIpsec } from '../kernel/types.js';
import { NullKernelIpsec } from './null-kernel.js';
import { InitiatorError, Population, connectionName, indexOfConnection, type LocalEndpoint, type PopulationOptions } from './population.js';
import { OutcomeCounts, summarize, type LatencySummary } from './stats.js';

/** Where a base station is in its life, one octet each. */
export const BsState = {
  IDLE: 0,
  CONNECTING: 1,
  ESTABLISHED: 2,
  FAILED: 3,
  DELETING: 4,
} as const;
export type BsState = (typeof BsState)[keyof typeof BsState];
export const BS_STATE_NAMES: Record<BsState, string> = { 0: 'IDLE', 1: 'CONNECTING', 2: 'ESTABLISHED', 3: 'FAILED', 4: 'DELETING' };

/** Failure reasons (stable strings: reports and tests match on them). */
export const Failure = {
  INIT: 'IKE_SA_INIT failed',
  AUTH: 'IKE_AUTH failed',
  CHILD: 'CHILD_SA failed',
  TIMEOUT: 'timeout',
  INITIATE: 'initiate error',
} as const;

export interface GeneratorTarget {
  address: string;
  /** Default 500. */
  port?: number;
  /** The responder's identity (IDr) we expect; default: any. */
  id?: string;
}

export interface LoadGeneratorOptions {
  population: PopulationOptions;
  target: GeneratorTarget;
  /** Pre-shared key of every base station (RFC 7296 §2.15). */
  psk: string;
  /** Default: AES-GCM-16-128 / PRF-HMAC-SHA2-256 / ECP-256 (strongSwan syntax). */
  ikeProposals?: string[];
  /** Default: AES-GCM-16-128 without ESN. */
  espProposals?: string[];
  /** The core-side selectors (the child's remote TS), e.g. ['203.0.113.0/24']. */
  remoteTs: string[];
  /** Seconds, as a config file's `retransmit:`. */
  retransmit?: RetransmitSettings;
  /** Default true, as a base station that boots (RFC 7296 §2.4). */
  initialContact?: boolean;
  followRedirects?: boolean;
  /** Default: no rekeying during a run (a benchmark measures setups only). */
  ikeLifetime?: LifetimeConfig;
  childLifetime?: LifetimeConfig;
  /** Kernel of each shard; default a NullKernelIpsec (nothing kept, nothing counted). */
  kernel?: (shard: number) => KernelIpsec;
  /** UDP receive buffer per socket (bursts of responses); capped by net.core.rmem_max. */
  recvBufferSize?: number;
  settings?: Partial<IkeDaemonSettings>;
  /** DPD interval in seconds on every base station's IKE SA (default off). */
  dpdDelay?: number;
  /** More IKE event listeners per shard (the simulator's keepers and counters), after the generator's. */
  events?: (shard: number) => IkeEventSink;
  log?: Logger;
}

export interface EstablishOptions {
  /** Base stations in flight at most (IKE_SA_INIT sent, outcome not known yet). */
  concurrency: number;
  /** Which base stations (default: every one not established). */
  indices?: Iterable<number>;
  /** Give up on one base station after this long (default 60 s); it is destroyed locally. */
  setupTimeoutMs?: number;
  /** Called after every outcome (progress displays); keep it cheap. */
  onOutcome?: (index: number, ok: boolean) => void;
}

export interface EstablishReport {
  attempted: number;
  established: number;
  failed: number;
  failures: Record<string, number>;
  /** Redirects followed (RFC 5685) during the run. */
  redirects: number;
  /** Wall clock from the first initiate to the last outcome. */
  wallMs: number;
  /** Established SAs per second of wall clock. */
  setupsPerSec: number;
  latency: LatencySummary;
  /** CPU time of this process during the run (the generator's own cost), ms. */
  generatorCpuMs: number;
}

export interface TeardownOptions {
  concurrency: number;
  /** Send INFORMATIONAL D(IKE) (default) or drop the SAs silently (a base station that dies). */
  notifyPeer?: boolean;
  /** Per SA, for the delete exchange (default 30 s). */
  timeoutMs?: number;
}

export interface TeardownReport {
  attempted: number;
  deleted: number;
  failed: number;
  wallMs: number;
}

interface Shard {
  readonly endpoint: LocalEndpoint;
  readonly daemon: IkeDaemon;
}

/** A base station with an outcome pending (setup or delete). */
interface Pending {
  index: number;
  start: number;
  deadline: number;
  /** Undefined while initiate() runs or after a redirect (the new SA shows up in childUp). */
  sa: IkeSa | undefined;
  done: (ok: boolean, reason?: string) => void;
}

/** How often SAs in flight are checked for a silent death or a timeout. */
const SWEEP_MS = 10;
const NO_REKEY: LifetimeConfig = { rekey: 0, life: 0 };

export class LoadGenerator {
  readonly population: Population;
  readonly scheduler = new Scheduler();
  /** Per base station: state, IKE SA, last setup latency (NaN: none). */
  readonly state: Uint8Array;
  readonly latencyMs: Float64Array;
  private readonly sas: (IkeSa | undefined)[];
  private readonly shards: Shard[] = [];
  private readonly pending = new Map<number, Pending>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private redirects = 0;
  /** Established SAs the responder closed on its own (delete, DPD, restart). */
  lost = 0;
  private readonly log: Logger;

  private constructor(private readonly o: LoadGeneratorOptions) {
    this.population = new Population(o.population);
    const n = this.population.count;
    this.state = new Uint8Array(n);
    this.latencyMs = new Float64Array(n).fill(NaN);
    this.sas = new Array<IkeSa | undefined>(n);
    this.log = o.log ?? logger('initiator');
  }

  /** Builds the connections and binds one socket pair per local endpoint. */
  static async create(o: LoadGeneratorOptions): Promise<LoadGenerator> {
    const g = new LoadGenerator(o);
    try {
      for (let s = 0; s < g.population.endpoints.length; s++) g.shards.push(await g.openShard(s));
    } catch (err) {
      await g.close();
      throw err;
    }
    return g;
  }

  private connection(index: number): ConnectionConfig {
    const o = this.o;
    const bs = this.population.get(index);
    const secret = { method: 'psk' as const, secret: o.psk };
    return {
      name: bs.name,
      local: { addrs: [this.population.endpoints[bs.endpoint]!.address], id: bs.identity, auth: secret },
      remote: { addrs: [o.target.address], ...(o.target.id ? { id: o.target.id } : {}), auth: secret },
      remotePort: o.target.port ?? IKE_PORT,
      ikeProposals: o.ikeProposals ?? ['aes128gcm16-prfsha256-ecp256'],
      ikeLifetime: o.ikeLifetime ?? NO_REKEY,
      children: [{
        name: 'ran',
        localTs: [bs.subnet],
        remoteTs: o.remoteTs,
        espProposals: o.espProposals ?? ['aes128gcm16'],
        lifetime: o.childLifetime ?? NO_REKEY,
      }],
      retransmit: o.retransmit,
      initialContact: o.initialContact ?? true,
      // Each connection is one base station with its own identity (INITIAL_CONTACT per base station).
      ownIdentity: true,
      followRedirects: o.followRedirects ?? true,
      ...(o.dpdDelay ? { dpdDelay: o.dpdDelay } : {}),
    };
  }

  private async openShard(s: number): Promise<Shard> {
    const endpoint = this.population.endpoints[s]!;
    const connections: ConnectionConfig[] = [];
    for (let i = s; i < this.population.count; i += this.population.endpoints.length) connections.push(this.connection(i));
    const sockets: IkeDatagramSocket[] = [];
    try {
      for (const [port, natT] of [[endpoint.port ?? IKE_PORT, false], [endpoint.natTPort ?? IKE_NATT_PORT, true]] as const) {
        sockets.push(await UdpIkeSocket.bind({ address: endpoint.address, port, natT, recvBufferSize: this.o.recvBufferSize }));
      }
    } catch (err) {
      await Promise.allSettled(sockets.map((x) => x.close()));
      throw new InitiatorError(`cannot bind ${endpoint.address}:${endpoint.port ?? IKE_PORT}: ${(err as Error).message}; is the address configured here and the port free?`, { cause: err });
    }
    const daemon = new IkeDaemon({
      connections,
      kernel: this.o.kernel?.(s) ?? new NullKernelIpsec((0xc0000001 + s * 0x01000000) >>> 0),
      sockets,
      scheduler: this.scheduler,
      settings: this.o.settings,
      log: this.log,
      events: withMore(
        {
          childUp: (c) => this.onChildUp(c),
          ikeDown: (sa, reason) => this.onIkeDown(sa, reason),
          redirected: (sa, to) => this.onRedirected(sa, to),
        },
        this.o.events?.(s),
      ),
    });
    await daemon.start();
    return { endpoint, daemon };
  }

  /** Local endpoints actually bound (ephemeral ports resolved), one per shard. */
  endpoints(): { ike: LocalEndpoint; daemon: IkeDaemon }[] {
    return this.shards.map((s) => {
      const [ike, natT] = s.daemon.endpoints();
      return { ike: { address: ike!.address, port: ike!.port, natTPort: natT?.port }, daemon: s.daemon };
    });
  }

  /** The live IKE SA of base station i, if any. */
  sa(index: number): IkeSa | undefined {
    const sa = this.sas[index];
    return sa && !sa.isDead ? sa : undefined;
  }

  /** Base stations per state. */
  counts(): Record<string, number> {
    const c = [0, 0, 0, 0, 0];
    for (const s of this.state) c[s]!++;
    return Object.fromEntries(c.map((v, s) => [BS_STATE_NAMES[s as BsState], v]));
  }

  /** The daemons' counters summed (drops by reason, retransmits...). */
  daemonCounters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.shards) for (const [k, v] of Object.entries(s.daemon.counters)) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  // ---- establish ----

  /** Brings up the chosen base stations, at most `concurrency` at a time. Never throws for outcomes. */
  async establish(opts: EstablishOptions): Promise<EstablishReport> {
    const todo: number[] = [];
    if (opts.indices) {
      for (const i of opts.indices) {
        if (i >= 0 && i < this.population.count && this.state[i] !== BsState.ESTABLISHED) todo.push(i);
      }
    } else {
      for (let i = 0; i < this.population.count; i++) if (this.state[i] !== BsState.ESTABLISHED) todo.push(i);
    }
    const concurrency = Math.max(1, Math.floor(opts.concurrency));
    const timeout = opts.setupTimeoutMs ?? 60_000;
    const failures = new OutcomeCounts();
    let established = 0;
    const redirects0 = this.redirects;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const i = todo[next++]!;
        const r = await this.bringUp(i, timeout);
        if (r.ok) established++;
        else failures.inc(r.reason);
        opts.onOutcome?.(i, r.ok);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return {
      attempted: todo.length,
      established,
      failed: todo.length - established,
      failures: failures.toJSON(),
      redirects: this.redirects - redirects0,
      wallMs: Math.round(wallMs),
      setupsPerSec: wallMs > 0 ? Math.round((established / wallMs) * 1000 * 10) / 10 : 0,
      latency: summarize(todo.map((i) => this.latencyMs[i]!)),
      generatorCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    };
  }

  private async bringUp(index: number, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
    const shard = this.shards[index % this.shards.length]!;
    // An IKE SA left by an earlier failure (IKE up, child refused) goes first, silently.
    const old = this.sa(index);
    if (old) await old.run(() => old.destroy('load generator: retry'));
    const start = performance.now();
    this.state[index] = BsState.CONNECTING;
    this.latencyMs[index] = NaN;
    return new Promise((resolve) => {
      const p: Pending = {
        index,
        start,
        deadline: start + timeoutMs,
        sa: undefined,
        done: (ok, reason) => {
          this.pending.delete(index);
          if (ok) {
            this.state[index] = BsState.ESTABLISHED;
            this.latencyMs[index] = performance.now() - start;
            resolve({ ok: true });
          } else {
            this.state[index] = BsState.FAILED;
            resolve({ ok: false, reason: reason ?? Failure.TIMEOUT });
          }
        },
      };
      // Registered before initiate(): an in-memory wire may answer within it.
      this.pending.set(index, p);
      this.armSweep();
      shard.daemon.initiate(connectionName(index)).then(
        (sa) => {
          if (this.pending.get(index) === p) {
            this.sas[index] = sa;
            p.sa = sa;
          } else if (this.state[index] !== BsState.ESTABLISHED && !sa.isDead) {
            // Timed out before initiate() even returned: nobody waits for this SA.
            void sa.run(() => sa.destroy('load generator: timeout'));
          }
        },
        (err: unknown) => {
          this.log.warn({ err, bs: index }, 'initiate failed');
          if (this.pending.get(index) === p) p.done(false, Failure.INITIATE);
        },
      );
    });
  }

  private onChildUp(child: ChildSa): void {
    const sa = child.ike;
    const index = indexOfConnection(sa.conn?.name ?? '');
    const p = this.pending.get(index);
    if (!p || this.state[index] !== BsState.CONNECTING) return;
    this.sas[index] = sa;
    p.done(true);
  }

  private onRedirected(sa: IkeSa, _to: GatewayId): void {
    this.redirects++;
    const p = this.pending.get(indexOfConnection(sa.conn?.name ?? ''));
    // The daemon follows with a new IKE SA; its childUp (or our deadline) ends the wait.
    if (p && p.sa === sa) p.sa = undefined;
  }

  private onIkeDown(sa: IkeSa, _reason: string): void {
    const index = indexOfConnection(sa.conn?.name ?? '');
    if (this.sas[index] !== sa) return;
    if (this.state[index] === BsState.DELETING) {
      this.pending.get(index)?.done(true);
      return;
    }
    if (this.state[index] === BsState.ESTABLISHED) {
      // The responder closed it (delete, restart, drain): the simulator reconnects from here.
      this.lost++;
      this.state[index] = BsState.IDLE;
      this.sas[index] = undefined;
    }
  }

  /** Why a setup failed, read from the SA the daemon left behind. */
  private static failureOf(sa: IkeSa): string | undefined {
    if (sa.isDead) {
      if (sa.establishedAt > 0) return Failure.CHILD;
      return sa.suite ? Failure.AUTH : Failure.INIT;
    }
    // IKE_AUTH done, the first child refused (the IKE SA stays, RFC 7296 §1.2).
    if (sa.established && !sa.tm.busy && sa.children.length === 0) return Failure.CHILD;
    return undefined;
  }

  private armSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
  }

  /** One pass over the base stations with an outcome pending. */
  private sweep(): void {
    const now = performance.now();
    for (const p of [...this.pending.values()]) {
      const st = this.state[p.index];
      if (st === BsState.CONNECTING) {
        const why = p.sa ? LoadGenerator.failureOf(p.sa) : undefined;
        if (why) {
          p.done(false, why);
          continue;
        }
      } else if (st === BsState.DELETING && p.sa?.isDead) {
        p.done(true);
        continue;
      }
      if (now > p.deadline) {
        const sa = p.sa ?? this.sas[p.index];
        if (sa && !sa.isDead) void sa.run(() => sa.destroy('load generator: timeout'));
        p.done(false, Failure.TIMEOUT);
      }
    }
    if (this.pending.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  // ---- teardown ----

  /** Deletes every live IKE SA of the generator (established or left over by a failure). */
  async teardown(opts: TeardownOptions): Promise<TeardownReport> {
    const todo: number[] = [];
    for (let i = 0; i < this.population.count; i++) if (this.sa(i)) todo.push(i);
    const timeout = opts.timeoutMs ?? 30_000;
    const notify = opts.notifyPeer ?? true;
    let deleted = 0;
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const i = todo[next++]!;
        if (await this.bringDown(i, notify, timeout)) deleted++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(Math.max(1, Math.floor(opts.concurrency)), todo.length) }, worker));
    return { attempted: todo.length, deleted, failed: todo.length - deleted, wallMs: Math.round(performance.now() - t0) };
  }

  private async bringDown(index: number, notify: boolean, timeoutMs: number): Promise<boolean> {
    const sa = this.sas[index]!;
    const shard = this.shards[index % this.shards.length]!;
    this.state[index] = BsState.DELETING;
    let ok: boolean;
    if (!notify || !sa.established) {
      await sa.run(() => sa.destroy('load generator: teardown'));
      ok = true;
    } else {
      const start = performance.now();
      ok = await new Promise<boolean>((resolve) => {
        const p: Pending = { index, start, deadline: start + timeoutMs, sa, done: (r) => { this.pending.delete(index); resolve(r); } };
        this.pending.set(index, p);
        this.armSweep();
        shard.daemon.terminate(sa).catch((err: unknown) => {
          this.log.warn({ err, bs: index }, 'delete failed');
          if (this.pending.get(index) === p) p.done(false);
        });
      });
    }
    this.state[index] = BsState.IDLE;
    this.sas[index] = undefined;
    return ok;
  }

  /** Stops every shard: SAs are dropped locally (peers are not told), sockets closed. */
  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const p of [...this.pending.values()]) p.done(false, Failure.TIMEOUT);
    for (const s of this.shards) await s.daemon.stop();
    this.shards.length = 0;
  }
}

/** The generator's own listeners, then `more`'s, for each event. */
function withMore(own: IkeEventSink, more: IkeEventSink | undefined): IkeEventSink {
  if (!more) return own;
  const out: Record<string, (...a: never[]) => void> = {};
  for (const k of new Set([...Object.keys(own), ...Object.keys(more)]) as Set<keyof IkeEventSink>) {
    const a = own[k] as ((...x: never[]) => void) | undefined;
    const b = more[k] as ((...x: never[]) => void) | undefined;
    out[k] = a && b ? (...x: never[]) => { a(...x); b(...x); } : (a ?? b)!;
  }
  return out as IkeEventSink;
}
