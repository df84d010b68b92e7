/**
 * `segw demo [--keep] [--simulate N]`: the product in network namespaces (root needed): a
 * 3-gateway primary cluster and a 2-gateway backup cluster, a BIRD core router learning the
 * injected routes, N simulated base stations and a strongSwan one carrying pings; the master
 * crashes, a member is drained, the primary site fails over to the backup and back
 * (src/lab/demo.ts).
 */
export async function runDemo(opts: { keep: boolean; simulated?: number }): Promise<number> {
  const { demoCluster } = await import('../lab/demo.js');
  return (await demoCluster({ keep: opts.keep, simulated: opts.simulated })).code;
}
