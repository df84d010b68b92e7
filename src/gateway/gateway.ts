/**
 * The gateway daemon as `segw gateway` runs it: a data plane chosen for this kernel (XFRM when
 * it carries ESP, the userspace engine otherwise), the IKEv2 daemon on the configured
 * addresses, and route injection that follows child SAs up and down.
 *
 *   config ──> Gateway.start ──> KernelIpsec (xfrm | userspace | stub)
 *                              ├─> KernelNet (rtnetlink | stub) ──> RouteInjector (proto segw)
 *                              └─> IkeDaemon (UDP 500 on a batched native socket; 4500 the same, or
 *                                  the userspace engine's socket, shared with ESP-in-UDP)
 *
 * In userspace mode the injected routes are also what steers traffic into the engine's TUN
 * device, so they point at it unless the config names another device.
 */
import type { Logger } from '../log/index.js';
import { logger } from '../log/index.js';
import type { GatewayConfig } from '../config/gateway.js';
import { IkeDaemon } from '../ike/daemon.js';
import type { IkeSa } from '../ike/sa/ike-sa.js';
import type { IkeEventSink } from '../ike/sa/context.js';
import type { ChildSa } from '../ike/sa/child-sa.js';
import type { IkeDatagramSocket } from '../net/endpoint.js';
import type { RedirectProvider } from '../ike/redirect/provider.js';
import type { KernelIpsec, KernelNet } from '../kernel/types.js';
import { RouteInjector } from '../kernel/route-injection.js';
import { NativeUdpIkeSocket } from '../kernel/ike-udp.js';
import { ConfigError, SegwError } from '../errors.js';
import { openDataPlane, type DataPlane } from './data-plane.js';
import { ControlServer } from '../control/server.js';
import { ClusterMember } from '../cluster/member.js';
import { DaemonLoadSource, type LoadSource, type RoleSource } from '../cluster/load.js';
import { VrrpNode } from './vrrp-node.js';
import { VipReleaser } from '../cluster/vip-release.js';
import { GatewayMetrics } from '../metrics/index.js';
import { redirectAdapter, vrrpAdapter } from '../metrics/sources.js';
import { clusterMethods } from '../control/cluster-methods.js';
import { Balancing, clusterBalancer } from './balancing.js';

export class GatewayError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_GATEWAY', message, options);
  }
}

export interface GatewayOptions {
  log?: Logger;
  /** The cluster's balancer plugs in here (RFC 5685 onInit/onAuth). */
  redirect?: RedirectProvider;
  /** With `cluster:` in the config: this member's VRRP role (src/vrrp), and its load (default: the SA tables). */
  role?: RoleSource;
  load?: LoadSource;
  /** More IKE event listeners (a base station's ConnectionKeeper), called after route injection's. */
  events?: IkeEventSink;
  /** More for the control socket (a base station's clusters): merged into `status`, and per IKE SA into `list-sas`. */
  annotate?: NodeAnnotations;
}

export interface NodeAnnotations {
  status(): Record<string, unknown>;
  ikeSa(sa: IkeSa): Record<string, unknown> | undefined;
}

export interface GatewayStatus {
  node: string;
  dataPlane: { backend: KernelIpsec['name']; reason: string };
  ike: Record<string, number>;
  ikeSas: number;
  /** Half-open IKE SAs as the admission rules count them (RFC 7296 §2.6: cookies above ike.cookieThreshold). */
  halfOpen: number;
  childSas: number;
  routes: { prefix: string; children: number; installed: boolean }[];
  counters: Record<string, number>;
}

/**
 * A child SA's identity for route injection: unique per inbound SA and stable while it lives,
 * also across IKE SA rekeys (which move children to a new IKE SA with another name).
 */
const childKey = (c: ChildSa) => `${c.inRef.dst}/${(c.spiIn >>> 0).toString(16)}`;

export class Gateway {
  private stopping = false;
  /** The operator control socket (config `control`), if enabled. */
  control: ControlServer | undefined;
  /** Load reports with the other cluster members (config `cluster`), if set. */
  cluster: ClusterMember | undefined;
  /** The member's VRRP instance (config `cluster.vrrp`), unless a role source was handed in. */
  vrrp: VrrpNode | undefined;
  /**
   * Prometheus metrics (config `metrics`), if set. More sources plug in here:
   * `gw.metrics?.addSource(vrrpAdapter, () => ...)` (src/metrics/sources.ts).
   */
  metrics: GatewayMetrics | undefined;
  /** The RFC 5685 balancer and the drain of a cluster member (config `cluster`). */
  balancing: Balancing | undefined;
  private annotate: NodeAnnotations | undefined;

