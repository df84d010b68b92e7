/** `segw gateway --config FILE.yaml [--check]` */
import { loadGatewayConfig, type GatewayConfig } from '../config/gateway.js';
import { EXIT_OK } from './exit.js';

export function describeGateway(cfg: GatewayConfig): string {
  const lines = [
    `gateway ${cfg.node.name} (${cfg.file})`,
    `  ike: listen ${cfg.ike.listen.join(', ')} ports ${cfg.ike.port}/${cfg.ike.nattPort}, cookies above ${cfg.ike.settings.cookieThreshold} half-open`,
    `  log: ${cfg.log.level} to ${cfg.log.file ?? 'standard output'}`,
    `  control: ${cfg.control?.enabled ? cfg.control.socket : 'off'}`,
    `  metrics: ${cfg.metrics?.enabled ? `http://${cfg.metrics.host.includes(':') ? `[${cfg.metrics.host}]` : cfg.metrics.host}:${cfg.metrics.port}/metrics` : 'off'}`,
    `  kernel: ipsec ${cfg.kernel.ipsec}, route injection ${cfg.kernel.routes.enabled ? `on (table ${cfg.kernel.routes.table}, metric ${cfg.kernel.routes.metric})` : 'off'}`,
  ];
  const cl = cfg.cluster;
  if (cl) {
    lines.push(
      `  cluster: member ${cl.nodeId} at ${cl.address}, VIPs ${cl.vips.join(', ')} (VRRP vrid ${cl.vrrp.vrid} on ${cl.vrrp.interface}, priority ${cl.vrrp.priority}), redirect ${cl.redirect}`,
      `    load reports: ${cl.listen.address}:${cl.listen.port} -> ${cl.peers.map((p) => `${p.address}:${p.port}`).join(', ')} every ${cl.reportIntervalMs} ms, stale after ${cl.staleAfter}`,
    );
  }
  for (const { cfg: c } of cfg.connections) {
    lines.push(`  connection ${c.name}: ${c.local.auth.method} ${c.local.id ?? '(address)'} <-> ${c.remote.id ?? '%any'}, ike ${c.ikeProposals.join(' ')}`);
    for (const ch of c.children) {
      lines.push(`    child ${ch.name}: ${ch.localTs.join(',')} === ${ch.remoteTs.join(',')}, esp ${ch.espProposals.join(' ')}`);
    }
  }
  return lines.join('\n');
}

export async function runGateway(path: string, opts: { check: boolean }): Promise<number> {
  const cfg = loadGatewayConfig(path);
  if (opts.check) {
    for (const w of cfg.warnings) console.error(`segw: warning: ${w}`);
    console.log(`${describeGateway(cfg)}\nconfiguration OK`);
    return EXIT_OK;
  }
  const { runGatewayDaemon } = await import('../gateway/run.js');
  return runGatewayDaemon(cfg);
}
