/**
 * IkeDaemon: the IKEv2 engine as a CLI or a test constructs it, from connections and a
 * KernelIpsec. It owns the datagram sockets (node:dgram on 500 and 4500 per address, or
 * sockets handed in: the userspace ESP engine's 4500, an in-memory wire), dispatches datagrams
 * to the SA manager, initiates connections, follows RFC 5685 redirects (bounded, §9) and
 * reports counters. Bad input never throws out of it.
 *
 *   const d = new IkeDaemon({ connections, kernel, listen: [{ address: '192.0.2.1' }] });
 *   await d.start();
 *   await d.initiate('bs-to-gw');
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { logger, type Logger } from '../log/index.js';
import type { KernelIpsec } from '../kernel/types.js';
import { IKE_NATT_PORT, IKE_PORT } from './constants.js';
import {
  DEFAULT_SETTINGS,
  asResolved,
  type ConnectionConfig,
  type IkeDaemonSettings,
  type ResolvedConnection,
} from './config.js';
import { gatewayIdFromString, gatewayIdToString, type GatewayId } from './redirect/notify.js';
import { noRedirect, type RedirectProvider } from './redirect/provider.js';
import { Scheduler, systemClock, type Clock } from './scheduler.js';
import type { IkeEventSink } from './sa/context.js';
import { IkeSa } from './sa/ike-sa.js';
import { peekInitRequest } from './codec/peek.js';
import { SaManager } from './sa/manager.js';
import { ChildCreate } from './tasks/child-create.js';
import { ChildDelete } from './tasks/child-delete.js';
import { IkeAuth } from './tasks/ike-auth.js';
import { IkeDelete } from './tasks/ike-delete.js';
import { IkeDpd } from './tasks/ike-dpd.js';
import { IkeInit } from './tasks/ike-init.js';
import { IkeRekey } from './tasks/ike-rekey.js';
import { IkeRedirect } from './tasks/ike-redirect.js';
import { ChildRekey } from './tasks/child-rekey.js';
import { ikeTasks } from './tasks/index.js';
import { UdpIkeSocket } from './transport/udp.js';
import type { Endpoint, IkeDatagramSocket } from '../net/endpoint.js';
import { ConfigError, SegwError } from '../errors.js';
import { ChildState, hex, type ChildSa } from './sa/child-sa.js';
import { IkeFlag } from './sa/state.js';
import { Status, TaskType, endTask, type Task, type TaskEnd } from './tasks/task.js';
import { failed, refusedNow, succeeded, watch, whyNot, type Outcome, type Started } from './outcome.js';

export interface IkeDaemonOptions {
  /** Resolved connections (the config loader's) are used as is; declarative ones are resolved here. */
  connections: readonly (ConnectionConfig | ResolvedConnection)[];
  kernel: KernelIpsec;
  /** Addresses to bind (ports 500 and 4500 unless given). Ignored for sockets handed in. */
  listen?: { address: string; port?: number; natTPort?: number }[];
  /** Ready sockets (tests, the ESP engine's 4500 port); the daemon closes them on stop(). */
  sockets?: IkeDatagramSocket[];
  redirect?: RedirectProvider;
  settings?: Partial<IkeDaemonSettings>;
  clock?: Clock;
  scheduler?: Scheduler;
  events?: IkeEventSink;
  log?: Logger;
  /** FQDN gateway identities in REDIRECT are resolved with this (default: DNS). */
  resolve?: (fqdn: string) => Promise<string>;
}

/** What establish() resolves with when the IKE SA came up. */
export interface Established {
  sa: IkeSa;
  /** Names of the connection's children the peer refused (the IKE SA stays up without them). */
  refusedChildren: string[];
}

export class IkeDaemonError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_IKE', message, options);
  }
}

const sockKey = (e: Endpoint) => `${e.address}|${e.port}`;

