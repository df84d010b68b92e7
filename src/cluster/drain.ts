/**
 * Draining a member (`segw ctl --node gw2 drain`): it announces DRAINING in its load reports (so
 * no master sends it new base stations), refuses to keep new peers itself (the balancer sends
 * them on), and moves its established IKE SAs to the other members with an INFORMATIONAL
 * N(REDIRECT) (RFC 5685 §5), paced at `ratePerSec`, until none is left. The client follows to
 * the new member and deletes its SA here. `undrain` stops the pacing and takes peers again.
 *
 *   every 1/rate s:  next established SA of a peer that announced REDIRECT_SUPPORTED, not yet
 *                    asked (or asked more than retryMs ago, at most MAX_ATTEMPTS times)
 *                    ─> balancer.chooseElsewhere() ─> daemon.redirect(sa, member) ─> outcome
 *   nobody below its ceiling: wait (counted as `blocked`), try again next tick
 *   nothing left to ask and no SA left: state `drained`
 *
 * Peers that did not announce REDIRECT_SUPPORTED cannot be moved (counted as `unmovable`); they
 * stay until they leave or the member is stopped.
 */
import { gatewayIdFromString } from '../ike/redirect/notify.js';
import type { Started } from '../ike/outcome.js';
import type { IkeSa } from '../ike/sa/ike-sa.js';
import { IkeFlag } from '../ike/sa/state.js';
import type { Logger } from '../log/index.js';
import type { Balancer } from './balancer.js';

/** Asking one SA again when its peer has not moved after retryMs, at most this often. */
const MAX_ATTEMPTS = 3;

export interface DrainTarget {
  readonly manager: { ikeSaList(): IkeSa[] };
  redirect(sa: IkeSa, to: ReturnType<typeof gatewayIdFromString>): Promise<Started<void>>;
}

export interface DrainSettings {
  /** Redirects per second. */
  ratePerSec: number;
  /** Ask an SA again when its peer has not moved after this long (ms). */
  retryMs: number;
}

export type DrainState = 'idle' | 'draining' | 'drained';

export interface DrainStatus {
  state: DrainState;
  ratePerSec: number;
  /** Established IKE SAs still here. */
  remaining: number;
  /** Of those, peers that cannot be redirected (no REDIRECT_SUPPORTED). */
  unmovable: number;
  /** Redirects the peer acknowledged, and the ones that failed (no answer, refused). */
  redirected: number;
  failed: number;
  /** Ticks with no member below its ceiling to move a peer to. */
  blocked: number;
}

export class Drainer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly asked = new Map<IkeSa, { at: number; attempts: number }>();
  private readonly stats = { redirected: 0, failed: 0, blocked: 0 };
  private settings: DrainSettings;

  constructor(
    private readonly daemon: DrainTarget,
    private readonly balancer: Balancer,
    private readonly setDraining: (on: boolean) => void,
    settings: DrainSettings,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.settings = settings;
  }

  /** Starts (or re-paces) the drain; the SAs move in the background. */
  drain(ratePerSec?: number): DrainStatus {
    if (ratePerSec !== undefined) this.settings = { ...this.settings, ratePerSec };
    this.balancer.draining = true;
    this.setDraining(true);
    if (!this.running) {
      this.running = true;
      this.asked.clear();
      Object.assign(this.stats, { redirected: 0, failed: 0, blocked: 0 });
      this.log.info({ ratePerSec: this.settings.ratePerSec, tunnels: this.established().length }, 'drain started: moving IKE SAs to the other members');
      this.schedule();
    }
    return this.status();
  }

  undrain(): DrainStatus {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.balancer.draining = false;
    this.setDraining(false);
    this.log.info('undrained: taking new base stations again');
    return this.status();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  status(): DrainStatus {
    const live = this.established();
    const remaining = live.length;
    const unmovable = live.filter((sa) => !sa.has(IkeFlag.PEER_REDIRECT)).length;
    const state: DrainState = !this.balancer.draining ? 'idle' : remaining - unmovable === 0 ? 'drained' : 'draining';
    return { state, ratePerSec: this.settings.ratePerSec, remaining, unmovable, ...this.stats };
  }

  private established(): IkeSa[] {
    return this.daemon.manager.ikeSaList().filter((sa) => sa.established && !sa.isDead && !sa.initiator);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.step();
      this.schedule();
    }, 1000 / this.settings.ratePerSec);
    this.timer.unref();
  }

  /** One paced redirect (off the timer). */
  private step(): void {
    const now = this.now();
    for (const sa of this.asked.keys()) if (sa.isDead) this.asked.delete(sa);
    const sa = this.established().find((s) => {
      if (!s.has(IkeFlag.PEER_REDIRECT)) return false;
      const a = this.asked.get(s);
      return !a || (a.attempts < MAX_ATTEMPTS && now - a.at > this.settings.retryMs);
    });
    if (!sa) return;
    const c = this.balancer.chooseElsewhere();
    if (!c?.ok) {
      this.stats.blocked++;
      return;
    }
    const a = this.asked.get(sa);
    this.asked.set(sa, { at: now, attempts: (a?.attempts ?? 0) + 1 });
    this.balancer.granted(c.member, 'drain');
    void this.daemon
      .redirect(sa, gatewayIdFromString(c.member.address))
      .then((s) => s.outcome)
      .then((o) => {
        if (o.ok) this.stats.redirected++;
        else {
          this.stats.failed++;
          this.log.warn({ ike: sa.name, to: c.member.id, reason: o.reason }, 'drain: redirect failed');
        }
      });
  }
}
