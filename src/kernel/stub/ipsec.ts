/**
 * In-memory KernelIpsec for tests and benchmarks: keeps SAs and policies in maps, allocates
 * SPIs, and lets a test inject failures (`failNext`, `failWhen`), inspect state (`sas`,
 * `policies`, `ops`), set counters and raise expiry events (`expire`).
 */
import type {
  KernelIpsec,
  KernelIpsecEvents,
  PolicyParams,
  SaCounters,
  SaParams,
  SaRef,
  ExpireKind,
} from '../types.js';

export type StubIpsecOp = 'allocateSpi' | 'addSa' | 'updateSa' | 'deleteSa' | 'querySa' | 'addPolicy' | 'deletePolicy';

/** The error a failing stub operation rejects with (what a netlink EEXIST/ENOMEM would be). */
export class StubKernelError extends Error {
  readonly code = 'SEGW_KERNEL_STUB';
  constructor(readonly op: StubIpsecOp, message = `stub kernel: ${op} failed (injected)`) {
    super(message);
  }
}

export function saKey(ref: SaRef): string {
  return `${ref.dst}/${ref.spi >>> 0}/${ref.protocol}`;
}

export function policyKey(p: PolicyParams): string {
  const ts = (t: PolicyParams['src']) => `${t.startAddr}-${t.endAddr}:${t.protocol}:${t.startPort}-${t.endPort}`;
  return `${p.direction}|${ts(p.src)}|${ts(p.dst)}|${p.mark?.value ?? 0}`;
}

const EMPTY = Buffer.alloc(0);

export class StubKernelIpsec implements KernelIpsec {
  readonly name = 'stub' as const;
  readonly sas = new Map<string, SaParams>();
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

  /**
   * recordOps: keep the `ops` log (tests). lean: keep no key material or selectors per SA, as a
   * real kernel keeps nothing in the JS heap (the gateway's `kernel.ipsec: stub` and benchmarks).
   */
  constructor(opts: { firstSpi?: number; recordOps?: boolean; lean?: boolean } = {}) {
    this.nextSpi = opts.firstSpi ?? 0xc0000001;
    this.record = opts.recordOps ?? true;
    this.lean = opts.lean ?? false;
  }
  private readonly record: boolean;
  private readonly lean: boolean;

  /** What is kept of an SA: all of it, or (lean) its identity without keys and selectors. */
  private keep(sa: SaParams): SaParams {
    if (!this.lean) return sa;
    return { ...sa, encryptionKey: EMPTY, integrityKey: undefined, localTs: [], remoteTs: [] };
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

  setCounters(ref: SaRef, c: Partial<SaCounters>): void {
    const k = saKey(ref);
    this.counters.set(k, { ...zeroCounters(), ...this.counters.get(k), ...c });
  }

  private check(op: StubIpsecOp, key: string, arg: unknown): void {
    if (this.closed) throw new StubKernelError(op, 'stub kernel: closed');
    if (this.record) this.ops.push({ op, key });
    const f = this.failures.find((x) => x.op === op && x.count > 0);
    if (f) {
      f.count--;
      throw new StubKernelError(op);
    }
    const err = this.failWhen?.(op, arg);
    if (err) throw err;
  }

  async allocateSpi(src: string, dst: string, protocol: 'esp'): Promise<number> {
    this.check('allocateSpi', dst, { src, dst });
    for (;;) {
      const spi = this.nextSpi >>> 0;
      this.nextSpi = ((this.nextSpi + 1) >>> 0) || 0x100;
      const k = saKey({ dst, spi, protocol });
      if (!this.sas.has(k) && !this.larval.has(k)) {
        this.larval.set(k, { src, dst });
        return spi;
      }
    }
  }

  async addSa(sa: SaParams): Promise<void> {
    const k = saKey(sa);
    this.check('addSa', k, sa);
    if (this.sas.has(k)) throw new StubKernelError('addSa', `stub kernel: SA ${k} exists (EEXIST)`);
    this.larval.delete(k);
    this.sas.set(k, this.keep(sa));
  }

  async updateSa(sa: SaParams): Promise<void> {
    const k = saKey(sa);
    this.check('updateSa', k, sa);
    if (!this.sas.has(k) && !this.larval.has(k)) {
      throw new StubKernelError('updateSa', `stub kernel: SA ${k} not found (ESRCH)`);
    }
    this.larval.delete(k);
    this.sas.set(k, this.keep(sa));
  }

  async deleteSa(ref: SaRef): Promise<void> {
    const k = saKey(ref);
    this.check('deleteSa', k, ref);
    const had = this.sas.delete(k) || this.larval.delete(k);
    this.counters.delete(k);
    if (!had) throw new StubKernelError('deleteSa', `stub kernel: SA ${k} not found (ESRCH)`);
  }

  async querySa(ref: SaRef): Promise<SaCounters> {
    const k = saKey(ref);
    this.check('querySa', k, ref);
    if (!this.sas.has(k)) throw new StubKernelError('querySa', `stub kernel: SA ${k} not found (ESRCH)`);
    return { ...zeroCounters(), ...this.counters.get(k) };
  }

  async addPolicy(policy: PolicyParams): Promise<void> {
    const k = policyKey(policy);
    this.check('addPolicy', k, policy);
    if (this.policies.has(k)) throw new StubKernelError('addPolicy', `stub kernel: policy ${k} exists (EEXIST)`);
    this.policies.set(k, policy);
  }

  async deletePolicy(policy: PolicyParams): Promise<void> {
    const k = policyKey(policy);
    this.check('deletePolicy', k, policy);
    if (!this.policies.delete(k)) throw new StubKernelError('deletePolicy', `stub kernel: policy ${k} not found (ENOENT)`);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Installed SAs with this reqid (tests). */
  sasWithReqid(reqid: number): SaParams[] {
    return [...this.sas.values()].filter((s) => s.reqid === reqid);
  }
}

function zeroCounters(): SaCounters {
  return { packets: 0n, bytes: 0n, replayDrops: 0n, integrityFailures: 0n, lastUsedMs: 0 };
}