export class IkeDaemon {
  readonly manager: SaManager;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  private conns: readonly ResolvedConnection[] = [];
  /** By name: initiate() looks connections up per SA, and an initiator may hold 100k of them. */
  private connsByName = new Map<string, ResolvedConnection>();
  private readonly sockets = new Map<string, IkeDatagramSocket>();
  /** Local addresses where new IKE SAs are not taken (refuseNewSas). */
  private readonly refusingNew = new Set<string>();
  private readonly redirectHistory = new Map<string, number[]>();
  /** Initiator SAs that were redirected (RFC 5685): the outcome of the SA that follows. */
  private readonly redirected = new WeakMap<IkeSa, Promise<Outcome<Established>>>();
  /** Probe SAs (probe()): true once the peer redirected the probe. */
  private readonly probes = new WeakMap<IkeSa, { redirected: boolean }>();
  private started = false;

  constructor(private readonly opts: IkeDaemonOptions) {
    this.log = opts.log ?? logger('ike');
    this.scheduler = opts.scheduler ?? new Scheduler(opts.clock ?? systemClock);
    this.setConnections(opts.connections);
    this.manager = new SaManager({
      tasks: ikeTasks,
      kernel: opts.kernel,
      scheduler: this.scheduler,
      settings: { ...DEFAULT_SETTINGS, ...opts.settings },
      redirect: opts.redirect ?? noRedirect,
      log: this.log,
      events: opts.events ?? {},
      connections: () => this.conns,
      send: (packets, local, remote) => this.send(packets, local, remote),
      sendKeepalive: (local, remote) => this.socketFor(local)?.sendKeepalive?.(remote),
      hasSocket: (local) => this.socketFor(local) !== undefined,
      followRedirect: (sa, to) => this.followRedirect(sa, to),
    });
    opts.kernel.setEventHandler({
      onExpire: (ref, kind) => {
        const child = this.manager.childFor(ref);
        // Kernel expiry (bytes/packets/sequence): soft rekeys, hard deletes.
        if (child) this.manager.track(child.ike.run(() => (kind === 'soft' ? ikeTasks.rekeyChild(child) : ikeTasks.expireChild(child))));
      },
      onMapping: (ref, remote) => this.manager.childFor(ref)?.ike.espFrom(remote),
    });
  }

  get counters(): Record<string, number> {
    return this.manager.counters.snapshot();
  }

  connection(name: string): ResolvedConnection | undefined {
    return this.connsByName.get(name);
  }

  /**
   * Replaces the connections (config reload). New IKE SAs use the new ones; established SAs keep
   * the connection they were made with until they end, so nothing established is dropped.
   */
  setConnections(connections: readonly (ConnectionConfig | ResolvedConnection)[]): void {
    const conns = connections.map(asResolved);
    const byName = new Map<string, ResolvedConnection>();
    for (const c of conns) {
      if (byName.has(c.name)) throw new ConfigError(`connection name "${c.name}" is used twice`);
      byName.set(c.name, c);
    }
    this.conns = conns;
    this.connsByName = byName;
  }

  /** Binds the configured sockets and starts receiving. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const s of this.opts.sockets ?? []) this.attach(s);
    for (const l of this.opts.listen ?? []) {
      const pairs = [{ port: l.port ?? IKE_PORT, natT: false }, { port: l.natTPort ?? IKE_NATT_PORT, natT: true }];
      for (const { port, natT } of pairs) {
        try {
          this.attach(await UdpIkeSocket.bind({ address: l.address, port, natT }));
        } catch (err) {
          throw new IkeDaemonError(`cannot bind IKE socket ${l.address}:${port}: ${(err as Error).message}; is another IKE daemon running?`, { cause: err });
        }
      }
    }
  }

  /**
   * Serves one more socket from now on (a cluster's VIP, bound when this member becomes VRRP
   * master). A socket on the same local endpoint is replaced and closed.
   */
  addSocket(s: IkeDatagramSocket): void {
    const old = this.sockets.get(sockKey(s.local));
    this.attach(s);
    if (old && old !== s) void old.close();
  }

  /**
   * Stops serving a local endpoint and closes its socket (the VIP moved to another member). SAs
   * made on it are the caller's to move or drop first (src/cluster/vip-release.ts).
   */
  async removeSocket(local: Endpoint): Promise<void> {
    const s = this.sockets.get(sockKey(local));
    if (!s) return;
    this.sockets.delete(sockKey(local));
    await s.close();
  }

