/**
 * The scrape endpoint: plain HTTP on the configured address (config `metrics.listen`, off by
 * default), GET /metrics only. Keep it on a management address: it is not authenticated.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from '../log/index.js';
import { MetricsError, type MetricsRegistry } from './registry.js';

export class MetricsServer {
  private constructor(
    private readonly server: Server,
    /** The bound address (the port the kernel chose when the config said 0). */
    readonly address: { host: string; port: number },
  ) {}

  static async listen(o: { host: string; port: number; registry: MetricsRegistry; log: Logger }): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('segw: only /metrics is served here\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET /metrics\n');
        return;
      }
      o.registry.render().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (err: unknown) => {
          o.log.error({ err }, 'metrics scrape failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('segw: metrics scrape failed (see the gateway log)\n');
        },
      );
    });
    server.keepAliveTimeout = 5_000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'EADDRINUSE' ? ': is another gateway or exporter using it?' : err.code === 'EADDRNOTAVAIL' ? ': is the address configured on an interface?' : '';
        reject(new MetricsError(`cannot listen for metrics on ${o.host}:${o.port} (${err.code ?? err.message})${hint}`, { cause: err }));
      });
      server.listen(o.port, o.host, () => resolve());
    });
    const a = server.address();
    const port = typeof a === 'object' && a ? a.port : o.port;
    o.log.info({ listen: `${o.host}:${port}` }, 'metrics listening (GET /metrics)');
    return new MetricsServer(server, { host: o.host, port });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
