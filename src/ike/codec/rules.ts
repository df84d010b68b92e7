/**
 * Which payloads each exchange allows (RFC 7296 §1.2-§1.4, §2.6, §2.16; RFC 5685 §3; RFC 6023),
 * as a table: exchange x request/response -> the message shapes it may take, each a list of
 * payload types with how often they occur. `checkPayloads` matches a decoded message (the inner
 * payloads of a protected one) against the shapes and names the one that fits.
 *
 * Occurrence: '1' exactly once, '?' at most once, '*' any number, '+' at least once. A type not
 * listed is not allowed. Unknown non-critical payloads are ignored (§2.5). A shape may apply
 * only when a Notify of certain types is present (error-only responses), or when the SA
 * payload proposes a certain protocol (CREATE_CHILD_SA: IKE SA rekey vs Child SA).
 *
 * A mismatch is INVALID_SYNTAX (§3.10.1: "MUST be sent in response to any error not covered by
 * one of the other status types") for the protected exchanges; in IKE_SA_INIT, which is not
 * protected, it is dropped silently (INVALID_SYNTAX only in an encrypted packet whose ICV
 * verified, §3.10.1).
 */
import { ExchangeType, NOTIFY_ERROR_MAX, NotifyStatus, PayloadType, ProtocolId } from '../constants.js';
import { CodecErrorCode, dropped, invalidSyntax, type CodecError } from './errors.js';
import type { NotifyPayload, Payload, SaPayload } from './types.js';
import { nameOf } from '../constants.js';

export type Occurs = '1' | '?' | '*' | '+';

export interface Shape {
  /** Names the shape for the caller: 'init', 'error', 'new-child', 'rekey-ike', ... */
  readonly name: string;
  readonly payloads: Readonly<Partial<Record<number, Occurs>>>;
  /** Applies only when a Notify of one of these types is present; 'error' = any error type. */
  readonly whenNotify?: readonly (number | 'error')[];
  /** Applies only when the SA payload's first proposal is (or is not) for the IKE SA. */
  readonly sa?: 'ike' | 'child';
  /** Payloads that appear all together or not at all (the Child SA of IKE_AUTH). */
  readonly together?: readonly number[];
}

const { SA, KE, IDi, IDr, CERT, CERTREQ, AUTH, NONCE, NOTIFY: N, DELETE: D, VENDOR_ID: V, TSi, TSr, CP, EAP } = PayloadType;
const CHILD = [SA, TSi, TSr];

/** §1.2, §1.3, RFC 5685 §3: a response of Notify payloads only. */
const ERROR_ONLY: Shape = { name: 'error', payloads: { [N]: '+', [V]: '*' }, whenNotify: ['error'] };

