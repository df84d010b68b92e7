/**
 * Traffic selectors for the engine: address ranges split into the prefixes its policy table
 * indexes (a range is covered by at most 2 x address-bits prefixes).
 */
import { isIPv4 } from 'node:net';
import type { IpFamily, TrafficSelector } from '../types.js';
import type { NativeSelector } from './native.js';

export function addrToBigInt(addr: string): bigint {
  if (isIPv4(addr)) return addr.split('.').reduce((v, o) => (v << 8n) | BigInt(Number(o)), 0n);
  const [head, tail = ''] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = addr.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((v, g) => (v << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function bigIntToAddr(v: bigint, family: IpFamily): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((v >> s) & 0xffffn).toString(16));
  return groups.join(':');
}

/** The smallest set of prefixes that covers [start, end] exactly. */
export function rangeToPrefixes(start: string, end: string, family: IpFamily): { address: string; length: number }[] {
  const bits = family === 4 ? 32n : 128n;
  let lo = addrToBigInt(start);
  const hi = addrToBigInt(end);
  const out: { address: string; length: number }[] = [];
  while (lo <= hi) {
    let size = 0n; // host bits of the largest aligned block starting at lo that fits
    while (size < bits && (lo & ((1n << (size + 1n)) - 1n)) === 0n && lo + (1n << (size + 1n)) - 1n <= hi) size++;
    out.push({ address: bigIntToAddr(lo, family), length: Number(bits - size) });
    lo += 1n << size;
  }
  return out;
}

export function toNativeSelector(ts: TrafficSelector): NativeSelector {
  return {
    family: ts.family,
    protocol: ts.protocol,
    startAddr: ts.startAddr,
    endAddr: ts.endAddr,
    startPort: ts.startPort,
    endPort: ts.endPort,
  };
}

/** A selector for a whole prefix, any protocol and port ("192.0.2.0/25"). */
export function prefixSelector(cidr: string): TrafficSelector {
  const [addr, lenStr] = cidr.split('/');
  const family: IpFamily = isIPv4(addr) ? 4 : 6;
  const bits = family === 4 ? 32n : 128n;
  const len = BigInt(lenStr ?? String(bits));
  const mask = ((1n << bits) - 1n) ^ ((1n << (bits - len)) - 1n);
  const start = addrToBigInt(addr) & mask;
  const end = start | ((1n << (bits - len)) - 1n);
  return {
    family,
    protocol: 0,
    startAddr: bigIntToAddr(start, family),
    endAddr: bigIntToAddr(end, family),
    startPort: 0,
    endPort: 65535,
  };
}
