/**
 * VRRPv3 protocol constants (RFC 9568, which obsoletes RFC 5798), each citing its section.
 * Implementation constants (announcement repeats, log limits) live in the modules that use them.
 */

/** RFC 9568 §5.1.1.4 / §5.1.2.3: the IP protocol number (IPv4 Protocol / IPv6 Next Header). */
export const VRRP_IP_PROTOCOL = 112;

/** RFC 9568 §5.1.1.2: IPv4 multicast destination of advertisements. */
export const VRRP_GROUP_V4 = '224.0.0.18';
/** RFC 9568 §5.1.2.2: IPv6 multicast destination of advertisements. */
export const VRRP_GROUP_V6 = 'ff02::12';

/** RFC 9568 §5.1.1.3 / §5.1.2.3: TTL / Hop Limit sent, and required on receipt (§7.1). */
export const VRRP_TTL = 255;

/** RFC 9568 §5.2.1: the version this document specifies. */
export const VRRP_VERSION = 3;

/** RFC 9568 §5.2.2: packet types. */
export const VrrpType = {
  ADVERTISEMENT: 1,
} as const;
export type VrrpType = (typeof VrrpType)[keyof typeof VrrpType];

/** RFC 9568 §5.2.3: VRID range. */
export const VRID_MIN = 1;
export const VRID_MAX = 255;

/** RFC 9568 §5.2.4: priority of the router that owns the virtual address(es). */
export const PRIORITY_OWNER = 255;
/** RFC 9568 §5.2.4: the current master stops participating (resigns). */
export const PRIORITY_RESIGN = 0;
/** RFC 9568 §5.2.4: default priority of a backup router. */
export const PRIORITY_DEFAULT = 100;

/** RFC 9568 §5.2.7: Max Adver Int is a 12-bit count of centiseconds. */
export const ADVERT_INTERVAL_MAX_CS = 4095;
/** RFC 9568 §6.1: default Advertisement_Interval, 1 second. */
export const ADVERT_INTERVAL_DEFAULT_CS = 100;

/** RFC 9568 §5.2: the fixed part of the VRRP message before the address list. */
export const VRRP_HEADER_LENGTH = 8;

/** RFC 9568 §7.3: virtual MAC 00-00-5E-00-01-{VRID} (IPv4) and 00-00-5E-00-02-{VRID} (IPv6). */
export function virtualMac(vrid: number, family: 4 | 6): string {
  const hex = vrid.toString(16).padStart(2, '0');
  return `00:00:5e:00:0${family === 4 ? 1 : 2}:${hex}`;
}

/**
 * RFC 9568 §5.2.9: "For IPv6, the first address MUST be the IPv6 link-local address associated
 * with the Virtual Router." segw derives it from the virtual MAC (RFC 4291 §2.5.1 modified
 * EUI-64): 00-00-5E-00-02-{VRID} -> fe80::200:5eff:fe00:2{VRID}.
 */
export function virtualLinkLocal(vrid: number): string {
  return `fe80::200:5eff:fe00:2${vrid.toString(16).padStart(2, '0')}`;
}

/** RFC 9568 §6.4: the protocol states. */
export type VrrpState = 'Initialize' | 'Backup' | 'Master';

/**
 * How the checksum is computed (RFC 9568 §5.2.8 and the forms peers built before it):
 *   rfc9568              IPv4: the VRRP message alone; IPv6: with the RFC 8200 §8.1 pseudo-header.
 *   pseudo-header        IPv4 too gets a pseudo-header (src, dst, 0, 112, length): the RFC 5798
 *                        reading of keepalived 2.2.7's default and FRR's option.
 *   pseudo-header-group  as pseudo-header, but the destination in it is always 224.0.0.18, even for
 *                        unicast adverts (older keepalived; its `unicast_chksum_compat`).
 * For IPv6 all three are the same computation.
 */
export type ChecksumForm = 'rfc9568' | 'pseudo-header' | 'pseudo-header-group';
export const CHECKSUM_FORMS: readonly ChecksumForm[] = ['rfc9568', 'pseudo-header', 'pseudo-header-group'];

/** Name tables so logs print names (STYLE.md habit 1). */
export const VRRP_TYPE_NAMES: Record<number, string> = { [VrrpType.ADVERTISEMENT]: 'ADVERTISEMENT' };
export function typeName(t: number): string {
  return VRRP_TYPE_NAMES[t] ?? `type ${t}`;
}
export function priorityName(p: number): string {
  if (p === PRIORITY_OWNER) return '255 (address owner)';
  if (p === PRIORITY_RESIGN) return '0 (resign)';
  return String(p);
}
