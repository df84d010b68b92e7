/**
 * `segw basestation --config FILE.yaml`: an initiator. The file has the gateway's keys (node,
 * log, ike, kernel, addresses, connections) plus `initiate`: the connections to bring up at
 * start (default: every connection whose remote.addrs names a peer).
 */
import { resolve } from 'node:path';
import { list, obj, optional, str, configFail } from './schema.js';
import { nodeShape, toGatewayConfig, type GatewayConfig } from './gateway.js';
import { readYaml } from './load.js';

export interface BasestationConfig extends GatewayConfig {
  initiate: string[];
}

const basestationField = obj({ ...nodeShape, initiate: optional(list(str(), { single: true })) });

export function loadBasestationConfig(path: string): BasestationConfig {
  const file = resolve(path);
  const raw = basestationField.parse(readYaml(file), '');
  const { initiate, ...rest } = raw;
  const cfg = toGatewayConfig(rest, file);
  const names = cfg.connections.map((c) => c.name);
  const chosen = initiate ?? cfg.connections.filter((c) => c.cfg.remote.addrs?.some((a) => a !== '%any')).map((c) => c.name);
  for (const [i, n] of chosen.entries()) {
    if (!names.includes(n)) configFail(`initiate[${i}]`, `no connection named "${n}" (have: ${names.join(', ')})`);
    const c = cfg.connections.find((x) => x.name === n)!;
    if (!c.cfg.remote.addrs?.some((a) => a !== '%any')) configFail(`connections.${n}.remote.addrs`, 'an initiator needs the peer address');
  }
  if (chosen.length === 0) configFail('initiate', 'no connection to initiate: set remote.addrs on a connection');
  return { ...cfg, initiate: chosen };
}
