/**
 * The load report: what every cluster member sends to every other member each report interval,
 * over UDP, authenticated with HMAC-SHA256 under the cluster key. Version 1, network byte order:
 *
 *   offset  octets  field
 *        0       4  Magic "SGLR" (0x53474C52)
 *        4       1  Version (1)
 *        5       1  Flags
 *        6       2  Length: the whole datagram, MAC included
 *        8       8  Epoch: the sender's boot
 *       16       8  Sequence: 1, 2, 3, ... within one epoch
 *       24       4  Report Interval (ms)
 *       28       1  Role (0 unknown, 1 init, 2 backup, 3 master)
 *       29       4  Tunnels (IKE SAs established or being set up with the sender)
 *       33       4  Child SAs
 *       37       8  Bytes per Second (ESP, in and out)
 *       45       2  CPU (per mille of all the machine's cores)
 *       47       4  Max Tunnels (capacity)
 *       51       8  Bandwidth (capacity, bit/s)
 *       59   1 + n  Node ID: length, then n ASCII octets ([A-Za-z0-9_.-], 1..64)
 *        .   1 + m  Address: length, then the redirect target as text (IPv4, IPv6 or FQDN)
 *        .      32  HMAC-SHA256 under the cluster key over every octet before it
 *
 * Flags: bit 0 (0x01) DRAINING: the sender takes no new base stations; bit 1 (0x02) LEAVING:
 * the sender's last report, it is stopping. The others are reserved, sent as zero, ignored.
 * Role: the sender's VRRP role (MemberRole). The fields are declared once below (HEADER, BODY)
 * and read and written only by the generic codec of ./wire.ts. A receiver checks, in order:
 * length, magic, version, the Length field, the MAC (in constant time), and only then reads the
 * body; every failure is a `ReportDefect` value, never an exception.
 */
import { isIP } from 'node:net';
import { MAC_OCTETS, type ClusterKey } from './key.js';
import { decodeFields, encodeFields, fieldsSize, text8, u16, u32, u64, u8 } from './wire.js';

export const REPORT_MAGIC = 0x53474c52; // "SGLR"
export const REPORT_VERSION = 1;
export const FLAG_DRAINING = 0x01;
export const FLAG_LEAVING = 0x02;

/** The sender's VRRP role, as src/vrrp reports it. */
export const MemberRole = { unknown: 0, init: 1, backup: 2, master: 3 } as const;
export type MemberRoleName = keyof typeof MemberRole;
const ROLE_NAMES: Record<number, MemberRoleName> = { 0: 'unknown', 1: 'init', 2: 'backup', 3: 'master' };

const HEADER = { magic: u32, version: u8, flags: u8, length: u16 };
const BODY = {
  epoch: u64,
  sequence: u64,
  intervalMs: u32,
  role: u8,
  tunnels: u32,
  childSas: u32,
  bytesPerSec: u64,
  cpuPermille: u16,
  maxTunnels: u32,
  bandwidthBps: u64,
  nodeId: text8,
  address: text8,
};
const HEADER_OCTETS = fieldsSize(HEADER);
/** The shortest possible datagram: header, fixed body fields with empty texts, MAC. */
export const MIN_REPORT_OCTETS = HEADER_OCTETS + fieldsSize(BODY) + MAC_OCTETS;

export interface MemberLoad {
  /** IKE SAs established, or being set up by a peer (responder, before IKE_AUTH completed): see load.ts committed(). */
  tunnels: number;
  childSas: number;
  /** ESP bytes per second, in and out together. */
  bytesPerSec: number;
  /** Busy fraction of the machine's cores, 0..1. */
  cpu: number;
}

export interface LoadReport {
  nodeId: string;
  /** Where base stations are redirected to reach the sender (IPv4, IPv6 or FQDN). */
  address: string;
  /** The sender's boot: larger after every restart (see ./table.ts for the replay rule). */
  epoch: bigint;
  /** 1, 2, 3, ... within one epoch. */
  sequence: bigint;
  /** How often the sender reports (its K intervals of silence make it stale). */
  intervalMs: number;
  role: MemberRoleName;
  draining: boolean;
  /** The sender's last report: it is stopping (graceful), so it is stale at once. */
  leaving: boolean;
  load: MemberLoad;
  capacity: { maxTunnels: number; bandwidthBps: number };
}

