/**
 * Prometheus metrics collected at scrape time from snapshots: every source is one small adapter
 * that turns a snapshot object (what a subsystem's status() or stats() returns) into samples of
 * the metric families it declares. Nothing is counted per packet in JavaScript: the data plane,
 * VRRP, the balancer and the cluster keep their own counters, and a scrape reads them once.
 *
 *   GET /metrics ──> MetricsRegistry.render()
 *                      for each source: snapshot = read() ──adapter.samples──> gauges / counters
 *                      then prom-client renders the text exposition format (with the IKE
 *                      histogram, the one metric observed as events happen: one per IKE SA setup)
 *
 * A source that throws is left out of that scrape (its families show no samples) and counted in
 * segw_metrics_source_errors_total{source}; the scrape itself still answers.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { SegwError } from '../errors.js';

export type LabelValues = Record<string, string | number>;

export interface Sample {
  labels?: LabelValues;
  value: number;
}

/** A metric family an adapter declares: name, help, type, label names. */
export interface Family {
  readonly name: string;
  readonly help: string;
  /** `counter`: a value that only grows while the process runs (read from the source's own count). */
  readonly type: 'gauge' | 'counter';
  readonly labels: readonly string[];
}

/** Turns one snapshot into samples, by family name. Pure: no I/O, no state. */
export interface SourceAdapter<S> {
  /** The source's name (segw_metrics_source_errors_total{source}); one source per name. */
  readonly name: string;
  readonly families: readonly Family[];
  samples(snapshot: S): Record<string, Sample[]>;
}

export class MetricsError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_METRICS', message, options);
  }
}

interface Source {
  adapter: SourceAdapter<unknown>;
  read: () => unknown;
  metrics: Map<string, Gauge | Counter>;
}

export class MetricsRegistry {
  readonly registry = new Registry();
  private readonly sources = new Map<string, Source>();
  private readonly sourceErrors: Counter;

  constructor(opts: { onSourceError?: (source: string, err: unknown) => void } = {}) {
    this.onSourceError = opts.onSourceError;
    this.sourceErrors = new Counter({
      name: 'segw_metrics_source_errors_total',
      help: 'Scrapes in which reading a metrics source failed (its metrics were left out of that scrape)',
      labelNames: ['source'],
      registers: [this.registry],
    });
  }

  private readonly onSourceError: ((source: string, err: unknown) => void) | undefined;

  /**
   * Adds a source: `read` returns the subsystem's current snapshot (undefined: nothing to show
   * now), `adapter` turns it into samples. The integration point for every subsystem, e.g.
   * `metrics.addSource(vrrpAdapter, () => instances.map((i) => i.status()))`.
   */
  addSource<S>(adapter: SourceAdapter<S>, read: () => S | undefined): void {
    if (this.sources.has(adapter.name)) throw new MetricsError(`metrics source ${adapter.name} added twice`);
    const metrics = new Map<string, Gauge | Counter>();
    for (const f of adapter.families) {
      const cfg = { name: f.name, help: f.help, labelNames: [...f.labels], registers: [this.registry] };
      metrics.set(f.name, f.type === 'gauge' ? new Gauge(cfg) : new Counter(cfg));
    }
    this.sources.set(adapter.name, { adapter: adapter as SourceAdapter<unknown>, read, metrics });
    this.sourceErrors.inc({ source: adapter.name }, 0);
  }

  /** Registers a metric a caller updates itself (the IKE setup histogram). */
  register(metric: Metric): void {
    this.registry.registerMetric(metric);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Reads every source once and renders the exposition text. */
  async render(): Promise<string> {
    for (const src of this.sources.values()) this.refresh(src);
    return this.registry.metrics();
  }

  private refresh(src: Source): void {
    for (const m of src.metrics.values()) m.reset();
    let samples: Record<string, Sample[]>;
    try {
      const snap = src.read();
      if (snap === undefined) return;
      samples = src.adapter.samples(snap);
    } catch (err) {
      this.sourceErrors.inc({ source: src.adapter.name });
      this.onSourceError?.(src.adapter.name, err);
      return;
    }
    for (const [name, list] of Object.entries(samples)) {
      const m = src.metrics.get(name);
      if (!m) throw new MetricsError(`metrics source ${src.adapter.name} produced ${name}, which it does not declare`);
      for (const s of list) {
        if (m instanceof Gauge) m.set(s.labels ?? {}, s.value);
        else m.inc(s.labels ?? {}, Math.max(0, s.value));
      }
    }
  }
}
