/**
 * A cluster member's load-report exchange: the thin adapter around the pure MembershipTable.
 *
 *   every interval: LoadSource.sample ─> own LoadReport (epoch, sequence+1, role, draining)
 *                   ├─> table.setSelf
 *                   ├─> encodeReport (HMAC) ─> UDP to every configured peer
 *                   └─> table.sweep ─> "member stale" log lines
 *   stop:           one last report with LEAVING ─> the others mark this member stale at once
 *   UDP datagram ─────> table.receive(octets, source address, now) ─> accepted | dropped(reason)
 *
 * One UDP socket (node:dgram) on `reports.listen:port` sends and receives, so a member's
 * reports come from the address the others list for it. Nothing a datagram holds can throw out
 * of here: the table answers every input with a value, and faults are logged rate-limited.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SegwError } from '../errors.js';
import { logger, RateLimitedLog, type Logger } from '../log/index.js';
import { bytesToIp, ipToBytes } from '../net/ip.js';
import type { ClusterKey } from './key.js';
import { unknownRole, type LoadSource, type RoleSource } from './load.js';
import { encodeReport, type LoadReport, type MemberLoad } from './report.js';
import { MembershipTable, type ReceiveResult, type Weights } from './table.js';
import { memberView, type MembersView } from './view.js';

export class ClusterError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_CLUSTER', message, options);
  }
}

let lastEpoch = 0n;

/**
 * This start's epoch: microseconds since 1970 by the wall clock, and larger than any epoch
 * this process used before (two members started in one process within a microsecond, tests).
 * Why the wall clock: see the replay rule at the top of ./table.ts.
 */
export function nextEpoch(): bigint {
  const us = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  lastEpoch = us > lastEpoch ? us : lastEpoch + 1n;
  return lastEpoch;
}

/** The settings a member runs with (src/config/cluster.ts ClusterConfig has them all). */
export interface MemberSettings {
  nodeId: string;
  address: string;
  capacity: { maxTunnels: number; bandwidthBps: number };
  weights: Weights;
  ceiling: number;
  reportIntervalMs: number;
  staleAfter: number;
  listen: { address: string; port: number };
  peers: readonly { address: string; port: number }[];
  key: ClusterKey;
}

export interface ClusterMemberOptions {
  cfg: MemberSettings;
  load: LoadSource;
  role?: RoleSource;
  log?: Logger;
  /** Milliseconds of a monotonic clock (default performance.now). */
  now?: () => number;
}

const canonical = (addr: string) => bytesToIp(ipToBytes(addr));
const IDLE: MemberLoad = { tunnels: 0, childSas: 0, bytesPerSec: 0, cpu: 0 };

export class ClusterMember {
  readonly table: MembershipTable;
  readonly epoch = nextEpoch();
  readonly stats = { sent: 0, sendErrors: 0 };
  private sequence = 0n;
  private draining = false;
  private lastLoad: MemberLoad = IDLE;
  private timer: NodeJS.Timeout | undefined;
  /** The load sample in progress (one at a time; reports never wait for it). */
  private sampling: Promise<void> | undefined;
  /** When the next report is due (a fixed cadence: sampling time does not delay reports). */
  private nextAt = 0;
  private stopped = false;
  private readonly peers: { address: string; port: number }[];
  private readonly faults: RateLimitedLog;
  private readonly role: RoleSource;
  private readonly now: () => number;

  /**
   * A config reload: new weights and ceiling for the member views, and a new cluster key (key
   * rotation: reports are signed and checked with it from the next one on; members still on the
   * old key are seen as sending forged reports, so rotate every member within K intervals).
   */
  reconfigure(c: Pick<MemberSettings, 'weights' | 'ceiling' | 'key'>): void {
    this.opts.cfg = { ...this.opts.cfg, ...c };
    this.table.setKey(c.key);
  }

