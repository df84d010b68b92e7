/**
 * The responder's side of a key exchange in CREATE_CHILD_SA (RFC 7296 §1.3.1 PFS, §1.3.2 IKE SA
 * rekey): the peer's KE must use the chosen group, else INVALID_KE_PAYLOAD names the group we
 * want (§1.3); a value that is not a valid group element is INVALID_SYNTAX.
 */
import { NotifyError } from '../constants.js';
import { decodeStruct, encodeStruct, INVALID_KE_DATA } from '../codec/index.js';
import type { KePayload } from '../codec/types.js';
import type { KeyExchange } from '../crypto/types.js';
import { respondKeyExchange } from '../crypto/index.js';

export type KeAnswer = { ke: KeyExchange; secret: Buffer } | { error: { type: number; data?: Buffer } };

/** RFC 7296 §3.10.1: the Notification Data of INVALID_KE_PAYLOAD naming the group we accept. */
export function invalidKeData(group: number): Buffer {
  return encodeStruct(INVALID_KE_DATA, { group });
}

/**
 * The group a peer's INVALID_KE_PAYLOAD asks for (IKE_SA_INIT, IKE rekey, child with PFS), or
 * undefined when its data is not the declared 2-octet format.
 */
export function requestedKeGroup(data: Buffer): number | undefined {
  const r = decodeStruct(INVALID_KE_DATA, data);
  return r.ok ? r.value.group : undefined;
}

export function answerKe(group: number, ke: KePayload | undefined): KeAnswer {
  if (!ke || ke.group !== group) return { error: { type: NotifyError.INVALID_KE_PAYLOAD, data: invalidKeData(group) } };
  const { exchange, secret } = respondKeyExchange(group, ke.data);
  return secret ? { ke: exchange, secret } : { error: { type: NotifyError.INVALID_SYNTAX } };
}