  private constructor(
    readonly cfg: GatewayConfig,
    readonly daemon: IkeDaemon,
    readonly dataPlane: DataPlane,
    readonly rri: RouteInjector | undefined,
    private readonly log: Logger,
  ) {}

  get kernel(): KernelIpsec {
    return this.dataPlane.ipsec;
  }

  get net(): KernelNet {
    return this.dataPlane.net;
  }

  static async start(cfg: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
    const log = opts.log ?? logger('gateway', { node: cfg.node.name });
    const dp = await openDataPlane(cfg, { log });
    let rri: RouteInjector | undefined;
    let daemon: IkeDaemon | undefined;
    const metrics = cfg.metrics?.enabled ? new GatewayMetrics(logger('metrics', { node: cfg.node.name })) : undefined;
    let member: ClusterMember | undefined;
    let vrrp: VrrpNode | undefined;
    // VRRP decides the role (the reports carry it; only the master redirects), unless the caller gives one (tests).
    const role: RoleSource = opts.role ?? { role: () => vrrp?.role() ?? 'init' };
    const balancer = cfg.cluster && clusterBalancer(cfg.cluster, () => member, role);
    try {
      for (const a of cfg.addresses) await dp.net.addAddress({ address: a.address, dev: a.dev, noDad: true });
      rri = await routeInjector(cfg, dp, log);
      if (rri) await rri.reconcile();
      const sockets = await ikeSockets(cfg, dp);
      const injector = rri;
      daemon = new IkeDaemon({
        connections: cfg.connections,
        kernel: dp.ipsec,
        sockets,
        // A child whose selectors need more routes than are injected is refused at negotiation.
        settings: { ...cfg.ike.settings, maxRemotePrefixesPerChild: rri ? cfg.kernel.routes.maxPerChild : 0 },
        redirect: opts.redirect ?? balancer,
        log: logger('ike', { node: cfg.node.name }),
        events: bothSinks(bothSinks(injector && routeEvents(injector, log), metrics?.ike.events), opts.events),
      });
      await daemon.start();
    } catch (err) {
      await daemon?.stop().catch(() => {});
      await rri?.close().catch(() => {});
      await dp.close().catch(() => {});
      if (err instanceof SegwError) throw err;
      throw new GatewayError(`gateway ${cfg.node.name} failed to start: ${(err as Error).message}`, { cause: err });
    }
    const gw = new Gateway(cfg, daemon, dp, rri, log);
    gw.metrics = metrics;
    gw.annotate = opts.annotate;
    if (cfg.cluster) {
      const load = opts.load ?? new DaemonLoadSource(daemon, dp.ipsec);
      const clusterLog = logger('cluster', { node: cfg.node.name });
      const ike = daemon;
      try {
        // The reports start first (a busy report port fails the start before VRRP claims anything).
        gw.cluster = await ClusterMember.start({ cfg: cfg.cluster, load, role, log: clusterLog });
        if (!opts.role) {
          gw.vrrp = vrrp = await VrrpNode.start(cfg.cluster.vrrp, {
            net: dp.net,
            bind: (address) => (ike.endpoints().some((e) => e.address === address) ? Promise.resolve([]) : ikeSocketsOn(address, cfg, dp)),
            serve: (sock) => ike.addSocket(sock),
            unserve: (local) => ike.removeSocket(local),
            releaser: new VipReleaser(ike, balancer!, clusterLog),
            log: logger('vrrp', { node: cfg.node.name, vrid: cfg.cluster.vrrp.vrid }),
          });
        }
      } catch (err) {
        await gw.stop({ notifyPeers: false });
        throw err;
      }
      member = gw.cluster;
      gw.balancing = new Balancing(balancer!, daemon, gw.cluster!, cfg.cluster, clusterLog);
    }
    if (metrics && cfg.metrics) {
      try {
        await startMetrics(gw, metrics, cfg.metrics);
      } catch (err) {
        await gw.stop({ notifyPeers: false });
        throw err;
      }
    }
    if (cfg.control?.enabled) {
      try {
        gw.control = await ControlServer.listen({
          path: cfg.control.socket,
          target: gw,
          log: logger('control', { node: cfg.node.name }),
          ...(gw.balancing && { methods: clusterMethods(gw.balancing) }),
        });
      } catch (err) {
        await gw.stop({ notifyPeers: false });
        throw err;
      }
    }
    log.info(
      { dataPlane: dp.ipsec.name, reason: dp.reason, listen: daemon.endpoints(), connections: cfg.connections.map((c) => c.name) },
      'gateway started',
    );
    return gw;
  }

