/**
 * The simulator's KernelIpsec when some base stations carry traffic: one shard's kernel that
 * sends the SAs and policies of those base stations to a real data plane (the userspace ESP
 * engine over a TUN, shared by every shard) and everything else to the shard's NullKernelIpsec.
 *
 *   IkeDaemon (shard s) ──> SplitKernelIpsec ──┬─ local selector is a traffic base station's
 *                                              │  subnet ──> data plane (reqid made unique
 *                                              │             across shards: reqid * shards + s)
 *                                              └─ any other ─────> NullKernelIpsec (counts only)
 *
 * Which side an SA is on is decided by its local traffic selector (the base station's own
 * subnet, SaParams.localTs; a policy's is `src` outbound, `dst` inbound and forward) and
 * remembered by (destination, SPI), so deletes, queries and expiries reach the side that holds
 * it. SPIs always come from the shard's null kernel, whose range is the shard's own: inbound SPIs
 * stay unique in the shared engine without asking it.
 *
 * The traffic base stations send plain ESP (IP protocol 50): the engine's raw sockets carry it,
 * and the simulator's IKE sockets are not the engine's, so ESP-in-UDP (a NAT between the
 * simulator and the gateways) cannot be sent; such an SA is refused with TrafficError.
 */
import { SegwError } from '../errors.js';
import type {
  IpsecStats,
  KernelIpsec,
  KernelIpsecEvents,
  PolicyParams,
  SaCounters,
  SaParams,
  SaRef,
  TrafficSelector,
} from '../kernel/types.js';

/** Traffic base stations cannot be set up as asked; the message says what to change. */
export class TrafficError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_SIM_TRAFFIC', message, options);
  }
}

const refKey = (ref: SaRef): string => `${ref.dst}/${ref.spi >>> 0}`;

/**
 * The shared side: the data plane and who holds which of its SAs. One per simulator; each shard
 * gets its kernel from `shard()`.
 */
export class TrafficKernels {
  private readonly owners = new Map<string, SplitKernelIpsec>();

  /**
   * `data`: the real data plane; `carries(ts)`: whether a local selector is a traffic base
   * station's subnet; `shards`: how many shards share it (for unique reqids).
   */
  constructor(
    readonly data: KernelIpsec,
    private readonly carries: (ts: TrafficSelector) => boolean,
    private readonly shards: number,
  ) {
    if (!(Number.isInteger(shards) && shards >= 1)) throw new RangeError(`shards must be >= 1 (got ${shards})`);
    data.setEventHandler({
      onExpire: (ref, kind, reason) => this.owners.get(refKey(ref))?.handler?.onExpire(ref, kind, reason),
      onMapping: (ref, remote) => this.owners.get(refKey(ref))?.handler?.onMapping?.(ref, remote),
    });
  }

  /** Shard s's kernel: traffic SAs to the data plane, the rest to `fallback`. */
  shard(s: number, fallback: KernelIpsec): SplitKernelIpsec {
    if (!(s >= 0 && s < this.shards)) throw new RangeError(`shard ${s} outside 0..${this.shards - 1}`);
    return new SplitKernelIpsec(this, s, fallback);
  }

  /** SAs in the data plane now (all shards). */
  get sas(): number {
    return this.owners.size;
  }

  /** @internal for SplitKernelIpsec */
  isTraffic(local: readonly TrafficSelector[]): boolean {
    return local.some((t) => this.carries(t));
  }

  /** @internal the data plane's reqid for a shard's reqid */
  reqid(shard: number, reqid: number): number {
    return reqid * this.shards + shard;
  }

  /** @internal */
  own(ref: SaRef, k: SplitKernelIpsec | undefined): void {
    if (k) this.owners.set(refKey(ref), k);
    else this.owners.delete(refKey(ref));
  }

  /** @internal */
  holds(ref: SaRef, k: SplitKernelIpsec): boolean {
    return this.owners.get(refKey(ref)) === k;
  }
}

