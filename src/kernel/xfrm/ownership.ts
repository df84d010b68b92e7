/**
 * Which XFRM state in a namespace is segw's: the kernel keeps SAs and policies after their
 * daemon dies (SIGKILL, crash), and XFRM has no owner field. segw's gateway therefore installs
 * its SAs and policies with reqids from its own range, REQID_BASE + the reqid the IKE side
 * allocated (1, 2, ...), and at start removes what carries a reqid of that range: the leftovers
 * of its previous run, and nothing of another daemon (charon counts its reqids up from 1,
 * libreswan from 16384, iproute2 users pick small numbers).
 */

/** Implementation constant (no RFC): "SG" in the top bits, well above other daemons' counters. */
export const SEGW_REQID_BASE = 0x53470000;
/** How many reqids the range holds (child SAs with distinct policies at once). */
export const SEGW_REQID_SPAN = 0x00100000;

export class ReqidMap {
  constructor(readonly base: number, readonly span = SEGW_REQID_SPAN) {}

  /** The kernel's reqid for the IKE side's `reqid` (0 stays 0: "any", used by larval SAs). */
  toKernel(reqid: number): number {
    if (reqid === 0 || this.base === 0) return reqid;
    if (reqid < 0 || reqid >= this.span) throw new RangeError(`reqid ${reqid} outside segw's range of ${this.span}`);
    return (this.base + reqid) >>> 0;
  }

  /** The kernel reqid belongs to segw's range (base itself excluded: never installed). */
  owns(kernelReqid: number): boolean {
    return this.base !== 0 && kernelReqid > this.base && kernelReqid < this.base + this.span;
  }
}
