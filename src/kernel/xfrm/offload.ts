/**
 * ESP offload on the XFRM data plane (XFRMA_OFFLOAD_DEV): the request segw adds to an SA when the
 * operator asks for it (`kernel.xfrm.offload`), and the rules for falling back to software when
 * the device or the kernel refuses. Pure: the backend (./backend.ts) sends and retries.
 *
 * What the kernel does with the attribute (net/xfrm/xfrm_device.c, xfrm_dev_state_add):
 * - ifindex 0: it picks the device by a route lookup from the SA's local to its peer address.
 * - A device without IPsec offload (no xfrmdev_ops: veth, most virtual devices) or a driver
 *   that answers EOPNOTSUPP: the SA is installed in software and no error is returned. Whether
 *   offload took is seen only by reading the SA back: the kernel lists XFRMA_OFFLOAD_DEV on an
 *   SA only while a device holds it.
 * - Refusals with EINVAL (the extended ack says why): UDP encapsulation or TFC padding
 *   ("Encapsulation and TFC padding can't be offloaded"), flags it does not know (before Linux
 *   6.2, XFRM_OFFLOAD_PACKET: "Unrecognized flags in offload request"), ESN on a device that
 *   cannot advance it, no offload support for the protocol (esp4_offload missing). A driver may
 *   refuse with its own errno (ENOSPC when its SA table is full, ...).
 *
 * Fallback order on refusal: packet -> crypto -> software; each step is logged by the backend.
 * UDP-encapsulated SAs (NAT-T) are not offered to the kernel (Linux 6.1, the kernel of the guest
 * tests, refuses them as above), so they cost no failed request.
 */
import { XFRM_OFFLOAD } from '../../netlink/xfrm.js';
import { NetlinkError } from '../../netlink/errors.js';
import type { SaParams } from '../types.js';

/** What `kernel.xfrm.offload` asks for: crypto offload (the NIC encrypts), or packet offload (the NIC does all of ESP). */
export type OffloadMode = 'crypto' | 'packet';
/** What an SA got: a mode, or software. */
export type OffloadResult = OffloadMode | 'software';

export interface OffloadConfig {
  mode: OffloadMode;
  /** The device's ifindex; 0: the kernel picks it by route (the usual case). */
  ifindex: number;
}

/** The XFRMA_OFFLOAD_DEV value for one SA (struct xfrm_user_offload). */
export interface OffloadAttr {
  ifindex: number;
  flags: number;
}

export function offloadAttr(sa: Pick<SaParams, 'direction' | 'dst'>, ifindex: number, mode: OffloadMode): OffloadAttr {
  let flags = sa.dst.includes(':') ? XFRM_OFFLOAD.XFRM_OFFLOAD_IPV6 : 0;
  if (sa.direction === 'in') flags |= XFRM_OFFLOAD.XFRM_OFFLOAD_INBOUND;
  if (mode === 'packet') flags |= XFRM_OFFLOAD.XFRM_OFFLOAD_PACKET;
  return { ifindex, flags };
}

/** Why an SA is installed without asking for offload, or undefined when it may ask. */
export function notOffered(sa: Pick<SaParams, 'encap'>): 'udp-encap' | undefined {
  return sa.encap ? 'udp-encap' : undefined;
}

/**
 * Errors that mean "not with this offload": the same SA is then installed one step down. Others
 * (EEXIST, ENOENT, EPERM, ENOMEM...) have nothing to do with offload and are the install's own
 * failure; retrying would only hide them.
 */
const REFUSALS = new Set(['EINVAL', 'EOPNOTSUPP', 'ENOTSUP', 'ENODEV', 'ENOSPC', 'EBUSY', 'ENXIO']);

export function isRefusal(err: unknown): err is NetlinkError {
  return err instanceof NetlinkError && REFUSALS.has(err.errno);
}

/** The next thing to try after `mode` was refused. */
export function stepDown(mode: OffloadMode): OffloadMode | undefined {
  return mode === 'packet' ? 'crypto' : undefined;
}

/** What the SA read back says it got (XFRMA_OFFLOAD_DEV present while a device holds it). */
export function resultOf(readBack: OffloadAttr | undefined): OffloadResult {
  if (!readBack) return 'software';
  return readBack.flags & XFRM_OFFLOAD.XFRM_OFFLOAD_PACKET ? 'packet' : 'crypto';
}

/** Offload outcomes since start: what was asked, what SAs got, and the refusals by reason. */
export interface OffloadStats {
  mode: OffloadMode;
  /** SAs installed, by what they got. */
  installed: Record<OffloadResult, number>;
  /** SAs never offered to the kernel, by reason. */
  notOffered: Record<string, number>;
  /** Kernel refusals, by "MODE: ERRNO: extended ack". */
  refused: Record<string, number>;
}

export function emptyOffloadStats(mode: OffloadMode): OffloadStats {
  return { mode, installed: { crypto: 0, packet: 0, software: 0 }, notOffered: {}, refused: {} };
}

/** The key a refusal is counted and logged under. */
export function refusalKey(mode: OffloadMode, err: NetlinkError): string {
  return `${mode}: ${err.errno}${err.extAck ? `: ${err.extAck}` : ''}`;
}
