/** Load reports for the cluster tests. */
import type { LoadReport } from '../../src/cluster/report.js';

export const sample = (over: Partial<LoadReport> = {}): LoadReport => ({
  nodeId: 'gw2',
  address: '198.51.100.12',
  epoch: 1_764_000_000_000_000n,
  sequence: 7n,
  intervalMs: 1000,
  role: 'backup',
  draining: false,
  leaving: false,
  load: { tunnels: 1234, childSas: 2468, bytesPerSec: 12_500_000, cpu: 0.375 },
  capacity: { maxTunnels: 20000, bandwidthBps: 2e9 },
  ...over,
});
