/**
 * Typed face of the native ESP engine (native/src/esp, component "esp" of the addon).
 * Control calls only: packets never cross into JavaScript, except IKE datagrams on the shared
 * NAT-T port and expiry events, both delivered in batches (`onIke`, `onEvents`).
 */
import { loadAddon } from '../../native/addon.js';
import { NativeAddonError } from '../../errors.js';
import type { EspEncryption, EspIntegrity, TrafficSelector } from '../types.js';

/** Why the engine dropped (or passed, 'ok') a packet; counted per verdict in `stats()`. */
export type EspVerdict =
  | 'ok' | 'dummy' | 'no-sa' | 'replay' | 'integrity' | 'truncated' | 'malformed' | 'bad-padding'
  | 'bad-next-header' | 'bad-inner' | 'policy-mismatch' | 'sa-dead' | 'seq-overflow' | 'no-policy'
  | 'too-big' | 'crypto-error';

export interface NativePath {
  src: string;
  dst: string;
  /** RFC 3948 UDP encapsulation; false sends raw IP protocol 50. */
  encap: boolean;
  sport: number;
  dport: number;
}

export interface NativeSa {
  spi: number;
  direction: 'in' | 'out';
  encryption: EspEncryption;
  /** AES-GCM: key || 4-byte salt. AES-CBC: the key. */
  encryptionKey: Buffer;
  /** Omitted or 'none' only for RFC 3602's encryption-only test vectors. */
  integrity?: EspIntegrity | 'none';
  integrityKey?: Buffer;
  esn: boolean;
  replayWindow: number;
  reqid: number;
  lifetime?: { softBytes: bigint; hardBytes: bigint; softPackets: bigint; hardPackets: bigint };
  /** The kernel interface's selectors as they are (the engine reads these fields by name). */
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  path: NativePath;
  /** Outbound: the last sequence number used; inbound: the replay window's top. Default 0. */
  seq?: bigint;
}

export interface NativePolicy {
  src: TrafficSelector;
  dst: TrafficSelector;
  priority: number;
  reqid: number;
  /** The destination range as prefixes (selectors.ts selectorPrefixes). */
  prefixes: { address: string; length: number }[];
}

export interface IkeArrival {
  socket: number;
  data: Buffer;
  remote: { address: string; port: number };
}

/** An SA event: a lifetime or sequence limit, or a new NAT mapping of the peer (inbound ESP-in-UDP). */
export type SaEventArrival =
  | { sa: number; kind: 'soft' | 'hard'; reason: 'bytes' | 'packets' | 'sequence' }
  | { sa: number; kind: 'mapping'; remote: { address: string; port: number } };

export interface EngineStats {
  in: Record<EspVerdict, number>;
  out: Record<EspVerdict, number>;
  ike: number;
  keepalives: number;
  ikeDropped: number;
  sendErrors: number;
  tunWriteErrors: number;
  tunReads: number;
  tunWrites: number;
  udpSends: number;
  udpRecvs: number;
  gsoSends: number;
  /** Removed SAs/policies still inside their grace period (freed by the housekeeping thread). */
  retired: number;
  /** Times a pipeline thread went to poll() for input (a sleep unless input arrived meanwhile). */
  polls: number;
  /** TUN reads of TCP super-packets read straight into the ESP slots (no segmentation copy). */
  tunDirect: number;
  sas: number;
}

export interface OneResult {
  verdict: EspVerdict;
  sa?: number;
  seq?: bigint;
  nextHeader?: number;
  payload?: Buffer;
  packet?: Buffer;
  inner?: Buffer;
}

export interface EspEngineOptions {
  /** Expected number of SAs (sizes the hash tables; more still work, with longer chains). */
  maxSas?: number;
  /** Crypto worker threads; 0 runs the lanes to completion (no hand-off between threads). */
  workers?: number;
  /**
   * With workers 0: threads that poll the lanes, each running its lanes to completion (lane i
   * on thread i % laneThreads; TUN queues first, then sockets). Default: one per TUN queue.
   */
  laneThreads?: number;
  onIke?: (batch: IkeArrival[]) => void;
  onEvents?: (batch: SaEventArrival[]) => void;
}

