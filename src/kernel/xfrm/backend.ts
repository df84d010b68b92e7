/**
 * KernelIpsec on the Linux kernel's XFRM, over netlink (NETLINK_XFRM). Used when the kernel has
 * ESP (src/kernel/probe.ts decides); the requests are built in ./messages.ts.
 *
 * - allocateSpi: XFRM_MSG_ALLOCSPI makes a larval SA that reserves the SPI; addSa or updateSa on
 *   that SPI fills it with XFRM_MSG_UPDSA. If filling fails, the larval SA is deleted, so a
 *   failed install leaves nothing behind (a NEWSA that fails installs nothing by itself).
 * - deleteSa/querySa find an SA by (dst, SPI, ESP); for SAs installed with a mark or a source,
 *   the backend remembers them and adds XFRMA_MARK/XFRMA_SRCADDR, since the kernel's lookup
 *   needs the mark.
 * - Expiry: a listener on XFRMNLGRP_EXPIRE turns XFRM_MSG_EXPIRE into onExpire(); expiry of a
 *   larval SA (an SPI allocated but never used) is not an IKE event and is only logged.
 * - NAT mappings: the same listener on XFRMNLGRP_MAPPING turns XFRM_MSG_MAPPING (ESP-in-UDP
 *   from a new source, authenticated) into onMapping().
 * - NAT rebinding: updateSaEncap reads the SA back (GETSA returns its keys, which the IKE code
 *   does not keep) and sends it again as UPDSA with the new ports; should that fail, the IKE
 *   code rekeys the child instead. If the peer's address changed, the SAs are rekeyed (an
 *   SA's address is part of its identity) and updatePolicy (UPDPOLICY) moves the policies'
 *   templates to it.
 * - Ownership: with `reqidBase`, every reqid goes to the kernel as base + reqid (./ownership.ts),
 *   and removeStale() deletes the SAs and policies of that range that a killed earlier run left.
 * - Failures reject with NetlinkError (errno name, operation, kernel message); parameters the
 *   kernel cannot express reject with XfrmParamError before anything is sent.
 */
import { logger, RateLimitedLog } from '../../log/index.js';
import { NETLINK } from '../../netlink/constants.js';
import { NetlinkError } from '../../netlink/errors.js';
import { NetlinkListener } from '../../netlink/listener.js';
import { NetlinkSocket } from '../../netlink/socket.js';
import { IPPROTO_XFRM, XFRM_MSG, XFRMNLGRP } from '../../netlink/xfrm.js';
import type { IpsecStats, KernelIpsec, KernelIpsecEvents, PolicyParams, SaCounters, SaParams, SaRef } from '../types.js';
import * as msg from './messages.js';
import { ReqidMap } from './ownership.js';
import { parseExpire, parseMapping, parsePolicy, parseSa, type XfrmPolicy, type XfrmSa } from './parse.js';
import { readXfrmStats } from './stats.js';
import {
  emptyOffloadStats,
  isRefusal,
  notOffered,
  offloadAttr,
  refusalKey,
  resultOf,
  stepDown,
  type OffloadAttr,
  type OffloadConfig,
  type OffloadMode,
  type OffloadResult,
  type OffloadStats,
} from './offload.js';

const log = logger('kernel', { backend: 'xfrm' });

export interface XfrmOptions {
  /** Program the kernel of another network namespace (a path such as /run/netns/NAME). */
  netns?: string;
  /** A fresh, empty namespace that lives as long as the backend (the probe uses it). */
  freshNetns?: boolean;
  /** SPIs are allocated from this range (default 0xc0000000-0xcfffffff). */
  spiRange?: [number, number];
  /** Listen for expiry events (default true). */
  events?: boolean;
  maxInFlight?: number;
  /**
   * Install reqids as reqidBase + reqid, marking the state as this daemon's (./ownership.ts;
   * default 0: reqids as given, for tests and tools that own their namespace).
   */
  reqidBase?: number;
  /**
   * Ask the kernel to offload each SA to a device (XFRMA_OFFLOAD_DEV, ./offload.ts); refused
   * requests fall back one step (packet -> crypto -> software). Absent: software only.
   */
  offload?: OffloadConfig;
}

