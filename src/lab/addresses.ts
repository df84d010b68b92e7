/**
 * Network-safety guard for the lab: addresses given to lab interfaces must come from the
 * documentation ranges (RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; RFC 3849:
 * 2001:db8::/32), loopback, link-local, or the benchmarking range 198.18.0.0/15 (RFC 2544).
 * A typo that would put a real address inside a namespace fails here.
 */
import { isIP } from 'node:net';
import { LabError } from '../errors.js';

const V4_ALLOWED: [number, number][] = [
  [ipv4ToInt('192.0.2.0'), 24],
  [ipv4ToInt('198.51.100.0'), 24],
  [ipv4ToInt('203.0.113.0'), 24],
  [ipv4ToInt('198.18.0.0'), 15],
  [ipv4ToInt('127.0.0.0'), 8],
  [ipv4ToInt('169.254.0.0'), 16],
];

export function ipv4ToInt(a: string): number {
  return a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function inV4(addr: string, [net, len]: [number, number]): boolean {
  const shift = 32 - len;
  return Math.floor(ipv4ToInt(addr) / 2 ** shift) === Math.floor(net / 2 ** shift);
}

/** Throws LabError unless `cidrOrAddr` is inside a range the lab may use. */
export function assertLabAddress(cidrOrAddr: string): void {
  const [addr, len] = cidrOrAddr.split('/');
  const fam = isIP(addr);
  if (fam === 4) {
    if (V4_ALLOWED.some((r) => inV4(addr, r))) return;
  } else if (fam === 6) {
    const a = addr.toLowerCase();
    if (a.startsWith('2001:db8:') || a === '2001:db8::' || a === '::1' || a.startsWith('fe80:')) return;
  } else {
    throw new LabError(`"${cidrOrAddr}" is not an IP address`);
  }
  throw new LabError(
    `lab address ${cidrOrAddr}${len ? '' : ''} is outside the documentation ranges ` +
      '(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 198.18.0.0/15, 2001:db8::/32): refusing it',
  );
}