  /**
   * Stops (or resumes) taking new IKE SAs on a local address: IKE_SA_INIT requests to it are
   * dropped unanswered (counted `releasing_address`), the SAs on it keep working. A cluster
   * member giving up a VIP uses it while it moves its peers away: a peer that comes back to the
   * VIP meanwhile must not start an SA here that is gone a moment later; its retransmission
   * reaches the new master.
   */
  refuseNewSas(address: string, refuse: boolean): void {
    if (refuse) this.refusingNew.add(address);
    else this.refusingNew.delete(address);
  }

  private attach(s: IkeDatagramSocket): void {
    this.sockets.set(sockKey(s.local), s);
    s.setReceiver((data, remote, local) => {
      if (this.refusingNew.size > 0 && this.refusingNew.has(local.address) && peekInitRequest(data)) {
        this.manager.counters.inc('releasing_address');
        return;
      }
      this.manager.dispatch(data, remote, local);
    });
    s.setSendErrorHandler?.((err, remote) => this.manager.sendFailed(err, s.local, remote));
  }

  /** Local endpoints we listen on. */
  endpoints(): Endpoint[] {
    return [...this.sockets.values()].map((s) => s.local);
  }

  private socketFor(local: Endpoint): IkeDatagramSocket | undefined {
    const exact = this.sockets.get(sockKey(local));
    if (exact) return exact;
    for (const s of this.sockets.values()) {
      if (s.local.port === local.port && (s.local.address === '0.0.0.0' || s.local.address === '::')) return s;
    }
    return undefined;
  }

  private send(packets: readonly Buffer[], local: Endpoint, remote: Endpoint): void {
    const s = this.socketFor(local);
    if (!s) {
      this.manager.counters.inc('send_no_socket');
      return;
    }
    for (const p of packets) {
      // A send failure is a lost datagram (retransmission recovers it), never an SA's bug; a
      // socket that throws anyway is caught here, per datagram, so later fragments still go.
      try {
        s.send(p, remote);
      } catch (err) {
        this.manager.sendFailed(err instanceof Error ? err : new Error(String(err)), local, remote);
      }
    }
  }

  /** Our local endpoint towards `remote` for a connection (port 500). */
  private localFor(conn: ResolvedConnection, remote: string): Endpoint {
    const fam6 = remote.includes(':');
    const want = conn.cfg.local.addrs?.find((a) => a.includes(':') === fam6);
    const sock = [...this.sockets.values()].find(
      (s) => !s.natT && (want ? s.local.address === want : s.local.address.includes(':') === fam6),
    );
    if (!sock) throw new IkeDaemonError(`connection ${conn.name}: no IKE socket for ${want ?? `an IPv${fam6 ? 6 : 4} address`}; add it to listen`);
    return { ...sock.local };
  }

  /**
   * Starts an IKE SA for a connection (IKE_SA_INIT, then IKE_AUTH with the first child, then a
   * CREATE_CHILD_SA per further child). Resolves with the new SA once the first request is sent.
   */
  async initiate(name: string, opts: { remote?: string; redirectedFrom?: GatewayId } = {}): Promise<IkeSa> {
    return (await this.establish(name, opts)).sa;
  }

