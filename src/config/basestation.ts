/**
 * `segw basestation --config FILE.yaml`: an initiator. The file has the gateway's keys (node,
 * log, ike, kernel, addresses, connections) plus `initiate`: the connections to bring up at
 * start (default: every connection whose remote.addrs names a peer), and `reconnect`: the
 * back-off when one is lost or cannot be made (src/initiator/reconnect.ts; seconds or "500ms",
 * defaults initial 1 s, max 60 s):
 *
 *   reconnect: { initial: 1s, max: 2m }
 */
import { resolve } from 'node:path';
import { duration, list, obj, optional, str, configFail } from './schema.js';
import { nodeShape, toGatewayConfig, type GatewayConfig } from './gateway.js';
import { readYamlFile, withLocation } from './load.js';

/** The bounds of the reconnect back-off, in milliseconds (src/initiator/reconnect.ts). */
export interface ReconnectBounds {
  /** Ceiling of the first delay (attempt 0). */
  initialMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectBounds> = { initialMs: 1000, maxMs: 60_000 };

export interface BasestationConfig extends GatewayConfig {
  initiate: string[];
  reconnect: ReconnectBounds;
}

const reconnectField = obj({ initial: optional(duration({ min: 0.001 })), max: optional(duration({ min: 0.001 })) });

const basestationField = obj({ ...nodeShape, initiate: optional(list(str(), { single: true })), reconnect: optional(reconnectField) });

export function loadBasestationConfig(path: string): BasestationConfig {
  const file = resolve(path);
  const yaml = readYamlFile(file);
  return withLocation(file, yaml, () => parseBasestation(yaml.data, file));
}

function parseBasestation(data: unknown, file: string): BasestationConfig {
  const raw = basestationField.parse(data, '');
  const { initiate, reconnect, ...rest } = raw;
  const cfg = toGatewayConfig(rest, file);
  const names = cfg.connections.map((c) => c.name);
  const chosen = initiate ?? cfg.connections.filter((c) => c.cfg.remote.addrs?.some((a) => a !== '%any')).map((c) => c.name);
  for (const [i, n] of chosen.entries()) {
    if (!names.includes(n)) configFail(`initiate[${i}]`, `no connection named "${n}" (have: ${names.join(', ')})`);
    const c = cfg.connections.find((x) => x.name === n)!;
    if (!c.cfg.remote.addrs?.some((a) => a !== '%any')) configFail(`connections.${n}.remote.addrs`, 'an initiator needs the peer address');
  }
  if (chosen.length === 0) configFail('initiate', 'no connection to initiate: set remote.addrs on a connection');
  const initialMs = reconnect?.initial === undefined ? DEFAULT_RECONNECT.initialMs : reconnect.initial * 1000;
  const maxMs = reconnect?.max === undefined ? Math.max(DEFAULT_RECONNECT.maxMs, initialMs) : reconnect.max * 1000;
  const bounds = { initialMs, maxMs };
  if (bounds.maxMs < bounds.initialMs) configFail('reconnect.max', `${bounds.maxMs / 1000} s is below reconnect.initial (${bounds.initialMs / 1000} s): max bounds the growing delay`);
  return { ...cfg, initiate: chosen, reconnect: bounds };
}