export type ReportDefect = 'truncated' | 'bad-magic' | 'bad-version' | 'bad-length' | 'bad-mac' | 'malformed';

export type DecodeResult = { ok: true; report: LoadReport } | { ok: false; reason: ReportDefect };

const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?$/;

const clampU32 = (n: number) => Math.min(0xffffffff, Math.max(0, Math.round(n)));

/** The datagram for one report, with its MAC. */
export function encodeReport(r: LoadReport, key: ClusterKey): Buffer {
  const body = encodeFields(BODY, {
    epoch: r.epoch,
    sequence: r.sequence,
    intervalMs: clampU32(r.intervalMs),
    role: MemberRole[r.role],
    tunnels: clampU32(r.load.tunnels),
    childSas: clampU32(r.load.childSas),
    bytesPerSec: BigInt(Math.max(0, Math.round(r.load.bytesPerSec))),
    cpuPermille: Math.min(1000, Math.max(0, Math.round(r.load.cpu * 1000))),
    maxTunnels: clampU32(r.capacity.maxTunnels),
    bandwidthBps: BigInt(Math.max(0, Math.round(r.capacity.bandwidthBps))),
    nodeId: r.nodeId,
    address: r.address,
  });
  const length = HEADER_OCTETS + body.length + MAC_OCTETS;
  const header = encodeFields(HEADER, { magic: REPORT_MAGIC, version: REPORT_VERSION, flags: (r.draining ? FLAG_DRAINING : 0) | (r.leaving ? FLAG_LEAVING : 0), length });
  const signed = Buffer.concat([header, body]);
  return Buffer.concat([signed, key.mac(signed)]);
}

/** Checks and reads one datagram; never throws for any input. */
export function decodeReport(buf: Buffer, key: ClusterKey): DecodeResult {
  if (buf.length < MIN_REPORT_OCTETS) return { ok: false, reason: 'truncated' };
  const header = decodeFields(HEADER, buf, 0);
  if (!header) return { ok: false, reason: 'truncated' };
  const h = header.value;
  if (h.magic !== REPORT_MAGIC) return { ok: false, reason: 'bad-magic' };
  if (h.version !== REPORT_VERSION) return { ok: false, reason: 'bad-version' };
  if (h.length > buf.length) return { ok: false, reason: 'truncated' };
  if (h.length !== buf.length) return { ok: false, reason: 'bad-length' };
  const macAt = buf.length - MAC_OCTETS;
  if (!key.verify(buf.subarray(0, macAt), buf.subarray(macAt))) return { ok: false, reason: 'bad-mac' };
  // Authentic from here on: a defect now is a sender bug (or another version's), not an attack.
  const body = decodeFields(BODY, buf.subarray(0, macAt), HEADER_OCTETS);
  if (!body || body.end !== macAt) return { ok: false, reason: 'malformed' };
  const b = body.value;
  const role = ROLE_NAMES[b.role];
  if (
    !role ||
    b.sequence === 0n ||
    b.intervalMs === 0 ||
    b.cpuPermille > 1000 ||
    !NODE_ID.test(b.nodeId) ||
    (isIP(b.address) === 0 && !HOST.test(b.address)) ||
    b.bytesPerSec > BigInt(Number.MAX_SAFE_INTEGER) ||
    b.bandwidthBps > BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  return {
    ok: true,
    report: {
      nodeId: b.nodeId,
      address: b.address,
      epoch: b.epoch,
      sequence: b.sequence,
      intervalMs: b.intervalMs,
      role,
      draining: (h.flags & FLAG_DRAINING) !== 0,
      leaving: (h.flags & FLAG_LEAVING) !== 0,
      load: { tunnels: b.tunnels, childSas: b.childSas, bytesPerSec: Number(b.bytesPerSec), cpu: b.cpuPermille / 1000 },
      capacity: { maxTunnels: b.maxTunnels, bandwidthBps: Number(b.bandwidthBps) },
    },
  };
}
