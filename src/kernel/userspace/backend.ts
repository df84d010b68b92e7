/**
 * KernelIpsec on the userspace ESP engine (native/src/esp), for kernels without ESP.
 *
 * What the caller provides: routes that steer protected traffic into the engine's TUN device
 * (`ip route add <remote TS prefix> dev <tunName>`, e.g. through KernelNet.addRoute with
 * `dev: backend.tunName`), an address on a local interface for each outer endpoint, and the
 * local inner address(es) wherever the caller wants them. The engine then picks the SA by
 * outbound policy (reqid -> newest outbound SA), so routes need no per-SA detail.
 *
 * Semantics that follow XFRM: inbound SAs are found by SPI (allocateSpi keeps them unique);
 * a new outbound SA with an existing reqid takes over at once (make-before-break: the old
 * inbound SA keeps receiving until deleteSa); a hard expiry deletes the SA and reports it.
 * 'in' and 'fwd' policies are recorded only: the engine checks every decrypted packet against
 * its SA's own traffic selectors (RFC 4301 §5.2), which is what those policies express.
 */
import { randomInt } from 'node:crypto';
import type { Endpoint } from '../../net/endpoint.js';
import { logger } from '../../log/index.js';
import type {
  IpsecStats,
  KernelIpsec,
  KernelIpsecEvents,
  PolicyParams,
  SaCounters,
  SaParams,
  SaRef,
} from '../types.js';
import { EspEngineError } from './errors.js';
import { EngineIkeSocket } from './ike-socket.js';
import {
  createEngine,
  readSaCounters,
  type SaEventArrival,
  type IkeArrival,
  type NativeEspEngine,
  type NativePath,
} from './native.js';
import { selectorPrefixes } from './selectors.js';

const log = logger('esp');

export interface UserspaceIpsecOptions {
  /** TUN device name (default segw0); `netns` creates it and the sockets in that namespace. */
  tunName?: string;
  mtu?: number;
  /** TUN queues (IFF_MULTI_QUEUE), each read by its own lane. */
  queues?: number;
  /** IFF_VNET_HDR with TSO/GRO across the TUN device (default true). */
  offload?: boolean;
  netns?: string;
  workers?: number;
  /** With workers 0: threads that poll the lanes (default one per TUN queue). */
  laneThreads?: number;
  maxSas?: number;
  /** UDP sockets for ESP-in-UDP and IKE (RFC 3948), e.g. [{ address, port: 4500 }]. */
  udp?: Endpoint[];
  /** Addresses for raw ESP (IP protocol 50). */
  raw?: string[];
}

const saKey = (ref: SaRef): string => `${ref.dst}/${ref.spi >>> 0}`;

export class UserspaceIpsec implements KernelIpsec {
  readonly name = 'userspace' as const;
  readonly tunName: string;
  private handler: KernelIpsecEvents | undefined;
  private readonly sas = new Map<string, { id: number; ref: SaRef; direction: 'in' | 'out'; src: string }>();
  private readonly byId = new Map<number, string>();
  private readonly policies = new Map<string, number>();
  private readonly reserved = new Set<number>();
  private readonly ikeSockets = new Map<number, EngineIkeSocket>();
  private readonly udpIndex = new Map<string, number>();
  private closed = false;

  private constructor(
    readonly engine: NativeEspEngine,
    opts: UserspaceIpsecOptions,
  ) {
    this.tunName = engine.openTun({
      name: opts.tunName ?? 'segw0',
      mtu: opts.mtu ?? 1400,
      queues: opts.queues ?? 1,
      offload: opts.offload ?? true,
      netns: opts.netns,
    });
    for (const u of opts.udp ?? []) {
      this.udpIndex.set(`${u.address}:${u.port}`, engine.openSocket(u.address, u.port, true, opts.netns));
    }
    for (const a of opts.raw ?? []) engine.openSocket(a, 0, false, opts.netns);
    engine.start();
  }

