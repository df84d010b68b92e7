/**
 * The VRRPv3 advertisement (RFC 9568 §5.2): declared once as a field table next to the RFC's
 * diagram, read and written only by `decodeAdvert` / `encodeAdvert` here. The receive checks of
 * §7.1 are one function that returns a reason (as keepalived's packet check does), so a bad
 * packet is a counted value, never an exception.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    IPv4 Fields or IPv6 Fields                 |
 *   ...                                                             ...
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |(rsvd) |     Max Adver Int     |          Checksum             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                                                               |
 *    +                                                               +
 *    |                       IPvX Address(es)                        |
 *    +                                                               +
 *    +                                                               +
 *    +                                                               +
 *    |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
import { bytesToIp, writeIp } from '../net/ip.js';
import {
  type ChecksumForm,
  VRRP_GROUP_V4,
  VRRP_HEADER_LENGTH,
  VRRP_IP_PROTOCOL,
  VRRP_TTL,
  VRRP_VERSION,
  VrrpType,
} from './constants.js';

export type Family = 4 | 6;

/** The header fields, by the RFC's names (camel-cased). */
export interface VrrpHeader {
  version: number;
  type: number;
  /** Virtual Rtr ID (§5.2.3). */
  vrid: number;
  priority: number;
  /** Count IPvX Addr (§5.2.5). */
  count: number;
  /** rsvd (§5.2.6): sent as zero, ignored on receipt. */
  reserved: number;
  /** Max Adver Int in centiseconds (§5.2.7). */
  maxAdvertInterval: number;
  checksum: number;
}

export interface VrrpAdvert {
  vrid: number;
  priority: number;
  /** Centiseconds. */
  maxAdvertInterval: number;
  /** IPvX Address(es) (§5.2.9), all of the packet's family. */
  addresses: string[];
}

/** One field: `size` octets big-endian at `offset`, then `bits` bits from bit `shift` up. */
interface Field {
  name: keyof VrrpHeader;
  offset: number;
  size: 1 | 2;
  shift: number;
  bits: number;
}

/** The declared header (the diagram above), one row per field. */
export const VRRP_HEADER: readonly Field[] = [
  { name: 'version', offset: 0, size: 1, shift: 4, bits: 4 },
  { name: 'type', offset: 0, size: 1, shift: 0, bits: 4 },
  { name: 'vrid', offset: 1, size: 1, shift: 0, bits: 8 },
  { name: 'priority', offset: 2, size: 1, shift: 0, bits: 8 },
  { name: 'count', offset: 3, size: 1, shift: 0, bits: 8 },
  { name: 'reserved', offset: 4, size: 2, shift: 12, bits: 4 },
  { name: 'maxAdvertInterval', offset: 4, size: 2, shift: 0, bits: 12 },
  { name: 'checksum', offset: 6, size: 2, shift: 0, bits: 16 },
];

const CHECKSUM_OFFSET = 6;

function readHeader(b: Buffer): VrrpHeader {
  const h = {} as VrrpHeader;
  for (const f of VRRP_HEADER) {
    const raw = f.size === 1 ? b.readUInt8(f.offset) : b.readUInt16BE(f.offset);
    h[f.name] = (raw >>> f.shift) & ((1 << f.bits) - 1);
  }
  return h;
}

function writeHeader(h: VrrpHeader, b: Buffer): void {
  b.fill(0, 0, VRRP_HEADER_LENGTH);
  for (const f of VRRP_HEADER) {
    const mask = (1 << f.bits) - 1;
    if (h[f.name] < 0 || h[f.name] > mask) throw new RangeError(`VRRP ${f.name} ${h[f.name]} does not fit ${f.bits} bits`);
    const v = (h[f.name] & mask) << f.shift;
    if (f.size === 1) b.writeUInt8(b.readUInt8(f.offset) | v, f.offset);
    else b.writeUInt16BE(b.readUInt16BE(f.offset) | v, f.offset);
  }
}

