/**
 * In-memory KernelIpsec for tests and benchmarks: keeps SAs and policies in maps, allocates
 * SPIs, and lets a test inject failures (`failNext`, `failWhen`), inspect state (`sas`,
 * `policies`, `ops`), set counters and raise expiry events (`expire`).
 *
 * Two modes. The default keeps every SA and policy as it was given (tests read them back).
 * `lean` (the gateway's `kernel.ipsec: stub`, benchmarks) keeps what a kernel needs to answer
 * like one (EEXIST, ESRCH, ENOENT) and nothing else in the JS heap: per SA its key and reqid,
 * per pair of selectors one key and a bit per policy direction. Keys are flat strings of the
 * identifying octets (about 9 for an IPv4 SA, 31 for an IPv4 selector pair): a key built by
 * concatenating text stays a tree of string pieces for as long as the map holds it.
 */
import { writeIp } from '../../net/ip.js';
import type {
  IpsecStats,
  KernelIpsec,
  KernelIpsecEvents,
  PolicyDirection,
  PolicyParams,
  SaCounters,
  SaParams,
  SaRef,
  ExpireKind,
  TrafficSelector,
} from '../types.js';

export type StubIpsecOp = 'allocateSpi' | 'addSa' | 'updateSa' | 'updateSaEncap' | 'deleteSa' | 'querySa' | 'addPolicy' | 'updatePolicy' | 'deletePolicy';

/** The error a failing stub operation rejects with (what a netlink EEXIST/ENOMEM would be). */
export class StubKernelError extends Error {
  readonly code = 'SEGW_KERNEL_STUB';
  constructor(readonly op: StubIpsecOp, message = `stub kernel: ${op} failed (injected)`) {
    super(message);
  }
}

/** Readable SA identity (the ops log, error messages). */
export function saKey(ref: SaRef): string {
  return `${ref.dst}/${ref.spi >>> 0}/${ref.protocol}`;
}

/** Readable policy identity (the ops log, error messages). */
export function policyKey(p: PolicyParams): string {
  const ts = (t: PolicyParams['src']) => `${t.startAddr}-${t.endAddr}:${t.protocol}:${t.startPort}-${t.endPort}`;
  return `${p.direction}|${ts(p.src)}|${ts(p.dst)}|${p.mark?.value ?? 0}`;
}

/** IP protocol numbers of the SA protocols (the key's last octet). */
const PROTOCOL_NUMBER: Record<SaRef['protocol'], number> = { esp: 50 };
/** A policy direction as a bit of the lean policy table's value. */
const DIRECTION_BIT: Record<PolicyDirection, number> = { in: 1, out: 2, fwd: 4 };

/** Scratch for building keys: two IPv6 selectors and a mark fit (2 x 38 + 4). */
const scratch = Buffer.alloc(96);

/** The map key of an SA: destination octets, SPI, protocol number, as a flat one-byte string. */
function saMapKey(dst: string, spi: number, protocol: SaRef['protocol']): string {
  let n = writeIp(dst, scratch, 0);
  n = scratch.writeUInt32BE(spi >>> 0, n);
  scratch[n++] = PROTOCOL_NUMBER[protocol];
  return scratch.toString('latin1', 0, n);
}

function writeTs(t: TrafficSelector, at: number): number {
  let n = at + writeIp(t.startAddr, scratch, at);
  n += writeIp(t.endAddr, scratch, n);
  scratch[n++] = t.protocol;
  n = scratch.writeUInt16BE(t.startPort, n);
  return scratch.writeUInt16BE(t.endPort, n);
}

/** The map key of a policy: direction (unless `anyDirection`), both selectors, the mark value. */
function policyMapKey(p: PolicyParams, anyDirection: boolean): string {
  let n = 0;
  if (!anyDirection) scratch[n++] = DIRECTION_BIT[p.direction];
  n = writeTs(p.src, n);
  n = writeTs(p.dst, n);
  n = scratch.writeUInt32BE((p.mark?.value ?? 0) >>> 0, n);
  return scratch.toString('latin1', 0, n);
}

