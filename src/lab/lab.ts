/**
 * Network topologies built from Linux network namespaces, for tests, benchmarks and the demo.
 *
 *   const lab = await Lab.create('smoke');
 *   const a = await lab.host('a'), b = await lab.host('b');
 *   await lab.link(a, b, { a: '198.51.100.1/24', b: '198.51.100.2/24' });
 *   const p = a.spawn('ping', ['-c1', '198.51.100.2']);
 *   await lab.close();
 *
 * Every name carries the lab's unique id (`sg<id>-<host>`), so concurrent runs cannot collide.
 * Teardown kills every process in every namespace of the lab (whatever started it), deletes the
 * namespaces (which removes their veths) and the lab's temp dir; it runs on close(), and on
 * process exit, SIGINT, SIGTERM and uncaught exceptions for labs still open. Addresses are
 * checked against the documentation ranges (./addresses.ts); links only join lab namespaces, so
 * no lab ever has a path to the outside.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LabError } from '../errors.js';
import { logger } from '../log/index.js';
import { assertLabAddress } from './addresses.js';
import { run, runSync, type ExecOptions, type ExecResult } from './exec.js';
import { LabProcess, type SpawnOptions } from './process.js';

const log = logger('lab');

/** Prefix of every lab namespace and temporary interface name. */
export const LAB_PREFIX = 'sg';

export class Host {
  private ifCount = 0;
  constructor(
    readonly lab: Lab,
    readonly name: string,
    /** The namespace name (`ip netns exec <ns>`). */
    readonly ns: string,
  ) {}

  /** Runs a command inside this namespace. */
  exec(cmd: string, args: string[] = [], opts?: ExecOptions): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.ns, cmd, ...args], opts);
  }

  /** Runs a shell script inside this namespace. */
  sh(script: string, opts?: ExecOptions): Promise<ExecResult> {
    return this.exec('sh', ['-c', script], opts);
  }

  /** Starts a long-running process inside this namespace; the lab stops it at teardown. */
  spawn(cmd: string, args: string[] = [], opts: SpawnOptions & { name?: string } = {}): LabProcess {
    const p = new LabProcess(`${this.name}:${opts.name ?? cmd}`, ['ip', 'netns', 'exec', this.ns, cmd, ...args], opts);
    this.lab.track(p);
    return p;
  }
  /** True if `cidr` (address/prefix as `ip addr` shows it) is on `ifname` (a VRRP VIP, say). */
  async hasAddress(cidr: string, ifname = 'eth0'): Promise<boolean> {
    const v6 = cidr.includes(':');
    const r = await this.exec('ip', [v6 ? '-6' : '-4', '-o', 'addr', 'show', 'dev', ifname]);
    return r.stdout.split('\n').some((l) => l.split(/\s+/).includes(cidr));
  }

  /** The MAC address of `ifname`. */
  async mac(ifname = 'eth0'): Promise<string> {
    return (await this.exec('cat', [`/sys/class/net/${ifname}/address`])).stdout.trim();
  }

  /** The link-layer address this host's neighbour table holds for `address` on `ifname`, or ''. */
  async neighbourMac(address: string, ifname = 'eth0'): Promise<string> {
    const r = await this.exec('ip', [address.includes(':') ? '-6' : '-4', 'neigh', 'show', address, 'dev', ifname]);
    return /lladdr (\S+)/.exec(r.stdout)?.[1] ?? '';
  }


  async addAddress(ifname: string, cidr: string, opts: { noDad?: boolean } = {}): Promise<void> {
    assertLabAddress(cidr);
    const extra = opts.noDad || cidr.includes(':') ? ['nodad'] : [];
    await this.exec('ip', ['addr', 'add', cidr, 'dev', ifname, ...extra]);
  }

  /** `ip route add <dst> via <via>` or `dev <dev>` in this namespace. */
  async addRoute(dst: string, target: { via?: string; dev?: string; table?: number; src?: string }): Promise<void> {
    if (dst !== 'default') assertLabAddress(dst);
    if (target.via) assertLabAddress(target.via);
    const args = ['route', 'add', dst];
    if (target.via) args.push('via', target.via);
    if (target.dev) args.push('dev', target.dev);
    if (target.src) args.push('src', target.src);
    if (target.table !== undefined) args.push('table', String(target.table));
    await this.exec('ip', dst.includes(':') || target.via?.includes(':') ? ['-6', ...args] : args);
  }

  async sysctl(key: string, value: string | number): Promise<void> {
    await this.exec('sysctl', ['-qw', `${key}=${value}`]);
  }

  /** Enables IPv4 and IPv6 forwarding (routers, NAT boxes, gateways). */
  async enableForwarding(): Promise<void> {
    await this.sysctl('net.ipv4.ip_forward', 1);
    await this.sysctl('net.ipv6.conf.all.forwarding', 1);
  }

  /** nftables masquerade of everything leaving `outIf` (a NAT box between two lab links). */
  async masquerade(outIf: string): Promise<void> {
    const rules = [
      'table ip segwlab_nat {',
      '  chain postrouting { type nat hook postrouting priority 100; policy accept;',
      `    oifname "${outIf}" masquerade`,
      '  }',
      '}',
    ].join('\n');
    await this.exec('nft', ['-f', '-'], { input: rules });
  }

  /** A fresh interface name for this host, for links created without explicit names. */
  nextIfName(): string {
    return `eth${this.ifCount++}`;
  }

  /** Waits until `addr` answers one ping from this host (a link is ready). */
  async ping(addr: string, opts: { count?: number; timeoutS?: number; size?: number } = {}): Promise<boolean> {
    const args = ['-c', String(opts.count ?? 1), '-W', String(opts.timeoutS ?? 2), '-q'];
    if (opts.size) args.push('-s', String(opts.size));
    const r = await this.exec('ping', [...args, addr], { allowFail: true, timeoutMs: 60_000 });
    return r.code === 0;
  }
}