  private constructor(
    private readonly opts: ClusterMemberOptions,
    private readonly socket: Socket,
    private readonly log: Logger,
  ) {
    const c = opts.cfg;
    this.peers = c.peers.map((p) => ({ address: canonical(p.address), port: p.port }));
    this.table = new MembershipTable({ selfId: c.nodeId, key: c.key, staleAfter: c.staleAfter, peers: this.peers.map((p) => p.address) });
    this.faults = new RateLimitedLog(log);
    this.role = opts.role ?? unknownRole;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Binds the report socket, sends the first report at once, then one every interval. */
  static async start(opts: ClusterMemberOptions): Promise<ClusterMember> {
    const { listen } = opts.cfg;
    const log = opts.log ?? logger('cluster', { node: opts.cfg.nodeId });
    const socket = createSocket({ type: isIPv6(listen.address) ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: listen.address, port: listen.port, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw new ClusterError(
        `cannot bind the cluster report socket ${listen.address}:${listen.port} (${(err as Error).message}): is the address configured on an interface, and no other member using the port?`,
        { cause: err },
      );
    }
    const m = new ClusterMember(opts, socket, log);
    socket.on('message', (msg, rinfo) => m.onDatagram(msg, rinfo.address));
    socket.on('error', (err) => m.faults.warn('socket', { err: err.message }, 'cluster report socket error'));
    // The first report carries a real sample, unless sampling takes longer than an interval.
    m.sample();
    await Promise.race([m.sampling, sleep(opts.cfg.reportIntervalMs, undefined, { ref: false })]);
    m.nextAt = m.now();
    m.tick();
    m.schedule();
    log.info({ listen: `${listen.address}:${listen.port}`, peers: m.peers.length, epoch: m.epoch.toString(), intervalMs: opts.cfg.reportIntervalMs }, 'cluster membership started');
    return m;
  }

  /** Announce (or stop announcing) that this member takes no new base stations. */
  setDraining(on: boolean): void {
    this.draining = on;
  }

  members(): MembersView {
    const now = this.now();
    const c = this.opts.cfg;
    return {
      node: c.nodeId,
      ceiling: c.ceiling,
      members: this.table.entries(now).map((e) => {
        const v = memberView(e, now, c.weights, c.ceiling);
        return e.self ? { ...v, role: this.role.role() } : v;
      }),
      reports: { ...this.stats, accepted: this.table.counters.accepted, rejected: { ...this.table.counters.rejected } },
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    // A sample still running is not waited for (a hung kernel query must not hang a shutdown).
    // The last report says LEAVING, so the others stop counting on this member at once.
    await this.sendAll(encodeReport(this.ownReport(true), this.opts.cfg.key));
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    this.log.info('cluster membership stopped');
  }

  private schedule(): void {
    if (this.stopped) return;
    const interval = this.opts.cfg.reportIntervalMs;
    const now = this.now();
    this.nextAt += interval;
    // Far behind (the event loop was blocked): start the cadence again rather than send a burst.
    if (this.nextAt < now - interval) this.nextAt = now;
    this.timer = setTimeout(() => {
      this.tick();
      this.schedule();
    }, Math.max(0, this.nextAt - now));
  }

  /** Starts a load sample unless one is running; its result goes into the next report. */
  private sample(): void {
    if (this.sampling) return;
    this.sampling = Promise.resolve()
      .then(() => this.opts.load.sample())
      .then(
        (load) => {
          this.lastLoad = load;
        },
        (err: unknown) => this.faults.warn('load', { err: (err as Error).message }, 'load sample failed; reporting the previous one'),
      )
      .finally(() => {
        this.sampling = undefined;
      });
  }

  /**
   * One interval: our own row and a report to every peer with the newest finished load sample,
   * the next sample started, silent members marked stale.
   */
  private tick(): void {
    if (this.stopped) return;
    const now = this.now();
    const report = this.ownReport(false);
    this.table.setSelf(report, now);
    void this.sendAll(encodeReport(report, this.opts.cfg.key));
    this.sample();
    for (const id of this.table.sweep(now)) {
      this.log.warn({ member: id, staleAfter: this.opts.cfg.staleAfter }, 'member stale: no load report for K intervals; it gets no new base stations');
    }
  }

  private ownReport(leaving: boolean): LoadReport {
    const c = this.opts.cfg;
    return {
      nodeId: c.nodeId,
      address: c.address,
      epoch: this.epoch,
      sequence: ++this.sequence,
      intervalMs: c.reportIntervalMs,
      role: this.role.role(),
      draining: this.draining,
      leaving,
      load: this.lastLoad,
      capacity: { maxTunnels: c.capacity.maxTunnels, bandwidthBps: c.capacity.bandwidthBps },
    };
  }

  /** Sends to every peer; resolves when each send finished (failures counted and logged). */
  private sendAll(datagram: Buffer): Promise<void> {
    const sends = this.peers.map(
      (p) =>
        new Promise<void>((resolve) => {
          this.socket.send(datagram, p.port, p.address, (err) => {
            if (!err) this.stats.sent++;
            else {
              this.stats.sendErrors++;
              this.faults.warn(`send ${p.address}`, { peer: `${p.address}:${p.port}`, err: err.message }, 'cannot send load report');
            }
            resolve();
          });
        }),
    );
    return Promise.all(sends).then(() => undefined);
  }

  private onDatagram(msg: Buffer, source: string): void {
    // The configured peers are in canonical text; so is the source (a zone index dropped).
    const from = source.includes(':') ? canonical(source) : source;
    const r: ReceiveResult = this.table.receive(msg, from, this.now());
    if (r.accepted) {
      if (r.event !== 'updated') this.log.info({ member: r.member, from, event: r.event }, `member ${r.event}`);
      return;
    }
    const hint =
      r.reason === 'old-epoch'
        ? 'a report from before the member restarted (replayed, or its clock stepped back across the restart)'
        : r.reason === 'bad-mac'
          ? 'forged, or sent with another cluster key'
          : r.reason === 'own-id'
            ? 'another member uses this member\'s id'
            : 'dropped';
    this.faults.warn(`drop ${r.reason}`, { from, reason: r.reason, member: r.member }, `load report dropped: ${hint}`);
  }
}
