/**
 * The gateway config's `cluster:` section: this member's identity in the cluster, its VRRP
 * instance (src/vrrp), its capacity and the load-report exchange (src/cluster). Everything is
 * checked at load time, with the path of the offending key, so a bad cluster config stops
 * `segw gateway --check` rather than a running member. examples/cluster-member.yaml documents
 * every key.
 */
import type { VrrpOptions } from '../vrrp/options.js';
import { CHECKSUM_FORMS, type ChecksumForm } from '../vrrp/constants.js';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { ClusterKey, MIN_KEY_OCTETS, keyFromFile } from '../cluster/key.js';
import { logger } from '../log/index.js';
import { bool, cidr, configFail, ConfigKeyError, duration, ipAddress, list, map, num, obj, oneOf, optional, str, type Field } from './schema.js';

/** How this member answers IKE_SA_INIT / IKE_AUTH with RFC 5685 REDIRECT (the balancer, later). */
export type RedirectMode = 'init' | 'auth' | 'off';
export type VrrpChecksum = ChecksumForm;

/** The resolved VRRP instance settings: exactly the options src/vrrp takes (one declaration). */
export type VrrpConfig = VrrpOptions;

export interface ClusterEndpoint {
  address: string;
  port: number;
}

export interface ClusterConfig {
  /** This member's id in load reports (default: node.name). */
  nodeId: string;
  /** Where the balancer redirects base stations to reach this member: IPv4, IPv6 or an FQDN. */
  address: string;
  /** The cluster's virtual addresses (CIDR), held by the VRRP master. */
  vips: string[];
  vrrp: VrrpConfig;
  capacity: { maxTunnels: number; bandwidthBps: number };
  /** Weights of tunnels, bandwidth and CPU in a member's utilization (src/cluster/table.ts). */
  weights: { tunnels: number; bandwidth: number; cpu: number };
  /** Utilization (0..1) above which a member takes no new base stations. */
  ceiling: number;
  reportIntervalMs: number;
  /** K: a member whose reports stop for K intervals is stale. */
  staleAfter: number;
  listen: ClusterEndpoint;
  /** The other members' report addresses. */
  peers: ClusterEndpoint[];
  redirect: RedirectMode;
  /** Ceilings of other members that differ from `ceiling` (by member id). */
  ceilings: Record<string, number>;
  /** IKE_AUTH redirect: peers pinned (by identity pattern) to a member or to "self". */
  pins: { connection?: string; peer: string; member: string }[];
  /** Draining: redirects per second, and when to ask a peer that has not moved again (ms). */
  drain: { ratePerSec: number; retryMs: number };
  keyFile: string;
  key: ClusterKey;
}

export const DEFAULT_REPORT_PORT = 7405;
const CHECKSUMS = CHECKSUM_FORMS;

const FQDN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** An IPv4 or IPv6 address, or a host name. */
const redirectTarget = map(str({ hint: 'an IPv4 or IPv6 address or an FQDN' }), (s, path) => {
  if (isIP(s) === 0 && (!FQDN.test(s) || /^[\d.]+$/.test(s))) configFail(path, `expected an IPv4 or IPv6 address or an FQDN, got "${s}"`);
  return s;
});

