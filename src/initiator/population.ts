/**
 * A population of simulated base stations: who each one is (IKE identity), which subnet it
 * protects (its child SA's local traffic selector), and which local IKE endpoint it speaks from.
 * Everything is a pure function of the base station's index, so a population of 100,000 costs
 * nothing until a base station is used, and any process (or shard of one) can rebuild the same
 * base station from its index alone (disaster recovery re-creates them the same way).
 *
 *   index i ──> identity  `bs-000042.ran.segw.example`        (FQDN, RFC 7296 §3.5 ID_FQDN)
 *          ──> subnet    pool base + i * 2^(bits - length)   (e.g. 198.18.0.42/32)
 *          ──> endpoint  endpoints[i % endpoints.length]     (local address and port)
 */
import { isIP } from 'node:net';
import { addrToBigInt, bigIntToAddr } from '../net/ip.js';
import { SegwError } from '../errors.js';

/** A population or load-generator option is unusable; the message names the option. */
export class InitiatorError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_INITIATOR', message, options);
  }
}

/** A local IKE endpoint base stations send from. Port 0: an ephemeral port (tests, many ports). */
export interface LocalEndpoint {
  address: string;
  /** IKE port (default 500). */
  port?: number;
  /** NAT-T port (default 4500; 0 = ephemeral). */
  natTPort?: number;
}

export interface PopulationOptions {
  /** How many base stations exist (indices 0 .. count-1). */
  count: number;
  /**
   * The pool the base stations' own subnets come from, e.g. `198.18.0.0/15` (RFC 2544
   * benchmarking range: 131,072 /32 subnets) or `2001:db8:1000::/36`.
   */
  subnetPool: string;
  /** Prefix length of each base station's subnet (default: a single host, /32 or /128). */
  subnetLength?: number;
  /** Identity of base station i (default `bs-<i, 6 digits>.ran.segw.example`). */
  identity?: (index: number) => string;
  /** Where base stations send from; base station i uses endpoints[i % n]. */
  endpoints: LocalEndpoint[];
}

export interface BaseStation {
  index: number;
  /** Connection name inside the generator (`bs<i>`). */
  name: string;
  /** IKE identity, as configuration text (`fqdn:` implied for names, addresses as is). */
  identity: string;
  /** The protected subnet, CIDR text: the child SA's local traffic selector. */
  subnet: string;
  /** Index into the endpoints list. */
  endpoint: number;
}

export const defaultIdentity = (i: number): string => `bs-${String(i).padStart(6, '0')}.ran.segw.example`;

/** The base-station plan; `get(i)` builds base station i on demand. */
export class Population {
  readonly count: number;
  readonly endpoints: readonly LocalEndpoint[];
  private readonly base: bigint;
  private readonly step: bigint;
  private readonly family: 4 | 6;
  private readonly length: number;
  private readonly identity: (i: number) => string;

  constructor(o: PopulationOptions) {
    if (!Number.isInteger(o.count) || o.count < 0) throw new InitiatorError(`population: count must be a whole number >= 0 (got ${o.count})`);
    if (o.endpoints.length === 0) throw new InitiatorError('population: at least one local endpoint is needed');
    for (const e of o.endpoints) {
      if (!isIP(e.address)) throw new InitiatorError(`population: endpoint address "${e.address}" is not an IP address`);
    }
    const [addr, lenText] = o.subnetPool.split('/');
    const fam = isIP(addr ?? '');
    if (fam === 0 || lenText === undefined) throw new InitiatorError(`population: subnetPool "${o.subnetPool}" must be CIDR text (e.g. 198.18.0.0/15)`);
    this.family = fam as 4 | 6;
    const bits = fam === 4 ? 32 : 128;
    const poolLen = Number(lenText);
    const length = o.subnetLength ?? bits;
    if (!(poolLen >= 0 && poolLen <= bits) || !(length >= poolLen && length <= bits)) {
      throw new InitiatorError(`population: subnetLength ${length} must lie between the pool's /${poolLen} and /${bits}`);
    }
    const capacity = 1n << BigInt(length - poolLen);
    if (BigInt(o.count) > capacity) {
      throw new InitiatorError(`population: ${o.count} base stations need more than the ${capacity} /${length} subnets of ${o.subnetPool}; use a larger pool or a longer subnetLength`);
    }
    const hostBits = BigInt(bits - poolLen);
    this.base = (addrToBigInt(addr!) >> hostBits) << hostBits;
    this.step = 1n << BigInt(bits - length);
    this.length = length;
    this.count = o.count;
    this.endpoints = o.endpoints;
    this.identity = o.identity ?? defaultIdentity;
  }

  /** Base station i (0 <= i < count). */
  get(index: number): BaseStation {
    if (!(index >= 0 && index < this.count && Number.isInteger(index))) throw new RangeError(`base station ${index} outside 0..${this.count - 1}`);
    return {
      index,
      name: connectionName(index),
      identity: this.identity(index),
      subnet: `${bigIntToAddr(this.base + BigInt(index) * this.step, this.family)}/${this.length}`,
      endpoint: index % this.endpoints.length,
    };
  }
}

/** The generator's connection name for base station i (and back). */
export function connectionName(index: number): string {
  return `bs${index}`;
}

export function indexOfConnection(name: string): number {
  return name.startsWith('bs') ? Number(name.slice(2)) : NaN;
}
