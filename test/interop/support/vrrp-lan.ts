/**
 * The LAN every VRRP test builds: a bridge with the virtual routers at .1, .2, ... and a client
 * at .100 on their eth0, in 203.0.113.0/24 (or 2001:db8::/64 with `v6`).
 */
import type { Host, Lab, LabSwitch } from '../../../src/lab/lab.js';

export interface VrrpLan {
  sw: LabSwitch;
  /** The routers, in the order named: the first has .1. */
  nodes: Host[];
  client: Host;
}

export async function vrrpLan(lab: Lab, names: string[], opts: { v6?: boolean } = {}): Promise<VrrpLan> {
  const sw = await lab.switch('lan');
  const nodes: Host[] = [];
  for (const n of names) nodes.push(await lab.host(n));
  const client = await lab.host('client');
  const addr = (i: number) => (opts.v6 ? `2001:db8::${i}/64` : `203.0.113.${i}/24`);
  for (const [i, h] of nodes.entries()) await sw.attach(h, addr(i + 1), { ifname: 'eth0' });
  await sw.attach(client, addr(100), { ifname: 'eth0' });
  return { sw, nodes, client };
}
