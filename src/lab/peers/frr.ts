/**
 * FRR 8.4 (zebra + bgpd and/or ospfd) as a real routing peer inside a lab namespace. The daemons
 * run directly, not through watchfrr, each with its config, pid file, zserv socket and vty
 * socket in a directory owned by frr:frr (FRR refuses `-u root`), as measured on these machines
 * (../shared/PEERS.md): `/usr/lib/frr/zebra -u frr -g frr -f CONF -i PID -z DIR/zserv.api
 * --vty_socket DIR -P 0 --log file:LOG`. `vtysh --vty_socket DIR` talks to them.
 *
 * Note for gateways: FRR's `redistribute kernel` takes every non-FRR kernel route (it cannot
 * match the route's protocol number), so a gateway exporting segw's routes with FRR needs a
 * route-map on prefixes; BIRD (./bird.ts) filters on the protocol number directly.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../eventually.js';
import { execFileSync } from 'node:child_process';
import { LabError } from '../../errors.js';
import type { ExecResult } from '../exec.js';
import type { Host } from '../lab.js';
import type { LabProcess } from '../process.js';

export const FRR_DIR = '/usr/lib/frr';
export type FrrDaemon = 'zebra' | 'bgpd' | 'ospfd';

function frrIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'frr']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'frr']).toString().trim());
  return { uid, gid };
}

export class Frr {
  private constructor(
    readonly host: Host,
    readonly dir: string,
    readonly daemons: Map<FrrDaemon, LabProcess>,
  ) {}

  /**
   * Starts zebra and then the other daemons with their configs (`{ zebra: '...', bgpd: '...' }`).
   * Resolves when every daemon's vty socket exists.
   */
  static async start(host: Host, configs: Partial<Record<FrrDaemon, string>>): Promise<Frr> {
    if (!existsSync(join(FRR_DIR, 'zebra'))) throw new LabError(`${FRR_DIR}/zebra not found: run scripts/install-test-deps.sh (frr)`);
    const dir = join(host.lab.dir, `frr-${host.name}`);
    mkdirSync(dir, { recursive: true });
    // The daemons drop to user frr: they must reach their directory through the lab's.
    chmodSync(host.lab.dir, 0o711);
    const { uid, gid } = frrIds();
    chownSync(dir, uid, gid);
    const daemons = new Map<FrrDaemon, LabProcess>();
    const frr = new Frr(host, dir, daemons);
    const order: FrrDaemon[] = ['zebra', ...(['bgpd', 'ospfd'] as const).filter((d) => configs[d] !== undefined)];
    for (const d of order) {
      const conf = join(dir, `${d}.conf`);
      writeFileSync(conf, configs[d] ?? `hostname ${host.name}\n`);
      chownSync(conf, uid, gid);
      const args = ['-u', 'frr', '-g', 'frr', '-f', conf, '-i', join(dir, `${d}.pid`), '-z', join(dir, 'zserv.api'), '--vty_socket', dir, '-P', '0', '--log', `file:${join(dir, `${d}.log`)}`];
      daemons.set(d, host.spawn(join(FRR_DIR, d), args, { name: `frr-${d}` }));
      await frr.waitForVty(d);
    }
    return frr;
  }

  private async waitForVty(d: FrrDaemon, timeoutMs = 15_000): Promise<void> {
    const sock = join(this.dir, `${d}.vty`);
    const p = this.daemons.get(d)!;
    const seen = await eventually(() => (existsSync(sock) ? 'socket' : !p.running && 'exited'), {
      what: `FRR ${d} in ${this.host.name}: its vty socket`,
      timeoutMs,
    });
    if (seen === 'exited') throw new LabError(`FRR ${d} in ${this.host.name} exited at start:\n${p.output.slice(-3000)}`);
  }

  vtysh(commands: string[]): Promise<ExecResult> {
    return this.host.exec('vtysh', ['--vty_socket', this.dir, ...commands.flatMap((c) => ['-c', c])], { timeoutMs: 15_000 });
  }

  /** `show ip route PREFIX json` learned by `protocol` (bgp, ospf), or undefined. */
  async route(prefix: string, protocol = 'bgp'): Promise<{ prefix: string; protocol: string; nexthops: { ip?: string }[] } | undefined> {
    const r = await this.vtysh([`show ip route ${prefix} json`]);
    const j = JSON.parse(r.stdout || '{}') as Record<string, { prefix: string; protocol: string; nexthops: { ip?: string }[] }[]>;
    return (j[prefix] ?? []).find((x) => x.protocol === protocol);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.daemons.values()].reverse().map((p) => p.stop('SIGTERM', 3000)));
  }
}

/** bgpd.conf for a router that accepts routes from one eBGP neighbour (no policy required). */
export function bgpCoreConfig(o: { hostname: string; routerId: string; localAs: number; neighbor: string; neighborAs: number }): string {
  return [
    `hostname ${o.hostname}`,
    `router bgp ${o.localAs}`,
    ` bgp router-id ${o.routerId}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp network import-check',
    ` neighbor ${o.neighbor} remote-as ${o.neighborAs}`,
    ` neighbor ${o.neighbor} timers 3 9`,
    ` neighbor ${o.neighbor} timers connect 1`,
    ' address-family ipv4 unicast',
    `  neighbor ${o.neighbor} activate`,
    ' exit-address-family',
    '',
  ].join('\n');
}