/** What removeStale() found and removed. */
export interface StaleRemoved {
  sas: { src: string; dst: string; spi: string; reqid: number }[];
  policies: { direction: string; src: string; dst: string; reqid: number }[];
}

/** What the backend needs of its netlink socket. */
export type XfrmTransport = Pick<NetlinkSocket, 'request' | 'dump' | 'close'>;

const key = (ref: SaRef) => `${ref.dst}|${ref.spi >>> 0}|${ref.protocol}`;

export class XfrmKernelIpsec implements KernelIpsec {
  readonly name = 'xfrm' as const;
  private handler: KernelIpsecEvents | undefined;
  /** SPIs allocated (larval SAs) and not yet filled. */
  private readonly larval = new Map<string, { src: string; dst: string }>();
  /** What DELSA/GETSA need beyond the SaRef for SAs this backend installed. */
  private readonly installed = new Map<string, msg.SaKey>();
  private readonly spiRange: [number, number];
  private readonly mappingLog = new RateLimitedLog(log);
  private readonly reqids: ReqidMap;

  private readonly netns: string | undefined;
  private readonly offload: OffloadConfig | undefined;
  private readonly offloadStats: OffloadStats | undefined;
  /** What each installed SA got, when offload is asked for. */
  private readonly offloaded = new Map<string, OffloadResult>();
  private readonly offloadLog = new RateLimitedLog(log);

  private constructor(
    private readonly nl: XfrmTransport,
    private readonly listener: NetlinkListener | undefined,
    opts: XfrmOptions,
  ) {
    this.spiRange = opts.spiRange ?? [0xc0000000, 0xcfffffff];
    this.netns = opts.netns ?? (opts.freshNetns ? 'a fresh namespace' : undefined);
    this.reqids = new ReqidMap(opts.reqidBase ?? 0);
    this.offload = opts.offload;
    this.offloadStats = opts.offload ? emptyOffloadStats(opts.offload.mode) : undefined;
  }

  static open(opts: XfrmOptions = {}): XfrmKernelIpsec {
    const nl = NetlinkSocket.open({
      protocol: NETLINK.NETLINK_XFRM,
      typeNames: XFRM_MSG,
      netns: opts.netns,
      freshNetns: opts.freshNetns,
      maxInFlight: opts.maxInFlight,
    });
    let self: XfrmKernelIpsec | undefined;
    let listener: NetlinkListener | undefined;
    if (opts.events !== false && !opts.freshNetns) {
      try {
        listener = NetlinkListener.open({
          protocol: NETLINK.NETLINK_XFRM,
          netns: opts.netns,
          groups: [XFRMNLGRP.XFRMNLGRP_EXPIRE, XFRMNLGRP.XFRMNLGRP_MAPPING],
          onMessage: (m) => self?.onNotification(m),
        });
      } catch (err) {
        void nl.close();
        throw err;
      }
    }
    self = new XfrmKernelIpsec(nl, listener, opts);
    return self;
  }

  /**
   * A backend over another transport than a netlink socket of its own (no event listener):
   * tests replay recorded kernel answers through it.
   */
  static over(transport: XfrmTransport, opts: Omit<XfrmOptions, 'netns' | 'freshNetns' | 'events' | 'maxInFlight'> = {}): XfrmKernelIpsec {
    return new XfrmKernelIpsec(transport, undefined, opts);
  }

  setEventHandler(handler: KernelIpsecEvents): void {
    this.handler = handler;
  }

  private send(r: msg.XfrmRequest) {
    return this.nl.request(r.type, r.flags, r.payload, { detail: r.detail });
  }

