/**
 * `segw gateway --config FILE.yaml`: the gateway daemon's configuration. examples/ holds a
 * commented file for each scenario; every key is documented there.
 */
import { dirname, resolve } from 'node:path';
import type { IkeDaemonSettings, ResolvedConnection } from '../ike/config.js';
import { DEFAULT_SETTINGS } from '../ike/config.js';
import { cidr, duration, ipAddress, list, num, obj, oneOf, optional, str, bool, configFail } from './schema.js';
import { connectionsField, toConnection } from './connection.js';
import { checkLogFile, checkSocketPath } from './paths.js';
import { readYamlFile, withLocation } from './load.js';
import { DEFAULT_MAX_ROUTES_PER_CHILD } from '../kernel/route-injection.js';
import { defaultSocketPath } from './control-socket.js';
import { clusterField, toClusterConfig, type ClusterConfig, type RawCluster } from './cluster.js';
import { metricsField, toMetricsConfig, type MetricsConfig } from './metrics.js';

export type KernelIpsecChoice = 'auto' | 'xfrm' | 'userspace' | 'stub';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface RouteInjectionConfig {
  enabled: boolean;
  /** Routing table (254 = main). */
  table: number;
  metric: number;
  /** Next hop for injected routes, or the device (the TUN device in userspace mode by default). */
  via?: string;
  dev?: string;
  /** Most routes one child SA may have; a child needing more is refused (TS_UNACCEPTABLE). */
  maxPerChild: number;
}

