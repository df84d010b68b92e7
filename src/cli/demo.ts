/**
 * `segw demo`: what exists today, in network namespaces (root needed): a strongSwan base
 * station brings up a tunnel to a segw gateway (userspace ESP), pings through it, and the
 * gateway injects the base station's subnet as a `proto segw` route. The cluster demo (VRRP,
 * redirect to the least-loaded gateway) replaces this when those issues land.
 */
export async function runDemo(opts: { keep: boolean }): Promise<number> {
  const { demoSingleGateway } = await import('../lab/demo.js');
  return demoSingleGateway({ keep: opts.keep });
}
