/**
 * `segw basestation --config FILE.yaml`: an initiator. The file has the gateway's keys (node,
 * log, ike, kernel, addresses, connections) plus `initiate`: the connections to bring up at
 * start (default: every connection whose remote.addrs names a peer), and `reconnect`: the
 * back-off when one is lost or cannot be made (src/initiator/reconnect.ts; seconds or "500ms",
 * defaults initial 1 s, max 60 s):
 *
 *   reconnect: { initial: 1s, max: 2m }
 *
 * and `recovery`: remote disaster recovery per connection (src/initiator/recovery.ts). The
 * connection's remote.addrs[0] is the primary cluster address; `backups` follow in order.
 *
 *   recovery:
 *     tun:
 *       backups: [198.51.100.10]        # backup cluster addresses (VIPs), in order
 *       failback: 5m                    # "never", or the time the primary must answer first
 *       probe: 30s                      # how often the primary is probed while on a backup
 *       move-on: [AUTHENTICATION_FAILED, TEMPORARY_FAILURE]   # refusals that move (default)
 */
import { resolve } from 'node:path';
import { dict, duration, type Field, ipAddress, list, obj, oneOf, optional, str, configFail } from './schema.js';
import { NotifyError } from '../ike/constants.js';
import { nodeShape, toGatewayConfig, type GatewayConfig } from './gateway.js';
import { readYamlFile, withLocation } from './load.js';

/** The bounds of the reconnect back-off, in milliseconds (src/initiator/reconnect.ts). */
export interface ReconnectBounds {
  /** Ceiling of the first delay (attempt 0). */
  initialMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectBounds> = { initialMs: 1000, maxMs: 60_000 };

/** Remote disaster recovery of one connection (src/initiator/recovery.ts RecoveryPolicy). */
export interface RecoveryConfig {
  /** Primary first (the connection's remote.addrs[0]), then the backups in order. */
  clusters: string[];
  failback: { mode: 'never' } | { mode: 'hold'; holdMs: number; probeMs: number };
  /** Error notify numbers that move the connection to the next cluster. */
  moveOn: number[];
}

export const DEFAULT_PROBE_MS = 30_000;
export const DEFAULT_MOVE_ON_NAMES = ['AUTHENTICATION_FAILED', 'TEMPORARY_FAILURE'] as const;

export interface BasestationConfig extends GatewayConfig {
  initiate: string[];
  reconnect: ReconnectBounds;
  /** By connection name. */
  recovery: Map<string, RecoveryConfig>;
}

const reconnectField = obj({ initial: optional(duration({ min: 0.001 })), max: optional(duration({ min: 0.001 })) });

/** "never", or the hold time in seconds. */
const failbackField: Field<'never' | number> = {
  describe: '"never" or a hold time (seconds, or like "30s", "5m")',
  parse(v, path) {
    if (v === 'never') return 'never';
    if (typeof v === 'number' || (typeof v === 'string' && /^\d/.test(v))) return duration({ min: 0 }).parse(v, path);
    return configFail(path, `expected ${this.describe}, got ${JSON.stringify(v)}`);
  },
};

const notifyNames = Object.keys(NotifyError) as (keyof typeof NotifyError)[];
const recoveryField = obj({
  backups: list(ipAddress(), { min: 1, single: true }),
  failback: optional(failbackField),
  probe: optional(duration({ min: 0.1 })),
  'move-on': optional(list(oneOf(notifyNames))),
});

const basestationField = obj({
  ...nodeShape,
  initiate: optional(list(str(), { single: true })),
  reconnect: optional(reconnectField),
  recovery: optional(dict(recoveryField)),
});

type RawRecovery = NonNullable<ReturnType<typeof recoveryField.parse>>;

function toRecovery(name: string, r: RawRecovery, primary: string): RecoveryConfig {
  const path = `recovery.${name}`;
  const clusters = [primary, ...r.backups];
  const dup = clusters.find((a, i) => clusters.indexOf(a) !== i);
  if (dup) configFail(`${path}.backups`, `${dup} is listed twice (the primary is remote.addrs[0], ${primary})`);
  let failback: RecoveryConfig['failback'] = { mode: 'never' };
  if (r.failback !== undefined && r.failback !== 'never') {
    const hold = r.failback;
    failback = { mode: 'hold', holdMs: hold * 1000, probeMs: r.probe === undefined ? DEFAULT_PROBE_MS : r.probe * 1000 };
  } else if (r.probe !== undefined) configFail(`${path}.probe`, 'probes are only sent with a fail-back hold time (failback: 5m)');
  const moveOn = (r['move-on'] ?? DEFAULT_MOVE_ON_NAMES).map((n) => NotifyError[n]);
  return { clusters, failback, moveOn };
}

export function loadBasestationConfig(path: string): BasestationConfig {
  const file = resolve(path);
  const yaml = readYamlFile(file);
  return withLocation(file, yaml, () => parseBasestation(yaml.data, file));
}

function parseBasestation(data: unknown, file: string): BasestationConfig {
  const raw = basestationField.parse(data, '');
  const { initiate, reconnect, recovery: rawRecovery, ...rest } = raw;
  const cfg = toGatewayConfig(rest, file);
  const names = cfg.connections.map((c) => c.name);
  const chosen = initiate ?? cfg.connections.filter((c) => c.cfg.remote.addrs?.some((a) => a !== '%any')).map((c) => c.name);
  for (const [i, n] of chosen.entries()) {
    if (!names.includes(n)) configFail(`initiate[${i}]`, `no connection named "${n}" (have: ${names.join(', ')})`);
    const c = cfg.connections.find((x) => x.name === n)!;
    if (!c.cfg.remote.addrs?.some((a) => a !== '%any')) configFail(`connections.${n}.remote.addrs`, 'an initiator needs the peer address');
  }
  if (chosen.length === 0) configFail('initiate', 'no connection to initiate: set remote.addrs on a connection');
  const initialMs = reconnect?.initial === undefined ? DEFAULT_RECONNECT.initialMs : reconnect.initial * 1000;
  const maxMs = reconnect?.max === undefined ? Math.max(DEFAULT_RECONNECT.maxMs, initialMs) : reconnect.max * 1000;
  const bounds = { initialMs, maxMs };
  if (bounds.maxMs < bounds.initialMs) configFail('reconnect.max', `${bounds.maxMs / 1000} s is below reconnect.initial (${bounds.initialMs / 1000} s): max bounds the growing delay`);
  const recovery = new Map<string, RecoveryConfig>();
  for (const [n, r] of rawRecovery ?? []) {
    if (!chosen.includes(n)) configFail(`recovery.${n}`, `"${n}" is not a connection this base station initiates (initiate: ${chosen.join(', ')})`);
    const c = cfg.connections.find((x) => x.name === n)!;
    recovery.set(n, toRecovery(n, r, c.cfg.remote.addrs!.find((a) => a !== '%any')!));
  }
  return { ...cfg, initiate: chosen, reconnect: bounds, recovery };
}
