/**
 * Deleting child SAs (RFC 7296 §1.4.1), both roles:
 *
 *   HDR, SK {D(ESP, SPI...)}  -->          (the SPIs we receive on)
 *                             <--  HDR, SK {D(ESP, SPI...)}   (the peer's inbound SPIs)
 *
 * Crossing deletes: a child we are already deleting is not listed in our response (§1.4.1).
 * A delete for a child we are rekeying is answered normally; the rekey, when it completes,
 * deletes the new child (§2.25.1).
 */
import { ExchangeType, PayloadType, ProtocolId } from '../constants.js';
import type { IkeMessage } from '../codec/types.js';
import { ChildState, type ChildSa } from '../sa/child-sa.js';
import type { IkeSa } from '../sa/ike-sa.js';
import { payloadsOf, readSpi32, spi32 } from '../sa/payloads.js';
import { Status, TaskType, type Task } from './task.js';

export class ChildDelete implements Task {
  readonly type = TaskType.CHILD_DELETE;
  readonly exchange = ExchangeType.INFORMATIONAL;
  private children: ChildSa[] = [];
  private answered: ChildSa[] = [];

  constructor(
    private readonly sa: IkeSa,
    readonly initiator: boolean,
    children: ChildSa[] = [],
    private readonly reason = 'deleted',
  ) {
    this.children = children;
  }

  /** The children this task deletes (collision checks). */
  get targets(): readonly ChildSa[] {
    return this.children;
  }

  async build(msg: IkeMessage): Promise<Status> {
    if (this.initiator) {
      const live = this.children.filter((c) => c.state !== ChildState.DELETED && this.sa.children.includes(c));
      this.children = live;
      if (live.length === 0) return Status.SUCCESS;
      for (const c of live) if (c.state !== ChildState.REKEYED) c.state = ChildState.DELETING;
      msg.payloads.push({ type: PayloadType.DELETE, protocol: ProtocolId.ESP, spis: live.map((c) => spi32(c.spiIn)) });
      return Status.NEED_MORE;
    }
    if (this.answered.length > 0) {
      msg.payloads.push({ type: PayloadType.DELETE, protocol: ProtocolId.ESP, spis: this.answered.map((c) => spi32(c.spiIn)) });
    }
    for (const c of this.children) await c.remove(this.reason);
    return Status.SUCCESS;
  }

  async process(msg: IkeMessage): Promise<Status> {
    if (this.initiator) {
      for (const c of this.children) await c.remove(this.reason);
      return Status.SUCCESS;
    }
    for (const d of payloadsOf(msg, PayloadType.DELETE)) {
      if (d.protocol !== ProtocolId.ESP && d.protocol !== ProtocolId.AH) continue;
      for (const raw of d.spis) {
        const spi = readSpi32(raw);
        const c = spi === undefined ? undefined : this.sa.findChild(spi, false);
        if (!c || this.children.includes(c)) continue;
        this.children.push(c);
        // Crossing deletes: ours is outstanding, so this child is not listed in the answer.
        if (c.state !== ChildState.DELETING) this.answered.push(c);
      }
    }
    return Status.NEED_MORE;
  }
}
