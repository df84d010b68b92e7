/**
 * The simulator's data plane: K of its N base stations carry real traffic. Their child SAs go
 * to the userspace ESP engine over a TUN device (the same engine `segw basestation` uses for one
 * connection), their inner addresses are on that TUN, and each sends UDP probes to an echo
 * service behind the gateways while it is up (traffic-probe.ts). The other base stations keep
 * the null kernel (traffic-kernel.ts splits by the SA's local selector).
 *
 *   sim process (its own network namespace, or a host where it may add a TUN device)
 *     TUN `tun` ── 198.18.0.0/32, 198.18.0.20/32, ... (the traffic base stations' inner addresses)
 *               ── routes: every remote-ts prefix
 *     engine ── raw ESP sockets on the simulator's endpoint addresses
 *     probes ── UDP from each inner address to target:port, every interval
 *
 * Which base stations: K spread evenly over the population (index floor(j * N / K)), so they
 * come from every shard and arrive over the whole arrival window.
 */
import { isIPv6 } from 'node:net';
import type { Logger } from '../log/index.js';
import type { TrafficSettings } from '../config/simulate.js';
import { addrToBigInt, bigIntToAddr, parseCidr, formatPrefix } from '../net/ip.js';
import type { KernelIpsec, KernelNet, TrafficSelector } from '../kernel/types.js';
import { UserspaceIpsec } from '../kernel/userspace/backend.js';
import { NetlinkKernelNet } from '../kernel/net/netlink-net.js';
import { NullKernelIpsec } from './null-kernel.js';
import { Population, type PopulationOptions } from './population.js';
import { TrafficKernels, TrafficError } from './traffic-kernel.js';
import { TrafficProbes, type TrafficCounts, type TrafficMember, type TrafficSummary } from './traffic-probe.js';

export interface TrafficPlaneOptions {
  traffic: TrafficSettings;
  population: PopulationOptions;
  /** The core-side selectors (routes into the TUN). */
  remoteTs: string[];
  shards: number;
  log: Logger;
}

/** The base stations of a population that carry traffic: `count` spread evenly. */
export function trafficIndices(population: number, count: number): number[] {
  if (!(Number.isInteger(count) && count >= 1 && count <= population)) {
    throw new TrafficError(`traffic.count must be between 1 and the ${population} simulated base stations (got ${count})`);
  }
  return Array.from({ length: count }, (_, j) => Math.floor((j * population) / count));
}

/** A base station's inner address: its subnet's address for a host subnet, else the first host. */
export function innerAddress(subnet: string): string {
  const p = parseCidr(subnet);
  const bits = p.family === 4 ? 32 : 128;
  const base = addrToBigInt(p.addr);
  return p.len >= bits - 1 ? p.addr : bigIntToAddr(base + 1n, p.family);
}

export class TrafficPlane {
  readonly members: readonly TrafficMember[];
  private readonly kernels: TrafficKernels;
  private readonly probes: TrafficProbes;
  private closed = false;

  private constructor(
    private readonly engine: UserspaceIpsec,
    private readonly net: KernelNet,
    members: TrafficMember[],
    subnets: Set<string>,
    private readonly o: TrafficPlaneOptions,
  ) {
    this.members = members;
    const carries = (ts: TrafficSelector) => subnets.has(ts.startAddr);
    this.kernels = new TrafficKernels(engine, carries, o.shards);
    const t = o.traffic;
    this.probes = new TrafficProbes({ members, target: { address: t.target, port: t.port }, intervalMs: t.intervalMs, log: o.log });
  }

  /**
   * Opens the engine and its TUN device, puts the traffic base stations' inner addresses on it
   * and routes remote-ts into it. Needs CAP_NET_ADMIN (a TUN device, addresses, routes).
   */
  static async open(o: TrafficPlaneOptions): Promise<TrafficPlane> {
    const pop = new Population(o.population);
    const indices = trafficIndices(pop.count, o.traffic.count);
    const subnets = new Set<string>();
    const members = indices.map((index) => {
      const subnet = pop.get(index).subnet;
      subnets.add(parseCidr(subnet).addr);
      return { index, address: innerAddress(subnet) };
    });
    let engine: UserspaceIpsec;
    try {
      engine = UserspaceIpsec.open({
        tunName: o.traffic.tun,
        workers: o.traffic.threads,
        // Plain ESP (IP protocol 50) to the simulator's own addresses.
        raw: [...new Set(o.population.endpoints.map((e) => e.address))],
      });
    } catch (err) {
      throw new TrafficError(`traffic base stations need the userspace ESP engine and a TUN device (${(err as Error).message}); run as root or with CAP_NET_ADMIN and CAP_NET_RAW`, { cause: err });
    }
    const net = NetlinkKernelNet.open();
    const plane = new TrafficPlane(engine, net, members, subnets, o);
    try {
      await plane.configure();
      await plane.probes.open();
    } catch (err) {
      await plane.close();
      throw err instanceof TrafficError ? err : new TrafficError(`cannot set up the traffic base stations' addresses on ${engine.tunName}: ${(err as Error).message}`, { cause: err });
    }
    o.log.info({ tun: engine.tunName, baseStations: members.length, target: `${o.traffic.target}:${o.traffic.port}` }, 'traffic base stations ready');
    return plane;
  }

  private async configure(): Promise<void> {
    const dev = this.engine.tunName;
    for (const m of this.members) {
      const len = isIPv6(m.address) ? 128 : 32;
      await this.net.addAddress({ address: `${m.address}/${len}`, dev, noPrefixRoute: true, noDad: len === 128 });
    }
    for (const ts of this.o.remoteTs) {
      const p = parseCidr(ts);
      await this.net.addRoute({ dst: formatPrefix(p), dev });
    }
  }

  /** Shard s's kernel: its traffic base stations' SAs to the engine, the rest to a null kernel. */
  kernelFor(shard: number): KernelIpsec {
    return this.kernels.shard(shard, new NullKernelIpsec((0xc0000001 + shard * 0x01000000) >>> 0));
  }

  /** Starts the probes: each traffic base station sends while `tunnelOf(index)` names its tunnel. */
  start(tunnelOf: (index: number) => unknown): void {
    this.probes.start(tunnelOf);
  }

  counts(): TrafficCounts[] {
    return this.probes.counts();
  }

  summary(): TrafficSummary {
    return this.probes.summary();
  }

  /** Stops the probes (waiting for the replies in flight); the counts stay readable. */
  stopProbes(): Promise<void> {
    return this.probes.stop();
  }

  /** Closes the engine (its TUN device, with the addresses and routes on it, goes with it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.probes.stop();
    try {
      await this.engine.close();
    } finally {
      await this.net.close();
    }
  }
}
