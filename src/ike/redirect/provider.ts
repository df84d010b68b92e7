/**
 * The RFC 5685 redirect decision, asked by the exchange code and answered by a provider:
 *
 *   onInit  before the IKE_SA_INIT response is built, only if the initiator sent
 *           N(REDIRECT_SUPPORTED) (§4); a target makes the response a bare N(REDIRECT).
 *   onAuth  after the peer is authenticated, before the IKE_AUTH response is built (§6);
 *           a target makes the response carry N(REDIRECT) instead of a child SA, and the
 *           IKE SA is deleted afterwards.
 *
 * Either may instead refuse the new IKE SA with an error notify (a cluster where every member
 * is above its ceiling): IKE_SA_INIT is then answered with that bare notify and no state kept;
 * IKE_AUTH with that notify and the SA is removed.
 *
 * The cluster balancer (src/cluster/balancer.ts) implements this interface; the exchange code
 * never changes for it.
 */
import type { Endpoint } from '../../net/endpoint.js';
import type { GatewayId } from './notify.js';

export type RedirectTarget = GatewayId;

export interface RedirectInitContext {
  /** Where the IKE_SA_INIT request came from, and where it arrived. */
  remote: Endpoint;
  local: Endpoint;
  /** The initiator's SPI (hex), for logs and consistent hashing. */
  spiI: string;
  /** N(REDIRECTED_FROM) from the initiator, when it was redirected here. */
  redirectedFrom?: GatewayId;
}

export interface RedirectAuthContext extends RedirectInitContext {
  /** The authenticated peer identity ("fqdn:bs17.example.net", "192.0.2.7", a DN). */
  peerId: string;
  /** The matching connection's name. */
  connection: string;
}

/** Refuse the new IKE SA with this error notify type (NotifyError.TEMPORARY_FAILURE). */
export interface RedirectRefusal {
  refuse: number;
}

/** A gateway to redirect to, a refusal, or undefined: serve the peer here. */
export type RedirectDecision = RedirectTarget | RedirectRefusal | undefined;

export function isRefusal(d: RedirectDecision): d is RedirectRefusal {
  return d !== undefined && 'refuse' in d;
}

export interface RedirectProvider {
  onInit(ctx: RedirectInitContext): RedirectDecision;
  onAuth(ctx: RedirectAuthContext): RedirectDecision;
}

/** Never redirects. */
export const noRedirect: RedirectProvider = {
  onInit: () => undefined,
  onAuth: () => undefined,
};

/** Redirects every new IKE SA to one gateway (tests, and a drain of a cluster member). */
export function redirectAllTo(target: RedirectTarget, at: 'init' | 'auth'): RedirectProvider {
  return {
    onInit: () => (at === 'init' ? target : undefined),
    onAuth: () => (at === 'auth' ? target : undefined),
  };
}
