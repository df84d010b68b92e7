/**
 * The responder's side of a key exchange in CREATE_CHILD_SA (RFC 7296 §1.3.1 PFS, §1.3.2 IKE SA
 * rekey): the peer's KE must use the chosen group, else INVALID_KE_PAYLOAD names the group we
 * want (§1.3); a value that is not a valid group element is INVALID_SYNTAX.
 */
import { NotifyError } from '../constants.js';
import type { KePayload } from '../codec/types.js';
import type { KeyExchange } from '../crypto/types.js';
import { respondKeyExchange } from '../crypto/index.js';
import { u16 } from '../sa/payloads.js';

export type KeAnswer = { ke: KeyExchange; secret: Buffer } | { error: { type: number; data?: Buffer } };

export function answerKe(group: number, ke: KePayload | undefined): KeAnswer {
  if (!ke || ke.group !== group) return { error: { type: NotifyError.INVALID_KE_PAYLOAD, data: u16(group) } };
  const { exchange, secret } = respondKeyExchange(group, ke.data);
  return secret ? { ke: exchange, secret } : { error: { type: NotifyError.INVALID_SYNTAX } };
}
