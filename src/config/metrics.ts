/**
 * `metrics:` in a gateway config: where the Prometheus scrape endpoint listens (src/metrics).
 * Absent: no endpoint. The endpoint is plain, unauthenticated HTTP: bind it to a management
 * address (the default suggestion is loopback, 127.0.0.1:9101).
 *
 *   metrics:
 *     listen: 127.0.0.1:9101      # or "[2001:db8::1]:9101"; port 0 takes a free port (tests)
 *     enabled: true               # false keeps the section but opens nothing
 *
 * A reload (SIGHUP) refuses a change here: restart the gateway (the scraper's target changes too).
 */
import { isIP } from 'node:net';
import { configFail, obj, optional, bool, type Field } from './schema.js';

export interface MetricsConfig {
  enabled: boolean;
  host: string;
  port: number;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

function splitHostPort(v: string): { host: string; port: number } | undefined {
  const m = HOST_PORT.exec(v);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !isIP(host) || (m[1] !== undefined) !== (isIP(host) === 6) || port > 65535) return undefined;
  return { host, port };
}

/** "203.0.113.1:9101" or "[2001:db8::1]:9101", kept as written (a reload names `metrics.listen`). */
export function hostPort(): Field<string> {
  return {
    describe: 'an address and port, like 127.0.0.1:9101 or [::1]:9101',
    jsonSchema: { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+):[0-9]{1,5}$' },
    parse(v, path) {
      if (typeof v !== 'string' || !splitHostPort(v)) configFail(path, `expected ${this.describe}, got ${JSON.stringify(v)}`);
      return v;
    },
  };
}

export const metricsField = obj({
  enabled: optional(bool(), true),
  listen: hostPort(),
});

export function toMetricsConfig(raw: ReturnType<typeof metricsField.parse>): MetricsConfig {
  const { host, port } = splitHostPort(raw.listen)!;
  return { enabled: raw.enabled, host, port };
}
