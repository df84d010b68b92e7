/**
 * Notification Data formats of the notify types segw reads or writes (RFC 7296 §3.10.1,
 * RFC 5685, RFC 7427). A Notify payload carries its data as octets; these tables decode and
 * encode them with the same generic codec: `decodeStruct(REDIRECT_DATA, notify.data)`.
 */
import { GatewayIdType } from '../../constants.js';
import { fieldsOf, struct } from '../struct.js';

/** RFC 7296 §3.10.1 INVALID_KE_PAYLOAD: the accepted Diffie-Hellman group, 2 octets. */
export interface InvalidKeData {
  group: number;
}
export const INVALID_KE_DATA = struct<InvalidKeData>('INVALID_KE_PAYLOAD data', [fieldsOf<InvalidKeData>().u16('group')]);

function gatewayCheck(v: { gwIdentType: number; gwIdent: Buffer }): string | null {
  if (v.gwIdentType === GatewayIdType.IPV4 && v.gwIdent.length !== 4) return 'IPv4 gateway identity is not 4 octets';
  if (v.gwIdentType === GatewayIdType.IPV6 && v.gwIdent.length !== 16) return 'IPv6 gateway identity is not 16 octets';
  if (v.gwIdentType === GatewayIdType.FQDN && v.gwIdent.length === 0) return 'empty FQDN gateway identity';
  return null;
}

/**
 * RFC 5685 §8 REDIRECT Notification Data. Nonce Data is the initiator's Ni when the redirect
 * answers IKE_SA_INIT (§3), and absent in IKE_AUTH (§4) and INFORMATIONAL (§5).
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | GW Ident Type | GW Ident Len  |                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               ~
 * ~                   New Responder GW Identity                   ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        Nonce Data                             ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export interface RedirectData {
  gwIdentType: number;
  gwIdent: Buffer;
  /** Empty when absent. */
  nonce: Buffer;
}
const r = fieldsOf<RedirectData>();
export const REDIRECT_DATA = struct<RedirectData>('REDIRECT data', [r.u8('gwIdentType'), r.sizeOf(1, 'gwIdent'), r.sized('gwIdent'), r.rest('nonce')], {
  check: gatewayCheck,
});

/**
 * RFC 5685 §8 REDIRECTED_FROM Notification Data (sent in IKE_SA_INIT after a redirect).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | GW Ident Type | GW Ident Len  |                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               ~
 * ~                 Original Responder GW Identity                ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export interface RedirectedFromData {
  gwIdentType: number;
  gwIdent: Buffer;
}
const rf = fieldsOf<RedirectedFromData>();
export const REDIRECTED_FROM_DATA = struct<RedirectedFromData>(
  'REDIRECTED_FROM data',
  [rf.u8('gwIdentType'), rf.sizeOf(1, 'gwIdent'), rf.sized('gwIdent')],
  { check: gatewayCheck },
);

/** RFC 7427 §4 SIGNATURE_HASH_ALGORITHMS: a list of 2-octet hash algorithm numbers. */
interface HashAlgorithmWire {
  id: number;
}
const HASH_ALGORITHM = struct<HashAlgorithmWire>('hash algorithm', [fieldsOf<HashAlgorithmWire>().u16('id')]);
export interface SignatureHashAlgorithmsData {
  algorithms: HashAlgorithmWire[];
}
export const SIGNATURE_HASH_ALGORITHMS_DATA = struct<SignatureHashAlgorithmsData>('SIGNATURE_HASH_ALGORITHMS data', [
  fieldsOf<SignatureHashAlgorithmsData>().list('algorithms', HASH_ALGORITHM),
]);
