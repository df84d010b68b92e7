/**
 * The announcements of a new VRRP master (RFC 9568 §6.4.1 / §6.4.2), built as wire octets:
 * a gratuitous ARP request in an Ethernet frame (RFC 826, RFC 5227 §3 "ARP Announcement"), and
 * the body of an unsolicited ICMPv6 Neighbor Advertisement (RFC 4861 §4.4, §7.2.6) the kernel
 * completes with the IPv6 header and checksum.
 */
import { writeIp } from '../../net/ip.js';

/** EtherType of ARP (RFC 826 / IEEE 802). */
const ETH_P_ARP = 0x0806;
const ETH_P_IP = 0x0800;
/** RFC 826: hardware type Ethernet, operation request (a gratuitous ARP is a request for itself). */
const ARP_HRD_ETHER = 1;
const ARP_OP_REQUEST = 1;
/** RFC 4861 §4.4: Neighbor Advertisement; §4.6.1: Target Link-Layer Address option. */
export const ND_NEIGHBOR_ADVERT = 136;
const ND_OPT_TARGET_LINKADDR = 2;
/** RFC 4861 §4.4 flags: Router, Solicited, Override (RFC 9568 §6.4.1: R and O set, S clear). */
const NA_FLAG_ROUTER = 0x80000000;
const NA_FLAG_OVERRIDE = 0x20000000;
/** Ethernet's minimum frame without FCS. */
const ETH_MIN_FRAME = 60;

export function macToBytes(mac: string): Buffer {
  const b = Buffer.from(mac.split(':').join(''), 'hex');
  if (b.length !== 6) throw new TypeError(`"${mac}" is not a MAC address`);
  return b;
}

/**
 *  Ethernet: dst ff:ff:ff:ff:ff:ff | src MAC | type 0x0806
 *  ARP:  HTYPE 1 | PTYPE 0x0800 | HLEN 6 | PLEN 4 | OPER 1 |
 *        SHA = MAC | SPA = address | THA = 0 | TPA = address
 */
export function gratuitousArp(address: string, mac: string): Buffer {
  const f = Buffer.alloc(ETH_MIN_FRAME);
  const m = macToBytes(mac);
  f.fill(0xff, 0, 6);
  m.copy(f, 6);
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(ARP_HRD_ETHER, 14);
  f.writeUInt16BE(ETH_P_IP, 16);
  f[18] = 6;
  f[19] = 4;
  f.writeUInt16BE(ARP_OP_REQUEST, 20);
  m.copy(f, 22);
  writeIp(address, f, 28);
  writeIp(address, f, 38);
  return f;
}

/**
 *  Type 136 | Code 0 | Checksum (the kernel's) | R S O Reserved | Target Address (16) |
 *  option: Type 2 | Length 1 (8 octets) | Link-Layer Address (6)
 */
export function unsolicitedNa(target: string, mac: string): Buffer {
  const b = Buffer.alloc(32);
  b[0] = ND_NEIGHBOR_ADVERT;
  b.writeUInt32BE((NA_FLAG_ROUTER | NA_FLAG_OVERRIDE) >>> 0, 4);
  writeIp(target, b, 8);
  b[24] = ND_OPT_TARGET_LINKADDR;
  b[25] = 1;
  macToBytes(mac).copy(b, 26);
  return b;
}