export interface NativeEspEngine {
  /** Creates the TUN device (in `netns` if given); returns its name. Before start(). */
  openTun(o: { name?: string; mtu?: number; queues?: number; offload?: boolean; netns?: string }): string;
  /** UDP (RFC 3948, shared with IKE) or raw protocol-50 socket; returns its index. Before start(). */
  openSocket(address: string, port: number, udp: boolean, netns?: string): number;
  start(): void;
  /** Stops and joins every thread, closes the TUN device and the sockets. */
  close(): void;
  addSa(sa: NativeSa): number;
  updateSa(id: number, path: NativePath): void;
  removeSa(id: number): boolean;
  addPolicy(p: NativePolicy): number;
  removePolicy(id: number): boolean;
  /**
   * Per-SA counters of many SAs in one call: espSaCounterFields.length values per id, in that
   * order (all ones for an unknown id). Read them through readSaCounters(), which goes by name.
   */
  readCounters(ids: Uint32Array): BigUint64Array;
  stats(): EngineStats;
  /** Sends one IKE message on a UDP socket, with the non-ESP marker prepended. */
  sendIke(socket: number, data: Buffer, address: string, port: number): void;
}

/**
 * The per-SA counters the engine keeps (native/src/esp/sa.h SaCounterField). The addon exports
 * their names in readCounters' order (espSaCounterFields); readSaCounters goes by those names
 * and refuses an addon whose set differs from this one, so the two sides cannot drift apart.
 */
export const SA_COUNTER_FIELDS = ['packets', 'bytes', 'replayDrops', 'integrityFailures', 'errors', 'lastUsedMs'] as const;
export type SaCounterField = (typeof SA_COUNTER_FIELDS)[number];
/** lastUsedMs: milliseconds since the epoch of the SA's last packet, 0 if none. */
export type NativeSaCounters = Record<SaCounterField, bigint>;

interface EspAddon {
  EspEngine: new (o: EspEngineOptions) => NativeEspEngine;
  espVerdicts: EspVerdict[];
  espSaCounterFields: string[];
  espCryptoBench(o: { encryption?: EspEncryption; keyBytes?: number; size: number; count: number; threads: number }): {
    seconds: number;
    packets: number;
    bytes: number;
  };
  espIntegrityKat(alg: EspIntegrity, key: Buffer, data: Buffer): Buffer;
}

export function loadEsp(): EspAddon {
  const addon = loadAddon();
  if (!addon.components.includes('esp')) {
    throw new NativeAddonError('the native addon has no ESP engine: run `npm run build:native`');
  }
  return addon as unknown as EspAddon;
}

export function createEngine(o: EspEngineOptions = {}): NativeEspEngine {
  return new (loadEsp().EspEngine)(o);
}

let counterIndex: Map<SaCounterField, number> | undefined;

/** Where each counter sits in readCounters' output, from the addon's own declaration. */
function saCounterIndex(): Map<SaCounterField, number> {
  if (counterIndex) return counterIndex;
  const fields = loadEsp().espSaCounterFields;
  const missing = SA_COUNTER_FIELDS.filter((f) => !fields.includes(f));
  if (!Array.isArray(fields) || missing.length > 0 || fields.length !== SA_COUNTER_FIELDS.length) {
    throw new NativeAddonError(
      `the native addon's SA counters (${String(fields)}) are not ${SA_COUNTER_FIELDS.join(',')}: run \`npm run build:native\``,
    );
  }
  counterIndex = new Map(SA_COUNTER_FIELDS.map((f) => [f, fields.indexOf(f)]));
  return counterIndex;
}

/** Counters of many SAs in one call into the engine, by name; undefined for an unknown id. */
export function readSaCounters(engine: NativeEspEngine, ids: readonly number[]): (NativeSaCounters | undefined)[] {
  const index = saCounterIndex();
  const stride = index.size;
  const raw = engine.readCounters(Uint32Array.from(ids));
  return ids.map((_, i) => {
    const at = (f: SaCounterField) => raw[i * stride + index.get(f)!];
    if (at('packets') === 0xffffffffffffffffn && at('bytes') === 0xffffffffffffffffn) return undefined;
    return Object.fromEntries(SA_COUNTER_FIELDS.map((f) => [f, at(f)])) as NativeSaCounters;
  });
}
