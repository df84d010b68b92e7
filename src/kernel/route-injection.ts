/**
 * Route injection (RRI): while a base station's child SA is installed, the gateway holding it
 * has a kernel route, with segw's protocol number, for each of the base station's subnets (the
 * child's remote traffic selectors); the core's routing daemon (BGP/OSPF, redistributing
 * `proto segw` routes) then sends the return traffic to this gateway.
 *
 *   const rri = new RouteInjector(net, { dev: 'core0', table: 254, metric: 100 });
 *   await rri.reconcile();                          // at start: routes of a crashed run
 *   await rri.childUp('ike1/child1', remoteTs, { ikeSa: 'ike1' });
 *   await rri.childDown('ike1/child1');            // delete, expiry
 *   await rri.ikeSaDown('ike1');                   // IKE SA lost: all its children
 *   await rri.close();                             // shutdown: withdraws everything
 *
 * Ranges become prefixes (192.0.2.1-192.0.2.6 -> four routes); a child whose selectors need more
 * than `maxPerChild` routes gets none (RouteLimitError; the IKE responder refuses such a child
 * with TS_UNACCEPTABLE before it is installed, so this is the backstop). A prefix several children share
 * (two SAs of one base station, a rekey overlapping the old SA) is reference-counted: injected
 * by the first child, withdrawn after the last. Each prefix converges on its own: one kernel
 * request at a time per prefix, re-checked after each, so an up/down/up burst ends in the state
 * the last call asked for. reconcile() lists the kernel's routes of segw's protocol and table:
 * the ones still wanted and matching the configuration are adopted, all others removed, and
 * wanted ones missing are added, so a restart never duplicates a route.
 */
import { ConfigError } from '../errors.js';
import { logger } from '../log/index.js';
import { familyOf } from '../net/ip.js';
import { NetlinkError } from '../netlink/errors.js';
import { formatPrefix, parseCidr, rangeToPrefixes, type Prefix } from '../net/ip.js';
import { ROUTE_PROTO_SEGW, type KernelNet, type RouteParams, type TrafficSelector } from './types.js';

const log = logger('rri');

export interface RouteInjectionConfig {
  /** Routing table (default 254, main). */
  table?: number;
  /** Route metric; unset leaves the kernel's default (0 for IPv4, 1024 for IPv6). */
  metric?: number;
  /** Gateway for IPv4 subnets, and for IPv6 subnets unless via6 is set. */
  via?: string;
  via6?: string;
  /** Output device (with or without a gateway). */
  dev?: string;
  /** Preferred source address on the routes. */
  src?: string;
  /** rtm_protocol (default ROUTE_PROTO_SEGW, 200). */
  protocol?: number;
  /** Most routes one child may have (default DEFAULT_MAX_ROUTES_PER_CHILD). */
  maxPerChild?: number;
}

/**
 * A base station announces a handful of subnets (user plane, OAM, synchronisation); 64 leaves
 * room for odd ranges (one IPv4 range can split into up to 62 prefixes) and bounds what one
 * authenticated peer can make the gateway put into the core's routing.
 */
export const DEFAULT_MAX_ROUTES_PER_CHILD = 64;

/** A child's selectors need more routes than `maxPerChild`: none of them is injected. */
export class RouteLimitError extends ConfigError {
  constructor(id: string, wanted: number, max: number) {
    super(`child ${id}: its traffic selectors need ${wanted} routes, more than routes.maxPerChild (${max}); none injected`);
  }
}

interface PrefixState {
  prefix: Prefix;
  key: string;
  children: Set<string>;
  installed: boolean;
  converging?: Promise<void>;
}

export interface ReconcileResult {
  adopted: number;
  removed: number;
  added: number;
}

export class RouteInjector {
  private readonly prefixes = new Map<string, PrefixState>();
  private readonly children = new Map<string, { prefixes: string[]; ikeSa?: string }>();
  private readonly cfg: Required<Pick<RouteInjectionConfig, 'table' | 'protocol' | 'maxPerChild'>> & RouteInjectionConfig;
  private closed = false;
  /** Kernel requests that failed (netlink errors), by operation: metrics. */
  readonly errors = { inject: 0, withdraw: 0 };

  constructor(
    private readonly net: KernelNet,
    config: RouteInjectionConfig = {},
  ) {
    this.cfg = {
      ...config,
      table: config.table ?? 254,
      protocol: config.protocol ?? ROUTE_PROTO_SEGW,
      maxPerChild: config.maxPerChild ?? DEFAULT_MAX_ROUTES_PER_CHILD,
    };
    validate(this.cfg);
  }

