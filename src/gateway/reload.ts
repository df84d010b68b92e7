/**
 * SIGHUP: re-read the config file and apply what can change while the gateway runs, without
 * dropping an established SA.
 *
 *   re-read + validate ──bad──> keep the old config, log why (the key's path)
 *          │
 *   diff the documents ──a restart-only key changed──> refuse the whole reload, naming the keys
 *          │
 *   apply: connections (new IKE SAs use the new ones, PSKs and certificates re-read; established
 *          SAs keep theirs until they end), log.level, and the log file reopened (log rotation);
 *          the cluster's weights, ceilings and pins (the balancer's next decision uses them),
 *          and the cluster key when its file's content changed (key rotation)
 *
 * A reload is all or nothing, so the running config is always one file's content.
 */
import type { GatewayConfig, GatewayDocument } from '../config/gateway.js';
import type { ClusterConfig } from '../config/cluster.js';

/** Keys a reload applies (with everything below them); every other difference needs a restart. */
const RELOADABLE = ['connections', 'log.level', 'cluster.weights', 'cluster.ceiling', 'cluster.ceilings', 'cluster.pins'];
const reloadable = (path: string) => RELOADABLE.some((k) => path === k || path.startsWith(`${k}.`));

export type ReloadPlan =
  | { ok: true; added: string[]; removed: string[]; kept: string[]; logLevel?: { from: string; to: string }; cluster: string[] }
  | { ok: false; restartOnly: string[] };

/** What a reload from `old` to `next` would change, or the restart-only keys that differ. */
export function planReload(old: GatewayDocument, next: GatewayDocument): ReloadPlan {
  const changed = diffPaths(old, next, '');
  const restartOnly = changed.filter((p) => !reloadable(p));
  if (restartOnly.length > 0) return { ok: false, restartOnly };
  const before = new Set(old.connections.keys());
  const after = [...next.connections.keys()];
  const from = old.log.level ?? 'info';
  const to = next.log.level ?? 'info';
  return {
    ok: true,
    added: after.filter((n) => !before.has(n)),
    removed: [...before].filter((n) => !next.connections.has(n)),
    kept: after.filter((n) => before.has(n)),
    ...(from !== to ? { logLevel: { from, to } } : {}),
    cluster: changed.filter((p) => p.startsWith('cluster.')),
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map);
}

/** The paths (`ike.listen`, `kernel.routes.metric`) at which two validated documents differ. */
export function diffPaths(a: unknown, b: unknown, path: string): string[] {
  const join = (k: string) => (path ? `${path}.${k}` : k);
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => diffPaths(a[k], b[k], join(k)));
  }
  if (a instanceof Map && b instanceof Map) {
    const keys = new Set([...a.keys(), ...b.keys()].map(String));
    return [...keys].flatMap((k) => diffPaths(a.get(k), b.get(k), join(k)));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [path];
    return a.some((x, i) => diffPaths(x, b[i], path).length > 0) ? [path] : [];
  }
  return Object.is(a, b) ? [] : [path || '(top level)'];
}

/** What a running gateway offers a reload (a Gateway, or a test double). */
export interface Reloadable {
  readonly daemon: { setConnections(c: GatewayConfig['connections']): void };
  readonly cluster?: { reconfigure(c: Pick<ClusterConfig, 'weights' | 'ceiling' | 'key'>): void };
  readonly balancing?: { balancer: { reconfigure(s: { weights: ClusterConfig['weights']; ceiling: number; ceilings: ReadonlyMap<string, number>; pins: ClusterConfig['pins'] }): void } };
}

/**
 * Applies `next` to a running gateway after planReload said ok (the caller reopens the log with
 * the new level). Returns whether the cluster key changed (a rotation: logged by the caller).
 */
export function applyReload(gw: Reloadable, current: GatewayConfig, next: GatewayConfig): { clusterKeyRotated: boolean } {
  gw.daemon.setConnections(next.connections);
  const c = next.cluster;
  if (!c) return { clusterKeyRotated: false };
  const rotated = !!current.cluster && !current.cluster.key.equals(c.key);
  gw.cluster?.reconfigure({ weights: c.weights, ceiling: c.ceiling, key: c.key });
  gw.balancing?.balancer.reconfigure({ weights: c.weights, ceiling: c.ceiling, ceilings: new Map(Object.entries(c.ceilings)), pins: c.pins });
  return { clusterKeyRotated: rotated };
}
