/**
 * Which body format each payload type has (RFC 7296 §3.2 Next Payload values). The message
 * layer reads the generic payload header, then the body named here; a type absent from this
 * table is unknown (§2.5) and kept as octets.
 */
import { PayloadType } from '../../constants.js';
import type { AnyStruct } from '../struct.js';
import { SA_BODY } from './sa.js';
import { SK_BODY, SKF_BODY } from './header.js';
import {
  AUTH_BODY,
  CERT_BODY,
  CERTREQ_BODY,
  CP_BODY,
  DELETE_BODY,
  EAP_BODY,
  ID_BODY,
  KE_BODY,
  NONCE_BODY,
  NOTIFY_BODY,
  TS_BODY,
  VENDOR_ID_BODY,
} from './payloads.js';

export interface PayloadFormat {
  readonly type: number;
  readonly body: AnyStruct;
  /**
   * The encrypted payloads (SK, SKF): their Next Payload field names the first payload inside
   * (`firstInner`), and they end the message (RFC 7296 §3.14, RFC 7383 §2.5).
   */
  readonly encrypted: boolean;
}

const TABLE: readonly [number, AnyStruct, boolean][] = [
  [PayloadType.SA, SA_BODY, false],
  [PayloadType.KE, KE_BODY, false],
  [PayloadType.IDi, ID_BODY, false],
  [PayloadType.IDr, ID_BODY, false],
  [PayloadType.CERT, CERT_BODY, false],
  [PayloadType.CERTREQ, CERTREQ_BODY, false],
  [PayloadType.AUTH, AUTH_BODY, false],
  [PayloadType.NONCE, NONCE_BODY, false],
  [PayloadType.NOTIFY, NOTIFY_BODY, false],
  [PayloadType.DELETE, DELETE_BODY, false],
  [PayloadType.VENDOR_ID, VENDOR_ID_BODY, false],
  [PayloadType.TSi, TS_BODY, false],
  [PayloadType.TSr, TS_BODY, false],
  [PayloadType.SK, SK_BODY, true],
  [PayloadType.CP, CP_BODY, false],
  [PayloadType.EAP, EAP_BODY, false],
  [PayloadType.SKF, SKF_BODY, true],
];

/** Indexed by payload type (0..255) for the hot path; undefined = unknown type. */
export const PAYLOAD_FORMATS: readonly (PayloadFormat | undefined)[] = (() => {
  const byType: (PayloadFormat | undefined)[] = new Array(256).fill(undefined);
  for (const [type, body, encrypted] of TABLE) byType[type] = { type, body, encrypted };
  return byType;
})();

export { IKE_HEADER, GENERIC_HEADER, SK_BODY, SKF_BODY, SKF_FIXED_LENGTH } from './header.js';
export type { GenericHeaderWire } from './header.js';
export { PROPOSAL, TRANSFORM, TRANSFORM_ATTRIBUTE, SA_BODY } from './sa.js';
export * from './payloads.js';
export * from './notify-data.js';