  async allocateSpi(src: string, dst: string, protocol: 'esp'): Promise<number> {
    const r = msg.allocSpi({ src, dst, min: this.spiRange[0], max: this.spiRange[1] });
    const replies = await this.send(r);
    const sa = replies.find((m) => m.type === XFRM_MSG.XFRM_MSG_NEWSA);
    if (!sa) throw new NetlinkError({ errno: 5, operation: 'XFRM_MSG_ALLOCSPI', detail: `${r.detail}: no SA in the reply` });
    const spi = parseSa(sa).spi;
    this.larval.set(key({ dst, spi, protocol }), { src, dst });
    log.debug({ src, dst, spi: spi.toString(16) }, 'SPI allocated');
    return spi;
  }

  private kernelSa(sa: SaParams): SaParams {
    return sa.reqid === this.reqids.toKernel(sa.reqid) ? sa : { ...sa, reqid: this.reqids.toKernel(sa.reqid) };
  }

  private kernelPolicy(p: PolicyParams): PolicyParams {
    return p.reqid === this.reqids.toKernel(p.reqid) ? p : { ...p, reqid: this.reqids.toKernel(p.reqid) };
  }

  async addSa(params: SaParams): Promise<void> {
    const sa = this.kernelSa(params);
    if (this.larval.has(key(sa))) return this.fillLarval(sa);
    await this.install(sa, (o) => msg.newSa(sa, o));
    this.remember(sa);
  }

  async updateSa(params: SaParams): Promise<void> {
    const sa = this.kernelSa(params);
    if (this.larval.has(key(sa))) return this.fillLarval(sa);
    await this.install(sa, (o) => msg.updSa(sa, o));
    this.remember(sa);
  }

  /**
   * Sends the install request, with offload when it is asked for: a refusal (./offload.ts
   * isRefusal) is counted, logged, and the same request goes again one step down; what the SA
   * got is read back, since a device without IPsec offload takes the SA in software silently.
   */
  private async install(sa: SaParams, build: (offload?: OffloadAttr) => msg.XfrmRequest): Promise<void> {
    const stats = this.offloadStats;
    if (!this.offload || !stats) return void (await this.send(build()));
    const why = notOffered(sa);
    let mode: OffloadMode | undefined = why ? undefined : this.offload.mode;
    if (why) stats.notOffered[why] = (stats.notOffered[why] ?? 0) + 1;
    while (mode) {
      try {
        await this.send(build(offloadAttr(sa, this.offload.ifindex, mode)));
        return this.recordOffload(sa, await this.readOffload(sa));
      } catch (err) {
        if (!isRefusal(err)) throw err;
        const reason = refusalKey(mode, err);
        stats.refused[reason] = (stats.refused[reason] ?? 0) + 1;
        const next = stepDown(mode);
        this.offloadLog.warn(reason, { spi: sa.spi.toString(16), dst: sa.dst, err: err.message }, `the kernel refused ${mode} offload for an SA; installing it with ${next ? `${next} offload` : 'software ESP'}`);
        mode = next;
      }
    }
    await this.send(build());
    this.recordOffload(sa, 'software');
  }

  /** What a just-installed SA got (XFRMA_OFFLOAD_DEV in GETSA's answer, ./offload.ts resultOf). */
  private async readOffload(sa: SaParams): Promise<OffloadResult> {
    const replies = await this.send(msg.getSa({ dst: sa.dst, spi: sa.spi, protocol: sa.protocol, src: sa.src, mark: sa.mark }));
    const m = replies.find((x) => x.type === XFRM_MSG.XFRM_MSG_NEWSA);
    return resultOf(m ? parseSa(m).offload : undefined);
  }

  private recordOffload(sa: SaParams, got: OffloadResult): void {
    this.offloadStats!.installed[got]++;
    this.offloaded.set(key(sa), got);
    if (got === 'software' && this.offload) {
      this.offloadLog.info(`software:${sa.direction}`, { spi: sa.spi.toString(16), dst: sa.dst }, 'SA installed in software ESP: no device took the offload');
    }
  }