  status(): GatewayStatus {
    const m = this.daemon.manager;
    return {
      node: this.cfg.node.name,
      dataPlane: { backend: this.kernel.name, reason: this.dataPlane.reason },
      ike: m.stateCounts(),
      ikeSas: m.ikeSaList().length,
      halfOpen: m.halfOpenCount,
      childSas: m.liveChildren().length,
      routes: this.rri?.routes() ?? [],
      counters: this.daemon.counters,
      ...this.annotate?.status(),
    };
  }

  /** What the node adds to an IKE SA's view in `list-sas` (a base station: its cluster). */
  describeIkeSa(sa: IkeSa): Record<string, unknown> | undefined {
    return this.annotate?.ikeSa(sa);
  }

  /**
   * Graceful stop: tells peers (INFORMATIONAL Delete, bounded by `graceMs`) so base stations
   * reconnect at once, removes SAs and withdraws injected routes, closes the data plane.
   */
  async stop(opts: { notifyPeers?: boolean; graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.control?.close();
    // Resign first (priority 0): a backup takes the VIP at once instead of after Master_Down_Interval.
    await this.vrrp?.stop().catch((err) => this.log.error({ err }, 'VRRP stop failed'));
    await this.metrics?.close();
    this.balancing?.drainer.stop();
    await this.cluster?.stop();
    const sas: IkeSa[] = this.daemon.manager.ikeSaList().filter((sa) => sa.established);
    if ((opts.notifyPeers ?? true) && sas.length > 0) {
      const grace = opts.graceMs ?? 3000;
      await Promise.race([
        Promise.allSettled(sas.map((sa) => this.daemon.terminate(sa))),
        new Promise((r) => setTimeout(r, grace).unref()),
      ]);
    }
    await this.daemon.stop();
    await this.rri?.close();
    for (const a of this.cfg.addresses) {
      await this.net.deleteAddress({ address: a.address, dev: a.dev }).catch(() => {});
    }
    await this.dataPlane.close();
    this.log.info('gateway stopped');
  }
}

/** The sources a gateway has (IKE tables, routes, cluster), then the scrape endpoint. */
async function startMetrics(gw: Gateway, m: GatewayMetrics, c: NonNullable<GatewayConfig['metrics']>): Promise<void> {
  m.addDaemon(gw.daemon);
  m.addDataPlane(gw.kernel);
  const rri = gw.rri;
  if (rri) m.addRoutes(() => ({ routes: rri.routes(), errors: rri.errors }));
  const cluster = gw.cluster;
  if (cluster) m.addCluster(() => cluster.members());
  const vrrp = gw.vrrp;
  if (vrrp) m.addSource(vrrpAdapter, () => [vrrp.status()]);
  const balancing = gw.balancing;
  if (balancing) m.addSource(redirectAdapter, () => balancing.balancer.snapshot());
  await m.listen(c.host, c.port);
}

async function routeInjector(cfg: GatewayConfig, dp: DataPlane, log: Logger): Promise<RouteInjector | undefined> {
  const r = cfg.kernel.routes;
  // The userspace engine needs routes into its TUN device to see any traffic at all.
  const steer = dp.tunName !== undefined;
  if (!r.enabled && !steer) return undefined;
  let dev = r.dev ?? (r.via ? undefined : dp.tunName);
  if (!dev && !r.via && dp.routeDevice) {
    dev = await dp.routeDevice();
    log.info({ dev }, 'kernel.routes: no via or dev configured; injected routes take the device of ike.listen');
  }
  if (!dev && !r.via) {
    if (dp.ipsec.name !== 'stub') {
      throw new ConfigError(
        'kernel.routes: with the XFRM data plane set routes.via or routes.dev (where base stations\' subnets are reached), or routes.enabled: false',
      );
    }
    dev = 'stub0'; // recorded by the stub only
  }
  return new RouteInjector(dp.net, { table: r.table, metric: r.metric || undefined, via: r.via, dev, maxPerChild: r.maxPerChild });
}

/** One sink calling `a`'s listener, then `b`'s, for every event either has. */
function bothSinks(a: IkeEventSink | undefined, b: IkeEventSink | undefined): IkeEventSink | undefined {
  if (!a || !b) return a ?? b;
  const out: Record<string, (...args: never[]) => void> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof IkeEventSink>) {
    const fa = a[key] as ((...args: unknown[]) => void) | undefined;
    const fb = b[key] as ((...args: unknown[]) => void) | undefined;
    out[key] = (...args: unknown[]) => {
      fa?.(...args);
      fb?.(...args);
    };
  }
  return out as IkeEventSink;
}

