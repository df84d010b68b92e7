/**
 * BIRD 2 as a real routing peer inside a lab namespace: one daemon per namespace with its own
 * config, control socket and pid file in the lab directory (`bird -f -c CONF -s CTL -P PID`).
 * Settings measured on these machines (../shared/PEERS.md): BIRD filters kernel routes on their
 * protocol number (`krt_source = 200`), which makes it the simplest consumer of segw's injected
 * routes; ~1 s to see a kernel route appear or go.
 *
 * `rriGatewayConfig` is the gateway side of route injection: learn segw's kernel routes and
 * announce them over BGP (or OSPF) to the core.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../eventually.js';
import { LabError } from '../../errors.js';
import type { ExecResult } from '../exec.js';
import type { Host } from '../lab.js';
import type { LabProcess } from '../process.js';

export const BIRD = '/usr/sbin/bird';

export class Bird {
  private constructor(
    readonly host: Host,
    readonly name: string,
    readonly dir: string,
    readonly process: LabProcess,
  ) {}

  get socket(): string {
    return join(this.dir, `bird-${this.name}.ctl`);
  }

  static async start(host: Host, opts: { name?: string; config: string }): Promise<Bird> {
    if (!existsSync(BIRD)) throw new LabError(`${BIRD} not found: run scripts/install-test-deps.sh (bird2)`);
    const name = opts.name ?? host.name;
    const dir = host.lab.dir;
    const conf = join(dir, `bird-${name}.conf`);
    writeFileSync(conf, opts.config);
    const ctl = join(dir, `bird-${name}.ctl`);
    const proc = host.spawn(BIRD, ['-f', '-c', conf, '-s', ctl, '-P', join(dir, `bird-${name}.pid`)], {
      name: `bird-${name}`,
      logFile: join(dir, `bird-${name}.log`),
    });
    const b = new Bird(host, name, dir, proc);
    const seen = await eventually(() => (existsSync(ctl) ? 'socket' : !proc.running && 'exited'), {
      what: `bird ${name}'s control socket`,
    });
    if (seen === 'exited') throw new LabError(`bird ${name} exited at start:\n${proc.output.slice(-3000)}`);
    return b;
  }

  birdc(args: string[]): Promise<ExecResult> {
    return this.host.exec('birdc', ['-s', this.socket, ...args], { timeoutMs: 10_000 });
  }

  /** `show protocols NAME`: the state column (up/start) and the info (Established, Running...). */
  async protocolInfo(name: string): Promise<string> {
    return (await this.birdc(['show', 'protocols', name])).stdout;
  }

  /** Polls `show protocols NAME` until it matches (`/Established/` for BGP, `/Running/` for OSPF). */
  async waitForProtocol(name: string, re: RegExp, timeoutMs = 60_000): Promise<void> {
    const seen = await eventually(
      async () => {
        if (!this.process.running) return 'exited';
        const info = await this.protocolInfo(name);
        if (!re.test(info)) throw new Error(info);
        return 'up';
      },
      { what: `bird ${this.name}: protocol ${name} ${re}`, timeoutMs, intervalMs: 250 },
    );
    if (seen === 'exited') throw new LabError(`bird ${this.name} exited:\n${this.process.output.slice(-3000)}`);
  }

  async stop(): Promise<void> {
    await this.process.stop('SIGTERM', 3000);
  }
}

export interface RriGatewayOptions {
  routerId: string;
  /** segw's route protocol number (krt_source), 200 unless configured otherwise. */
  protocol?: number;
  /** Kernel table the injected routes are in (default 254). */
  table?: number;
  bgp?: { localAddress: string; localAs: number; neighbor: string; neighborAs: number };
  ospf?: { interface: string };
}

/** BIRD config for a gateway: learn `proto segw` kernel routes, announce them by BGP or OSPF. */
export function rriGatewayConfig(o: RriGatewayOptions): string {
  const proto = o.protocol ?? 200;
  const lines = [
    `# written by segw's lab: announce routes of kernel protocol ${proto} (segw's route injection)`,
    `router id ${o.routerId};`,
    'protocol device { scan time 2; }',
    'protocol kernel segw_routes {',
    '  learn;',
    '  scan time 2;',
    `  kernel table ${o.table ?? 254};`,
    `  ipv4 { import where krt_source = ${proto}; export none; };`,
    '}',
  ];
  if (o.bgp) {
    lines.push(
      'protocol bgp core {',
      `  local ${o.bgp.localAddress} as ${o.bgp.localAs};`,
      `  neighbor ${o.bgp.neighbor} as ${o.bgp.neighborAs};`,
      '  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 5;',
      `  ipv4 { import none; export where krt_source = ${proto}; next hop self; };`,
      '}',
    );
  }
  if (o.ospf) {
    lines.push(
      'protocol ospf v2 core {',
      `  ipv4 { import none; export where krt_source = ${proto}; };`,
      `  area 0 { interface "${o.ospf.interface}" { type ptp; hello 1; dead 4; }; };`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** BIRD config for a core router: routes learned by OSPF (or BGP) go into its kernel table. */
export function coreRouterConfig(o: {
  routerId: string;
  ospf?: { interface: string };
  bgp?: { localAddress: string; localAs: number; neighbor: string; neighborAs: number };
}): string {
  const lines = [
    '# written by segw\'s lab: a core router installing what it learns',
    `router id ${o.routerId};`,
    'protocol device { scan time 2; }',
    'protocol kernel { ipv4 { import none; export all; }; }',
  ];
  if (o.ospf) {
    lines.push(
      'protocol ospf v2 gateways {',
      '  ipv4 { import all; export none; };',
      `  area 0 { interface "${o.ospf.interface}" { type ptp; hello 1; dead 4; }; };`,
      '}',
    );
  }
  if (o.bgp) {
    lines.push(
      'protocol bgp gateway {',
      `  local ${o.bgp.localAddress} as ${o.bgp.localAs};`,
      `  neighbor ${o.bgp.neighbor} as ${o.bgp.neighborAs};`,
      '  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 5;',
      '  ipv4 { import all; export none; };',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
