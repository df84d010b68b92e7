/**
 * IP addresses between their text form and the octets netlink carries: 4 octets (IPv4) or 16
 * (IPv6) in attributes, always 16 in xfrm_address_t (an IPv4 address in the first 4, the rest
 * zero, as the kernel and iproute2 lay it out). IPv6 text follows RFC 5952 (lower case, longest
 * run of zero groups compressed).
 */
import { AF } from './constants.js';
import { ipToBytes, type Family } from '../net/ip.js';


export const afOf = (f: Family): number => (f === 4 ? AF.AF_INET : AF.AF_INET6);
export const familyOfAf = (af: number): Family => (af === AF.AF_INET6 ? 6 : 4);

/** xfrm_address_t: 16 octets whatever the family. */
export function xfrmAddress(addr: string | undefined): Buffer {
  const out = Buffer.alloc(16);
  if (addr) ipToBytes(addr).copy(out);
  return out;
}
