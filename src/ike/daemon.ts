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
  resolveConnection,
  type ConnectionConfig,
  type IkeDaemonSettings,
  type ResolvedConnection,
} from './config.js';
import { gatewayIdFromString, gatewayIdToString, type GatewayId } from './redirect/notify.js';
import { noRedirect, type RedirectProvider } from './redirect/provider.js';
import { Scheduler, systemClock, type Clock } from './scheduler.js';
import type { IkeEventSink } from './sa/context.js';
import { IkeSa } from './sa/ike-sa.js';
import { onKernelExpire } from './sa/lifecycle.js';
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
import { UdpIkeSocket } from './transport/udp.js';
import type { Endpoint, IkeDatagramSocket } from './transport/types.js';
import { ConfigError, SegwError } from '../errors.js';
import type { ChildSa } from './sa/child-sa.js';

export interface IkeDaemonOptions {
  connections: ConnectionConfig[];
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
  private readonly conns: ResolvedConnection[];
  /** By name: initiate() looks connections up per SA, and an initiator may hold 100k of them. */
  private readonly connsByName = new Map<string, ResolvedConnection>();
  private readonly sockets = new Map<string, IkeDatagramSocket>();
  private readonly redirectHistory = new Map<string, number[]>();
  private started = false;

  constructor(private readonly opts: IkeDaemonOptions) {
    this.log = opts.log ?? logger('ike');
    this.scheduler = opts.scheduler ?? new Scheduler(opts.clock ?? systemClock);
    this.conns = opts.connections.map(resolveConnection);
    for (const c of this.conns) {
      if (this.connsByName.has(c.name)) throw new ConfigError(`connection name "${c.name}" is used twice`);
      this.connsByName.set(c.name, c);
    }
    this.manager = new SaManager({
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
        if (child) this.manager.track(onKernelExpire(child, kind));
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

  private attach(s: IkeDatagramSocket): void {
    this.sockets.set(sockKey(s.local), s);
    s.setReceiver((data, remote, local) => this.manager.dispatch(data, remote, local));
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
    for (const p of packets) s.send(p, remote);
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
    const conn = this.connection(name);
    if (!conn) throw new IkeDaemonError(`no connection named "${name}"`);
    const remoteAddr = opts.remote ?? conn.cfg.remote.addrs?.find((a) => a !== '%any');
    if (!remoteAddr) throw new IkeDaemonError(`connection ${name}: remote.addrs names no peer to initiate to`);
    const m = this.manager;
    const remote = { address: remoteAddr, port: conn.cfg.remotePort ?? IKE_PORT };
    const sa = new IkeSa(m, true, m.newIkeSpi(), Buffer.alloc(8), this.localFor(conn, remoteAddr), remote, conn);
    sa.redirectedFrom = opts.redirectedFrom;
    m.addInitiator(sa);
    sa.queueTask(new IkeInit(sa, true));
    sa.queueTask(new IkeAuth(sa, true));
    conn.children.forEach((child, i) => sa.queueTask(new ChildCreate(sa, true, child, { inAuth: i === 0 })));
    const p = sa.initiate();
    m.track(p);
    await p;
    return sa;
  }

  /** RFC 5685 §5/§9: a new IKE SA to the gateway we were redirected to, at most N per window. */
  private followRedirect(sa: IkeSa, to: GatewayId): void {
    const conn = sa.conn!;
    const s = this.manager.settings;
    const now = this.scheduler.now();
    const hist = (this.redirectHistory.get(conn.name) ?? []).filter((t) => now - t < s.redirectWindowMs);
    this.manager.events.redirected?.(sa, to);
    if (hist.length >= s.maxRedirects) {
      this.log.warn({ conn: conn.name, to: gatewayIdToString(to) }, 'too many redirects (RFC 5685 §9); not following');
      this.manager.counters.inc('redirect_loop');
      return;
    }
    hist.push(now);
    this.redirectHistory.set(conn.name, hist);
    const from = gatewayIdFromString(sa.remote.address);
    const target = gatewayIdToString(to);
    const go = async () => {
      const addr = isIP(target) ? target : await (this.opts.resolve ?? defaultResolve)(target);
      await this.initiate(conn.name, { remote: addr, redirectedFrom: from });
    };
    this.manager.track(go().catch((err) => this.log.warn({ err, to: target }, 'cannot follow redirect')));
  }

  /** Deletes an IKE SA with the peer (INFORMATIONAL D(IKE)). */
  async terminate(sa: IkeSa): Promise<void> {
    await sa.run(async () => {
      if (sa.isDead) return;
      sa.closeRequested = true;
      sa.tm.unqueue(() => true);
      sa.queueTask(new IkeDelete(sa, true));
      await sa.tm.initiate();
    });
  }

  /** Deletes one child SA with the peer. */
  async terminateChild(child: ChildSa): Promise<void> {
    const sa = child.ike;
    await sa.run(async () => {
      sa.queueTask(new ChildDelete(sa, true, [child]));
      await sa.tm.initiate();
    });
  }

  /** Starts a rekey now (operators, tests). */
  async rekeyChild(child: ChildSa): Promise<void> {
    const sa = child.ike;
    await sa.run(async () => {
      sa.queueTask(new ChildRekey(sa, true, child));
      await sa.tm.initiate();
    });
  }

  async rekeyIke(sa: IkeSa): Promise<void> {
    await sa.run(async () => {
      sa.queueTask(new IkeRekey(sa, true));
      await sa.tm.initiate();
    });
  }

  /** RFC 5685 §5: asks the client of an established SA to move to another gateway (drain). */
  async redirect(sa: IkeSa, to: GatewayId): Promise<void> {
    await sa.run(async () => {
      sa.queueTask(new IkeRedirect(sa, true, to));
      await sa.tm.initiate();
    });
  }

  /** A liveness check now. */
  async dpd(sa: IkeSa): Promise<void> {
    await sa.run(async () => {
      sa.queueTask(new IkeDpd(true));
      await sa.tm.initiate();
    });
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
