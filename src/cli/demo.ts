/**
 * `segw demo`: a 3-gateway segw cluster in network namespaces (root needed): VRRPv3 for the
 * VIP, load reports, a strongSwan base station and segw base stations reaching the VIP, pings
 * through the tunnel, kill -9 of the master and the failover (src/lab/demo.ts).
 */
export async function runDemo(opts: { keep: boolean }): Promise<number> {
  const { demoCluster } = await import('../lab/demo.js');
  return (await demoCluster({ keep: opts.keep })).code;
}
