/**
 * One scheduler for every IKE timer (retransmission, rekey, expiry, DPD, half-open timeout):
 * a binary min-heap of small entries driven by a single host timer, instead of a setTimeout per
 * SA. An entry names its target object and a numeric `kind`; firing calls
 * `target.onTimer(kind)`, so no closure is allocated per SA or per timer.
 *
 * The clock is injectable: tests use `ManualClock` and call `advance(ms)`, which fires due
 * timers in deadline order, synchronously.
 */

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

/** A clock that only moves when a test says so. */
export class ManualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
}

export interface TimerTarget {
  onTimer(kind: number): void;
}

/** One scheduled timer; `index` is its heap position, -1 once fired or cancelled. */
export class TimerEntry {
  constructor(
    public at: number,
    public seq: number,
    public target: TimerTarget,
    public kind: number,
    public index: number,
  ) {}
  get pending(): boolean {
    return this.index >= 0;
  }
}

export class Scheduler {
  private readonly heap: TimerEntry[] = [];
  private seq = 0;
  private hostTimer: NodeJS.Timeout | undefined;
  private hostAt = Infinity;
  private running = true;
  /** Errors thrown by targets (bugs) are reported here instead of killing the loop. */
  onError: (err: unknown) => void = (err) => {
    queueMicrotask(() => {
      throw err;
    });
  };

  /** `manual`: no host timer; the owner calls `advance`/`runDue`. */
  constructor(
    readonly clock: Clock = systemClock,
    private readonly manual = clock instanceof ManualClock,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  now(): number {
    return this.clock.now();
  }

  /** Fires `target.onTimer(kind)` after `delayMs`. */
  schedule(delayMs: number, target: TimerTarget, kind: number): TimerEntry {
    const e = new TimerEntry(this.clock.now() + Math.max(0, delayMs), this.seq++, target, kind, this.heap.length);
    this.heap.push(e);
    this.up(e.index);
    this.arm();
    return e;
  }

  /** Cancels a pending entry; harmless on undefined, fired or cancelled entries. */
  cancel(e: TimerEntry | undefined): undefined {
    if (!e || e.index < 0) return undefined;
    const i = e.index;
    const last = this.heap.pop()!;
    if (last !== e) {
      this.heap[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    e.index = -1;
    return undefined;
  }

  /** Re-arms: cancel + schedule, reusing nothing (entries are tiny). */
  reschedule(e: TimerEntry | undefined, delayMs: number, target: TimerTarget, kind: number): TimerEntry {
    this.cancel(e);
    return this.schedule(delayMs, target, kind);
  }

  /** Fires every entry due at the clock's current time. */
  runDue(): number {
    let fired = 0;
    const now = this.clock.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const e = this.heap[0]!;
      this.cancel(e);
      fired++;
      try {
        e.target.onTimer(e.kind);
      } catch (err) {
        this.onError(err);
      }
    }
    this.arm();
    return fired;
  }

  /** Manual clocks: moves time forward by `ms`, firing due timers in order on the way. */
  advance(ms: number): number {
    if (!(this.clock instanceof ManualClock)) throw new Error('advance() needs a ManualClock');
    const end = this.clock.now() + ms;
    let fired = 0;
    while (this.heap.length > 0 && this.heap[0]!.at <= end) {
      this.clock.set(Math.max(this.clock.now(), this.heap[0]!.at));
      fired += this.runDue();
    }
    this.clock.set(end);
    return fired;
  }

  /** Deadline of the earliest timer, or Infinity. */
  nextDeadline(): number {
    return this.heap.length ? this.heap[0]!.at : Infinity;
  }

  stop(): void {
    this.running = false;
    if (this.hostTimer) clearTimeout(this.hostTimer);
    this.hostTimer = undefined;
    this.hostAt = Infinity;
  }

  private arm(): void {
    if (this.manual || !this.running) return;
    const next = this.nextDeadline();
    if (next === this.hostAt) return;
    if (this.hostTimer) clearTimeout(this.hostTimer);
    this.hostTimer = undefined;
    this.hostAt = next;
    if (next === Infinity) return;
    const delay = Math.max(0, Math.min(next - this.clock.now(), 2 ** 31 - 1));
    this.hostTimer = setTimeout(() => {
      this.hostTimer = undefined;
      this.hostAt = Infinity;
      this.runDue();
    }, Math.ceil(delay));
    this.hostTimer.unref();
  }

  private less(a: TimerEntry, b: TimerEntry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    a.index = j;
    b.index = i;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(this.heap[i]!, this.heap[p]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(this.heap[l]!, this.heap[m]!)) m = l;
      if (r < n && this.less(this.heap[r]!, this.heap[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
