/**
 * The fault matrix's cluster in namespaces (topology and settings: ./config.ts): three `segw
 * gateway` members on a bridge with a VIP, and one `segw basestation` simulating N base stations.
 * It starts and stops members (SIGTERM, SIGKILL), cuts and restores a member's link on the bridge,
 * and takes snapshots of what each member and the kernel of its namespace hold, which
 * ./invariants.ts judges. Used by test/faults and bench/faults.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import type { Host, Lab, LabSwitch } from '../lab.js';
import type { LabProcess } from '../process.js';
import { SegwProcess } from '../peers/segw.js';
import { StrongSwan } from '../peers/strongswan.js';
import { childSas, ikeSas } from '../peers/vici-raw.js';
import { eventually } from '../eventually.js';
import type { IkeSaView, EspDropsView } from '../../control/views.js';
import { defaultIdentity } from '../../initiator/population.js';
import {
  CLUSTER_KEY_FILE, FAULT_STRONGSWAN_CHARON, GATEWAYS, PROTO_SEGW, SIM_ADDR, STRONGSWAN, VIP,
  faultGatewayConfig, faultSimulatorConfig, faultStrongSwanConf, gwAddr, gwName, type GatewayOptions,
} from './config.js';
import { violations, type ClusterSnapshot, type GatewaySnapshot } from './invariants.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');

export interface FaultClusterOptions {
  baseStations: number;
  /** Per-gateway options (a log file on a small tmpfs, short lifetimes). */
  gateway?: (i: number) => GatewayOptions;
  /** How long every base station may take to come up at the start (default 90 s). */
  upTimeoutMs?: number;
  /** Add a strongSwan 5.9.8 base station (STRONGSWAN in ./config.ts) beside the simulator. */
  strongSwan?: boolean;
}

export class FaultCluster {
  readonly gateways: (SegwProcess | undefined)[] = [];
  /** Gateways killed (SIGKILL) and not started since: their leftovers are expected. */
  readonly killed = new Set<string>();
  private starts = 0;

  private constructor(
    readonly lab: Lab,
    readonly sw: LabSwitch,
    readonly hosts: Host[],
    readonly client: Host,
    readonly opts: FaultClusterOptions,
    private sim?: LabProcess,
    private swan?: StrongSwan,
  ) {}

  get baseStations(): number {
    return this.opts.baseStations;
  }

  /** Every base station's identity: the simulator's, then the strongSwan's if there is one. */
  get identities(): string[] {
    return [...Array(this.baseStations).keys()].map(defaultIdentity).concat(this.opts.strongSwan ? [STRONGSWAN.id] : []);
  }