/** "80%" or a fraction 0 < x <= 1. */
const fraction: Field<number> = {
  describe: 'a percentage like "80%" or a fraction like 0.8',
  jsonSchema: { anyOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 1 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?%\\s*$' }] },
  parse(v, path) {
    let f = Number.NaN;
    if (typeof v === 'number') f = v;
    else if (typeof v === 'string' && /^\d+(\.\d+)?%$/.test(v.trim())) f = Number(v.trim().slice(0, -1)) / 100;
    if (!(f > 0 && f <= 1)) configFail(path, `expected ${this.describe} (above 0, at most 100%), got ${JSON.stringify(v)}`);
    return f;
  },
};

const BANDWIDTH_UNITS: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** Bits per second: a number, or "500M", "2G", "10Gbit", "1.5Gbps". */
const bandwidth: Field<number> = {
  describe: 'a bandwidth in bit/s (a number, or like "500M", "10Gbit")',
  jsonSchema: { anyOf: [{ type: 'number', minimum: 1 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*[kKMGT]?(bit|bps|b)?\\s*$' }] },
  parse(v, path) {
    let bps = Number.NaN;
    if (typeof v === 'number') bps = v;
    else if (typeof v === 'string') {
      const m = /^(\d+(?:\.\d+)?)\s*([kKMGT]?)(bit|bps|b)?$/.exec(v.trim());
      if (m) bps = Number(m[1]) * BANDWIDTH_UNITS[m[2]!]!;
    }
    if (!(bps >= 1) || !Number.isFinite(bps)) configFail(path, `expected ${this.describe}, got ${JSON.stringify(v)}`);
    return Math.round(bps);
  },
};

/** "192.0.2.12", "192.0.2.12:7405", "[2001:db8::12]:7405", "2001:db8::12". */
function endpoint(defaultPort: number): Field<ClusterEndpoint> {
  return {
    describe: 'an address with an optional port, like 192.0.2.12:7405 or [2001:db8::12]:7405',
    jsonSchema: { type: 'string', minLength: 1 },
    parse(v, path) {
      if (typeof v !== 'string') configFail(path, `expected ${this.describe}, got ${JSON.stringify(v)}`);
      const s = v.trim();
      let address = s;
      let portText: string | undefined;
      const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
      if (v6) [address, portText] = [v6[1]!, v6[2]];
      else if (isIP(s) === 0 && /^[^:]+:\d+$/.test(s)) [address, portText] = s.split(':') as [string, string];
      const port = portText === undefined ? defaultPort : Number(portText);
      if (isIP(address) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
        configFail(path, `expected ${this.describe}, got ${JSON.stringify(v)}`);
      }
      return { address, port };
    },
  };
}

const vrrpField = obj({
  interface: str({ pattern: /^[A-Za-z0-9_.:-]{1,15}$/, hint: 'an interface name (up to 15 chars)' }),
  vrid: num({ min: 1, max: 255, integer: true }),
  priority: optional(num({ min: 1, max: 255, integer: true }), 100),
  advertInterval: optional(duration({ min: 0.01, max: 40.95 }), 1),
  preempt: optional(bool(), true),
  preemptDelay: optional(duration({ max: 3600 }), 0),
  accept: optional(bool(), true),
  checksum: optional(oneOf(CHECKSUMS), 'rfc9568'),
  acceptChecksums: optional(list(oneOf(CHECKSUMS), { min: 1, single: true })),
  unicastPeers: optional(list(ipAddress(), { min: 1, single: true })),
  unicastSource: optional(ipAddress()),
  virtualMac: optional(bool(), false),
});

export const clusterField = obj({
  nodeId: optional(str({ pattern: /^[A-Za-z0-9_.-]{1,64}$/, hint: 'a member id ([A-Za-z0-9_.-], up to 64)' })),
  address: redirectTarget,
  vips: list(cidr(), { min: 1, single: true }),
  keyFile: str({ hint: 'the path of the cluster key file (the key itself never goes in the config)' }),
  redirect: optional(oneOf(['init', 'auth', 'off'] as const), 'init'),
  capacity: obj({
    maxTunnels: num({ min: 1, max: 2 ** 32 - 1, integer: true }),
    bandwidth,
  }),
  weights: optional(
    obj({
      tunnels: optional(num({ min: 0, max: 1000 }), 1),
      bandwidth: optional(num({ min: 0, max: 1000 }), 1),
      cpu: optional(num({ min: 0, max: 1000 }), 1),
    }),
  ),
  ceiling: optional(fraction, 0.8),
  ceilings: optional(list(obj({ member: str({ pattern: /^[A-Za-z0-9_.-]{1,64}$/, hint: 'a member id' }), ceiling: fraction }), { min: 1 })),
  pins: optional(
    list(
      obj({
        connection: optional(str()),
        peer: str({ hint: 'a peer identity pattern (* and ? wildcards), like "*.north.example.net"' }),
        member: str({ pattern: /^[A-Za-z0-9_.-]{1,64}$/, hint: 'a member id, or "self"' }),
      }),
      { min: 1 },
    ),
  ),
  drain: optional(
    obj({
      rate: optional(num({ min: 0.1, max: 100000 }), 50),
      retry: optional(duration({ min: 0.1, max: 3600 }), 10),
    }),
  ),
  reports: obj({
    listen: ipAddress(),
    port: optional(num({ min: 1, max: 65535, integer: true }), DEFAULT_REPORT_PORT),
    interval: optional(duration({ min: 0.01, max: 3600 }), 1),
    staleAfter: optional(num({ min: 1, max: 1000, integer: true }), 3),
    peers: list(str(), { min: 1, single: true }),
  }),
  vrrp: vrrpField,
});

export type RawCluster = ReturnType<typeof clusterField.parse>;

const ms = (seconds: number) => Math.round(seconds * 1000);
const familyOf = (addr: string) => isIP(addr.split('/')[0]!);

function toVrrp(raw: RawCluster['vrrp'], vips: string[], path: string): VrrpConfig {
  const advertInterval = ms(raw.advertInterval);
  if (advertInterval % 10 !== 0 || advertInterval < 10 || advertInterval > 40950) {
    configFail(`${path}.advertInterval`, `${advertInterval} ms: must be a multiple of 10 ms in 10ms..40950ms (VRRPv3 counts centiseconds, RFC 5798 §5.2.7)`);
  }
  const family = familyOf(vips[0]!);
  raw.unicastPeers?.forEach((p, i) => {
    if (familyOf(p) !== family) configFail(`${path}.unicastPeers[${i}]`, `${p} is not IPv${family} like the VIPs`);
  });
  if (raw.unicastSource !== undefined) {
    if (!raw.unicastPeers) configFail(`${path}.unicastSource`, 'only used with unicastPeers (set them, or remove unicastSource)');
    if (familyOf(raw.unicastSource) !== family) configFail(`${path}.unicastSource`, `${raw.unicastSource} is not IPv${family} like the VIPs`);
  }
  if (!raw.accept) {
    configFail(
      `${path}.accept`,
      'must be true in a segw gateway: its master serves IKE on the VIPs, and Accept_Mode false (RFC 9568 §6.1) would drop what base stations send there (`segw vrrp` alone allows false)',
    );
  }
  if (raw.virtualMac && family === 6) {
    configFail(`${path}.virtualMac`, 'the virtual MAC is implemented for IPv4 instances only (00-00-5E-00-01-{VRID}); set it to false for IPv6');
  }
  // Default: accept what this member sends, so same-configured members understand each other.
  const acceptChecksums = raw.acceptChecksums ?? [raw.checksum];
  return {
    interface: raw.interface,
    vrid: raw.vrid,
    priority: raw.priority,
    advertInterval,
    preempt: raw.preempt,
    preemptDelay: ms(raw.preemptDelay),
    accept: raw.accept,
    vips,
    checksum: raw.checksum,
    acceptChecksums: [...new Set(acceptChecksums)],
    ...(raw.unicastPeers && { unicastPeers: raw.unicastPeers }),
    ...(raw.unicastSource !== undefined && { unicastSource: raw.unicastSource }),
    virtualMac: raw.virtualMac,
  };
}

/**
 * Reads the key file: refused when shorter than MIN_KEY_OCTETS; a file others may read is
 * accepted with a warning (any local user could forge load reports with it).
 */
function readKey(file: string, path: string): ClusterKey {
  let content: Buffer;
  let mode: number;
  try {
    mode = statSync(file).mode;
    content = readFileSync(file);
  } catch (err) {
    throw new ConfigKeyError(path, `cannot read the cluster key ${file}: ${(err as Error).message}`, { cause: err });
  }
  const key = keyFromFile(content);
  if (key.length < MIN_KEY_OCTETS) {
    configFail(path, `the cluster key in ${file} has ${key.length} octets; use at least ${MIN_KEY_OCTETS} random octets (openssl rand -hex 32 > ${file})`);
  }
  if ((mode & 0o077) !== 0) {
    logger('config').warn({ file, mode: (mode & 0o777).toString(8) }, `${path}: the cluster key file is readable by group or others; chmod 600 ${file}`);
  }
  return new ClusterKey(key);
}

function toPeers(raw: RawCluster['reports'], path: string): ClusterEndpoint[] {
  const parse = endpoint(raw.port);
  const family = isIP(raw.listen);
  const seen = new Set<string>();
  return raw.peers.map((text, i) => {
    const p = parse.parse(text, `${path}.peers[${i}]`);
    const key = `${p.address}|${p.port}`;
    if (isIP(p.address) !== family) configFail(`${path}.peers[${i}]`, `${p.address} is not IPv${family} like reports.listen (one socket sends and receives)`);
    if (p.address === raw.listen && p.port === raw.port) configFail(`${path}.peers[${i}]`, 'is this member\'s own report address; list only the other members');
    if (seen.has(key)) configFail(`${path}.peers[${i}]`, `${text} is listed twice`);
    seen.add(key);
    return p;
  });
}

/** The resolved cluster settings; `nodeName` is the default member id, `baseDir` resolves keyFile. */
export function toClusterConfig(raw: RawCluster, nodeName: string, baseDir: string, path = 'cluster'): ClusterConfig {
  const family = familyOf(raw.vips[0]!);
  raw.vips.forEach((v, i) => {
    if (familyOf(v) !== family) configFail(`${path}.vips[${i}]`, `${v}: all VIPs must be one address family (one VRRP instance is IPv4 or IPv6)`);
  });
  const weights = { tunnels: raw.weights?.tunnels ?? 1, bandwidth: raw.weights?.bandwidth ?? 1, cpu: raw.weights?.cpu ?? 1 };
  if (weights.tunnels + weights.bandwidth + weights.cpu <= 0) configFail(`${path}.weights`, 'at least one weight must be above 0');
  const keyFile = resolve(baseDir, raw.keyFile);
  return {
    nodeId: raw.nodeId ?? nodeName,
    address: raw.address,
    vips: raw.vips,
    vrrp: toVrrp(raw.vrrp, raw.vips, `${path}.vrrp`),
    capacity: { maxTunnels: raw.capacity.maxTunnels, bandwidthBps: raw.capacity.bandwidth },
    weights,
    ceiling: raw.ceiling,
    reportIntervalMs: ms(raw.reports.interval),
    staleAfter: raw.reports.staleAfter,
    listen: { address: raw.reports.listen, port: raw.reports.port },
    peers: toPeers(raw.reports, `${path}.reports`),
    redirect: raw.redirect,
    ceilings: Object.fromEntries((raw.ceilings ?? []).map((c) => [c.member, c.ceiling])),
    pins: (raw.pins ?? []).map((p, i) => {
      if (raw.redirect !== 'auth') configFail(`${path}.pins[${i}]`, 'pins need redirect: auth (the peer identity is known only after IKE_AUTH)');
      return { ...(p.connection !== undefined && { connection: p.connection }), peer: p.peer, member: p.member };
    }),
    drain: { ratePerSec: raw.drain?.rate ?? 50, retryMs: ms(raw.drain?.retry ?? 10) },
    keyFile,
    key: readKey(keyFile, `${path}.keyFile`),
  };
}