export interface GatewayConfig {
  /** The file this came from (for messages). */
  file: string;
  /** The file's content as validated, before defaults and units (reload compares these). */
  document: GatewayDocument;
  /** Doubts that do not stop the start (a key file others can read): shown by --check, logged at start. */
  warnings: string[];
  node: { name: string };
  /** `file`: absolute (a relative name is taken from the config file's directory). */
  log: { level: LogLevel; file?: string };
  ike: {
    /** Local addresses IKE listens on (ports 500 and 4500 on each). */
    listen: string[];
    port: number;
    nattPort: number;
    settings: IkeDaemonSettings;
  };
  kernel: {
    ipsec: KernelIpsecChoice;
    userspace: { tun: string; mtu: number; threads: number };
    /** XFRM data plane: ESP offload to a device (src/kernel/xfrm/offload.ts); 'off' by default. */
    xfrm: { offload: 'off' | 'crypto' | 'packet'; offloadDevice?: string };
    routes: RouteInjectionConfig;
  };
  /** Addresses the gateway adds to interfaces at start (e.g. a VIP outside VRRP, lab use). */
  addresses: { address: string; dev: string }[];
  /** Resolved once, here; the IKE daemon uses them as they are. */
  connections: ResolvedConnection[];
  /** The operator control socket (src/control); absent or disabled: none is opened. */
  control?: { enabled: boolean; socket: string };
  /** Cluster membership, VRRP and load reports (src/config/cluster.ts); absent: a standalone gateway. */
  cluster?: ClusterConfig;
  /** The Prometheus scrape endpoint (src/metrics); absent: none. */
  metrics?: MetricsConfig;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

/** Keys shared by gateway and base-station configs. */
export const nodeShape = {
  node: obj({ name: str({ pattern: /^[A-Za-z0-9_.-]{1,64}$/, hint: 'a node name ([A-Za-z0-9_.-], up to 64)' }) }),
  log: optional(obj({ level: optional(oneOf(LOG_LEVELS), 'info'), file: optional(str()) }), { level: 'info' as const, file: undefined }),
  ike: obj({
    listen: list(ipAddress(), { min: 1, single: true }),
    port: optional(num({ min: 1, max: 65535, integer: true }), 500),
    nattPort: optional(num({ min: 1, max: 65535, integer: true }), 4500),
    cookieThreshold: optional(num({ min: 0, integer: true })),
    halfOpenPerPeer: optional(num({ min: 1, integer: true })),
    halfOpenMax: optional(num({ min: 1, integer: true })),
    halfOpenTimeout: optional(duration({ min: 1 })),
  }),
  kernel: optional(
    obj({
      ipsec: optional(oneOf(['auto', 'xfrm', 'userspace', 'stub'] as const), 'auto'),
      userspace: optional(
        obj({
          tun: optional(str({ pattern: /^[A-Za-z0-9_.-]{1,15}$/, hint: 'an interface name (up to 15 chars)' }), 'segw0'),
          mtu: optional(num({ min: 576, max: 9000, integer: true }), 1400),
          threads: optional(num({ min: 1, max: 64, integer: true }), 2),
        }),
      ),
      xfrm: optional(
        obj({
          offload: optional(oneOf(['off', 'crypto', 'packet'] as const), 'off'),
          offloadDevice: optional(str({ pattern: /^[A-Za-z0-9_.-]{1,15}$/, hint: 'an interface name (up to 15 chars)' })),
        }),
      ),
      routes: optional(
        obj({
          enabled: optional(bool(), true),
          table: optional(num({ min: 1, max: 2 ** 32 - 1, integer: true }), 254),
          metric: optional(num({ min: 0, integer: true }), 0),
          via: optional(ipAddress()),
          dev: optional(str()),
          maxPerChild: optional(num({ min: 1, max: 100_000, integer: true })),
        }),
      ),
    }),
  ),
  addresses: optional(list(obj({ address: cidr(), dev: str() })), []),
  connections: connectionsField,
  /** The operator control socket (`segw ctl`): UNIX socket, mode 0600. */
  control: optional(
    obj({
      enabled: optional(bool(), true),
      socket: optional(str({ pattern: /^\/.{1,106}$/, hint: 'an absolute path (UNIX socket paths are limited to 107 octets)' })),
    }),
  ),
};

/** The gateway file's whole definition: the validator, and the source of docs/config.schema.json. */
export const gatewayField = obj({ ...nodeShape, cluster: optional(clusterField), metrics: optional(metricsField) });

/** A validated gateway file, before defaults, units and the files it names. */
export type GatewayDocument = Omit<ReturnType<typeof gatewayField.parse>, 'cluster' | 'metrics'> & {
  cluster?: RawCluster;
  metrics?: ReturnType<typeof metricsField.parse>;
};

/** Loads and validates a gateway config; throws ConfigError with the path of the first problem. */
export function loadGatewayConfig(path: string): GatewayConfig {
  const file = resolve(path);
  const yaml = readYamlFile(file);
  return withLocation(file, yaml, () => parseGatewayConfig(yaml.data, file));
}

export function parseGatewayConfig(data: unknown, file: string): GatewayConfig {
  return toGatewayConfig(gatewayField.parse(data, ''), file);
}

export function toGatewayConfig(raw: GatewayDocument, file: string): GatewayConfig {
  const baseDir = dirname(file);
  if (raw.connections.size === 0) configFail('connections', 'at least one connection is needed');
  const warnings: string[] = [];
  const connections = [...raw.connections].map(([name, c]) => toConnection(name, c, baseDir, `connections.${name}`, warnings));
  const logFile = raw.log.file === undefined ? undefined : resolve(baseDir, raw.log.file);
  if (logFile) checkLogFile('log.file', logFile);
  const control = {
    enabled: raw.control?.enabled ?? true,
    socket: raw.control?.socket ?? defaultSocketPath(raw.node.name),
  };
  if (control.enabled) checkSocketPath('control.socket', control.socket);
  const k = raw.kernel;
  const routes = k?.routes;
  return {
    file,
    document: raw,
    warnings,
    node: raw.node,
    log: { level: raw.log.level ?? 'info', file: logFile },
    ike: {
      listen: raw.ike.listen,
      port: raw.ike.port,
      nattPort: raw.ike.nattPort,
      settings: {
        ...DEFAULT_SETTINGS,
        ...(raw.ike.cookieThreshold !== undefined && { cookieThreshold: raw.ike.cookieThreshold }),
        ...(raw.ike.halfOpenPerPeer !== undefined && { halfOpenPerPeer: raw.ike.halfOpenPerPeer }),
        ...(raw.ike.halfOpenMax !== undefined && { halfOpenMax: raw.ike.halfOpenMax }),
        ...(raw.ike.halfOpenTimeout !== undefined && { halfOpenTimeoutMs: raw.ike.halfOpenTimeout * 1000 }),
      },
    },
    kernel: {
      ipsec: k?.ipsec ?? 'auto',
      userspace: {
        tun: k?.userspace?.tun ?? 'segw0',
        mtu: k?.userspace?.mtu ?? 1400,
        threads: k?.userspace?.threads ?? 2,
      },
      xfrm: { offload: k?.xfrm?.offload ?? 'off', ...(k?.xfrm?.offloadDevice !== undefined && { offloadDevice: k.xfrm.offloadDevice }) },
      routes: {
        enabled: routes?.enabled ?? true,
        table: routes?.table ?? 254,
        metric: routes?.metric ?? 0,
        via: routes?.via,
        dev: routes?.dev,
        maxPerChild: routes?.maxPerChild ?? DEFAULT_MAX_ROUTES_PER_CHILD,
      },
    },
    addresses: raw.addresses,
    connections,
    control,
    ...(raw.cluster && { cluster: clusterWithListen(toClusterConfig(raw.cluster, raw.node.name, baseDir), raw.ike?.listen ?? []) }),
    ...(raw.metrics && { metrics: toMetricsConfig(raw.metrics) }),
  };
}

/**
 * The VIPs are served by whichever member is VRRP master, which binds IKE on them when it takes
 * them (src/gateway/vrrp-node.ts); a VIP in ike.listen could not be bound on a backup.
 */
function clusterWithListen(c: ClusterConfig, listen: readonly string[]): ClusterConfig {
  const vips = new Set(c.vips.map((v) => v.split('/')[0]));
  listen.forEach((a, i) => {
    if (vips.has(a)) configFail(`ike.listen[${i}]`, `${a} is a cluster VIP (cluster.vips): leave it out, the VRRP master serves IKE on it by itself`);
  });
  return c;
}