export const EXCHANGE_RULES: Readonly<Record<number, { request: readonly Shape[]; response: readonly Shape[] }>> = {
  // §1.2: HDR, SAi1, KEi, Ni  -->  <-- HDR, SAr1, KEr, Nr, [CERTREQ]
  [ExchangeType.IKE_SA_INIT]: {
    request: [{ name: 'init', payloads: { [SA]: '1', [KE]: '1', [NONCE]: '1', [N]: '*', [V]: '*' } }],
    response: [
      { name: 'init', payloads: { [SA]: '1', [KE]: '1', [NONCE]: '1', [CERTREQ]: '*', [N]: '*', [V]: '*' } },
      // §2.6 N(COOKIE), §1.3 N(INVALID_KE_PAYLOAD), N(NO_PROPOSAL_CHOSEN), RFC 5685 §3 N(REDIRECT)
      { ...ERROR_ONLY, whenNotify: ['error', NotifyStatus.COOKIE, NotifyStatus.REDIRECT] },
    ],
  },
  // §1.2: HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, SAi2, TSi, TSr}  -->
  //       <-- HDR, SK {IDr, [CERT,] AUTH, SAr2, TSi, TSr}
  // §2.16 EAP: no AUTH in the first request; RFC 6023 / §1.2 a failed child: no SA/TSi/TSr.
  [ExchangeType.IKE_AUTH]: {
    request: [
      { name: 'auth', payloads: { [IDi]: '1', [CERT]: '*', [CERTREQ]: '*', [IDr]: '?', [AUTH]: '1', [CP]: '?', [SA]: '?', [TSi]: '?', [TSr]: '?', [N]: '*', [V]: '*' }, together: CHILD },
      { name: 'eap-start', payloads: { [IDi]: '1', [CERT]: '*', [CERTREQ]: '*', [IDr]: '?', [CP]: '?', [SA]: '?', [TSi]: '?', [TSr]: '?', [N]: '*', [V]: '*' }, together: CHILD },
      { name: 'eap', payloads: { [EAP]: '1', [N]: '*', [V]: '*' } },
      { name: 'eap-auth', payloads: { [AUTH]: '1', [N]: '*', [V]: '*' } },
    ],
    response: [
      { name: 'auth', payloads: { [IDr]: '1', [CERT]: '*', [AUTH]: '1', [CP]: '?', [SA]: '?', [TSi]: '?', [TSr]: '?', [N]: '*', [V]: '*' }, together: CHILD },
      { name: 'eap', payloads: { [IDr]: '?', [CERT]: '*', [AUTH]: '?', [EAP]: '1', [N]: '*', [V]: '*' } },
      { name: 'eap-auth', payloads: { [AUTH]: '1', [CP]: '?', [SA]: '?', [TSi]: '?', [TSr]: '?', [N]: '*', [V]: '*' }, together: CHILD },
      ERROR_ONLY,
    ],
  },
  // §1.3.1 new child: HDR, SK {SA, Ni, [KEi,] TSi, TSr}; §1.3.3 rekey child: the same with
  // N(REKEY_SA); §1.3.2 rekey IKE SA: HDR, SK {SA, Ni, KEi}. Responses alike with Nr/KEr.
  [ExchangeType.CREATE_CHILD_SA]: {
    request: [
      { name: 'rekey-child', payloads: { [SA]: '1', [NONCE]: '1', [KE]: '?', [TSi]: '1', [TSr]: '1', [N]: '+', [V]: '*' }, whenNotify: [NotifyStatus.REKEY_SA], sa: 'child' },
      { name: 'new-child', payloads: { [SA]: '1', [NONCE]: '1', [KE]: '?', [TSi]: '1', [TSr]: '1', [N]: '*', [V]: '*' }, sa: 'child' },
      { name: 'rekey-ike', payloads: { [SA]: '1', [NONCE]: '1', [KE]: '1', [N]: '*', [V]: '*' }, sa: 'ike' },
    ],
    response: [
      { name: 'child', payloads: { [SA]: '1', [NONCE]: '1', [KE]: '?', [TSi]: '1', [TSr]: '1', [N]: '*', [V]: '*' }, sa: 'child' },
      { name: 'rekey-ike', payloads: { [SA]: '1', [NONCE]: '1', [KE]: '1', [N]: '*', [V]: '*' }, sa: 'ike' },
      ERROR_ONLY,
    ],
  },
  // §1.4: HDR, SK {[N,] [D,] [CP,] ...}; an empty one is a liveness check (§2.4).
  [ExchangeType.INFORMATIONAL]: {
    request: [{ name: 'info', payloads: { [N]: '*', [D]: '*', [CP]: '?', [V]: '*' } }],
    response: [{ name: 'info', payloads: { [N]: '*', [D]: '*', [CP]: '?', [V]: '*' } }],
  },
};

export type PayloadCheck = { ok: true; shape: string } | { ok: false; error: CodecError };

/**
 * Checks a message's payloads (the inner ones when protected) against EXCHANGE_RULES. Returns
 * the name of the shape that fits, or the first shape's complaint with what to answer.
 */