function routeEvents(rri: RouteInjector, log: Logger) {
  const fail = (what: string) => (err: unknown) => log.error({ err }, `route injection: ${what} failed`);
  return {
    childUp(c: ChildSa) {
      void rri.childUp(childKey(c), c.remoteTs, { ikeSa: c.ike.name }).catch(fail('inject'));
    },
    childDown(c: ChildSa) {
      void rri.childDown(childKey(c)).catch(fail('withdraw'));
    },
    // A rekey reports neither childUp for the new child nor childDown for the old one: the new
    // child takes over the routes (added first, so the prefix never drops to zero children).
    childRekeyed(old: ChildSa, c: ChildSa) {
      void rri.childUp(childKey(c), c.remoteTs, { ikeSa: c.ike.name }).catch(fail('inject'));
      void rri.childDown(childKey(old)).catch(fail('withdraw'));
    },
    ikeDown(sa: IkeSa) {
      void rri.ikeSaDown(sa.name).catch(fail('withdraw'));
    },
    // The children now belong to the new IKE SA: its loss, not the old one's, withdraws them.
    ikeRekeyed(_old: IkeSa, sa: IkeSa) {
      for (const c of sa.children) if (c.isInstalled) void rri.childUp(childKey(c), c.remoteTs, { ikeSa: sa.name }).catch(fail('inject'));
    },
  };
}

/** UDP 500 (and 4500 unless the data plane owns it) on every listen address. */
async function ikeSockets(cfg: GatewayConfig, dp: DataPlane): Promise<IkeDatagramSocket[]> {
  const out: IkeDatagramSocket[] = [];
  try {
    for (const address of cfg.ike.listen) out.push(...(await ikeSocketsOn(address, cfg, dp)));
  } catch (err) {
    await Promise.allSettled(out.map((s) => s.close()));
    throw err;
  }
  return out;
}

/** IKE's two sockets on one address: 500, and 4500 (the userspace engine's when it has one). */
async function ikeSocketsOn(address: string, cfg: GatewayConfig, dp: DataPlane): Promise<IkeDatagramSocket[]> {
  const out: IkeDatagramSocket[] = [await bindUdp(address, cfg.ike.port, false)];
  try {
    const natT = dp.natTSocket?.({ address, port: cfg.ike.nattPort });
    if (natT) {
      out.push(natT);
    } else {
      const own = await bindUdp(address, cfg.ike.nattPort, true);
      out.push(own);
      if (dp.prepareNatTSocket) espInUdp(own, dp.prepareNatTSocket);
    }
  } catch (err) {
    await Promise.allSettled(out.map((s) => s.close()));
    throw err;
  }
  return out;
}

/** Hands the socket to the kernel's ESP-in-UDP decapsulation (XFRM data plane). */
function espInUdp(sock: NativeUdpIkeSocket, prepare: (fd: number) => void): void {
  try {
    prepare(sock.fd);
  } catch (err) {
    throw new GatewayError(`cannot set UDP_ENCAP on ${sock.local.address}:${sock.local.port} (${(err as Error).message}): ESP-in-UDP would reach IKE instead of XFRM`, { cause: err });
  }
}

/** A batched IKE socket with a sized receive buffer (kernel/ike-udp.ts): floods queue, not drop. */
async function bindUdp(address: string, port: number, natT: boolean): Promise<NativeUdpIkeSocket> {
  try {
    return NativeUdpIkeSocket.bind({ address, port, natT });
  } catch (err) {
    throw new GatewayError(
      `cannot bind IKE port ${address}:${port} (${(err as Error).message}): is the address configured on an interface, and no other IKE daemon running?`,
      { cause: err },
    );
  }
}