  /**
   * initiate(), with the outcome: `ok` with the SA once IKE_AUTH and every child of the
   * connection completed (a child the peer refused is named in `refusedChildren`), or why the
   * SA did not come up (the exchange that failed and the peer's error notify). A redirected SA
   * (RFC 5685) settles with the outcome of the SA that follows the redirect, so `value.sa` is
   * then that one. Throws only for what cannot start (no such connection, no socket), as
   * initiate() does.
   */
  async establish(
    name: string,
    opts: { remote?: string; redirectedFrom?: GatewayId } = {},
  ): Promise<{ sa: IkeSa } & Started<Established>> {
    const conn = this.connection(name);
    if (!conn) throw new IkeDaemonError(`no connection named "${name}"`);
    const remoteAddr = opts.remote ?? conn.cfg.remote.addrs?.find((a) => a !== '%any');
    if (!remoteAddr) throw new IkeDaemonError(`connection ${name}: remote.addrs names no peer to initiate to`);
    const m = this.manager;
    const remote = { address: remoteAddr, port: conn.cfg.remotePort ?? IKE_PORT };
    const sa = new IkeSa(m, true, m.newIkeSpi(), Buffer.alloc(8), this.localFor(conn, remoteAddr), remote, conn);
    sa.redirectedFrom = opts.redirectedFrom;
    m.addInitiator(sa);
    const children = conn.children.map((child, i) => new ChildCreate(sa, true, child, { inAuth: i === 0 }));
    const tasks: Task[] = [new IkeInit(sa, true), new IkeAuth(sa, true), ...children];
    const ends = this.queue(sa, tasks);
    const p = sa.initiate();
    m.track(p);
    await p;
    const outcome = ends.then((e) => {
      // Redirected (RFC 5685, at IKE_SA_INIT or IKE_AUTH): the outcome is the next SA's.
      const next = this.redirected.get(sa);
      if (next) return next;
      for (let i = 0; i < tasks.length; i++) {
        if (e[i]!.status !== Status.SUCCESS) return failed<Established>(`IKE SA for ${name}: ${whyNot(tasks[i]!, e[i]!)}`);
      }
      if (!sa.established) return failed<Established>(`IKE SA for ${name} is ${sa.state}, not ESTABLISHED`);
      const refusedChildren = conn.children.filter((_, i) => !children[i]!.child?.isInstalled).map((c) => c.name);
      return succeeded({ sa, refusedChildren });
    });
    return { sa, outcome };
  }

  /**
   * Is the peer at `remote` answering IKE? For disaster recovery's fail-back probe: one
   * IKE_SA_INIT exchange for connection `name` on a throwaway SA that is destroyed locally once
   * it is answered (no IKE_AUTH, so no SA is ever established with the peer, and the working
   * tunnel of the connection is not touched). `ok` when the peer completed IKE_SA_INIT or
   * redirected the probe (RFC 5685: a cluster member answered; the redirect is not followed);
   * failed with why otherwise (no answer, refused with an error notify). The probe SA is an
   * initiator SA of the connection: its end is reported as ikeFailed, which a keeper ignores
   * for the SA returned here. The responder keeps its half-open SA until its half-open timeout.
   */
  async probe(name: string, remote: string): Promise<{ sa: IkeSa } & Started<{ redirected: boolean }>> {
    const conn = this.connection(name);
    if (!conn) throw new IkeDaemonError(`no connection named "${name}"`);
    const m = this.manager;
    const sa = new IkeSa(m, true, m.newIkeSpi(), Buffer.alloc(8), this.localFor(conn, remote), { address: remote, port: conn.cfg.remotePort ?? IKE_PORT }, conn);
    const mark = { redirected: false };
    this.probes.set(sa, mark);
    m.addInitiator(sa);
    const init = new IkeInit(sa, true);
    const ends = this.queue(sa, [init]);
    const p = sa.initiate();
    m.track(p);
    await p;
    const outcome = ends.then(async ([e]) => {
      if (!sa.isDead) await sa.run(() => sa.destroy('probe answered'));
      if (mark.redirected) return succeeded({ redirected: true });
      if (e!.status === Status.SUCCESS && init.peerError === undefined) return succeeded({ redirected: false });
      return failed<{ redirected: boolean }>(`probe of ${remote} for ${name}: ${whyNot(init, e!)}`);
    });
    return { sa, outcome };
  }

