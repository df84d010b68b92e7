/**
 * The demo's namespaces and the processes on them (addresses in ./demo-config.ts): two bridges
 * (the access LAN "ran" and the core LAN "core"), five gateway nodes on both, a core router with
 * a service LAN behind it, a strongSwan base station and the simulator's host.
 *
 * A gateway node is what would be one appliance: `segw gateway` and the BIRD that announces its
 * injected routes to the core. It crashes as a whole (SIGKILL of both, so the core's BGP session
 * closes with BIRD's socket and the core forgets the node's routes at once) and restarts fresh.
 */
import { randomBytes } from 'node:crypto';
import type { Host, Lab } from './lab.js';
import { Bird, rriGatewayConfig } from './peers/bird.js';
import { SegwProcess } from './peers/segw.js';
import {
  CORE, GATEWAY_COUNT, SERVICE, SIM_ADDR, STRONGSWAN_ADDR, STRONGSWAN_LAN,
  clusterGatewayConfig, gwAddr, gwCoreAddr, gwName, isPrimary,
} from './demo-config.js';

export class GatewayNode {
  segw: SegwProcess | undefined;
  bird: Bird | undefined;
  /** How many times this node was started (names each run's files apart). */
  private runs = 0;

  constructor(
    readonly index: number,
    readonly host: Host,
    /** The cluster key files every member of its cluster reads. */
    private readonly keys: Record<string, string>,
  ) {}

  get name(): string {
    return gwName(this.index);
  }

  get primary(): boolean {
    return isPrimary(this.index);
  }

  get alive(): boolean {
    return this.segw?.process.running === true;
  }

  /** Starts BIRD and `segw gateway` (a fresh run: nothing kept from a previous one). */
  async start(): Promise<void> {
    this.runs++;
    const run = this.runs === 1 ? this.name : `${this.name}-run${this.runs}`;
    const birdConfig = rriGatewayConfig({
      routerId: gwCoreAddr(this.index),
      bgp: { localAddress: gwCoreAddr(this.index), localAs: CORE.gatewayAs, neighbor: CORE.addr, neighborAs: CORE.as },
    });
    const [bird, segw] = await Promise.all([
      Bird.start(this.host, { name: run, config: birdConfig }),
      SegwProcess.start(this.host, 'gateway', clusterGatewayConfig(this.index), { name: run, files: this.keys, timeoutMs: 60_000 }),
    ]);
    this.bird = bird;
    this.segw = segw;
  }

  /** The appliance dies: SIGKILL of segw and BIRD, nothing cleaned up (its routes stay in its kernel). */
  async crash(): Promise<void> {
    await Promise.all([this.segw?.kill(), this.bird?.process.stop('SIGKILL', 1000)]);
  }

  /** Graceful stop: segw tells its peers and withdraws its routes, then BIRD stops. */
  async stop(): Promise<void> {
    if (this.segw?.process.running) await this.segw.stop();
    if (this.bird?.process.running) await this.bird.stop();
  }

  ctl<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (!this.segw || !this.alive) return Promise.reject(new Error(`${this.name} is down`));
    return this.segw.ctl<T>(method, params);
  }
}

export interface DemoSite {
  lab: Lab;
  gateways: GatewayNode[];
  core: Host;
  server: Host;
  bs1: Host;
  sim: Host;
}

/** Builds every namespace and link; starts no process. */
export async function buildSite(lab: Lab): Promise<DemoSite> {
  const ran = await lab.switch('ran');
  const coreLan = await lab.switch('corelan');
  const keys = {
    'primary.key': `${randomBytes(32).toString('hex')}\n`,
    'backup.key': `${randomBytes(32).toString('hex')}\n`,
  };
  const gateways: GatewayNode[] = [];
  for (let i = 0; i < GATEWAY_COUNT; i++) {
    const h = await lab.host(gwName(i));
    await ran.attach(h, `${gwAddr(i)}/24`, { ifname: 'eth0' });
    await coreLan.attach(h, `${gwCoreAddr(i)}/26`, { ifname: 'eth1' });
    await h.addRoute(SERVICE.net, { via: CORE.addr });
    await h.enableForwarding();
    gateways.push(new GatewayNode(i, h, keys));
  }
  const core = await lab.host('core');
  await coreLan.attach(core, `${CORE.addr}/26`, { ifname: 'eth0' });
  const server = await lab.host('srv');
  await lab.link(core, server, { aIf: 'srv0', bIf: 'eth0', a: `${SERVICE.coreAddr}/26`, b: `${SERVICE.server}/26` });
  await server.addRoute('default', { via: SERVICE.coreAddr });
  await core.enableForwarding();
  const bs1 = await lab.host('bs1');
  await ran.attach(bs1, `${STRONGSWAN_ADDR}/24`, { ifname: 'eth0' });
  await lab.lan(bs1, `${STRONGSWAN_LAN.addr}/27`);
  const sim = await lab.host('sim');
  await ran.attach(sim, `${SIM_ADDR}/24`, { ifname: 'eth0' });
  return { lab, gateways, core, server, bs1, sim };
}