  /** Offload outcomes since start, or undefined when offload is not asked for. */
  offloadStatus(): OffloadStats | undefined {
    return this.offloadStats && structuredClone(this.offloadStats);
  }

  /** What one installed SA got, when offload is asked for. */
  offloadOf(ref: SaRef): OffloadResult | undefined {
    return this.offloaded.get(key(ref));
  }

  /** UPDSA on an allocated SPI; on failure the larval SA is removed so nothing is half-installed. */
  private async fillLarval(sa: SaParams): Promise<void> {
    const k = key(sa);
    try {
      await this.install(sa, (o) => msg.updSa(sa, o));
    } catch (err) {
      const larval = this.larval.get(k);
      this.larval.delete(k);
      await this.send(msg.delSa({ ...sa, src: larval?.src })).catch((e: unknown) =>
        log.warn({ err: e, spi: sa.spi.toString(16) }, 'could not remove the larval SA after a failed install'),
      );
      throw err;
    }
    this.larval.delete(k);
    this.remember(sa);
  }

  private remember(sa: SaParams): void {
    this.installed.set(key(sa), { dst: sa.dst, spi: sa.spi, protocol: sa.protocol, src: sa.src, mark: sa.mark });
  }

  private lookupKey(ref: SaRef): msg.SaKey {
    const k = key(ref);
    const larval = this.larval.get(k);
    return this.installed.get(k) ?? { ...ref, src: larval?.src };
  }

  async deleteSa(ref: SaRef): Promise<void> {
    await this.send(msg.delSa(this.lookupKey(ref)));
    this.installed.delete(key(ref));
    this.larval.delete(key(ref));
    this.offloaded.delete(key(ref));
  }

  /**
   * RFC 7296 §2.23, the peer's NAT mapping changed: GETSA (the kernel returns the SA with its
   * keys), then UPDSA with the same SA and new encapsulation ports (msg.updSaEncap).
   */
  async updateSaEncap(ref: SaRef, encap: { sport: number; dport: number }): Promise<void> {
    const replies = await this.send(msg.getSa(this.lookupKey(ref)));
    const m = replies.find((x) => x.type === XFRM_MSG.XFRM_MSG_NEWSA);
    if (!m) throw new NetlinkError({ errno: 5, operation: 'XFRM_MSG_GETSA', detail: msg.saDetail('query', ref) });
    await this.send(msg.updSaEncap(m.payload, ref, encap));
  }

  async querySa(ref: SaRef): Promise<SaCounters> {
    const replies = await this.send(msg.getSa(this.lookupKey(ref)));
    const m = replies.find((x) => x.type === XFRM_MSG.XFRM_MSG_NEWSA);
    if (!m) throw new NetlinkError({ errno: 5, operation: 'XFRM_MSG_GETSA', detail: msg.saDetail('query', ref) });
    return parseSa(m).counters;
  }

  /** The kernel's drop counters by reason (/proc/net/xfrm_stat); per SA: querySa (XFRMA stats). */
  async stats(): Promise<IpsecStats> {
    return readXfrmStats(this.netns);
  }