export class StubKernelIpsec implements KernelIpsec {
  readonly name = 'stub' as const;
  /** Installed SAs as given (default mode; empty in lean mode, see saCount). */
  readonly sas = new Map<string, SaParams>();
  /** Installed policies as given (default mode; empty in lean mode, see policyCount). */
  readonly policies = new Map<string, PolicyParams>();
  /** Allocated inbound SPIs not yet filled by updateSa/addSa. */
  readonly larval = new Map<string, { src: string; dst: string }>();
  readonly counters = new Map<string, SaCounters>();
  /** Every call, in order, for tests that check what was asked. */
  readonly ops: { op: StubIpsecOp; key: string }[] = [];
  private handler: KernelIpsecEvents | undefined;
  private readonly failures: { op: StubIpsecOp; count: number }[] = [];
  /** Called before each operation; return an Error to make it fail. */
  failWhen: ((op: StubIpsecOp, arg: unknown) => Error | undefined) | undefined;
  private nextSpi: number;
  private closed = false;
  private readonly record: boolean;
  private readonly lean: boolean;
  /** Lean mode: SA key -> reqid. */
  private readonly leanSas = new Map<string, number>();
  /** Lean mode: selector-pair key -> DIRECTION_BIT of each installed policy. */
  private readonly leanPolicies = new Map<string, number>();
  private leanPolicyCount = 0;

  /**
   * recordOps: keep the `ops` log (tests). lean: keep no key material, selectors or parameters
   * per SA, as a real kernel keeps nothing in the JS heap (the gateway's `kernel.ipsec: stub`
   * and benchmarks).
   */
  constructor(opts: { firstSpi?: number; recordOps?: boolean; lean?: boolean } = {}) {
    this.nextSpi = opts.firstSpi ?? 0xc0000001;
    this.record = opts.recordOps ?? true;
    this.lean = opts.lean ?? false;
  }

  /** Installed SAs (either mode). */
  get saCount(): number {
    return this.lean ? this.leanSas.size : this.sas.size;
  }

  /** Installed policies (either mode). */
  get policyCount(): number {
    return this.lean ? this.leanPolicyCount : this.policies.size;
  }

  /** The next `count` calls of `op` fail. */
  failNext(op: StubIpsecOp, count = 1): void {
    this.failures.push({ op, count });
  }

  setEventHandler(handler: KernelIpsecEvents): void {
    this.handler = handler;
  }

  /** Raises an expiry event for an installed SA, as a data plane would. */
  expire(ref: SaRef, kind: ExpireKind, reason: 'bytes' | 'packets' | 'sequence' = 'bytes'): void {
    this.handler?.onExpire(ref, kind, reason);
  }

  /** Reports ESP of an installed inbound SA from a new peer endpoint, as a data plane would. */
  mapping(ref: SaRef, remote: { address: string; port: number }): void {
    this.handler?.onMapping?.(ref, remote);
  }

  /** Drops by reason as the SAs' counters (setCounters) add up; SAs deleted since are not counted. */
  async stats(): Promise<IpsecStats> {
    let replay = 0, integrity = 0, other = 0;
    for (const c of this.counters.values()) {
      replay += Number(c.replayDrops);
      integrity += Number(c.integrityFailures);
      other += Number(c.otherDrops ?? 0n);
    }
    return { available: true, drops: { in: { replay, integrity, other }, out: {} } };
  }

  setCounters(ref: SaRef, c: Partial<SaCounters>): void {
    const k = saMapKey(ref.dst, ref.spi, ref.protocol);
    this.counters.set(k, { ...zeroCounters(), ...this.counters.get(k), ...c });
  }

  private check(op: StubIpsecOp, describe: () => string, arg: unknown): void {
    if (this.closed) throw new StubKernelError(op, 'stub kernel: closed');
    if (this.record) this.ops.push({ op, key: describe() });
    if (this.failures.length > 0) {
      const f = this.failures.find((x) => x.op === op && x.count > 0);
      if (f) {
        f.count--;
        throw new StubKernelError(op);
      }
    }
    const err = this.failWhen?.(op, arg);
    if (err) throw err;
  }

  private hasSa(k: string): boolean {
    return this.lean ? this.leanSas.has(k) : this.sas.has(k);
  }

  private putSa(k: string, sa: SaParams): void {
    if (this.lean) this.leanSas.set(k, sa.reqid);
    else this.sas.set(k, sa);
  }

  async allocateSpi(src: string, dst: string, protocol: 'esp'): Promise<number> {
    this.check('allocateSpi', () => dst, { src, dst });
    for (;;) {
      const spi = this.nextSpi >>> 0;
      this.nextSpi = ((this.nextSpi + 1) >>> 0) || 0x100;
      const k = saMapKey(dst, spi, protocol);
      if (!this.hasSa(k) && !this.larval.has(k)) {
        this.larval.set(k, { src, dst });
        return spi;
      }
    }
  }

