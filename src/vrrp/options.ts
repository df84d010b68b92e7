/**
 * The options of one VRRP instance, as the configuration (`cluster.vrrp`) names them, and their
 * validation. Errors are ConfigErrors naming the option and the fix.
 */
import { ConfigError } from '../errors.js';
import { familyOf, parseCidr } from '../net/ip.js';
import {
  ADVERT_INTERVAL_MAX_CS,
  CHECKSUM_FORMS,
  type ChecksumForm,
  PRIORITY_OWNER,
  VRID_MAX,
  VRID_MIN,
} from './constants.js';

export interface VrrpOptions {
  /** The LAN interface the virtual router lives on. */
  interface: string;
  /** Virtual Router ID, 1..255 (RFC 9568 §5.2.3). */
  vrid: number;
  /** 1..255; 255 = the owner of the virtual addresses (RFC 9568 §5.2.4). */
  priority: number;
  /** Advertisement_Interval in ms, a multiple of 10, 10..40950 (RFC 9568 §5.2.7). */
  advertInterval: number;
  /** Preempt_Mode (RFC 9568 §6.1). */
  preempt: boolean;
  /** ms after start before a lower-priority master is preempted. */
  preemptDelay: number;
  /**
   * Accept_Mode (RFC 9568 §6.1): a master that is not the address owner accepts packets addressed
   * to the VIPs. False: nftables rules (src/kernel/nft) drop them while master, except ARP and
   * Neighbor Discovery (§6.4.3); the VIPs then only route and answer ARP. A segw gateway needs
   * true (it serves IKE on the VIPs): its cluster configuration refuses false.
   */
  accept: boolean;
  /** Virtual addresses as CIDR ("203.0.113.10/24"), all of one family. */
  vips: string[];
  /** The checksum form sent. */
  checksum: ChecksumForm;
  /** The checksum forms accepted on receipt. */
  acceptChecksums: ChecksumForm[];
  /** Unicast peers: adverts go to each, and only theirs are accepted. Multicast when absent. */
  unicastPeers?: string[];
  /** Source address of unicast adverts (default: the interface's primary address). */
  unicastSource?: string;
  /**
   * Use the virtual MAC 00-00-5E-00-01-{VRID} (RFC 9568 §7.3) on a macvlan `vrrp.<VRID>` of the
   * interface (./virtual-mac.ts): the VIPs answer ARP with it, so a failover changes no client's
   * ARP entry. IPv4 instances only.
   */
  virtualMac: boolean;
}

export const DEFAULT_VRRP_OPTIONS: Omit<VrrpOptions, 'interface' | 'vrid' | 'vips'> = {
  priority: 100,
  advertInterval: 1000,
  preempt: true,
  preemptDelay: 0,
  accept: true,
  checksum: 'rfc9568',
  acceptChecksums: ['rfc9568'],
  virtualMac: false,
};

/** Checks `o` and returns the address family of its VIPs. Throws ConfigError naming the option. */
export function validateVrrpOptions(o: VrrpOptions, path = 'cluster.vrrp'): 4 | 6 {
  const bad = (key: string, msg: string) => new ConfigError(`${path}.${key}: ${msg}`);
  if (!o.interface) throw bad('interface', 'name the LAN interface (e.g. eth0)');
  if (!Number.isInteger(o.vrid) || o.vrid < VRID_MIN || o.vrid > VRID_MAX) throw bad('vrid', `must be an integer ${VRID_MIN}..${VRID_MAX}`);
  if (!Number.isInteger(o.priority) || o.priority < 1 || o.priority > PRIORITY_OWNER) {
    throw bad('priority', 'must be an integer 1..255 (255 only on the owner of the virtual addresses; 0 is reserved for resigning)');
  }
  if (!Number.isInteger(o.advertInterval) || o.advertInterval % 10 !== 0 || o.advertInterval < 10 || o.advertInterval > ADVERT_INTERVAL_MAX_CS * 10) {
    throw bad('advertInterval', `must be milliseconds, a multiple of 10 from 10 to ${ADVERT_INTERVAL_MAX_CS * 10} (centiseconds on the wire)`);
  }
  if (!Number.isFinite(o.preemptDelay) || o.preemptDelay < 0) throw bad('preemptDelay', 'must be milliseconds >= 0');
  if (typeof o.accept !== 'boolean') throw bad('accept', 'must be true or false');
  if (typeof o.virtualMac !== 'boolean') throw bad('virtualMac', 'must be true or false');
  if (!Array.isArray(o.vips) || o.vips.length === 0) throw bad('vips', 'list at least one virtual address in CIDR form');
  if (o.vips.length > 255) throw bad('vips', 'at most 255 addresses fit one advertisement (RFC 9568 §5.2.5)');
  let family: 4 | 6 | undefined;
  for (const [i, v] of o.vips.entries()) {
    let f: 4 | 6;
    try {
      f = familyOf(parseCidr(v).addr);
    } catch {
      throw bad(`vips[${i}]`, `"${v}" is not an address in CIDR form (203.0.113.10/24, 2001:db8::10/64)`);
    }
    if (family && f !== family) throw bad(`vips[${i}]`, 'all virtual addresses of one instance must be of one family (run one instance per family)');
    family = f;
  }
  if (o.virtualMac && family === 6) {
    throw bad('virtualMac', 'the virtual MAC is implemented for IPv4 instances only (00-00-5E-00-01-{VRID}); set it to false for IPv6');
  }
  if (!CHECKSUM_FORMS.includes(o.checksum)) throw bad('checksum', `must be one of ${CHECKSUM_FORMS.join(', ')}`);
  if (!Array.isArray(o.acceptChecksums) || o.acceptChecksums.length === 0) throw bad('acceptChecksums', `list one or more of ${CHECKSUM_FORMS.join(', ')}`);
  for (const f of o.acceptChecksums) if (!CHECKSUM_FORMS.includes(f)) throw bad('acceptChecksums', `"${f}" is not one of ${CHECKSUM_FORMS.join(', ')}`);
  for (const [i, p] of (o.unicastPeers ?? []).entries()) {
    let ok = false;
    try {
      ok = familyOf(p) === family;
    } catch {
      /* not an address */
    }
    if (!ok) throw bad(`unicastPeers[${i}]`, `"${p}" must be an IPv${family} address (the VIPs' family)`);
  }
  if (o.unicastSource !== undefined) {
    let ok = false;
    try {
      ok = familyOf(o.unicastSource) === family;
    } catch {
      /* not an address */
    }
    if (!ok) throw bad('unicastSource', `"${o.unicastSource}" must be an IPv${family} address (the VIPs' family)`);
  }
  return family!;
}
