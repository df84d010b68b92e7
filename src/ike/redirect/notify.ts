/**
 * RFC 5685 notify data: REDIRECT (§3, §4, §5, §6) and REDIRECTED_FROM (§5).
 *
 *                        1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | GW Ident Type |  GW Ident Len |                               |
 *   +---------------+---------------+                               ~
 *   ~                   New Responder GW Identity                   ~
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   ~                        Nonce Data (REDIRECT in IKE_SA_INIT only)~
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * REDIRECTED_FROM carries the same first three fields (the original gateway) and no nonce.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { GatewayIdType } from '../constants.js';
import { bytesToIp, ipToBytes } from '../../net/ip.js';

/** A gateway identity: an address or an FQDN (§10 Gateway Identity Type). */
export type GatewayId =
  | { type: typeof GatewayIdType.IPV4; address: string }
  | { type: typeof GatewayIdType.IPV6; address: string }
  | { type: typeof GatewayIdType.FQDN; fqdn: string };

export function gatewayIdFromString(s: string): GatewayId {
  if (isIPv4(s)) return { type: GatewayIdType.IPV4, address: s };
  if (isIPv6(s)) return { type: GatewayIdType.IPV6, address: s };
  return { type: GatewayIdType.FQDN, fqdn: s };
}

export function gatewayIdToString(g: GatewayId): string {
  return g.type === GatewayIdType.FQDN ? g.fqdn : g.address;
}

function encodeGatewayId(g: GatewayId): Buffer {
  const ident = g.type === GatewayIdType.FQDN ? Buffer.from(g.fqdn, 'ascii') : ipToBytes(g.address);
  if (ident.length > 255) throw new RangeError('gateway identity longer than 255 octets');
  return Buffer.concat([Buffer.from([g.type, ident.length]), ident]);
}

/** Returns the identity and the octets after it, or undefined if malformed. */
function decodeGatewayId(data: Buffer): { gw: GatewayId; rest: Buffer } | undefined {
  if (data.length < 2) return undefined;
  const type = data[0]!;
  const len = data[1]!;
  if (data.length < 2 + len) return undefined;
  const ident = data.subarray(2, 2 + len);
  const rest = data.subarray(2 + len);
  switch (type) {
    case GatewayIdType.IPV4:
      return len === 4 ? { gw: { type, address: bytesToIp(ident) }, rest } : undefined;
    case GatewayIdType.IPV6:
      return len === 16 ? { gw: { type, address: bytesToIp(ident) }, rest } : undefined;
    case GatewayIdType.FQDN: {
      if (len === 0) return undefined;
      const fqdn = ident.toString('ascii');
      if (!/^[A-Za-z0-9.-]+$/.test(fqdn)) return undefined;
      return { gw: { type, fqdn }, rest };
    }
    default:
      return undefined;
  }
}

/** REDIRECT data; `nonce` is the initiator's Ni when sent in IKE_SA_INIT (§4). */
export function encodeRedirect(gw: GatewayId, nonce?: Buffer): Buffer {
  const id = encodeGatewayId(gw);
  return nonce ? Buffer.concat([id, nonce]) : id;
}

export function decodeRedirect(data: Buffer): { gw: GatewayId; nonce: Buffer } | undefined {
  const r = decodeGatewayId(data);
  return r && { gw: r.gw, nonce: r.rest };
}

export function encodeRedirectedFrom(gw: GatewayId): Buffer {
  return encodeGatewayId(gw);
}

export function decodeRedirectedFrom(data: Buffer): GatewayId | undefined {
  const r = decodeGatewayId(data);
  return r && r.rest.length === 0 ? r.gw : undefined;
}
