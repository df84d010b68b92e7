/**
 * IKE metrics that happen as events (one per SA setup, failure, rekey or delete, never per
 * packet): the setup latency histogram and the outcome counters, fed by an IkeEventSink the
 * gateway hands the daemon. The SA tables themselves are read at scrape time (sources.ts).
 */
import { Counter, Histogram } from 'prom-client';
import type { IkeEventSink } from '../ike/sa/context.js';
import type { IkeSa } from '../ike/sa/ike-sa.js';
import { NotifyError, nameOf } from '../ike/constants.js';
import type { MetricsRegistry } from './registry.js';

/** Seconds from the first IKE_SA_INIT to IKE_AUTH complete: loopback ~ms, a WAN ~0.1-1 s, retransmits seconds. */
const SETUP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const role = (sa: IkeSa) => (sa.initiator ? 'initiator' : 'responder');

/**
 * Why an SA never came up, as a label from a closed set: the error notify (ours or the peer's,
 * RFC 7296 §3.10.1 names), or the local cause.
 */
export function failureReason(sa: IkeSa, reason: string): string {
  const notify = sa.refusedWith ?? sa.answeredWith;
  if (notify !== undefined) return nameOf(NotifyError, notify);
  if (reason === 'retransmit give-up') return 'no_response';
  if (reason === 'half-open timeout') return 'half_open_timeout';
  if (/redirect/i.test(reason)) return 'redirected';
  return 'other';
}

export class IkeMetrics {
  private readonly setup: Histogram<'role'>;
  private readonly ikeEvents: Counter<'event'>;
  private readonly childEvents: Counter<'event'>;
  private readonly failures: Counter<'role' | 'reason'>;

  constructor(reg: MetricsRegistry) {
    this.setup = new Histogram({
      name: 'segw_ike_sa_setup_seconds',
      help: 'Time from the first IKE_SA_INIT to the IKE SA established (IKE_AUTH complete), by our role',
      labelNames: ['role'],
      buckets: SETUP_BUCKETS,
      registers: [],
    });
    this.ikeEvents = new Counter({
      name: 'segw_ike_sa_events_total',
      help: 'IKE SA lifecycle events: established, deleted, rekeyed, redirected (initiator, RFC 5685)',
      labelNames: ['event'],
      registers: [],
    });
    this.childEvents = new Counter({ name: 'segw_child_sa_events_total', help: 'Child SA lifecycle events: established, deleted, rekeyed', labelNames: ['event'], registers: [] });
    this.failures = new Counter({
      name: 'segw_ike_sa_failures_total',
      help: 'IKE SAs that ended before they were established, by our role and reason (error notify name, or no_response, half_open_timeout, redirected, other)',
      labelNames: ['role', 'reason'],
      registers: [],
    });
    for (const m of [this.setup, this.ikeEvents, this.childEvents, this.failures]) reg.register(m);
    // Series exist from the start, so rate() and increase() see the first event.
    for (const r of ['initiator', 'responder']) this.setup.zero({ role: r });
    for (const e of ['established', 'deleted', 'rekeyed', 'redirected']) this.ikeEvents.inc({ event: e }, 0);
    for (const e of ['established', 'deleted', 'rekeyed']) this.childEvents.inc({ event: e }, 0);
  }

  /** The sink the gateway passes to its IkeDaemon (alongside route injection's). */
  readonly events: IkeEventSink = {
    ikeUp: (sa) => {
      this.ikeEvents.inc({ event: 'established' });
      this.setup.observe({ role: role(sa) }, Math.max(0, sa.establishedAt - sa.createdAt) / 1000);
    },
    ikeDown: () => this.ikeEvents.inc({ event: 'deleted' }),
    ikeRekeyed: () => this.ikeEvents.inc({ event: 'rekeyed' }),
    ikeFailed: (sa, reason) => this.failures.inc({ role: 'initiator', reason: failureReason(sa, reason) }),
    halfOpenFailed: (sa, reason) => this.failures.inc({ role: 'responder', reason: failureReason(sa, reason) }),
    redirected: () => this.ikeEvents.inc({ event: 'redirected' }),
    childUp: () => this.childEvents.inc({ event: 'established' }),
    childDown: () => this.childEvents.inc({ event: 'deleted' }),
    childRekeyed: () => this.childEvents.inc({ event: 'rekeyed' }),
  };
}
