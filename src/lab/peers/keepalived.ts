/**
 * keepalived 2.2.7 as a VRRP reference peer in a lab namespace (settings from PEERS.md):
 * foreground, own pid files, VRRPv3. Used by VRRP interop tests and as the harness for them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Host } from '../lab.js';
import type { LabProcess } from '../process.js';

export interface KeepalivedInstance {
  name?: string;
  interface: string;
  vrid: number;
  priority: number;
  /** Seconds (0.01 granularity in VRRPv3). */
  advertInterval?: number;
  vips: string[];
  /** Start as MASTER or BACKUP (election decides anyway). */
  state?: 'MASTER' | 'BACKUP';
  /** RFC 9568 checksum without the IPv4 pseudo-header (keepalived's default includes it). */
  checksumAsV2?: boolean;
  nopreempt?: boolean;
}

export class Keepalived {
  private constructor(
    readonly host: Host,
    readonly name: string,
    readonly process: LabProcess,
  ) {}

  static async start(host: Host, instances: KeepalivedInstance[], opts: { name?: string } = {}): Promise<Keepalived> {
    const name = opts.name ?? `keepalived-${host.name}`;
    const dir = host.lab.dir;
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, keepalivedConf(name, instances));
    const proc = host.spawn(
      'keepalived',
      ['-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', join(dir, `${name}.pid`), '-r', join(dir, `${name}-vrrp.pid`)],
      { name, logFile: join(dir, `${name}.log`) },
    );
    await proc.waitFor(/Registering gratuitous ARP shared channel|Entering BACKUP STATE|Entering MASTER STATE/, 10_000);
    return new Keepalived(host, name, proc);
  }

  /** Waits until the instance logs the given state. */
  async waitForState(state: 'MASTER' | 'BACKUP', timeoutMs = 10_000): Promise<void> {
    await this.process.waitFor(new RegExp(`Entering ${state} STATE`), timeoutMs);
  }

  /** Graceful stop: keepalived resigns (sends priority 0). */
  async stop(): Promise<void> {
    await this.process.stop('SIGTERM', 5000);
  }

  /** A crash: freeze every process of the node, then kill (PEERS.md: killing only the parent makes the child resign). */
  async crash(): Promise<void> {
    this.process.signalGroup('SIGSTOP');
    await this.process.stop('SIGKILL', 1000);
  }
}

function keepalivedConf(name: string, instances: KeepalivedInstance[]): string {
  const blocks = instances.map(
    (i, n) => `vrrp_instance ${i.name ?? `VI_${n + 1}`} {
  state ${i.state ?? 'BACKUP'}
  interface ${i.interface}
  virtual_router_id ${i.vrid}
  priority ${i.priority}
  advert_int ${i.advertInterval ?? 1}
${i.nopreempt ? '  nopreempt\n' : ''}${i.checksumAsV2 ? '  v3_checksum_as_v2\n' : ''}  virtual_ipaddress {
${i.vips.map((v) => `    ${v}`).join('\n')}
  }
}`,
  );
  return `global_defs {
  router_id ${name}
  vrrp_version 3
  script_user root
  enable_script_security
}
${blocks.join('\n')}
`;
}
