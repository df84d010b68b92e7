/**
 * Traffic selectors (RFC 7296 §2.9, §3.13.1): configuration strings, the wire form and the
 * kernel form, and narrowing. IPv4 addresses are compared as plain numbers (every setup narrows
 * and compares selectors), IPv6 addresses as bigints.
 *
 * Config syntax (strongSwan's): "10.0.0.0/24", "192.0.2.7", "2001:db8::/64",
 * "10.0.0.0/8[tcp/443]", "0.0.0.0/0[udp]", and "dynamic" (the IKE address of that side).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { addrToBigInt, bigIntToAddr, bytesToIp, familyOf, formatPrefix, ipToBytes, parseCidr, parseIPv4, prefixRange, rangeToPrefixes } from '../net/ip.js';
import { TsType } from './constants.js';
import type { TrafficSelectorWire } from './codec/types.js';
import type { IpFamily, TrafficSelector } from '../kernel/types.js';
import { ConfigError } from '../errors.js';

export type { TrafficSelector };

const PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmp6: 58, ipv6icmp: 58, sctp: 132 };

/** A single host (`dynamic` resolves to this with the IKE address). */
export function hostTs(addr: string): TrafficSelector {
  return { family: familyOf(addr), protocol: 0, startAddr: addr, endAddr: addr, startPort: 0, endPort: 65535 };
}

/**
 * Parses a config selector. `dynamic` needs the IKE address of that side, passed as
 * `dynamicAddr`; without it the caller must resolve "dynamic" later (see isDynamic).
 */
export function parseTs(text: string, dynamicAddr?: string): TrafficSelector {
  const m = /^([^[\]]+)(?:\[([a-z0-9]*)(?:\/(\d+)(?:-(\d+))?)?\])?$/i.exec(text.trim());
  if (!m) throw new ConfigError(`traffic selector "${text}": expected "addr/len[proto/port]"`);
  const [, net, proto, p1, p2] = m;
  let ts: TrafficSelector;
  if (net === 'dynamic') {
    if (!dynamicAddr) throw new ConfigError(`traffic selector "${text}": dynamic needs the IKE address`);
    ts = hostTs(dynamicAddr);
  } else {
    const [addr, lenText] = net!.split('/');
    if (!isIPv4(addr!) && !isIPv6(addr!)) throw new ConfigError(`traffic selector "${text}": bad address`);
    const family = familyOf(addr!);
    const bits = family === 4 ? 32 : 128;
    const len = lenText === undefined ? bits : Number(lenText);
    if (!Number.isInteger(len) || len < 0 || len > bits) throw new ConfigError(`traffic selector "${text}": bad prefix length`);
    const { start, end } = prefixRange(parseCidr(`${addr}/${len}`));
    ts = { family, protocol: 0, startAddr: start, endAddr: end, startPort: 0, endPort: 65535 };
  }
  if (proto) {
    const n = /^\d+$/.test(proto) ? Number(proto) : PROTOCOLS[proto.toLowerCase()];
    if (n === undefined || n > 255) throw new ConfigError(`traffic selector "${text}": unknown protocol "${proto}"`);
    ts.protocol = n;
  }
  if (p1 !== undefined) {
    ts.startPort = Number(p1);
    ts.endPort = p2 !== undefined ? Number(p2) : Number(p1);
    if (ts.startPort > 65535 || ts.endPort > 65535 || ts.startPort > ts.endPort) {
      throw new ConfigError(`traffic selector "${text}": bad port range`);
    }
  }
  return ts;
}

export function isDynamic(text: string): boolean {
  return text.trim().startsWith('dynamic');
}

/**
 * Parsed selectors by configuration text (not "dynamic"): a responder resolves the same few
 * configured selectors on every setup. Bounded, so that a load generator with 100k base stations
 * (a distinct subnet each) does not keep one entry per base station; beyond the bound texts are
 * parsed each time.
 */
