/**
 * The load generator's KernelIpsec: hands out unique inbound SPIs and accepts every SA and
 * policy without keeping it. The generator simulates base stations' control planes; their data
 * planes are not under test, and what they would cost must not be counted against the
 * responder (nor slow the generator down at 100k SAs). Counts what it was asked, for reports.
 */
import type { KernelIpsec, KernelIpsecEvents, PolicyParams, SaCounters, SaParams, SaRef } from '../kernel/types.js';

export class NullKernelIpsec implements KernelIpsec {
  readonly name = 'stub' as const;
  /** SAs and policies currently "installed" (counts only). */
  sas = 0;
  policies = 0;
  private nextSpi: number;

  /** `firstSpi`: start of this instance's SPI range (shards use disjoint ranges, for captures). */
  constructor(firstSpi = 0xc0000001) {
    this.nextSpi = firstSpi >>> 0;
  }

  setEventHandler(_handler: KernelIpsecEvents): void {
    // Nothing expires: the simulated data plane carries no traffic.
  }

  async allocateSpi(_src: string, _dst: string, _protocol: 'esp'): Promise<number> {
    const spi = this.nextSpi;
    // RFC 4303 §2.1: SPIs 1-255 are reserved; wrap past them.
    this.nextSpi = ((this.nextSpi + 1) >>> 0) || 0x100;
    return spi;
  }

  async addSa(_sa: SaParams): Promise<void> {
    this.sas++;
  }

  async updateSa(_sa: SaParams): Promise<void> {
    this.sas++;
  }

  async deleteSa(_ref: SaRef): Promise<void> {
    if (this.sas > 0) this.sas--;
  }

  async querySa(_ref: SaRef): Promise<SaCounters> {
    return { packets: 0n, bytes: 0n, replayDrops: 0n, integrityFailures: 0n, lastUsedMs: 0 };
  }

  async addPolicy(_policy: PolicyParams): Promise<void> {
    this.policies++;
  }

  async deletePolicy(_policy: PolicyParams): Promise<void> {
    if (this.policies > 0) this.policies--;
  }

  async close(): Promise<void> {}
}