  /** RFC 5685 §5/§9: a new IKE SA to the gateway we were redirected to, at most N per window. */
  private followRedirect(sa: IkeSa, to: GatewayId): void {
    const probe = this.probes.get(sa);
    if (probe) {
      // A probe only asks whether the cluster answers; a redirect is an answer.
      probe.redirected = true;
      return;
    }
    const conn = sa.conn!;
    const s = this.manager.settings;
    const now = this.scheduler.now();
    const hist = (this.redirectHistory.get(conn.name) ?? []).filter((t) => now - t < s.redirectWindowMs);
    this.manager.events.redirected?.(sa, to);
    const target = gatewayIdToString(to);
    if (hist.length >= s.maxRedirects) {
      this.log.warn({ conn: conn.name, to: target }, 'too many redirects (RFC 5685 §9); not following');
      this.manager.counters.inc('redirect_loop');
      this.redirected.set(sa, Promise.resolve(failed(`redirected to ${target}, not followed: ${hist.length} redirects within ${s.redirectWindowMs} ms (RFC 5685 §9)`)));
      return;
    }
    hist.push(now);
    this.redirectHistory.set(conn.name, hist);
    const from = gatewayIdFromString(sa.remote.address);
    let follow!: (o: Promise<Outcome<Established>>) => void;
    this.redirected.set(sa, new Promise((resolve) => (follow = resolve)));
    const go = async () => {
      const addr = isIP(target) ? target : await (this.opts.resolve ?? defaultResolve)(target);
      follow((await this.establish(conn.name, { remote: addr, redirectedFrom: from })).outcome);
    };
    this.manager.track(
      go().catch((err) => {
        this.log.warn({ err, to: target }, 'cannot follow redirect');
        follow(Promise.resolve(failed(`redirected to ${target}, which cannot be reached: ${(err as Error).message}`)));
      }),
    );
  }

  /**
   * Watches `tasks` and queues them on `sa` (serialized with its other work); the exchange is
   * started by the caller. Tasks that could not be queued (the SA is gone or its work queue is
   * full) end ABORTED at once, so every outcome settles.
   */
  private queue(sa: IkeSa, tasks: readonly Task[]): Promise<TaskEnd[]> {
    const ends = Promise.all(tasks.map(watch));
    if (sa.isDead) for (const t of tasks) endTask(t, { status: 'ABORTED', reason: 'the IKE SA is gone' });
    else for (const t of tasks) sa.queueTask(t);
    return ends;
  }

  /** Queues one task on `sa` and starts the next exchange; resolves once it is sent, with the task's end to come. */
  private async act(sa: IkeSa, task: Task, prepare?: () => void): Promise<{ end: Promise<TaskEnd> }> {
    const end = watch(task);
    let queued = false;
    await sa.run(async () => {
      if (sa.isDead) return;
      prepare?.();
      sa.queueTask(task);
      queued = true;
      await sa.tm.initiate();
    });
    if (!queued) endTask(task, { status: 'ABORTED', reason: sa.isDead ? 'the IKE SA is gone' : 'the IKE SA has too much work queued' });
    return { end };
  }

  /** An initiator task of ours, queued or running on `sa`, that matches. */
  private pending<T extends Task>(sa: IkeSa, match: (t: Task) => t is T): T | undefined {
    return [...sa.tm.activeTasks(), ...sa.tm.queuedTasks()].find((t): t is T => t.initiator && match(t));
  }

  /**
   * Deletes an IKE SA with the peer (INFORMATIONAL D(IKE)); resolves once the Delete is sent.
   * The outcome is ok once the SA is gone (`acknowledged`: the peer answered the Delete). A
   * delete already under way is joined, not repeated.
   */
  async terminate(sa: IkeSa): Promise<Started<{ acknowledged: boolean }>> {
    const running = this.pending(sa, (t): t is IkeDelete => t instanceof IkeDelete);
    const { end } = running ? { end: watch(running) } : await this.act(sa, new IkeDelete(sa, true), () => {
          // A keeper (segw basestation) leaves an SA we closed ourselves down.
          sa.closeRequested = true;
          sa.tm.unqueue(() => true);
        });
    return {
      outcome: end.then((e) =>
        sa.isDead ? succeeded({ acknowledged: e.status === Status.DESTROY }) : failed(`IKE SA ${sa.name} is still ${sa.state}: ${e.status === Status.SUCCESS ? 'not deleted' : (e as { reason: string }).reason}`),
      ),
    };
  }

