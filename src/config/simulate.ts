/**
 * `segw basestation --config FILE.yaml [--simulate N]` with a `simulate:` section: the base-station
 * simulator (src/initiator/simulator.ts) instead of one base station. N base stations, each with
 * its own identity (bs-<i>.ran.segw.example), keys, nonces and /32 of `subnet-pool`, kept up with
 * the same back-off and disaster recovery as `segw basestation`:
 *
 *   simulate:
 *     count: 10000                       # --simulate N overrides it
 *     endpoints: [198.51.100.10, 198.51.100.11]   # local addresses (IKE 500/4500 on each)
 *     subnet-pool: 198.18.0.0/15
 *     psk: "a secret shared by every base station"
 *     gateway-id: gw.example.net         # IDr expected (default: any)
 *     clusters: [192.0.2.10, 203.0.113.10]        # primary first, then backups in order
 *     remote-ts: [203.0.113.0/24]
 *     arrival: { rate: 500, burst: 50 }  # first attempts per second, at most `burst` at once
 *     reconnect: { initial: 1s, max: 60s }
 *     dpd: 30s
 *     retransmit: { timeout: 4, base: 1.8, tries: 5 }   # as a connection's (strongSwan's defaults)
 *     failback: never                    # or a hold time: 5m (probe: 30s)
 *     progress: 1s                       # progress line interval
 *     local-port: 0                      # IKE port of the endpoints (default 500, NAT-T 4500; 0: ephemeral)
 *     traffic:                           # some base stations carry real traffic (--traffic K overrides count)
 *       count: 10                        # spread evenly over the population
 *       target: 203.0.113.7              # a UDP echo service (RFC 862) behind the gateways, inside remote-ts
 *       port: 7                          # its port (default 7)
 *       interval: 1s                     # one probe per base station per interval, while it is up
 *       tun: segwsim0                    # the userspace ESP engine's TUN device (default segwsim0)
 *       threads: 1                       # engine worker threads (default 1)
 *
 * Traffic base stations install their child SAs in the userspace ESP engine (plain ESP, no NAT
 * between the simulator and the gateways), have their inner address (the first host of their
 * subnet) on the TUN device, with remote-ts routed into it; the others keep the null kernel.
 */
import { resolve } from 'node:path';
import { NotifyError } from '../ike/constants.js';
import { cidr, duration, ipAddress, list, num, obj, oneOf, optional, str, configFail, type Field } from './schema.js';
import { readYaml } from './load.js';
import { addrToBigInt, familyOf, parseCidr } from '../net/ip.js';
import { DEFAULT_MOVE_ON_NAMES, DEFAULT_PROBE_MS, DEFAULT_RECONNECT, type RecoveryConfig, type ReconnectBounds } from './basestation.js';

/** Base stations that carry real traffic (src/initiator/traffic.ts). */
export interface TrafficSettings {
  /** How many (spread evenly over the population; 0 < count <= population). */
  count: number;
  /** The UDP echo service (RFC 862) behind the gateways, inside remote-ts. */
  target: string;
  port: number;
  intervalMs: number;
  /** The TUN device's name. */
  tun: string;
  /** Engine worker threads. */
  threads: number;
}

export interface SimulateConfig {
  file: string;
  count: number;
  endpoints: string[];
  subnetPool: string;
  psk: string;
  gatewayId?: string;
  clusters: string[];
  port?: number;
  remoteTs: string[];
  arrival: { ratePerSec: number; burst: number };
  reconnect: ReconnectBounds;
  dpdDelay: number;
  retransmit?: { timeout?: number; base?: number; tries?: number };
  failback: RecoveryConfig['failback'];
  moveOn: number[];
  progressMs: number;
  /** IKE port of the local endpoints (default 500); NAT-T is the next one, or ephemeral with 0. */
  localPort?: number;
  /** Base stations that carry traffic through a real data plane; absent: none. */
  traffic?: TrafficSettings;
}

const failbackField: Field<'never' | number> = {
  describe: '"never" or a hold time (seconds, or like "30s", "5m")',
  parse(v, path) {
    if (v === 'never') return 'never';
    if (typeof v === 'number' || (typeof v === 'string' && /^\d/.test(v))) return duration({ min: 0 }).parse(v, path);
    return configFail(path, `expected ${this.describe}, got ${JSON.stringify(v)}`);
  },
};

const simulateField = obj({
  count: num({ min: 1, max: 1_000_000, integer: true }),
  endpoints: list(ipAddress(), { min: 1, single: true }),
  'subnet-pool': cidr(),
  psk: str({ nonEmpty: true }),
  'gateway-id': optional(str({ nonEmpty: true })),
  clusters: list(ipAddress(), { min: 1, single: true }),
  port: optional(num({ min: 1, max: 65535, integer: true })),
  'remote-ts': list(cidr(), { min: 1, single: true }),
  arrival: obj({ rate: num({ min: 0.001 }), burst: optional(num({ min: 1, integer: true })) }),
  reconnect: optional(obj({ initial: optional(duration({ min: 0.001 })), max: optional(duration({ min: 0.001 })) })),
  dpd: optional(duration({ min: 0 })),
  retransmit: optional(obj({ timeout: optional(duration({ min: 0.01 })), base: optional(num({ min: 1 })), tries: optional(num({ min: 0, max: 20, integer: true })) })),
  failback: optional(failbackField),
  probe: optional(duration({ min: 0.1 })),
  'move-on': optional(list(oneOf(Object.keys(NotifyError) as (keyof typeof NotifyError)[]))),
  progress: optional(duration({ min: 0.1 })),
  'local-port': optional(num({ min: 0, max: 65534, integer: true })),
  traffic: optional(
    obj({
      count: optional(num({ min: 0, max: 1_000_000, integer: true })),
      target: ipAddress(),
      port: optional(num({ min: 1, max: 65535, integer: true })),
      interval: optional(duration({ min: 0.05 })),
      tun: optional(str({ nonEmpty: true })),
      threads: optional(num({ min: 1, max: 64, integer: true })),
    }),
  ),
});