const parsed = new Map<string, TrafficSelector>();
const PARSED_MAX = 1024;

/**
 * Resolves config selectors, "dynamic" to `ikeAddr`. Parsed selectors are shared between calls
 * (frozen): callers read them, never change them.
 */
export function resolveTs(texts: readonly string[], ikeAddr: string): TrafficSelector[] {
  const out = new Array<TrafficSelector>(texts.length);
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i]!;
    let ts = parsed.get(t);
    if (!ts) {
      ts = parseTs(t, ikeAddr);
      if (!isDynamic(t) && parsed.size < PARSED_MAX) parsed.set(t, Object.freeze(ts));
    }
    out[i] = ts;
  }
  return out;
}

export function tsToWire(ts: TrafficSelector): TrafficSelectorWire {
  return {
    tsType: ts.family === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE,
    ipProtocol: ts.protocol,
    startPort: ts.startPort,
    endPort: ts.endPort,
    startAddr: ipToBytes(ts.startAddr),
    endAddr: ipToBytes(ts.endAddr),
  };
}

/** Wire -> kernel form; undefined for unknown types or inconsistent lengths (skipped, §3.13.1). */
export function tsFromWire(w: TrafficSelectorWire): TrafficSelector | undefined {
  const family: IpFamily | undefined =
    w.tsType === TsType.TS_IPV4_ADDR_RANGE ? 4 : w.tsType === TsType.TS_IPV6_ADDR_RANGE ? 6 : undefined;
  if (family === undefined) return undefined;
  const len = family === 4 ? 4 : 16;
  if (w.startAddr.length !== len || w.endAddr.length !== len) return undefined;
  return {
    family,
    protocol: w.ipProtocol,
    startAddr: bytesToIp(w.startAddr),
    endAddr: bytesToIp(w.endAddr),
    startPort: w.startPort,
    endPort: w.endPort,
  };
}

/** The intersection of two selectors, or undefined when empty. */
export function intersectTs(a: TrafficSelector, b: TrafficSelector): TrafficSelector | undefined {
  if (a.family !== b.family) return undefined;
  if (a.protocol !== 0 && b.protocol !== 0 && a.protocol !== b.protocol) return undefined;
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  // RFC 4301 OPAQUE ports (start 65535, end 0) never intersect a real range; treat as empty.
  if (startPort > endPort) return undefined;
  if (a.family === 4) return intersect4(a, b, startPort, endPort);
  const as = addrToBigInt(a.startAddr);
  const bs = addrToBigInt(b.startAddr);
  const ae = addrToBigInt(a.endAddr);
  const be = addrToBigInt(b.endAddr);
  const s = as > bs ? as : bs;
  const e = ae < be ? ae : be;
  if (s > e) return undefined;
  return {
    family: a.family,
    protocol: a.protocol || b.protocol,
    startAddr: bigIntToAddr(s, a.family),
    endAddr: bigIntToAddr(e, a.family),
    startPort,
    endPort,
  };
}

/** a ⊆ b */
export function tsContained(a: TrafficSelector, b: TrafficSelector): boolean {
  const i = intersectTs(a, b);
  return !!i && tsEqual(i, a);
}

/**
 * IPv4 intersection in numbers. Where a bound comes from one side, that side's address text is
 * reused (`a` first: narrowing passes the configured selector there), so narrowed selectors
 * share their strings with the configuration instead of holding new ones per child SA.
 */
function intersect4(a: TrafficSelector, b: TrafficSelector, startPort: number, endPort: number): TrafficSelector | undefined {
  const as = parseIPv4(a.startAddr);
  const bs = parseIPv4(b.startAddr);
  const ae = parseIPv4(a.endAddr);
  const be = parseIPv4(b.endAddr);
  const s = as >= bs ? as : bs;
  const e = ae <= be ? ae : be;
  if (s > e) return undefined;
  return {
    family: 4,
    protocol: a.protocol || b.protocol,
    startAddr: s === as ? a.startAddr : b.startAddr,
    endAddr: e === ae ? a.endAddr : b.endAddr,
    startPort,
    endPort,
  };
}