interface LinkOptions {
  /** Interface names inside each namespace (default eth0, eth1, ... per host). */
  aIf?: string;
  bIf?: string;
  /** Addresses (CIDR) for each end, one or several. */
  a?: string | string[];
  b?: string | string[];
  mtu?: number;
}

const openLabs = new Set<Lab>();
let handlersInstalled = false;

export class Lab {
  readonly hosts = new Map<string, Host>();
  private readonly processes = new Set<LabProcess>();
  private linkCount = 0;
  private closed = false;
  /** A private temp directory for configs, logs and captures; removed at close. */
  readonly dir: string;

  private constructor(
    /** Unique id: `${LAB_PREFIX}${id}-<host>` names its namespaces. */
    readonly id: string,
    readonly label: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `segw-lab-${label}-`));
  }

  /** Creates an empty lab. Requires root (network namespaces). */
  static async create(label = 'lab'): Promise<Lab> {
    if (process.getuid && process.getuid() !== 0) {
      throw new LabError('the lab needs root: network namespaces and veth pairs require CAP_NET_ADMIN');
    }
    // 5 base-36 chars of pid+random: unique among concurrent runs, short enough for ifnames.
    const id = (process.pid.toString(36).slice(-2) + randomBytes(2).readUInt16BE().toString(36)).padEnd(5, '0').slice(0, 5);
    const lab = new Lab(id, label.replace(/[^a-z0-9]/gi, '').slice(0, 16) || 'lab');
    openLabs.add(lab);
    installExitHandlers();
    log.debug({ id, label }, 'lab created');
    return lab;
  }

  get nsPrefix(): string {
    return `${LAB_PREFIX}${this.id}-`;
  }

  /** Creates a host: a namespace with loopback up. */
  async host(name: string): Promise<Host> {
    if (this.closed) throw new LabError(`lab ${this.id} is closed`);
    if (this.hosts.has(name)) throw new LabError(`lab ${this.id} already has a host "${name}"`);
    if (!/^[a-z0-9][a-z0-9_-]{0,30}$/i.test(name)) throw new LabError(`bad host name "${name}"`);
    const ns = `${this.nsPrefix}${name}`;
    await run('ip', ['netns', 'add', ns]);
    const h = new Host(this, name, ns);
    this.hosts.set(name, h);
    await h.exec('ip', ['link', 'set', 'lo', 'up']);
    return h;
  }

  /** A veth pair between two hosts, renamed inside each namespace, addressed and up. */
  async link(a: Host, b: Host, opts: LinkOptions = {}): Promise<{ aIf: string; bIf: string }> {
    const aIf = opts.aIf ?? a.nextIfName();
    const bIf = opts.bIf ?? b.nextIfName();
    const n = this.linkCount++;
    const tmpA = `${LAB_PREFIX}${this.id}${n}a`;
    const tmpB = `${LAB_PREFIX}${this.id}${n}b`;
    // Create both ends directly inside their namespaces: nothing ever exists in the root ns.
    await run('ip', ['link', 'add', tmpA, 'netns', a.ns, 'type', 'veth', 'peer', 'name', tmpB, 'netns', b.ns]);
    for (const [h, tmp, name, addrs] of [
      [a, tmpA, aIf, opts.a],
      [b, tmpB, bIf, opts.b],
    ] as const) {
      await h.exec('ip', ['link', 'set', tmp, 'name', name]);
      if (opts.mtu) await h.exec('ip', ['link', 'set', name, 'mtu', String(opts.mtu)]);
      for (const addr of addrs === undefined ? [] : Array.isArray(addrs) ? addrs : [addrs]) {
        await h.addAddress(name, addr);
      }
      await h.exec('ip', ['link', 'set', name, 'up']);
    }
    return { aIf, bIf };
  }

  /**
   * A protected LAN inside one host: a veth pair with both ends in the namespace, `cidr` on the
   * first end (this kernel has no dummy driver). strongSwan needs a local address inside its
   * local traffic selector to install its route; base stations' subnets are modelled this way.
   */
  async lan(h: Host, cidr: string | string[], names: { aIf?: string; bIf?: string } = {}): Promise<string> {
    const aIf = names.aIf ?? 'lan0';
    await this.link(h, h, { aIf, bIf: names.bIf ?? `${aIf}p`, a: cidr });
    return aIf;
  }

  /**
   * A switch: a host holding a bridge `br0`; `attach(host, addr)` links a host to it. For LANs
   * of several gateways (VRRP) and the demo topology.
   */
  async switch(name: string): Promise<LabSwitch> {
    const h = await this.host(name);
    await h.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
    await h.exec('ip', ['link', 'set', 'br0', 'up']);
    return new LabSwitch(this, h);
  }

  /** Registers a process for teardown (Host.spawn does this). */
  track(p: LabProcess): void {
    this.processes.add(p);
    void p.exited.then(() => this.processes.delete(p));
  }

  /** Stops everything and removes every namespace of this lab. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    openLabs.delete(this);
    await Promise.all([...this.processes].map((p) => p.stop('SIGTERM', 2000)));
    // Anything else still inside a namespace (daemons that forked, `ip netns exec` leftovers).
    for (const h of this.hosts.values()) {
      const pids = await run('ip', ['netns', 'pids', h.ns], { allowFail: true });
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const h of this.hosts.values()) {
      await run('ip', ['netns', 'del', h.ns], { allowFail: true });
    }
    if (!process.env.SEGW_LAB_KEEP) rmSync(this.dir, { recursive: true, force: true });
    log.debug({ id: this.id }, 'lab closed');
  }

  /** Synchronous teardown for exit handlers. */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    openLabs.delete(this);
    for (const p of this.processes) p.signalGroup('SIGKILL');
    for (const h of this.hosts.values()) {
      const pids = runSync('ip', ['netns', 'pids', h.ns]);
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      runSync('ip', ['netns', 'del', h.ns]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Namespaces and interfaces of this lab (or of every lab, without an id) still present. */
  static async leftovers(id?: string): Promise<{ namespaces: string[]; links: string[] }> {
    const prefix = `${LAB_PREFIX}${id ?? ''}`;
    const ns = await run('ip', ['netns', 'list'], { allowFail: true });
    const namespaces = ns.stdout
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n && n.startsWith(prefix) && (id === undefined || n.startsWith(`${prefix}-`)));
    const links = await run('ip', ['-o', 'link', 'show'], { allowFail: true });
    const names = links.stdout
      .split('\n')
      .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
      .filter((n) => n.startsWith(prefix));
    return { namespaces, links: names };
  }
}

export class LabSwitch {
  private ports = 0;
  constructor(
    readonly lab: Lab,
    readonly host: Host,
  ) {}

  /** Links `h` to the bridge; returns the interface name inside `h`. */
  async attach(h: Host, addrs?: string | string[], opts: { ifname?: string; mtu?: number } = {}): Promise<string> {
    const port = `p${this.ports++}`;
    const { aIf } = await this.lab.link(h, this.host, { aIf: opts.ifname, bIf: port, a: addrs, mtu: opts.mtu });
    await this.host.exec('ip', ['link', 'set', port, 'master', 'br0']);
    return aIf;
  }
}

/** Runs `fn` with a fresh lab and always closes it. */
export async function withLab<T>(label: string, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.create(label);
  try {
    return await fn(lab);
  } finally {
    await lab.close();
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const closeAll = () => {
    for (const lab of [...openLabs]) lab.closeSync();
  };
  process.on('exit', closeAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      closeAll();
      process.kill(process.pid, sig);
    });
  }
  // An uncaught exception ends the process through 'exit' as well.
}
