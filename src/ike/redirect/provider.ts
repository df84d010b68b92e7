/**
 * The RFC 5685 redirect decision, asked by the exchange code and answered by a provider:
 *
 *   onInit  before the IKE_SA_INIT response is built, only if the initiator sent
 *           N(REDIRECT_SUPPORTED) (§4); a target makes the response a bare N(REDIRECT).
 *   onAuth  after the peer is authenticated, before the IKE_AUTH response is built (§6);
 *           a target makes the response carry N(REDIRECT) instead of a child SA, and the
 *           IKE SA is deleted afterwards.
 *
 * The cluster balancer implements this interface; the exchange code never changes for it.
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

export interface RedirectProvider {
  onInit(ctx: RedirectInitContext): RedirectTarget | undefined;
  onAuth(ctx: RedirectAuthContext): RedirectTarget | undefined;
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