  /** The routes of one child SA: its remote traffic selectors. Calling again replaces them. */
  async childUp(id: string, remoteTs: readonly TrafficSelector[], opts: { ikeSa?: string } = {}): Promise<void> {
    this.assertOpen();
    const wanted = new Map<string, Prefix>();
    for (const ts of remoteTs) for (const p of rangeToPrefixes(ts.startAddr, ts.endAddr)) wanted.set(formatPrefix(p), p);
    if (wanted.size > this.cfg.maxPerChild) throw new RouteLimitError(id, wanted.size, this.cfg.maxPerChild);
    const keys = [...wanted.keys()];
    const old = this.children.get(id);
    this.children.set(id, { prefixes: keys, ikeSa: opts.ikeSa ?? old?.ikeSa });
    for (const [k, prefix] of wanted) {
      let st = this.prefixes.get(k);
      if (!st) this.prefixes.set(k, (st = { prefix, key: k, children: new Set(), installed: false }));
      st.children.add(id);
    }
    const dropped = (old?.prefixes ?? []).filter((k) => !keys.includes(k));
    for (const k of dropped) this.prefixes.get(k)?.children.delete(id);
    await settle([...keys, ...dropped].map((k) => this.converge(k)));
  }

  /** The child SA is gone (deleted, expired, rekeyed away): its routes go unless another child shares them. */
  async childDown(id: string): Promise<void> {
    const child = this.children.get(id);
    if (!child) return;
    this.children.delete(id);
    for (const k of child.prefixes) this.prefixes.get(k)?.children.delete(id);
    await settle(child.prefixes.map((k) => this.converge(k)));
  }

  /** The IKE SA is lost (DPD, delete, redirect away): every child it carried goes down. */
  async ikeSaDown(ikeSa: string): Promise<void> {
    const ids = [...this.children].filter(([, c]) => c.ikeSa === ikeSa).map(([id]) => id);
    await settle(ids.map((id) => this.childDown(id)));
  }

  /** Prefixes and how many children want each, for status output. */
  routes(): { prefix: string; children: number; installed: boolean }[] {
    return [...this.prefixes.values()].map((s) => ({ prefix: s.key, children: s.children.size, installed: s.installed }));
  }

  /** Brings the kernel in line with the wanted routes; run at start before any childUp. */
  async reconcile(): Promise<ReconcileResult> {
    this.assertOpen();
    await settle([...this.prefixes.values()].map((s) => s.converging));
    const inKernel = await this.net.listRoutes({ protocol: this.cfg.protocol, table: this.cfg.table });
    const result: ReconcileResult = { adopted: 0, removed: 0, added: 0 };
    const seen = new Set<string>();
    const removals: Promise<void>[] = [];
    for (const r of inKernel) {
      const key = formatPrefix(parseCidr(r.dst));
      const st = this.prefixes.get(key);
      if (st && st.children.size > 0 && !seen.has(key) && this.matches(r, st.prefix)) {
        st.installed = true;
        seen.add(key);
        result.adopted++;
      } else {
        result.removed++;
        removals.push(this.removeStale(r));
      }
    }
    await settle(removals);
    const missing = [...this.prefixes.values()].filter((s) => s.children.size > 0 && !seen.has(s.key));
    for (const s of missing) s.installed = false;
    result.added = missing.length;
    await settle(missing.map((s) => this.converge(s.key)));
    log.info({ ...result, table: this.cfg.table, protocol: this.cfg.protocol }, 'injected routes reconciled');
    return result;
  }