const addrLen = (family: Family) => (family === 4 ? 4 : 16);

/** The IP fields a checksum may cover: the packet's source and destination. */
export interface IpEnds {
  family: Family;
  src: string;
  dst: string;
}

/** RFC 1071 one's complement sum of 16-bit words, folded. */
function sum16(b: Buffer, start = 0): number {
  let s = start;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The pseudo-header a form puts before the message, or none (RFC 9568 §5.2.8 for IPv4). */
function pseudoHeader(form: ChecksumForm, ends: IpEnds, length: number): Buffer | undefined {
  if (ends.family === 6) {
    // RFC 8200 §8.1: source, destination, upper-layer length (32 bits), 3 zero octets, next header.
    const p = Buffer.alloc(40);
    writeIp(ends.src, p, 0);
    writeIp(ends.dst, p, 16);
    p.writeUInt32BE(length, 32);
    p[39] = VRRP_IP_PROTOCOL;
    return p;
  }
  if (form === 'rfc9568') return undefined;
  // The RFC 5798 reading: the IPv4 pseudo-header of RFC 768 / RFC 793 with protocol 112.
  const p = Buffer.alloc(12);
  writeIp(ends.src, p, 0);
  writeIp(form === 'pseudo-header-group' ? VRRP_GROUP_V4 : ends.dst, p, 4);
  p[9] = VRRP_IP_PROTOCOL;
  p.writeUInt16BE(length, 10);
  return p;
}

/** The checksum `form` gives `message` (its own Checksum field counted as zero). */
export function computeChecksum(message: Buffer, ends: IpEnds, form: ChecksumForm): number {
  const m = Buffer.from(message);
  m.writeUInt16BE(0, CHECKSUM_OFFSET);
  const p = pseudoHeader(form, ends, m.length);
  const s = sum16(m, p ? sum16(p) : 0);
  return ~s & 0xffff;
}

/** Encodes an advertisement from `ends.src` to `ends.dst` with the checksum in `form`. */
export function encodeAdvert(a: VrrpAdvert, ends: IpEnds, form: ChecksumForm): Buffer {
  const len = addrLen(ends.family);
  const out = Buffer.alloc(VRRP_HEADER_LENGTH + a.addresses.length * len);
  writeHeader(
    {
      version: VRRP_VERSION,
      type: VrrpType.ADVERTISEMENT,
      vrid: a.vrid,
      priority: a.priority,
      count: a.addresses.length,
      reserved: 0,
      maxAdvertInterval: a.maxAdvertInterval,
      checksum: 0,
    },
    out,
  );
  a.addresses.forEach((addr, i) => {
    if (writeIp(addr, out, VRRP_HEADER_LENGTH + i * len) !== len) {
      throw new RangeError(`VRRP address ${addr} is not IPv${ends.family}`);
    }
  });
  out.writeUInt16BE(computeChecksum(out, ends, form), CHECKSUM_OFFSET);
  return out;
}

/** A VRRP packet as the socket delivers it: the message and the IP fields §7.1 checks. */
export interface ReceivedPacket extends IpEnds {
  /** IPv4 TTL or IPv6 Hop Limit of the packet. */
  ttl: number;
  /** The VRRP message (after the IP header). */
  data: Buffer;
}

/** Why a packet was dropped (RFC 9568 §7.1 checks, in the order they run). */
export type DropReason =
  | 'ttl'
  | 'length'
  | 'version'
  | 'type'
  | 'vrid'
  | 'address-count'
  | 'checksum'
  | 'interval';
export const DROP_REASONS: readonly DropReason[] = ['ttl', 'length', 'version', 'type', 'vrid', 'address-count', 'checksum', 'interval'];

export interface CheckExpect {
  vrid: number;
  /** Checksum forms accepted on receipt (the RFC 9568 form should always be among them). */
  acceptChecksums: readonly ChecksumForm[];
}

export type CheckResult =
  | { ok: true; advert: VrrpAdvert; header: VrrpHeader; checksumForm: ChecksumForm }
  | {
      ok: false;
      reason: DropReason;
      detail: string;
      /** For 'checksum': the form the packet's checksum does match, if any of the known ones. */
      seenForm?: ChecksumForm;
    };

const drop = (reason: DropReason, detail: string, seenForm?: ChecksumForm): CheckResult => ({ ok: false, reason, detail, seenForm });

/**
 * RFC 9568 §7.1 receive checks. Other VRIDs are checked before the checksum, so the adverts of
 * other virtual routers on a shared LAN (possibly with another checksum form) are counted as
 * 'vrid', not reported as checksum mismatches.
 */
export function checkAdvert(p: ReceivedPacket, expect: CheckExpect): CheckResult {
  // §7.1: "MUST verify that the IPv4 TTL/IPv6 Hop Limit is 255".
  if (p.ttl !== VRRP_TTL) return drop('ttl', `TTL/hop limit ${p.ttl}, not ${VRRP_TTL}`);
  if (p.data.length < VRRP_HEADER_LENGTH) return drop('length', `${p.data.length} octets, under the ${VRRP_HEADER_LENGTH}-octet header`);
  const h = readHeader(p.data);
  // §7.1: "MUST verify the VRRP version is 3".
  if (h.version !== VRRP_VERSION) return drop('version', `version ${h.version}`);
  // §5.2.2: "A packet with unknown type MUST be discarded".
  if (h.type !== VrrpType.ADVERTISEMENT) return drop('type', `type ${h.type}`);
  if (h.vrid !== expect.vrid) return drop('vrid', `VRID ${h.vrid}, not ${expect.vrid}`);
  const alen = addrLen(p.family);
  const body = p.data.length - VRRP_HEADER_LENGTH;
  if (body % alen !== 0) return drop('length', `${body} address octets is not a whole number of IPv${p.family} addresses`);
  // §7.1: "MUST verify that the received packet contains the complete VRRP packet".
  if (body / alen !== h.count) return drop('address-count', `Count IPvX Addr ${h.count}, but ${body / alen} addresses present`);
  const accepted = expect.acceptChecksums.find((f) => computeChecksum(p.data, p, f) === h.checksum);
  if (!accepted) {
    const seen = matchingForm(p, h.checksum);
    return drop('checksum', `checksum 0x${h.checksum.toString(16).padStart(4, '0')} (${seen ?? 'no known form'})`, seen);
  }
  // A zero interval cannot be adopted (§6.4.2): Master_Down_Interval would be the skew alone.
  if (h.maxAdvertInterval === 0) return drop('interval', 'Max Adver Int 0');
  const addresses: string[] = [];
  for (let i = 0; i < h.count; i++) {
    const off = VRRP_HEADER_LENGTH + i * alen;
    addresses.push(bytesToIp(p.data.subarray(off, off + alen), p.family));
  }
  return {
    ok: true,
    header: h,
    checksumForm: accepted,
    advert: { vrid: h.vrid, priority: h.priority, maxAdvertInterval: h.maxAdvertInterval, addresses },
  };
}

/** The first known form whose checksum equals `value` (RFC 9568's first). */
export function matchingForm(p: IpEnds & { data: Buffer }, value: number): ChecksumForm | undefined {
  const forms: ChecksumForm[] = p.family === 6 ? ['rfc9568'] : ['rfc9568', 'pseudo-header', 'pseudo-header-group'];
  return forms.find((f) => computeChecksum(p.data, p, f) === value);
}

/** Decodes without the §7.1 checks (for tests and captures): undefined if too short. */
export function decodeHeader(data: Buffer): VrrpHeader | undefined {
  return data.length < VRRP_HEADER_LENGTH ? undefined : readHeader(data);
}