  /** One policy per kernel selector the pair needs; if one fails, those added before are removed. */
  async addPolicy(params: PolicyParams): Promise<void> {
    const policy = this.kernelPolicy(params);
    const reqs = msg.newPolicies(policy);
    const results = await Promise.allSettled(reqs.map((r) => this.send(r)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return;
    const dels = msg.delPolicies(policy);
    await Promise.all(results.map((r, i) => (r.status === 'fulfilled' ? this.send(dels[i]).catch(() => undefined) : undefined)));
    throw failed.reason;
  }

  /** UPDPOLICY for each kernel selector: the policy is replaced in place, never absent. */
  async updatePolicy(policy: PolicyParams): Promise<void> {
    const results = await Promise.allSettled(msg.newPolicies(this.kernelPolicy(policy), true).map((r) => this.send(r)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async deletePolicy(policy: PolicyParams): Promise<void> {
    const results = await Promise.allSettled(msg.delPolicies(policy).map((r) => this.send(r)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Every SA in the kernel (GETSA dump). */
  async listSas(): Promise<XfrmSa[]> {
    const r = msg.dumpSa();
    return (await this.nl.dump(r.type, r.payload, { detail: r.detail })).filter((m) => m.type === XFRM_MSG.XFRM_MSG_NEWSA).map(parseSa);
  }

  /** Every policy in the kernel (GETPOLICY dump). */
  async listPolicies(): Promise<XfrmPolicy[]> {
    const r = msg.dumpPolicy();
    return (await this.nl.dump(r.type, r.payload, { detail: r.detail }))
      .filter((m) => m.type === XFRM_MSG.XFRM_MSG_NEWPOLICY)
      .map(parsePolicy);
  }

  /**
   * Deletes the SAs and policies whose reqid is in this backend's range (`reqidBase`): what an
   * earlier run left when it was killed. Another daemon's state has other reqids and stays.
   */
  async removeStale(): Promise<StaleRemoved> {
    const removed: StaleRemoved = { sas: [], policies: [] };
    if (this.reqids.base === 0) return removed;
    for (const p of await this.listPolicies()) {
      const t = p.templates.find((x) => this.reqids.owns(x.reqid));
      if (!t || p.direction === 'other') continue;
      await this.send(msg.delPolicyByIndex(p.index, p.direction, p.mark));
      removed.policies.push({ direction: p.direction, src: p.src, dst: p.dst, reqid: t.reqid });
    }
    for (const sa of await this.listSas()) {
      if (!this.reqids.owns(sa.reqid) || sa.proto !== IPPROTO_XFRM.IPPROTO_ESP) continue;
      await this.send(msg.delSa({ dst: sa.dst, spi: sa.spi, protocol: 'esp', src: sa.src, mark: sa.mark }));
      removed.sas.push({ src: sa.src, dst: sa.dst, spi: sa.spi.toString(16).padStart(8, '0'), reqid: sa.reqid });
    }
    return removed;
  }

  /** Removes every ESP SA and every policy of the namespace (segw owns its namespace's XFRM). */
  async flush(): Promise<void> {
    await this.send(msg.flushSa());
    await this.send(msg.flushPolicy());
    this.installed.clear();
    this.larval.clear();
    this.offloaded.clear();
  }

  /** XFRM_MSG_EXPIRE and XFRM_MSG_MAPPING from the listener; exposed for tests that feed crafted messages. */
  onNotification(m: { type: number; payload: Buffer; flags: number; seq: number; pid: number }): void {
    if (m.type === XFRM_MSG.XFRM_MSG_MAPPING) {
      const e = parseMapping(m);
      // Without XFRMA_MTIMER_THRESH the kernel reports every such packet until the SA moves.
      this.mappingLog.info('mapping', { spi: e.sa.spi.toString(16), remote: `${e.remote.address}:${e.remote.port}` }, 'ESP from a new peer endpoint (NAT mapping changed)');
      this.handler?.onMapping?.(e.sa, e.remote);
      return;
    }
    if (m.type !== XFRM_MSG.XFRM_MSG_EXPIRE) return;
    const e = parseExpire(m);
    const k = key(e.sa);
    if (this.larval.has(k)) {
      this.larval.delete(k);
      log.info({ spi: e.sa.spi.toString(16), dst: e.sa.dst }, 'allocated SPI expired unused');
      return;
    }
    if (e.kind === 'hard') {
      this.installed.delete(k);
      this.offloaded.delete(k);
    }
    log.info({ spi: e.sa.spi.toString(16), dst: e.sa.dst, kind: e.kind, reason: e.reason }, 'SA expired');
    this.handler?.onExpire(e.sa, e.kind, e.reason);
  }

  async close(): Promise<void> {
    this.listener?.close();
    await this.nl.close();
  }
}