export const DEFAULT_TRAFFIC = { count: 10, port: 7, intervalMs: 1000, tun: 'segwsim0', threads: 1 } as const;

type RawTraffic = NonNullable<ReturnType<typeof simulateField.parse>['traffic']>;

/** The traffic settings, or undefined when no base station carries traffic. */
function toTraffic(t: RawTraffic | undefined, count: number, remoteTs: string[], override: number | undefined): TrafficSettings | undefined {
  if (!t && override === undefined) return undefined;
  const k = override ?? t?.count ?? DEFAULT_TRAFFIC.count;
  if (k === 0) return undefined;
  if (!t) return configFail('simulate.traffic', `--traffic ${k} needs a traffic: section naming the echo target (traffic: { target: ADDRESS })`);
  if (k > count) configFail('simulate.traffic.count', `${k} traffic base stations, but only ${count} are simulated`);
  if (!insideAny(t.target, remoteTs)) configFail('simulate.traffic.target', `${t.target} is outside remote-ts (${remoteTs.join(', ')}): its traffic would not enter a tunnel`);
  const tun = t.tun ?? DEFAULT_TRAFFIC.tun;
  if (tun.length > 15 || /[\s/]/.test(tun)) configFail('simulate.traffic.tun', `"${tun}" is not a usable interface name (at most 15 characters, no spaces or slashes)`);
  return {
    count: k,
    target: t.target,
    port: t.port ?? DEFAULT_TRAFFIC.port,
    intervalMs: t.interval === undefined ? DEFAULT_TRAFFIC.intervalMs : t.interval * 1000,
    tun,
    threads: t.threads ?? DEFAULT_TRAFFIC.threads,
  };
}

/** True when the file has a `simulate:` section (segw basestation then runs the simulator). */
export function hasSimulate(path: string): boolean {
  const raw = readYaml(resolve(path));
  return raw !== null && typeof raw === 'object' && 'simulate' in raw;
}

/** `count` and `traffic` (--simulate N, --traffic K) override the file's. */
export function loadSimulateConfig(path: string, count?: number, traffic?: number): SimulateConfig {
  const file = resolve(path);
  const raw = readYaml(file) as Record<string, unknown>;
  const extra = Object.keys(raw).filter((k) => k !== 'simulate');
  if (extra.length > 0) configFail(extra[0]!, 'a simulator file has only the `simulate:` section');
  const s = simulateField.parse(raw.simulate, 'simulate');
  const dup = s.clusters.find((a, i) => s.clusters.indexOf(a) !== i);
  if (dup) configFail('simulate.clusters', `${dup} is listed twice`);
  const initialMs = s.reconnect?.initial === undefined ? DEFAULT_RECONNECT.initialMs : s.reconnect.initial * 1000;
  const maxMs = s.reconnect?.max === undefined ? Math.max(DEFAULT_RECONNECT.maxMs, initialMs) : s.reconnect.max * 1000;
  if (maxMs < initialMs) configFail('simulate.reconnect.max', `${maxMs / 1000} s is below reconnect.initial (${initialMs / 1000} s)`);
  let failback: RecoveryConfig['failback'] = { mode: 'never' };
  if (s.failback !== undefined && s.failback !== 'never') {
    failback = { mode: 'hold', holdMs: s.failback * 1000, probeMs: s.probe === undefined ? DEFAULT_PROBE_MS : s.probe * 1000 };
  } else if (s.probe !== undefined) configFail('simulate.probe', 'probes are only sent with a fail-back hold time (failback: 5m)');
  const n = count ?? s.count;
  const trafficSettings = toTraffic(s.traffic, n, s['remote-ts'], traffic);
  return {
    file,
    count: n,
    endpoints: s.endpoints,
    subnetPool: s['subnet-pool'],
    psk: s.psk,
    ...(s['gateway-id'] ? { gatewayId: s['gateway-id'] } : {}),
    clusters: s.clusters,
    ...(s.port ? { port: s.port } : {}),
    remoteTs: s['remote-ts'],
    arrival: { ratePerSec: s.arrival.rate, burst: s.arrival.burst ?? Math.max(1, Math.ceil(s.arrival.rate / 10)) },
    reconnect: { initialMs, maxMs },
    dpdDelay: s.dpd ?? 30,
    ...(s.retransmit ? { retransmit: s.retransmit } : {}),
    failback,
    moveOn: (s['move-on'] ?? DEFAULT_MOVE_ON_NAMES).map((n) => NotifyError[n]),
    progressMs: (s.progress ?? 1) * 1000,
    ...(s['local-port'] === undefined ? {} : { localPort: s['local-port'] }),
    ...(trafficSettings ? { traffic: trafficSettings } : {}),
  };
}

/** Whether `address` lies in one of the prefixes. */
function insideAny(address: string, prefixes: readonly string[]): boolean {
  const fam = familyOf(address);
  const a = addrToBigInt(address);
  return prefixes.some((text) => {
    const p = parseCidr(text);
    if (p.family !== fam) return false;
    const shift = BigInt((fam === 4 ? 32 : 128) - p.len);
    return a >> shift === addrToBigInt(p.addr) >> shift;
  });
}
