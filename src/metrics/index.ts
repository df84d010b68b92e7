/**
 * A gateway's metrics (config `metrics:`): the registry, the IKE event sink, and the sources a
 * gateway has wired in. Subsystems that arrive later (VRRP, the balancer, the data plane's
 * stats()) plug in with `addSource(adapter, () => snapshot)`; see ./sources.ts for their
 * snapshot types.
 */
import type { Logger } from '../log/index.js';
import type { IkeDaemon } from '../ike/daemon.js';
import type { MembersView } from '../cluster/view.js';
import { IkeMetrics } from './ike.js';
import { MetricsRegistry, type SourceAdapter } from './registry.js';
import { MetricsServer } from './server.js';
import { clusterAdapter, dataPlaneAdapter, ikeTablesAdapter, routesAdapter, type RoutesSnapshot } from './sources.js';
import type { KernelIpsec } from '../kernel/types.js';
import { dataPlaneReader } from './dataplane.js';

export { MetricsRegistry, MetricsError, type SourceAdapter, type Family, type Sample } from './registry.js';
export { MetricsServer } from './server.js';
export * from './sources.js';
export { engineSnapshot } from './dataplane.js';

export class GatewayMetrics {
  readonly registry: MetricsRegistry;
  readonly ike: IkeMetrics;
  server: MetricsServer | undefined;

  constructor(private readonly log: Logger) {
    this.registry = new MetricsRegistry({ onSourceError: (source, err) => log.warn({ source, err }, 'metrics source failed; left out of this scrape') });
    this.ike = new IkeMetrics(this.registry);
  }

  /** The integration point: `gw.metrics?.addSource(vrrpAdapter, () => vrrp.map((i) => i.status()))`. */
  addSource<S>(adapter: SourceAdapter<S>, read: () => S | undefined): void {
    this.registry.addSource(adapter, read);
  }

  addDaemon(daemon: IkeDaemon): void {
    this.addSource(ikeTablesAdapter, () => ({
      sas: daemon.manager.stateCounts(),
      childSas: daemon.manager.liveChildren().length,
      inbound: daemon.counters,
      exchanges: daemon.manager.exchanges.snapshot(),
    }));
  }

  addRoutes(read: () => RoutesSnapshot): void {
    this.addSource(routesAdapter, read);
  }

  /** The data plane's counters where the backend has them (the userspace engine today). */
  addDataPlane(ipsec: KernelIpsec): void {
    const read = dataPlaneReader(ipsec);
    if (read) this.addSource(dataPlaneAdapter, read);
  }

  addCluster(read: () => MembersView): void {
    this.addSource(clusterAdapter, read);
  }

  async listen(host: string, port: number): Promise<MetricsServer> {
    this.server = await MetricsServer.listen({ host, port, registry: this.registry, log: this.log });
    return this.server;
  }

  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}