/** Same address (IPv4 text has one form; IPv6 text several). */
function sameAddr(family: IpFamily, x: string, y: string): boolean {
  if (x === y) return true;
  return family === 4 ? parseIPv4(x) === parseIPv4(y) : addrToBigInt(x) === addrToBigInt(y);
}

export function tsEqual(a: TrafficSelector, b: TrafficSelector): boolean {
  return (
    a.family === b.family &&
    a.protocol === b.protocol &&
    a.startPort === b.startPort &&
    a.endPort === b.endPort &&
    sameAddr(a.family, a.startAddr, b.startAddr) &&
    sameAddr(a.family, a.endAddr, b.endAddr)
  );
}

/**
 * Responder narrowing (RFC 7296 §2.9): the parts of the peer's proposed selectors that our
 * configuration allows, in our configured order. Empty means TS_UNACCEPTABLE.
 */
export function narrowTs(configured: readonly TrafficSelector[], proposed: readonly TrafficSelector[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const c of configured) {
    for (const p of proposed) {
      const i = intersectTs(c, p);
      if (i && !out.some((o) => tsEqual(o, i))) out.push(i);
    }
  }
  // A child SA keeps the result for its life: an exact-size copy, not push's 17 reserved slots.
  return out.slice();
}

/** Initiator check: every returned selector lies inside one we proposed (§2.9). */
export function tsSubset(returned: readonly TrafficSelector[], proposed: readonly TrafficSelector[]): boolean {
  return returned.length > 0 && returned.every((r) => proposed.some((p) => tsContained(r, p)));
}

/** "10.0.0.0/24" when the range is a prefix, else "start-end"; "[proto/ports]" when narrowed. */
export function tsToString(ts: TrafficSelector): string {
  return tsText(ts, ts.family === 4 ? prefixLength4(parseIPv4(ts.startAddr), parseIPv4(ts.endAddr)) : prefixLength6(ts));
}

/** The prefix length when [s, e] is exactly one aligned block, else -1. */
function prefixLength4(s: number, e: number): number {
  const span = e - s + 1;
  if (span <= 0) return -1;
  if (span === 2 ** 32) return 0;
  const k = 31 - Math.clz32(span); // floor(log2(span)) for span < 2^32
  return 2 ** k === span && s % span === 0 ? 32 - k : -1;
}

function prefixLength6(ts: TrafficSelector): number {
  const s = addrToBigInt(ts.startAddr);
  const e = addrToBigInt(ts.endAddr);
  const span = e - s + 1n;
  if (span <= 0n || (span & (span - 1n)) !== 0n || (s & (span - 1n)) !== 0n) return -1;
  return 128 - (span.toString(2).length - 1);
}

function tsText(ts: TrafficSelector, len: number): string {
  let text = len >= 0 ? `${ts.startAddr}/${len}` : `${ts.startAddr}-${ts.endAddr}`;
  if (ts.protocol !== 0 || ts.startPort !== 0 || ts.endPort !== 65535) {
    const ports = ts.startPort === 0 && ts.endPort === 65535 ? '' : ts.startPort === ts.endPort ? `/${ts.startPort}` : `/${ts.startPort}-${ts.endPort}`;
    text += `[${ts.protocol}${ports}]`;
  }
  return text;
}

/**
 * How many distinct prefixes the address ranges of `ts` cover (ports and protocols aside):
 * the number of routes injected for them (src/kernel/route-injection.ts does the same split).
 */
export function prefixCount(ts: readonly TrafficSelector[]): number {
  const seen = new Set<string>();
  for (const t of ts) for (const p of rangeToPrefixes(t.startAddr, t.endAddr)) seen.add(formatPrefix(p));
  return seen.size;
}