  /** Deletes one child SA with the peer; the outcome is ok once it is gone. */
  async terminateChild(child: ChildSa): Promise<Started<ChildSa>> {
    const sa = child.ike;
    const running = this.pending(sa, (t): t is ChildDelete => t instanceof ChildDelete && t.targets.includes(child));
    const { end } = running ? { end: watch(running) } : await this.act(sa, new ChildDelete(sa, true, [child]));
    return {
      outcome: end.then((e) =>
        child.state === ChildState.DELETED ? succeeded(child) : failed(`child SA is still ${child.state}: ${e.status === Status.SUCCESS ? 'not deleted' : (e as { reason: string }).reason}`),
      ),
    };
  }

  /**
   * Starts a child rekey now (operators, tests). The outcome is the child that replaced it
   * (RFC 7296 §2.8; after a collision, the peer's), once the replaced one is deleted.
   */
  async rekeyChild(child: ChildSa): Promise<Started<ChildSa>> {
    const sa = child.ike;
    if (this.pending(sa, (t): t is ChildRekey => t instanceof ChildRekey && t.old === child)) {
      return refusedNow(`child SA ${hex(child.spiIn)} is already being rekeyed`);
    }
    const task = new ChildRekey(sa, true, child);
    const { end } = await this.act(sa, task);
    return {
      outcome: end.then((e) =>
        e.status === Status.SUCCESS && task.successor ? succeeded(task.successor) : failed(`child SA ${hex(child.spiIn)} was not rekeyed: ${whyNot(task, e)}`),
      ),
    };
  }

  /** Starts an IKE SA rekey now; the outcome is the IKE SA that replaced it, once the old one is deleted. */
  async rekeyIke(sa: IkeSa): Promise<Started<IkeSa>> {
    if (this.pending(sa, (t): t is Task => t.type === TaskType.IKE_REKEY || t.type === TaskType.IKE_DELETE)) {
      return refusedNow(`IKE SA ${sa.name} is already being rekeyed or deleted`);
    }
    const task = new IkeRekey(sa, true);
    const { end } = await this.act(sa, task);
    return {
      outcome: end.then((e) => (e.status === Status.SUCCESS && task.successor ? succeeded(task.successor) : failed(`IKE SA ${sa.name} was not rekeyed: ${whyNot(task, e)}`))),
    };
  }

  /** RFC 5685 §5: asks the client of an established SA to move to another gateway (drain). */
  async redirect(sa: IkeSa, to: GatewayId): Promise<Started<void>> {
    if (!sa.has(IkeFlag.PEER_REDIRECT)) return refusedNow(`the peer of IKE SA ${sa.name} did not announce REDIRECT_SUPPORTED (RFC 5685 §3)`);
    const task = new IkeRedirect(sa, true, to);
    const { end } = await this.act(sa, task);
    return { outcome: end.then((e) => (e.status === Status.SUCCESS ? succeeded(undefined) : failed(`redirect of IKE SA ${sa.name}: ${whyNot(task, e)}`))) };
  }

  /**
   * Removes an IKE SA here only: children (and their kernel SAs), timers, tables; sends nothing
   * (its local address is gone: a cluster VIP that moved to another member).
   */
  async drop(sa: IkeSa, reason: string): Promise<void> {
    await sa.run(() => sa.destroy(reason));
  }

  /** A liveness check now; the outcome is ok when the peer answered. */
  async dpd(sa: IkeSa): Promise<Started<void>> {
    const task = new IkeDpd(true);
    const { end } = await this.act(sa, task);
    return { outcome: end.then((e) => (e.status === Status.SUCCESS ? succeeded(undefined) : failed(`no answer from the peer of ${sa.name}: ${whyNot(task, e)}`))) };
  }

  /** Resolves once no message or timer work is in flight. */
  idle(): Promise<void> {
    return this.manager.idle();
  }

  /** Closes sockets and removes every SA from the kernel (without telling peers). */
  async stop(): Promise<void> {
    this.scheduler.stop();
    await this.manager.destroyAll('daemon stopped');
    for (const s of this.sockets.values()) await s.close();
    this.sockets.clear();
    this.started = false;
  }
}

async function defaultResolve(fqdn: string): Promise<string> {
  return (await lookup(fqdn)).address;
}