  async addSa(sa: SaParams): Promise<void> {
    const k = saMapKey(sa.dst, sa.spi, sa.protocol);
    this.check('addSa', () => saKey(sa), sa);
    if (this.hasSa(k)) throw new StubKernelError('addSa', `stub kernel: SA ${saKey(sa)} exists (EEXIST)`);
    this.larval.delete(k);
    this.putSa(k, sa);
  }

  async updateSa(sa: SaParams): Promise<void> {
    const k = saMapKey(sa.dst, sa.spi, sa.protocol);
    this.check('updateSa', () => saKey(sa), sa);
    if (!this.hasSa(k) && !this.larval.has(k)) {
      throw new StubKernelError('updateSa', `stub kernel: SA ${saKey(sa)} not found (ESRCH)`);
    }
    this.larval.delete(k);
    this.putSa(k, sa);
  }

  async updateSaEncap(ref: SaRef, encap: { sport: number; dport: number }): Promise<void> {
    const k = saMapKey(ref.dst, ref.spi, ref.protocol);
    this.check('updateSaEncap', () => saKey(ref), { ref, encap });
    if (!this.hasSa(k)) throw new StubKernelError('updateSaEncap', `stub kernel: SA ${saKey(ref)} not found (ESRCH)`);
    const sa = this.sas.get(k);
    if (sa) this.sas.set(k, { ...sa, encap: { ...encap } });
  }

  async deleteSa(ref: SaRef): Promise<void> {
    const k = saMapKey(ref.dst, ref.spi, ref.protocol);
    this.check('deleteSa', () => saKey(ref), ref);
    const had = (this.lean ? this.leanSas.delete(k) : this.sas.delete(k)) || this.larval.delete(k);
    this.counters.delete(k);
    if (!had) throw new StubKernelError('deleteSa', `stub kernel: SA ${saKey(ref)} not found (ESRCH)`);
  }

  async querySa(ref: SaRef): Promise<SaCounters> {
    const k = saMapKey(ref.dst, ref.spi, ref.protocol);
    this.check('querySa', () => saKey(ref), ref);
    if (!this.hasSa(k)) throw new StubKernelError('querySa', `stub kernel: SA ${saKey(ref)} not found (ESRCH)`);
    return { ...zeroCounters(), ...this.counters.get(k) };
  }

  async addPolicy(policy: PolicyParams): Promise<void> {
    this.check('addPolicy', () => policyKey(policy), policy);
    const exists = () => new StubKernelError('addPolicy', `stub kernel: policy ${policyKey(policy)} exists (EEXIST)`);
    if (this.lean) {
      const k = policyMapKey(policy, true);
      const bit = DIRECTION_BIT[policy.direction];
      const dirs = this.leanPolicies.get(k) ?? 0;
      if (dirs & bit) throw exists();
      this.leanPolicies.set(k, dirs | bit);
      this.leanPolicyCount++;
      return;
    }
    const k = policyMapKey(policy, false);
    if (this.policies.has(k)) throw exists();
    this.policies.set(k, policy);
  }

  async updatePolicy(policy: PolicyParams): Promise<void> {
    this.check('updatePolicy', () => policyKey(policy), policy);
    if (this.lean) return;
    const k = policyMapKey(policy, false);
    if (!this.policies.has(k)) throw new StubKernelError('updatePolicy', `stub kernel: policy ${policyKey(policy)} not found (ENOENT)`);
    this.policies.set(k, policy);
  }

  async deletePolicy(policy: PolicyParams): Promise<void> {
    this.check('deletePolicy', () => policyKey(policy), policy);
    const missing = () => new StubKernelError('deletePolicy', `stub kernel: policy ${policyKey(policy)} not found (ENOENT)`);
    if (this.lean) {
      const k = policyMapKey(policy, true);
      const bit = DIRECTION_BIT[policy.direction];
      const dirs = this.leanPolicies.get(k) ?? 0;
      if (!(dirs & bit)) throw missing();
      if (dirs === bit) this.leanPolicies.delete(k);
      else this.leanPolicies.set(k, dirs & ~bit);
      this.leanPolicyCount--;
      return;
    }
    if (!this.policies.delete(policyMapKey(policy, false))) throw missing();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Installed SAs with this reqid (default mode; tests). */
  sasWithReqid(reqid: number): SaParams[] {
    return [...this.sas.values()].filter((s) => s.reqid === reqid);
  }
}

function zeroCounters(): SaCounters {
  return { packets: 0n, bytes: 0n, replayDrops: 0n, integrityFailures: 0n, lastUsedMs: 0 };
}
