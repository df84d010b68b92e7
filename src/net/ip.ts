/**
 * IP address and prefix arithmetic shared by IKE (traffic selectors, NAT detection, REDIRECT),
 * the kernel backends (routes, XFRM selectors, the ESP engine's policies) and the lab: one
 * implementation of text <-> octets <-> bigint, RFC 5952 formatting, and ranges <-> prefixes.
 *
 * IKE traffic selectors are address ranges (RFC 7296 §3.13.1); routes and XFRM selectors are
 * prefixes. A range becomes the smallest list of aligned blocks that covers exactly the range:
 * 192.0.2.0-192.0.2.255 is one /24, 192.0.2.1-192.0.2.6 is .1/32 .2/31 .4/31 .6/32.
 */
import { isIPv6 } from 'node:net';

export type Family = 4 | 6;

/**
 * An IPv4 address in dotted-quad text as a number (0 .. 2^32-1), or -1 when the text is not
 * one. Accepts exactly what node:net's isIPv4 accepts (four decimal octets 0-255, no leading
 * zeros, nothing else), without a regular expression, split or arrays: selectors, policies,
 * NAT detection and the stub kernel's keys read addresses on every setup.
 */
export function parseIPv4(addr: string): number {
  const n = addr.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = addr.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      // A leading zero is allowed only as the whole octet ("0"), as isIPv4 does.
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

/** Dotted-quad text of an IPv4 address held as a number (0 .. 2^32-1). */
export function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function familyOf(addr: string): Family {
  if (parseIPv4(addr) >= 0) return 4;
  if (isIPv6(addr)) return 6;
  throw new TypeError(`"${addr}" is not an IP address`);
}

/**
 * Writes the octets of an address (4 for IPv4, 16 for IPv6) into `out` at `offset` and returns
 * how many were written; for callers that build one buffer from several fields.
 */
export function writeIp(addr: string, out: Buffer, offset: number): number {
  const v4 = parseIPv4(addr);
  if (v4 >= 0) {
    out.writeUInt32BE(v4, offset);
    return 4;
  }
  return ipToBytes(addr).copy(out, offset);
}

/** 4 octets for IPv4, 16 for IPv6 (RFC 4291 §2.2 text, "::" and a dotted IPv4 tail allowed). */
export function ipToBytes(addr: string): Buffer {
  const a4 = parseIPv4(addr);
  if (a4 >= 0) {
    const out = Buffer.allocUnsafe(4);
    out.writeUInt32BE(a4, 0);
    return out;
  }
  if (!isIPv6(addr)) throw new TypeError(`"${addr}" is not an IP address`);
  let text = addr.toLowerCase().split('%')[0];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) is the last two groups.
    const b = ipToBytes(v4[1]);
    text = text.slice(0, -v4[1].length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Text of 4 or 16 octets; IPv6 per RFC 5952 (lower case, longest run of >= 2 zero groups as "::"). */
export function bytesToIp(b: Buffer, family: Family = b.length === 4 ? 4 : 6): string {
  if (family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length < 16) throw new RangeError(`IPv6 address of ${b.length} octets`);
  const g = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function addrToBigInt(addr: string): bigint {
  const v4 = parseIPv4(addr);
  if (v4 >= 0) return BigInt(v4);
  return BigInt(`0x${ipToBytes(addr).toString('hex')}`);
}

export function bigIntToAddr(v: bigint, family: Family): string {
  if (family === 4 && v >= 0n && v <= 0xffffffffn) return formatIPv4(Number(v));
  const hex = v.toString(16).padStart(family === 4 ? 8 : 32, '0');
  return bytesToIp(Buffer.from(hex, 'hex'), family);
}

export interface Prefix {
  family: Family;
  /** The network address (host bits zero). */
  addr: string;
  len: number;
}

export const formatPrefix = (p: Prefix) => `${p.addr}/${p.len}`;

/** Aligned power-of-two blocks covering [start, end] of a `bits`-wide number space, largest first. */
export function rangeToBlocks(start: bigint, end: bigint, bits: number): { base: bigint; len: number }[] {
  if (start > end) throw new RangeError(`empty range ${start}-${end}`);
  const out: { base: bigint; len: number }[] = [];
  let cur = start;
  const top = (1n << BigInt(bits)) - 1n;
  while (cur <= end) {
    // The largest block that starts at `cur` (alignment) and does not pass `end`.
    let size = 0;
    while (size < bits) {
      const next = size + 1;
      const mask = (1n << BigInt(next)) - 1n;
      if ((cur & mask) !== 0n || cur + mask > end) break;
      size = next;
    }
    out.push({ base: cur, len: bits - size });
    const last = cur + (1n << BigInt(size)) - 1n;
    if (last >= top) break;
    cur = last + 1n;
  }
  return out;
}

const numberToV4 = formatIPv4;

/** rangeToBlocks for IPv4 in plain numbers (2^32 is exact in a double): no BigInt on the hot path. */
function v4Prefixes(start: number, end: number): Prefix[] {
  if (start > end) throw new RangeError(`empty range ${numberToV4(start)}-${numberToV4(end)}`);
  const out: Prefix[] = [];
  for (let cur = start; cur <= end; ) {
    let size = 0;
    while (size < 32) {
      const span = 2 ** (size + 1);
      if (cur % span !== 0 || cur + span - 1 > end) break;
      size++;
    }
    out.push({ family: 4, addr: numberToV4(cur), len: 32 - size });
    cur += 2 ** size;
  }
  return out;
}

/** The prefixes that exactly cover an address range. */
export function rangeToPrefixes(startAddr: string, endAddr: string): Prefix[] {
  const family = familyOf(startAddr);
  if (familyOf(endAddr) !== family) throw new RangeError(`range ${startAddr}-${endAddr} mixes families`);
  if (family === 4) return v4Prefixes(parseIPv4(startAddr), parseIPv4(endAddr));
  return rangeToBlocks(addrToBigInt(startAddr), addrToBigInt(endAddr), 128).map((b) => ({
    family,
    addr: bigIntToAddr(b.base, family),
    len: b.len,
  }));
}

/** "192.0.2.7/24" -> 192.0.2.0/24 (host bits cleared); no length means a host prefix. */
export function parseCidr(cidr: string): Prefix {
  const [addr, lenText] = cidr.split('/');
  const family = familyOf(addr);
  if (family === 4) {
    // The common case (every injected IPv4 route) without BigInt.
    const len = lenText === undefined ? 32 : Number(lenText);
    if (!Number.isInteger(len) || len < 0 || len > 32) throw new RangeError(`bad prefix length in "${cidr}"`);
    const v = (parseIPv4(addr) & (len === 0 ? 0 : ~0 << (32 - len))) >>> 0;
    return { family, addr: formatIPv4(v), len };
  }
  const len = lenText === undefined ? 128 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 128) throw new RangeError(`bad prefix length in "${cidr}"`);
  const host = (1n << BigInt(128 - len)) - 1n;
  return { family, addr: bigIntToAddr(addrToBigInt(addr) & ~host, family), len };
}

/** First and last address of a prefix. */
export function prefixRange(p: Prefix): { start: string; end: string } {
  if (p.family === 4) {
    return { start: p.addr, end: formatIPv4((parseIPv4(p.addr) | (2 ** (32 - p.len) - 1)) >>> 0) };
  }
  const start = addrToBigInt(p.addr);
  const end = start | ((1n << BigInt(128 - p.len)) - 1n);
  return { start: p.addr, end: bigIntToAddr(end, p.family) };
}

/** Port range -> (port, mask) pairs for XFRM selectors; 0-65535 is one pair with mask 0 (any). */
export function portRangeToMasks(start: number, end: number): { port: number; mask: number }[] {
  if (start === 0 && end === 65535) return [{ port: 0, mask: 0 }];
  return rangeToBlocks(BigInt(start), BigInt(end), 16).map((b) => ({
    port: Number(b.base),
    mask: (0xffff << (16 - b.len)) & 0xffff,
  }));
}