  /** Builds the LAN, starts the three gateways (gw1 master) and the simulator, waits for all up. */
  static async start(lab: Lab, opts: FaultClusterOptions): Promise<FaultCluster> {
    const sw = await lab.switch('lan');
    const hosts: Host[] = [];
    for (let i = 0; i < GATEWAYS; i++) {
      const h = await lab.host(`g${i + 1}`);
      await sw.attach(h, `${gwAddr(i)}/24`, { ifname: 'eth0' });
      hosts.push(h);
    }
    const client = await lab.host('sim');
    await sw.attach(client, `${SIM_ADDR}/24`, { ifname: 'eth0' });
    await client.sysctl('net.ipv4.conf.eth0.arp_accept', 1);
    writeFileSync(join(lab.dir, CLUSTER_KEY_FILE), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const c = new FaultCluster(lab, sw, hosts, client, opts);
    await c.startGateway(0);
    await eventually(async () => (await c.vrrpState(0)) === 'Master', { what: 'gw1 VRRP master', timeoutMs: 15_000 });
    for (let i = 1; i < GATEWAYS; i++) await c.startGateway(i);
    await c.startSimulator();
    if (opts.strongSwan) {
      const ss = await lab.host('ss');
      await sw.attach(ss, `${STRONGSWAN.addr}/24`, { ifname: 'eth0' });
      await ss.sysctl('net.ipv4.conf.eth0.arp_accept', 1);
      await lab.lan(ss, `${STRONGSWAN.lanAddr}/28`);
      // start_action = start: charon initiates as soon as swanctl loads the connection.
      c.swan = await StrongSwan.start(ss, { name: 'bs-strongswan', swanctl: faultStrongSwanConf(), charon: FAULT_STRONGSWAN_CHARON });
    }
    await c.converge('every base station up at the start', opts.upTimeoutMs ?? 90_000);
    return c;
  }

  /** Starts gateway `i` (again): a new process on the same config. */
  async startGateway(i: number): Promise<SegwProcess> {
    if (this.gateways[i]?.process.running) throw new Error(`${gwName(i)} is running`);
    const o = this.opts.gateway?.(i);
    const g = await SegwProcess.start(this.hosts[i]!, 'gateway', faultGatewayConfig(i, o), {
      name: `${gwName(i)}-${this.starts++}`,
      timeoutMs: 60_000,
      readyBy: o?.logFile ? 'control' : 'log',
    });
    this.gateways[i] = g;
    this.killed.delete(gwName(i));
    return g;
  }

  private async startSimulator(): Promise<void> {
    const file = join(this.lab.dir, 'faults-sim.yaml');
    writeFileSync(file, stringify(faultSimulatorConfig(this.baseStations, this.opts.strongSwan)));
    this.sim = this.client.spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'basestation', '--config', file], {
      name: 'simulator',
      cwd: REPO,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, SEGW_LOG_LEVEL: 'error' },
      logFile: join(this.lab.dir, 'faults-simulator.log'),
    });
  }

  /** The simulator's output (progress lines, errors), for failure messages. */
  simOutput(lastChars = 2000): string {
    return this.sim?.output.slice(-lastChars) ?? '';
  }

  /** A crash: SIGKILL, nothing cleaned up (routes, VIP, TUN stay for the next start to clean). */
  async kill(i: number): Promise<void> {
    await this.gateways[i]!.kill();
    this.killed.add(gwName(i));
  }

  /** Graceful stop (SIGTERM): peers told, routes withdrawn, VIP resigned. */
  async stop(i: number): Promise<void> {
    await this.gateways[i]!.stop();
  }

  /** Takes gateway `i`'s port on the bridge down or up: the gateway sees its link lose carrier. */
  async setLink(i: number, up: boolean): Promise<void> {
    const port = await this.switchPort(i);
    await this.sw.host.exec('ip', ['link', 'set', port, up ? 'up' : 'down']);
  }

  /** The bridge port gateway i's eth0 is paired with (found by the veth peer's ifindex). */
  private async switchPort(i: number): Promise<string> {
    const own = await this.hosts[i]!.exec('ip', ['-o', 'link', 'show', 'dev', 'eth0']);
    const peer = /eth0@if(\d+)/.exec(own.stdout)?.[1];
    if (!peer) throw new Error(`${gwName(i)}: cannot find the veth peer of eth0 in: ${own.stdout}`);
    const links = await this.sw.host.exec('ip', ['-o', 'link', 'show']);
    const port = new RegExp(`^${peer}:\\s+([^:@\\s]+)`, 'm').exec(links.stdout)?.[1];
    if (!port) throw new Error(`${gwName(i)}: no link with index ${peer} on the bridge`);
    return port;
  }

  async vrrpState(i: number): Promise<string | null> {
    const g = this.gateways[i];
    if (!g?.process.running) return null;
    try {
      return (await g.ctl<{ state: string }>('vrrp')).state;
    } catch {
      return null;
    }
  }

  /** The index of the one VRRP master (rejects if there is not exactly one). */
  async master(): Promise<number> {
    const states = await Promise.all(this.hosts.map((_h, i) => this.vrrpState(i)));
    const m = states.flatMap((s, i) => (s === 'Master' ? [i] : []));
    if (m.length !== 1) throw new Error(`VRRP states ${JSON.stringify(states)}: not exactly one master`);
    return m[0]!;
  }

  /**
   * The running backup to hit: the one serving the strongSwan base station if a backup does (so
   * the real peer goes through the fault), else the one holding the most base stations.
   */
  async busiestBackup(): Promise<number> {
    const m = await this.master();
    const s = await this.snapshot();
    const order = s.gateways
      .map((g, i) => ({ i, n: g.established.length, ss: g.established.some((sa) => sa.peer === STRONGSWAN.id) }))
      .filter((x) => x.i !== m && s.gateways[x.i]!.running);
    order.sort((a, b) => Number(b.ss) - Number(a.ss) || b.n - a.n || a.i - b.i);
    if (!order[0] || order[0].n === 0) throw new Error('no backup holds a base station');
    return order[0].i;
  }

  async snapshot(): Promise<ClusterSnapshot> {
    const gateways = await Promise.all(this.hosts.map((_h, i) => this.gatewaySnapshot(i)));
    const snap: ClusterSnapshot = { gateways, sim: this.simProgress(), vipNeighbour: await this.client.neighbourMac(VIP) };
    if (this.swan) snap.strongSwan = await strongSwanView(this.swan);
    return snap;
  }

  /** Rules broken now (./invariants.ts), given which gateways are down on purpose. */
  async violations(): Promise<string[]> {
    const want = { count: this.baseStations, identity: defaultIdentity, extra: this.swan ? [STRONGSWAN.id] : [] };
    return violations(await this.snapshot(), want, this.killed);
  }

  /**
   * Waits until no rule is broken; resolves with the time waited (ms). The timeout's message
   * lists the rules still broken.
   */
  async converge(what: string, timeoutMs: number, since = Date.now(), expectMaster?: number): Promise<number> {
    await eventually(async () => {
      const v = await this.violations();
      // A restarted highest-priority member preempts after its Master_Down_Interval: until then
      // the cluster looks converged on the other master.
      if (expectMaster !== undefined && (await this.vrrpState(expectMaster)) !== 'Master') v.push(`${gwName(expectMaster)} is not master (yet)`);
      if (v.length > 0) throw new Error(v.join('; '));
      return true;
    }, { what, timeoutMs, intervalMs: 100 });
    return Date.now() - since;
  }

  private simProgress(): ClusterSnapshot['sim'] {
    const out = this.sim?.output ?? '';
    const all = [...out.matchAll(/ up (\d+)\/(\d+) \(/g)];
    const last = all[all.length - 1];
    return last ? { up: Number(last[1]), count: Number(last[2]) } : null;
  }

  private async gatewaySnapshot(i: number): Promise<GatewaySnapshot> {
    const h = this.hosts[i]!;
    const g = this.gateways[i];
    const running = g?.process.running ?? false;
    const [kernelRoutes, tuns, holdsVip, mac] = await Promise.all([injectedRoutes(h), tunDevices(h), h.hasAddress(`${VIP}/24`), h.mac()]);
    const snap: GatewaySnapshot = {
      name: gwName(i), running, vrrp: null, holdsVip, mac, established: [], other: [], dataPlane: null, kernelRoutes, tuns,
    };
    if (!running || !g) return snap;
    const [vrrp, sas, status] = await Promise.all([
      this.vrrpState(i),
      g.ctl<{ ikeSas: IkeSaView[] }>('list-sas'),
      g.ctl<{ espDrops: EspDropsView }>('status'),
    ]);
    snap.vrrp = vrrp;
    for (const sa of sas.ikeSas) {
      if (sa.state !== 'ESTABLISHED') snap.other.push(sa.state);
      else snap.established.push({ peer: sa.remote.id ?? '', children: sa.children.map((c) => ({ state: c.state, remoteTs: c.remoteTs })) });
    }
    snap.dataPlane = status.espDrops.available ? (status.espDrops.installed ?? null) : null;
    return snap;
  }

  /** Stops the simulator (its SAs deleted with the gateways) and every running gateway. */
  async close(): Promise<void> {
    await this.sim?.stop('SIGTERM', 15_000);
    await this.swan?.stop();
    await Promise.all(this.gateways.map((g) => (g?.process.running ? g.stop() : undefined)));
  }
}

/** `ip route show proto segw` in `h`'s main table, as prefixes. */
export async function injectedRoutes(h: Host): Promise<string[]> {
  const r = await h.exec('ip', ['-4', '-o', 'route', 'show', 'proto', String(PROTO_SEGW), 'table', 'main']);
  return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean).map((p) => (p.includes('/') ? p : `${p}/32`));
}

/** TUN devices in `h` (a device with tun_flags in sysfs). */
export async function tunDevices(h: Host): Promise<string[]> {
  const r = await h.sh('for d in /sys/class/net/*; do [ -e "$d/tun_flags" ] && basename "$d"; done; true');
  return r.stdout.split('\n').filter(Boolean);
}

/** strongSwan's own count of established IKE SAs and installed child SAs. */
async function strongSwanView(ss: StrongSwan): Promise<{ established: number; installed: number }> {
  const sas = (await ss.listSas()).flatMap((e) => ikeSas(e).map(([, ike]) => ike));
  const up = sas.filter((ike) => ike.state === 'ESTABLISHED');
  return { established: up.length, installed: up.flatMap((ike) => childSas(ike)).filter((c) => c.state === 'INSTALLED').length };
}