export class SplitKernelIpsec implements KernelIpsec {
  readonly name: KernelIpsec['name'];
  /** @internal read by TrafficKernels to route expiries */
  handler: KernelIpsecEvents | undefined;

  constructor(
    private readonly shared: TrafficKernels,
    private readonly shard: number,
    private readonly fallback: KernelIpsec,
  ) {
    this.name = shared.data.name;
  }

  setEventHandler(handler: KernelIpsecEvents): void {
    this.handler = handler;
    this.fallback.setEventHandler(handler);
  }

  allocateSpi(src: string, dst: string, protocol: 'esp'): Promise<number> {
    return this.fallback.allocateSpi(src, dst, protocol);
  }

  async addSa(sa: SaParams): Promise<void> {
    if (!this.shared.isTraffic(sa.localTs)) return this.fallback.addSa(sa);
    await this.shared.data.addSa(this.forData(sa));
    this.shared.own(sa, this);
  }

  async updateSa(sa: SaParams): Promise<void> {
    if (!this.shared.isTraffic(sa.localTs)) return this.fallback.updateSa(sa);
    // The SPI was reserved by the null kernel, not the data plane: there the SA is new.
    if (!this.shared.holds(sa, this)) return this.addSa(sa);
    await this.shared.data.updateSa(this.forData(sa));
  }

  async updateSaEncap(ref: SaRef, encap: { sport: number; dport: number }): Promise<void> {
    if (this.shared.holds(ref, this)) throw natError(ref.dst);
    await this.fallback.updateSaEncap?.(ref, encap);
  }

  async deleteSa(ref: SaRef): Promise<void> {
    if (!this.shared.holds(ref, this)) return this.fallback.deleteSa(ref);
    this.shared.own(ref, undefined);
    await this.shared.data.deleteSa(ref);
  }

  querySa(ref: SaRef): Promise<SaCounters> {
    return this.shared.holds(ref, this) ? this.shared.data.querySa(ref) : this.fallback.querySa(ref);
  }

  async stats(): Promise<IpsecStats> {
    return this.shared.data.stats?.() ?? { available: false, reason: `the ${this.shared.data.name} data plane cannot count drops` };
  }

  addPolicy(p: PolicyParams): Promise<void> {
    return this.isTrafficPolicy(p) ? this.shared.data.addPolicy(this.policyForData(p)) : this.fallback.addPolicy(p);
  }

  async updatePolicy(p: PolicyParams): Promise<void> {
    if (!this.isTrafficPolicy(p)) return this.fallback.updatePolicy?.(p);
    return this.shared.data.updatePolicy?.(this.policyForData(p));
  }

  deletePolicy(p: PolicyParams): Promise<void> {
    return this.isTrafficPolicy(p) ? this.shared.data.deletePolicy(this.policyForData(p)) : this.fallback.deletePolicy(p);
  }

  /** Closes the shard's own kernel; the shared data plane is closed by its owner. */
  close(): Promise<void> {
    return this.fallback.close();
  }

  private forData(sa: SaParams): SaParams {
    if (sa.encap) throw natError(sa.direction === 'out' ? sa.dst : sa.src);
    return { ...sa, reqid: this.shared.reqid(this.shard, sa.reqid) };
  }

  private isTrafficPolicy(p: PolicyParams): boolean {
    return this.shared.isTraffic([p.direction === 'out' ? p.src : p.dst]);
  }

  private policyForData(p: PolicyParams): PolicyParams {
    return { ...p, reqid: this.shared.reqid(this.shard, p.reqid) };
  }
}

function natError(peer: string): TrafficError {
  return new TrafficError(
    `a NAT lies between the simulator and the gateway ${peer} (ESP-in-UDP negotiated): traffic base stations send plain ESP only; ` +
      'run the simulator where it reaches the gateways without a NAT, or set traffic.count: 0',
  );
}