  /** Creates the engine, its TUN device and sockets, and starts its threads. */
  static open(opts: UserspaceIpsecOptions = {}): UserspaceIpsec {
    let self: UserspaceIpsec | undefined;
    const engine = createEngine({
      maxSas: opts.maxSas,
      workers: opts.workers,
      laneThreads: opts.laneThreads,
      onIke: (batch) => self?.onIke(batch),
      onEvents: (batch) => self?.onEvents(batch),
    });
    try {
      self = new UserspaceIpsec(engine, opts);
      return self;
    } catch (err) {
      engine.close();
      throw new EspEngineError(`cannot start the userspace ESP engine: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The IKE port on one of the engine's UDP sockets (shared with ESP-in-UDP). */
  ikeSocket(local: Endpoint): EngineIkeSocket {
    const idx = this.udpIndex.get(`${local.address}:${local.port}`);
    if (idx === undefined) throw new EspEngineError(`no engine UDP socket on ${local.address}:${local.port}: add it to options.udp`);
    let s = this.ikeSockets.get(idx);
    // A closed one (IKE stopped serving a VIP this member lost) is replaced when served again.
    if (!s || s.isClosed) this.ikeSockets.set(idx, (s = new EngineIkeSocket(this.engine, idx, local)));
    return s;
  }

  setEventHandler(handler: KernelIpsecEvents): void {
    this.handler = handler;
  }

  async allocateSpi(_src: string, _dst: string, _protocol: 'esp'): Promise<number> {
    for (;;) {
      // RFC 4303 §2.1: 1..255 are reserved; unique across inbound SAs so lookup by SPI is exact.
      const spi = randomInt(256, 0xffffffff);
      if (this.reserved.has(spi) || [...this.sas.values()].some((s) => s.direction === 'in' && s.ref.spi === spi)) continue;
      this.reserved.add(spi);
      return spi;
    }
  }

  async addSa(sa: SaParams): Promise<void> {
    const key = saKey(sa);
    if (this.sas.has(key)) throw new EspEngineError(`SA ${key} exists: use updateSa`);
    if (sa.mode !== 'tunnel') throw new EspEngineError('the userspace engine implements tunnel mode only');
    if (sa.encryption === 'aes-cbc' && !sa.integrity) {
      throw new EspEngineError('AES-CBC without integrity is not allowed (RFC 8221 §5): set integrity');
    }
    const id = this.call(() =>
      this.engine.addSa({
        spi: sa.spi >>> 0,
        direction: sa.direction,
        encryption: sa.encryption,
        encryptionKey: sa.encryptionKey,
        integrity: sa.integrity,
        integrityKey: sa.integrityKey,
        esn: sa.esn,
        replayWindow: sa.replayWindow,
        reqid: sa.reqid,
        lifetime: sa.lifetime,
        localTs: sa.localTs,
        remoteTs: sa.remoteTs,
        path: nativePath(sa.src, sa.dst, sa.encap),
      }),
    );
    this.reserved.delete(sa.spi >>> 0);
    this.sas.set(key, { id, ref: { dst: sa.dst, spi: sa.spi >>> 0, protocol: 'esp' }, direction: sa.direction, src: sa.src });
    this.byId.set(id, key);
    log.debug({ spi: (sa.spi >>> 0).toString(16), dir: sa.direction, reqid: sa.reqid }, 'SA added');
  }

  async updateSa(sa: SaParams): Promise<void> {
    const entry = this.sas.get(saKey(sa));
    if (!entry) return this.addSa(sa); // the SPI was allocated: the SA appears now (XFRM UPDSA)
    this.call(() => this.engine.updateSa(entry.id, nativePath(sa.src, sa.dst, sa.encap)));
    entry.src = sa.src;
  }

  async updateSaEncap(ref: SaRef, encap: { sport: number; dport: number }): Promise<void> {
    const entry = this.sas.get(saKey(ref));
    if (!entry) throw new EspEngineError(`no SA ${saKey(ref)}`);
    // The engine swaps the SA's path atomically: packets in flight use the old or the new one.
    this.call(() => this.engine.updateSa(entry.id, nativePath(entry.src, ref.dst, encap)));
  }

  async deleteSa(ref: SaRef): Promise<void> {
    const key = saKey(ref);
    const entry = this.sas.get(key);
    if (!entry) {
      // An SPI allocated for a child that never came (refused, failed): releasing the
      // reservation is what deleting it means (XFRM deletes the larval SA the same way).
      if (this.reserved.delete(ref.spi >>> 0)) return;
      throw new EspEngineError(`no SA ${key}`);
    }
    this.engine.removeSa(entry.id);
    this.sas.delete(key);
    this.byId.delete(entry.id);
  }

  async querySa(ref: SaRef): Promise<SaCounters> {
    const [c] = this.queryMany([ref]);
    if (!c) throw new EspEngineError(`no SA ${saKey(ref)}`);
    return c;
  }

  /** Counters of many SAs in one call into the engine; undefined for unknown SAs. */
  queryMany(refs: SaRef[]): (SaCounters | undefined)[] {
    const ids = refs.map((r) => this.sas.get(saKey(r))?.id ?? 0);
    return readSaCounters(this.engine, ids).map((c, i) =>
      ids[i] === 0 || !c
        ? undefined
        : {
            packets: c.packets,
            bytes: c.bytes,
            replayDrops: c.replayDrops,
            integrityFailures: c.integrityFailures,
            otherDrops: c.errors,
            lastUsedMs: Number(c.lastUsedMs),
          },
    );
  }

  /**
   * The engine's drops by reason since it started: every verdict but 'ok' and 'dummy' (RFC 4303
   * §2.6 dummy packets are discarded by design), per direction, plus the I/O drops: IKE
   * datagrams refused by a full queue, TUN writes and UDP sends that failed.
   */
  async stats(): Promise<IpsecStats> {
    const s = this.engine.stats();
    const drops = (v: Record<string, number>) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'ok' && k !== 'dummy'));
    return {
      available: true,
      drops: {
        in: { ...drops(s.in), 'ike-queue-full': s.ikeDropped, 'tun-write-error': s.tunWriteErrors },
        out: { ...drops(s.out), 'send-error': s.sendErrors },
      },
      // The engine's own SA table (not this adapter's bookkeeping), and the policies recorded.
      installed: { sas: s.sas, policies: this.policies.size },
    };
  }

  async addPolicy(p: PolicyParams): Promise<void> {
    const key = policyKey(p);
    if (this.policies.has(key)) throw new EspEngineError(`policy exists: ${key}`);
    this.policies.set(key, this.enginePolicy(p));
  }

  /**
   * Replaces a policy (same direction and selectors) with `p`'s reqid: a child of another IKE SA
   * takes it over. The new outbound policy is added before the old one is removed, so no packet
   * finds none.
   */
  async updatePolicy(p: PolicyParams): Promise<void> {
    const key = policyKey(p);
    const old = this.policies.get(key);
    if (old === undefined) throw new EspEngineError(`no policy ${key}`);
    this.policies.set(key, this.enginePolicy(p));
    if (old) this.engine.removePolicy(old);
  }

  /** The engine's id of the outbound policy `p` (0 for 'in' and 'fwd': recorded only). */
  private enginePolicy(p: PolicyParams): number {
    if (p.direction !== 'out') return 0;
    return this.call(() =>
      this.engine.addPolicy({
        src: p.src,
        dst: p.dst,
        priority: p.priority,
        reqid: p.reqid,
        prefixes: selectorPrefixes(p.dst),
      }),
    );
  }

  async deletePolicy(p: PolicyParams): Promise<void> {
    const key = policyKey(p);
    const id = this.policies.get(key);
    if (id === undefined) throw new EspEngineError(`no policy ${key}`);
    if (id) this.engine.removePolicy(id);
    this.policies.delete(key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.ikeSockets.values()) await s.close();
    this.engine.close();
  }

  private onIke(batch: IkeArrival[]): void {
    for (const d of batch) this.ikeSockets.get(d.socket)?.deliver(d.data, d.remote);
  }

  private onEvents(batch: SaEventArrival[]): void {
    for (const ev of batch) {
      const key = this.byId.get(ev.sa);
      const entry = key ? this.sas.get(key) : undefined;
      if (!entry) continue;
      if (ev.kind === 'mapping') {
        log.info({ spi: entry.ref.spi.toString(16), remote: `${ev.remote.address}:${ev.remote.port}` }, 'ESP from a new peer endpoint (NAT mapping changed)');
        this.handler?.onMapping?.(entry.ref, ev.remote);
        continue;
      }
      log.info({ spi: entry.ref.spi.toString(16), kind: ev.kind, reason: ev.reason }, 'SA expired');
      if (ev.kind === 'hard') {
        this.engine.removeSa(entry.id);
        this.sas.delete(key!);
        this.byId.delete(ev.sa);
      }
      this.handler?.onExpire(entry.ref, ev.kind, ev.reason);
    }
  }

  private call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new EspEngineError((err as Error).message, { cause: err });
    }
  }
}

/** The engine's view of an SA's outer path: endpoints and, for ESP-in-UDP, the ports. */
function nativePath(src: string, dst: string, encap: SaParams['encap']): NativePath {
  return { src, dst, encap: !!encap, sport: encap?.sport ?? 0, dport: encap?.dport ?? 0 };
}

/**
 * A policy's identity, as XFRM's: direction and selectors (not the reqid). A second policy for the
 * same selectors is refused, as the kernel refuses it (EEXIST); a child of a newer IKE SA of the
 * same peer takes the existing one over with updatePolicy.
 */
function policyKey(p: PolicyParams): string {
  const ts = (t: PolicyParams['src']) => `${t.startAddr}-${t.endAddr}:${t.protocol}:${t.startPort}-${t.endPort}`;
  return `${p.direction} ${ts(p.src)} > ${ts(p.dst)}`;
}