export function checkPayloads(exchangeType: number, isResponse: boolean, payloads: readonly Payload[]): PayloadCheck {
  const answer = exchangeType === ExchangeType.IKE_SA_INIT ? dropped : invalidSyntax;
  const rules = EXCHANGE_RULES[exchangeType];
  if (rules === undefined) {
    return { ok: false, error: dropped(CodecErrorCode.UNKNOWN_EXCHANGE, `no payload rules for exchange ${exchangeType}`) };
  }
  // Occurrences per type, in the order types first appear (the first complaint names the first).
  const seen: number[] = [];
  for (const p of payloads) {
    if ('unknown' in p) continue;
    if (COUNTS[p.type]++ === 0) seen.push(p.type);
  }
  try {
    let complaint: { code: CodecErrorCode; detail: string } | null = null;
    for (const shape of isResponse ? rules.response : rules.request) {
      if (!applies(shape, payloads)) continue;
      const wrong = mismatch(shape, seen);
      if (wrong === null) return { ok: true, shape: shape.name };
      complaint ??= { code: wrong.code, detail: `${nameOf(ExchangeType, exchangeType)} ${isResponse ? 'response' : 'request'}: ${wrong.detail}` };
    }
    const c = complaint ?? { code: CodecErrorCode.UNEXPECTED_PAYLOAD, detail: 'no shape applies' };
    return { ok: false, error: answer(c.code, c.detail) };
  } finally {
    for (const t of seen) COUNTS[t] = 0;
  }
}

/**
 * Payload counts of the message being checked, by type (0 between checks). A check runs to
 * completion without yielding, so one table serves every check: no Map per message.
 */
const COUNTS = new Uint16Array(256);

/** The types a shape requires ('1' or '+'), ascending, computed once per shape. */
const requiredTypes = new WeakMap<Shape, readonly number[]>();
function required(shape: Shape): readonly number[] {
  let r = requiredTypes.get(shape);
  if (!r) {
    r = Object.entries(shape.payloads)
      .filter(([, occurs]) => occurs === '1' || occurs === '+')
      .map(([type]) => Number(type))
      .sort((a, b) => a - b);
    requiredTypes.set(shape, r);
  }
  return r;
}

function applies(shape: Shape, payloads: readonly Payload[]): boolean {
  if (shape.whenNotify) {
    const hit = payloads.some(
      (p) =>
        p.type === N &&
        !('unknown' in p) &&
        shape.whenNotify!.some((w) => (w === 'error' ? (p as NotifyPayload).notifyType <= NOTIFY_ERROR_MAX : (p as NotifyPayload).notifyType === w)),
    );
    if (!hit) return false;
  }
  if (shape.sa) {
    const sa = payloads.find((p) => p.type === SA && !('unknown' in p)) as SaPayload | undefined;
    const protocol = sa?.proposals[0]?.protocol;
    if (protocol !== undefined && (protocol === ProtocolId.IKE) !== (shape.sa === 'ike')) return false;
  }
  return true;
}

function mismatch(shape: Shape, seen: readonly number[]): { code: CodecErrorCode; detail: string } | null {
  for (const type of seen) {
    const n = COUNTS[type]!;
    const occurs = shape.payloads[type];
    if (occurs === undefined) return { code: CodecErrorCode.UNEXPECTED_PAYLOAD, detail: `${nameOf(PayloadType, type)} not allowed` };
    if ((occurs === '1' || occurs === '?') && n > 1) {
      return { code: CodecErrorCode.REPEATED_PAYLOAD, detail: `${n} ${nameOf(PayloadType, type)} payloads, at most one allowed` };
    }
  }
  for (const type of required(shape)) {
    if (COUNTS[type] === 0) return { code: CodecErrorCode.MISSING_PAYLOAD, detail: `${nameOf(PayloadType, type)} missing` };
  }
  if (shape.together) {
    let present = 0;
    for (const t of shape.together) if (COUNTS[t]! > 0) present++;
    if (present > 0 && present < shape.together.length) {
      const absent = shape.together.filter((t) => COUNTS[t] === 0).map((t) => nameOf(PayloadType, t));
      return { code: CodecErrorCode.MISSING_PAYLOAD, detail: `${absent.join(', ')} missing (${shape.together.map((t) => nameOf(PayloadType, t)).join(', ')} go together)` };
    }
  }
  return null;
}
