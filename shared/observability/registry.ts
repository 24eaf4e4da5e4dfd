import type { MetricFamily } from "./prometheus";

// Counters and histograms with labels, kept as deltas: each isolate counts into its own
// buffer and hands the buffer's contents to one store, which adds them to its totals. The
// same merge adds a delta to the totals and two deltas together, so a flush that failed is
// put back into the buffer without losing or doubling anything. No clock in here: the
// caller says when it is.

export type Labels = Readonly<Record<string, string>>;

export interface CounterSpec {
  readonly kind: "counter";
  readonly name: string;
  readonly help: string;
}

export interface HistogramSpec {
  readonly kind: "histogram";
  readonly name: string;
  readonly help: string;
  /** Upper bounds, ascending; the +Inf bucket is implied. */
  readonly buckets: readonly number[];
}

export interface CounterSeries {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface HistogramSeries {
  name: string;
  labels: Record<string, string>;
  bounds: number[];
  /** Observations per bucket, NOT cumulative; one more than `bounds` (the last is +Inf). */
  counts: number[];
  sum: number;
  count: number;
}

export interface MetricsDelta {
  counters: CounterSeries[];
  histograms: HistogramSeries[];
}

/** One key per series, whatever order its labels were given in. */
export function seriesKey(name: string, labels: Labels): string {
  return `${name}${JSON.stringify(canonicalLabels(labels))}`;
}

/** Labels as sorted pairs: how the store keys a series. */
export function canonicalLabels(labels: Labels): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const sameBounds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The index of the bucket `value` falls in (the first bound it does not exceed; +Inf last). */
export function bucketOf(bounds: readonly number[], value: number): number {
  for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) return i;
  return bounds.length;
}

/**
 * Adds `more` to `into` (in place). A histogram whose bounds changed (a deploy changed its
 * buckets) starts again from `more`: its old buckets cannot be re-cut.
 */
export function mergeHistogram(into: HistogramSeries, more: HistogramSeries): void {
  if (!sameBounds(into.bounds, more.bounds)) {
    into.bounds = [...more.bounds];
    into.counts = [...more.counts];
    into.sum = more.sum;
    into.count = more.count;
    return;
  }
  for (let i = 0; i < into.counts.length; i++) into.counts[i]! += more.counts[i] ?? 0;
  into.sum += more.sum;
  into.count += more.count;
}

/** An isolate's counts since it last handed them on. */
export class MetricsBuffer {
  #counters = new Map<string, CounterSeries>();
  #histograms = new Map<string, HistogramSeries>();

  get empty(): boolean {
    return this.#counters.size === 0 && this.#histograms.size === 0;
  }

  inc(spec: CounterSpec, labels: Labels, by = 1): void {
    const key = seriesKey(spec.name, labels);
    const series = this.#counters.get(key);
    if (series) series.value += by;
    else this.#counters.set(key, { name: spec.name, labels: { ...labels }, value: by });
  }

  observe(spec: HistogramSpec, labels: Labels, value: number): void {
    const key = seriesKey(spec.name, labels);
    let series = this.#histograms.get(key);
    if (!series) {
      series = { name: spec.name, labels: { ...labels }, bounds: [...spec.buckets], counts: new Array<number>(spec.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.#histograms.set(key, series);
    }
    series.counts[bucketOf(series.bounds, value)]! += 1;
    series.sum += value;
    series.count += 1;
  }

  /** Everything counted so far, and an empty buffer. */
  take(): MetricsDelta {
    const delta = { counters: [...this.#counters.values()], histograms: [...this.#histograms.values()] };
    this.#counters = new Map();
    this.#histograms = new Map();
    return delta;
  }

  /** Puts back a delta that could not be handed on (merged with whatever was counted meanwhile). */
  restore(delta: MetricsDelta): void {
    for (const c of delta.counters) {
      const key = seriesKey(c.name, c.labels);
      const series = this.#counters.get(key);
      if (series) series.value += c.value;
      else this.#counters.set(key, { ...c, labels: { ...c.labels } });
    }
    for (const h of delta.histograms) {
      const key = seriesKey(h.name, h.labels);
      const series = this.#histograms.get(key);
      if (series) mergeHistogram(series, h);
      else this.#histograms.set(key, { ...h, labels: { ...h.labels }, bounds: [...h.bounds], counts: [...h.counts] });
    }
  }
}

/**
 * Whether a buffer may be handed on at `now`, at most once per `intervalMs`: `wait` is how
 * long until it may (0: now).
 */
export class FlushGate {
  #last = Number.NEGATIVE_INFINITY;
  constructor(readonly intervalMs: number) {}

  wait(now: number): number {
    return Math.max(0, this.#last + this.intervalMs - now);
  }

  /** Records a flush at `now`. */
  mark(now: number): void {
    this.#last = now;
  }
}

/** A histogram bound as Prometheus's `le` label writes it. */
const le = (bound: number) => (bound === Infinity ? "+Inf" : String(bound));

/**
 * Totals in the text format's families: every spec gets its HELP and TYPE even without
 * samples (a scraper sees the metric exists), histograms' buckets cumulative and ending in
 * +Inf, which equals the count.
 */
export function families(specs: readonly (CounterSpec | HistogramSpec)[], totals: MetricsDelta): MetricFamily[] {
  return specs.map((spec) => {
    if (spec.kind === "counter")
      return { name: spec.name, help: spec.help, type: "counter", samples: totals.counters.filter((c) => c.name === spec.name).map((c) => ({ labels: c.labels, value: c.value })) };
    const samples: MetricFamily["samples"] = [];
    for (const h of totals.histograms.filter((s) => s.name === spec.name)) {
      let cumulative = 0;
      h.bounds.forEach((bound, i) => {
        cumulative += h.counts[i] ?? 0;
        samples.push({ suffix: "_bucket", labels: { ...h.labels, le: le(bound) }, value: cumulative });
      });
      samples.push({ suffix: "_bucket", labels: { ...h.labels, le: "+Inf" }, value: h.count });
      samples.push({ suffix: "_sum", labels: h.labels, value: h.sum }, { suffix: "_count", labels: h.labels, value: h.count });
    }
    return { name: spec.name, help: spec.help, type: "histogram", samples };
  });
}
