/**
 * IP addresses between their text form and the octets netlink carries: 4 octets (IPv4) or 16
 * (IPv6) in attributes, always 16 in xfrm_address_t (an IPv4 address in the first 4, the rest
 * zero, as the kernel and iproute2 lay it out). IPv6 text follows RFC 5952 (lower case, longest
 * run of zero groups compressed).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AF } from './constants.js';

export type Family = 4 | 6;

export function familyOf(addr: string): Family {
  if (isIPv4(addr)) return 4;
  if (isIPv6(addr)) return 6;
  throw new TypeError(`"${addr}" is not an IP address`);
}

export const afOf = (f: Family): number => (f === 4 ? AF.AF_INET : AF.AF_INET6);
export const familyOfAf = (af: number): Family => (af === AF.AF_INET6 ? 6 : 4);

export function ipToBytes(addr: string): Buffer {
  if (isIPv4(addr)) return Buffer.from(addr.split('.').map(Number));
  if (!isIPv6(addr)) throw new TypeError(`"${addr}" is not an IP address`);
  let text = addr.toLowerCase().split('%')[0];
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipToBytes(v4[1]);
    text = text.slice(0, -v4[1].length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function bytesToIp(b: Buffer, family: Family): string {
  if (family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const g = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  // RFC 5952 §4.2: compress the longest run (of at least two) of zero groups, the first if tied.
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

/** xfrm_address_t: 16 octets whatever the family. */
export function xfrmAddress(addr: string | undefined): Buffer {
  const out = Buffer.alloc(16);
  if (addr) ipToBytes(addr).copy(out);
  return out;
}

export function parsePrefix(cidr: string): { addr: string; len: number; family: Family } {
  const [addr, lenText] = cidr.split('/');
  const family = familyOf(addr);
  const max = family === 4 ? 32 : 128;
  const len = lenText === undefined ? max : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > max) throw new TypeError(`bad prefix length in "${cidr}"`);
  return { addr, len, family };
}
