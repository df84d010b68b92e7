/**
 * Where injected routes point on the XFRM data plane when the configuration names neither
 * `kernel.routes.via` nor `.dev`. The kernel can tell: with XFRM in tunnel mode the inner
 * route only has to exist (the out policy matches after the route lookup, and the ESP packet is
 * routed again by its outer destination), so the device IKE listens on is a correct target, and
 * it is the interface a routing daemon redistributing `proto segw` routes sees the base
 * stations behind. When the listen addresses are not on exactly one interface the kernel cannot
 * tell which, and the error says so.
 */
import { ConfigError } from '../../errors.js';

export type RouteDevice = { dev: string } | { reason: string };

/** The one interface holding every `listen` address, or why there is none. */
export function listenDevice(listen: readonly string[], addresses: readonly { dev: string; address: string }[]): RouteDevice {
  const devs = new Set<string>();
  for (const l of listen) {
    const on = addresses.filter((a) => a.address.split('/')[0] === l).map((a) => a.dev);
    if (on.length === 0) return { reason: `ike.listen address ${l} is not an address of any interface in segw's namespace` };
    for (const d of on) devs.add(d);
  }
  if (devs.size === 1) return { dev: [...devs][0]! };
  if (devs.size === 0) return { reason: 'ike.listen names no address' };
  return { reason: `ike.listen addresses are on ${[...devs].sort().join(' and ')}: the kernel cannot tell which one the routes take` };
}

/** listenDevice, or a ConfigError that says what to set. */
export function requireListenDevice(listen: readonly string[], addresses: readonly { dev: string; address: string }[]): string {
  const r = listenDevice(listen, addresses);
  if ('dev' in r) return r.dev;
  throw new ConfigError(`kernel.routes: no routes.via or routes.dev, and ${r.reason}; set routes.dev (or routes.via), or routes.enabled: false`);
}