  /** Shutdown: withdraws every route (unless `withdraw: false`, e.g. a graceful restart). */
  async close(opts: { withdraw?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (opts.withdraw !== false) {
      for (const id of [...this.children.keys()]) await this.childDown(id).catch((err: unknown) => log.warn({ err, id }, 'withdraw at shutdown failed'));
    }
    await settle([...this.prefixes.values()].map((s) => s.converging));
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new ConfigError('RouteInjector is closed');
  }

  /** The kernel route segw wants for `p`. */
  private routeFor(p: Prefix): RouteParams {
    const via = p.family === 4 ? this.cfg.via : (this.cfg.via6 ?? this.cfg.via);
    const r: RouteParams = { dst: formatPrefix(p), table: this.cfg.table, protocol: this.cfg.protocol };
    if (via && familyOf(via) === p.family) r.via = via;
    if (this.cfg.dev) r.dev = this.cfg.dev;
    if (this.cfg.src && familyOf(this.cfg.src) === p.family) r.src = this.cfg.src;
    if (this.cfg.metric !== undefined) r.metric = this.cfg.metric;
    if (!r.via && !r.dev) throw new ConfigError(`route injection: no gateway or device for IPv${p.family} subnet ${r.dst} (set via6 or dev)`);
    return r;
  }

  private matches(r: RouteParams, p: Prefix): boolean {
    const want = this.routeFor(p);
    if (want.metric !== undefined && r.metric !== want.metric) return false;
    if (want.via !== undefined && r.via !== want.via) return false;
    if (want.dev !== undefined && r.dev !== want.dev) return false;
    return true;
  }

  private async removeStale(r: RouteParams): Promise<void> {
    try {
      await this.net.deleteRoute({ dst: r.dst, table: r.table, protocol: r.protocol, metric: r.metric });
      log.info({ dst: r.dst, table: r.table }, 'stale injected route removed');
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }

  /**
   * One kernel request at a time per prefix, re-checked after each, until the kernel matches
   * what is wanted. A caller that finds a request running waits for it and checks again; a
   * failure is reported to the caller whose request failed.
   */
  private async converge(key: string): Promise<void> {
    for (;;) {
      const st = this.prefixes.get(key);
      if (!st) return;
      if (st.converging) {
        await st.converging.catch(() => undefined);
        continue;
      }
      const want = st.children.size > 0;
      if (want === st.installed) {
        if (!want) this.prefixes.delete(key);
        return;
      }
      const step = (want ? this.inject(st) : this.withdraw(st))
        .catch((err: unknown) => {
          this.errors[want ? 'inject' : 'withdraw']++;
          throw err;
        })
        .finally(() => {
          st.converging = undefined;
        });
      st.converging = step;
      await step;
    }
  }

  private async inject(st: PrefixState): Promise<void> {
    const route = this.routeFor(st.prefix);
    try {
      await this.net.addRoute(route);
      log.debug({ dst: route.dst }, 'route injected');
    } catch (err) {
      if (!(err instanceof NetlinkError && err.errno === 'EEXIST')) throw err;
      // Ours from an earlier run (adopt it) or another daemon's (refuse: never touch it).
      const mine = await this.net.listRoutes({ protocol: this.cfg.protocol, table: this.cfg.table });
      if (!mine.some((r) => formatPrefix(parseCidr(r.dst)) === st.key && this.matches(r, st.prefix))) throw err;
      log.info({ dst: route.dst }, 'route already in the kernel: adopted');
    }
    st.installed = true;
  }

  private async withdraw(st: PrefixState): Promise<void> {
    const route = this.routeFor(st.prefix);
    try {
      await this.net.deleteRoute(route);
      log.debug({ dst: route.dst }, 'route withdrawn');
    } catch (err) {
      if (!isGone(err)) throw err;
    }
    st.installed = false;
  }
}

/** The route is not there (any more): ESRCH (IPv4) or ENOENT. */
function isGone(err: unknown): boolean {
  return err instanceof NetlinkError && (err.errno === 'ESRCH' || err.errno === 'ENOENT');
}

/** Waits for all; rejects with the first failure once every one has settled. */
async function settle(ps: (Promise<unknown> | undefined)[]): Promise<void> {
  if (ps.length === 1) return void (await ps[0]);
  const results = await Promise.allSettled(ps.filter((p) => p !== undefined));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function validate(c: RouteInjectionConfig & { table: number; protocol: number; maxPerChild: number }): void {
  if (!Number.isInteger(c.protocol) || c.protocol < 1 || c.protocol > 255) throw new ConfigError(`route injection protocol ${c.protocol}: 1..255`);
  if (!Number.isInteger(c.table) || c.table < 1 || c.table > 0xffffffff || c.table === 255) {
    throw new ConfigError(`route injection table ${c.table}: 1..2^32-1, not 255 (local)`);
  }
  if (c.metric !== undefined && (!Number.isInteger(c.metric) || c.metric < 0 || c.metric > 0xffffffff)) {
    throw new ConfigError(`route injection metric ${c.metric}: 0..2^32-1`);
  }
  if (!c.via && !c.via6 && !c.dev) throw new ConfigError('route injection needs a gateway (via/via6) or a device (dev)');
  if (!Number.isInteger(c.maxPerChild) || c.maxPerChild < 1) throw new ConfigError(`route injection maxPerChild ${c.maxPerChild}: 1 or more`);
  if (c.via && c.via6 && familyOf(c.via6) !== 6) throw new ConfigError(`route injection via6 ${c.via6} is not IPv6`);
}
