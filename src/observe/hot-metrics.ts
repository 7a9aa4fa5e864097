// Counters and histograms for the hot path: a labelled series is a handle bound once
// (plain numbers, no label hashing per event) and prom-client only formats them when
// /metrics is scraped, through its registry's custom-metric hook.

import type { Registry as PromRegistry } from 'prom-client';

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Sample[];
}

/** One labelled counter series. */
export class CounterSeries {
  value = 0;
  /** Adds n (default 1). */
  inc(n = 1): void {
    this.value += n;
  }
}

/** One labelled histogram series. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  // A typed array whatever the bounds were written as: every series reads them through one
  // kind of element (arrays of integers, of fractions or frozen ones would each be another).
  readonly #bounds: Float64Array;

  constructor(bounds: readonly number[]) {
    this.#bounds = Float64Array.from(bounds);
    this.counts = new Float64Array(bounds.length);
  }

  /** Records one observation. */
  observe(v: number): void {
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

abstract class HotMetric<S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  protected readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: Record<string, string>; s: S }>();

  constructor(registry: PromRegistry, name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    registry.registerMetric(this as never);
  }

  /** The series for these label values, created on first use; keep the handle. */
  labels(...values: string[]): S {
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    let entry = this.series.get(key);
    if (entry === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      entry = { labels, s: this.create() };
      this.series.set(key, entry);
    }
    return entry.s;
  }

  protected abstract create(): S;
  abstract get(): Promise<MetricData>;
  reset(): void {
    this.series.clear();
  }
}

/** A counter whose series are bound handles. */
export class HotCounter extends HotMetric<CounterSeries> {
  readonly type = 'counter' as const;

  protected create(): CounterSeries {
    return new CounterSeries();
  }

  async get(): Promise<MetricData> {
    const values: Sample[] = [];
    for (const { labels, s } of this.series.values()) values.push({ labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }
}

/** A histogram whose series are bound handles. */
export class HotHistogram extends HotMetric<HistogramSeries> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];

  constructor(registry: PromRegistry, name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(registry, name, help, labelNames);
    this.#bounds = Object.freeze([...buckets].sort((a, b) => a - b));
  }

  protected create(): HistogramSeries {
    return new HistogramSeries(this.#bounds);
  }

  async get(): Promise<MetricData> {
    const values: Sample[] = [];
    for (const { labels, s } of this.series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }
}
