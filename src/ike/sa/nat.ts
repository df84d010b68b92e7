/**
 * NAT detection (RFC 7296 §2.23): NAT_DETECTION_*_IP data is
 *   SHA-1(SPIi | SPIr | IP address | port)
 * with SPIr zero in the first IKE_SA_INIT request. Each side compares the hashes it receives
 * with what it sees: a destination mismatch means we are behind a NAT, no matching source
 * hash means the peer is.
 */
import { NotifyStatus } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { writeIp } from '../../net/ip.js';
import { digest } from '../crypto/digest.js';
import type { Endpoint } from '../../net/endpoint.js';
import { addNotify, notifies } from './payloads.js';

export function natHash(spiI: Buffer, spiR: Buffer, ep: Endpoint): Buffer {
  // One input buffer and a one-shot digest: no Hash object per value (four per IKE_SA_INIT).
  const input = Buffer.allocUnsafe(8 + 8 + 16 + 2);
  spiI.copy(input, 0, 0, 8);
  spiR.copy(input, 8, 0, 8);
  const end = input.writeUInt16BE(ep.port, 16 + writeIp(ep.address, input, 16));
  return digest('sha1', input.subarray(0, end));
}

/** Adds our NAT_DETECTION_SOURCE_IP and _DESTINATION_IP notifies. */
export function addNatDetection(msg: IkeMessage, local: Endpoint, remote: Endpoint): void {
  const { spiI, spiR } = msg.header;
  addNotify(msg, NotifyStatus.NAT_DETECTION_SOURCE_IP, natHash(spiI, spiR, local));
  addNotify(msg, NotifyStatus.NAT_DETECTION_DESTINATION_IP, natHash(spiI, spiR, remote));
}

export interface NatResult {
  /** The peer sent NAT detection at all (else nothing is known). */
  present: boolean;
  /** We are behind a NAT: the peer saw another destination than our address. */
  local: boolean;
  /** The peer is behind a NAT: none of its source hashes matches where the message came from. */
  remote: boolean;
}

/** Checks the peer's NAT detection notifies in a received IKE_SA_INIT message. */
export function checkNatDetection(msg: IkeMessage, local: Endpoint, remote: Endpoint): NatResult {
  const { spiI, spiR } = msg.header;
  const n = notifies(msg);
  const src = n.filter((x) => x.notifyType === NotifyStatus.NAT_DETECTION_SOURCE_IP);
  const dst = n.filter((x) => x.notifyType === NotifyStatus.NAT_DETECTION_DESTINATION_IP);
  if (src.length === 0 || dst.length === 0) return { present: false, local: false, remote: false };
  const wantSrc = natHash(spiI, spiR, remote);
  const wantDst = natHash(spiI, spiR, local);
  return {
    present: true,
    local: !dst.some((d) => d.data.equals(wantDst)),
    remote: !src.some((s) => s.data.equals(wantSrc)),
  };
}
