// What the admin dashboard draws, derived from two successive scrapes of GET /metrics:
// rates per second from counter deltas, latency quantiles from histogram bucket deltas
// (Prometheus' histogram_quantile), error shares, the busiest and slowest routes, and the
// gauges as they stand. Pure: the scrape time comes in with each scrape, so a test fixes it.
//
// Counters restart from zero when the object or isolate that keeps them does: a counter
// lower than before is a restart, and its new value is the whole delta (as Prometheus'
// rate() does). A family missing from the earlier scrape has no rate yet (its total would
// otherwise arrive as one spike); a series new to a known family counted from zero.
// Figures here are only drawn, never added up as money, so floats are fine.
import type { Families, Family, Sample } from "./metrics-text";

export interface Scrape {
  /** When it was taken, in milliseconds since the epoch. */
  at: number;
  families: Families;
}

export type Labels = Record<string, string>;

export const METRIC = {
  requests: "redfire_http_requests_total",
  duration: "redfire_http_request_duration_seconds",
  orders: "redfire_orders",
  fills: "redfire_fills_total",
  rejections: "redfire_order_rejections_total",
  sockets: "redfire_sockets",
  marketSockets: "redfire_market_sockets",
  messages: "redfire_messages_sent_total",
  deadLetters: "redfire_dead_letters_total",
  deliveries: "redfire_webhook_deliveries",
  eventLag: "redfire_event_lag_seconds",
  eventsProjected: "redfire_events_projected_total",
  strategies: "redfire_strategies",
  configVersion: "redfire_config_version",
} as const;

/** Statuses an order never leaves: their counts only grow, so their growth is a rate. */
export const FINAL_ORDER_STATUSES = ["filled", "canceled", "expired", "rejected", "replaced"] as const;

// ---------------------------------------------------------------------------------------
// Counters

/** How much a counter grew; a counter that went down restarted, and counted its new value since. */
export const counterDelta = (before: number, after: number): number => (after >= before ? after - before : after);

const keyOf = (labels: Labels, without: readonly string[] = []): string =>
  JSON.stringify(
    Object.keys(labels)
      .filter((k) => !without.includes(k))
      .sort()
      .map((k) => [k, labels[k]]),
  );

const samplesNamed = (family: Family | undefined, name: string): Sample[] => family?.samples.filter((s) => s.name === name) ?? [];

/** Each series' growth between two scrapes, or undefined when the family is not in both. */
export function counterDeltas(before: Families, after: Families, name: string, sampleName = name): { labels: Labels; delta: number }[] | undefined {
  const was = before.get(name);
  const now = after.get(name);
  if (!was || !now) return undefined;
  const old = new Map(samplesNamed(was, sampleName).map((s) => [keyOf(s.labels), s.value]));
  return samplesNamed(now, sampleName).map((s) => ({ labels: s.labels, delta: counterDelta(old.get(keyOf(s.labels)) ?? 0, s.value) }));
}

/** Sums of values grouped by what `group` makes of each series' labels. */
export function sumBy<T extends { labels: Labels }>(rows: T[], group: (labels: Labels) => string, value: (row: T) => number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const k = group(r.labels);
    out[k] = (out[k] ?? 0) + value(r);
  }
  return out;
}

const perSecond = (sums: Record<string, number>, seconds: number): Record<string, number> =>
  Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / seconds]));

/** Per-second rate of a counter family between two scrapes, by one label (all series summed). */
export function rateBy(before: Scrape, after: Scrape, name: string, label: string): Record<string, number> | undefined {
  const seconds = (after.at - before.at) / 1000;
  const deltas = counterDeltas(before.families, after.families, name);
  if (!deltas || seconds <= 0) return undefined;
  return perSecond(
    sumBy(deltas, (l) => l[label] ?? "", (r) => r.delta),
    seconds,
  );
}

export function rateTotal(before: Scrape, after: Scrape, name: string): number | undefined {
  const by = rateBy(before, after, name, "__none__");
  return by && Object.values(by).reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------------------------------
// Histograms

/** One histogram's cumulative buckets (upper bound → observations at or under it). */
export interface Histogram {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

function histograms(family: Family | undefined): Map<string, { labels: Labels; h: Histogram }> {
  const out = new Map<string, { labels: Labels; h: Histogram }>();
  if (!family) return out;
  const base = family.name;
  const entry = (labels: Labels) => {
    const k = keyOf(labels, ["le"]);
    let e = out.get(k);
    if (!e) {
      const { le: _le, ...rest } = labels;
      out.set(k, (e = { labels: rest, h: { buckets: [], sum: 0, count: 0 } }));
    }
    return e.h;
  };
  for (const s of family.samples) {
    if (s.name === `${base}_bucket`) {
      const le = s.labels.le === undefined ? NaN : s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
      if (!Number.isNaN(le)) entry(s.labels).buckets.push({ le, count: s.value });
    } else if (s.name === `${base}_sum`) entry(s.labels).sum = s.value;
    else if (s.name === `${base}_count`) entry(s.labels).count = s.value;
  }
  for (const { h } of out.values()) h.buckets.sort((a, b) => a.le - b.le);
  return out;
}

/** What one histogram observed between two states of it; all of `after` if it restarted. */
export function histogramDelta(before: Histogram | undefined, after: Histogram): Histogram {
  if (!before) return after;
  const old = new Map(before.buckets.map((b) => [b.le, b.count]));
  const restarted = after.count < before.count || after.buckets.some((b) => b.count < (old.get(b.le) ?? 0));
  if (restarted) return after;
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (old.get(b.le) ?? 0) })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/** Each series' observations between two scrapes (labels without `le`), or undefined when the family is not in both. */
export function histogramDeltas(before: Families, after: Families, name: string): { labels: Labels; h: Histogram }[] | undefined {
  const was = before.get(name);
  const now = after.get(name);
  if (!was || !now) return undefined;
  const old = histograms(was);
  return [...histograms(now)].map(([k, { labels, h }]) => ({ labels, h: histogramDelta(old.get(k)?.h, h) }));
}

/** Histograms added bucket by bucket (the same bounds, as one family has). */
export function mergeHistograms(list: Histogram[]): Histogram {
  const buckets = new Map<number, number>();
  let sum = 0;
  let count = 0;
  for (const h of list) {
    for (const b of h.buckets) buckets.set(b.le, (buckets.get(b.le) ?? 0) + b.count);
    sum += h.sum;
    count += h.count;
  }
  return { buckets: [...buckets].sort((a, b) => a[0] - b[0]).map(([le, c]) => ({ le, count: c })), sum, count };
}

/**
 * Prometheus' histogram_quantile: find the bucket holding the q-th observation and
 * interpolate linearly inside it (from the previous bound, or 0 for the first bucket). The
 * q-th observation in the +Inf bucket answers the highest finite bound. NaN with no
 * observations or without a +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: { le: number; count: number }[]): number {
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  if (sorted.length < 2 || sorted.at(-1)!.le !== Infinity) return NaN;
  // Counts are cumulative; a lower one after a higher one is a scrape race, and is lifted.
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.count < sorted[i - 1]!.count) sorted[i] = { le: sorted[i]!.le, count: sorted[i - 1]!.count };
  const observations = sorted.at(-1)!.count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  const b = sorted.findIndex((x) => x.count >= rank);
  if (b === sorted.length - 1) return sorted[sorted.length - 2]!.le;
  if (b === 0 && sorted[0]!.le <= 0) return sorted[0]!.le;
  let start = 0;
  let count = sorted[b]!.count;
  if (b > 0) {
    start = sorted[b - 1]!.le;
    count -= sorted[b - 1]!.count;
    rank -= sorted[b - 1]!.count;
  }
  return start + (sorted[b]!.le - start) * (rank / count);
}

// ---------------------------------------------------------------------------------------
// Routes

/** What one route did over an interval (mergeable across intervals). */
export interface RouteTraffic {
  route: string;
  method: string;
  requests: number;
  clientErrors: number;
  serverErrors: number;
  latency: Histogram;
}

export interface RouteRow {
  route: string;
  method: string;
  /** Requests per second. */
  rate: number;
  /** Seconds; NaN when the route had no timed requests. */
  p50: number;
  p99: number;
  /** Share of answers that were 4xx or 5xx, 0 to 1. */
  errorShare: number;
}

const routeKey = (l: { method?: string; route?: string }) => `${l.method ?? ""} ${l.route ?? ""}`;
const statusClass = (status: string | undefined) => (status && /^[1-5]\d\d$/.test(status) ? `${status[0]}xx` : "other");

function routeTraffic(requests: { labels: Labels; delta: number }[], latency: { labels: Labels; h: Histogram }[]): RouteTraffic[] {
  const out = new Map<string, RouteTraffic & { parts: Histogram[] }>();
  const entry = (l: Labels) => {
    const k = routeKey(l);
    let e = out.get(k);
    if (!e) out.set(k, (e = { route: l.route ?? "", method: l.method ?? "", requests: 0, clientErrors: 0, serverErrors: 0, latency: { buckets: [], sum: 0, count: 0 }, parts: [] }));
    return e;
  };
  for (const r of requests) {
    const e = entry(r.labels);
    e.requests += r.delta;
    const cls = statusClass(r.labels.status);
    if (cls === "4xx") e.clientErrors += r.delta;
    if (cls === "5xx") e.serverErrors += r.delta;
  }
  for (const h of latency) entry(h.labels).parts.push(h.h);
  return [...out.values()].map(({ parts, ...t }) => ({ ...t, latency: mergeHistograms(parts) }));
}

/** Route traffic summed over several intervals (each already restart-safe). */
export function mergeRouteTraffic(intervals: RouteTraffic[][]): RouteTraffic[] {
  const out = new Map<string, RouteTraffic[]>();
  for (const list of intervals) for (const t of list) out.set(routeKey(t), [...(out.get(routeKey(t)) ?? []), t]);
  return [...out.values()].map((ts) => ({
    route: ts[0]!.route,
    method: ts[0]!.method,
    requests: ts.reduce((a, t) => a + t.requests, 0),
    clientErrors: ts.reduce((a, t) => a + t.clientErrors, 0),
    serverErrors: ts.reduce((a, t) => a + t.serverErrors, 0),
    latency: mergeHistograms(ts.map((t) => t.latency)),
  }));
}

export function routeRows(traffic: RouteTraffic[], seconds: number): RouteRow[] {
  return traffic
    .filter((t) => t.requests > 0 || t.latency.count > 0)
    .map((t) => ({
      route: t.route,
      method: t.method,
      rate: seconds > 0 ? t.requests / seconds : 0,
      p50: histogramQuantile(0.5, t.latency.buckets),
      p99: histogramQuantile(0.99, t.latency.buckets),
      errorShare: t.requests > 0 ? (t.clientErrors + t.serverErrors) / t.requests : 0,
    }));
}

/** The first `n` rows by rate or by p99, highest first (NaN last; ties by route for a stable table). */
export function topRoutes(rows: RouteRow[], by: "rate" | "p99", n: number): RouteRow[] {
  const v = (r: RouteRow) => (Number.isNaN(r[by]) ? -Infinity : r[by]);
  return [...rows].sort((a, b) => v(b) - v(a) || routeKey(a).localeCompare(routeKey(b))).slice(0, n);
}

// ---------------------------------------------------------------------------------------
// One interval between two scrapes, and the gauges of one scrape

export interface Interval {
  /** The later scrape's time, in whole seconds (the charts' time axis). */
  time: number;
  seconds: number;
  /** Requests per second in all and by status class (2xx…5xx); undefined: not reported. */
  requests?: { total: number; byClass: Record<string, number> };
  /** Shares of the interval's answers, 0 to 1; undefined with no requests. */
  errors?: { client: number; server: number };
  /** Seconds, over every route; NaN when nothing was timed. */
  latency?: { p50: number; p95: number; p99: number };
  routes?: RouteTraffic[];
  /** Orders per second: new ones (growth of the total) and those reaching each final status. */
  orders?: { placed: number; byStatus: Record<string, number> };
  fills?: number;
  rejections?: Record<string, number>;
  messages?: Record<string, number>;
  deadLetters?: Record<string, number>;
  eventsProjected?: number;
}

export function interval(before: Scrape, after: Scrape): Interval {
  const seconds = (after.at - before.at) / 1000;
  const out: Interval = { time: Math.floor(after.at / 1000), seconds };
  if (seconds <= 0) return out;
  const requests = counterDeltas(before.families, after.families, METRIC.requests);
  if (requests) {
    const byClass = sumBy(requests, (l) => statusClass(l.status), (r) => r.delta);
    const total = Object.values(byClass).reduce((a, b) => a + b, 0);
    out.requests = { total: total / seconds, byClass: perSecond(byClass, seconds) };
    if (total > 0) out.errors = { client: (byClass["4xx"] ?? 0) / total, server: (byClass["5xx"] ?? 0) / total };
  }
  const latency = histogramDeltas(before.families, after.families, METRIC.duration);
  if (latency) {
    const all = mergeHistograms(latency.map((l) => l.h)).buckets;
    out.latency = { p50: histogramQuantile(0.5, all), p95: histogramQuantile(0.95, all), p99: histogramQuantile(0.99, all) };
  }
  if (requests || latency) out.routes = routeTraffic(requests ?? [], latency ?? []);

  const orders = gaugeDeltas(before.families, after.families, METRIC.orders);
  if (orders) {
    // redfire_orders counts orders by their latest status: the total only grows (a new
    // order), and so does each final status; a working status also shrinks as orders leave it.
    const placed = orders.reduce((a, o) => a + o.delta, 0);
    const byStatus: Record<string, number> = {};
    for (const o of orders) if ((FINAL_ORDER_STATUSES as readonly string[]).includes(o.labels.status ?? "")) byStatus[o.labels.status!] = (byStatus[o.labels.status!] ?? 0) + Math.max(0, o.delta) / seconds;
    out.orders = { placed: Math.max(0, placed) / seconds, byStatus };
  }
  const fills = rateTotal(before, after, METRIC.fills);
  if (fills !== undefined) out.fills = fills;
  const rejections = rateBy(before, after, METRIC.rejections, "rule");
  if (rejections) out.rejections = rejections;
  const messages = rateBy(before, after, METRIC.messages, "kind");
  if (messages) out.messages = messages;
  const dead = rateBy(before, after, METRIC.deadLetters, "queue");
  if (dead) out.deadLetters = dead;
  const projected = rateTotal(before, after, METRIC.eventsProjected);
  if (projected !== undefined) out.eventsProjected = projected;
  return out;
}

/** A gauge's change per series (signed; a series missing on one side counts as 0 there). */
function gaugeDeltas(before: Families, after: Families, name: string): { labels: Labels; delta: number }[] | undefined {
  const was = before.get(name);
  const now = after.get(name);
  if (!was || !now) return undefined;
  const all = new Map<string, { labels: Labels; delta: number }>();
  for (const s of was.samples) all.set(keyOf(s.labels), { labels: s.labels, delta: -s.value });
  for (const s of now.samples) {
    const k = keyOf(s.labels);
    all.set(k, { labels: s.labels, delta: (all.get(k)?.delta ?? 0) + s.value });
  }
  return [...all.values()];
}

export interface Gauges {
  time: number;
  /** Open sockets by kind (market, trade); only the market ones when the older family is all there is. */
  sockets?: Record<string, number>;
  eventLagSeconds?: number;
  deliveries?: Record<string, number>;
  /** Dead letters since the counter's start, by queue. */
  deadLetters?: Record<string, number>;
  strategies?: Record<string, number>;
  configVersion?: number;
}

const totalsBy = (family: Family | undefined, label: string): Record<string, number> | undefined =>
  family &&
  sumBy(
    family.samples.filter((s) => s.name === family.name),
    (l) => l[label] ?? "",
    (s) => s.value,
  );

const single = (family: Family | undefined): number | undefined => family?.samples.find((s) => s.name === family.name)?.value;

export function gauges(scrape: Scrape): Gauges {
  const f = (name: string) => scrape.families.get(name);
  const out: Gauges = { time: Math.floor(scrape.at / 1000) };
  const sockets = totalsBy(f(METRIC.sockets), "kind");
  const market = f(METRIC.marketSockets);
  if (sockets) out.sockets = sockets;
  else if (market) out.sockets = { market: market.samples.reduce((a, s) => a + s.value, 0) };
  const lag = single(f(METRIC.eventLag));
  if (lag !== undefined) out.eventLagSeconds = lag;
  const deliveries = totalsBy(f(METRIC.deliveries), "status");
  if (deliveries) out.deliveries = deliveries;
  const dead = totalsBy(f(METRIC.deadLetters), "queue");
  if (dead) out.deadLetters = dead;
  const strategies = totalsBy(f(METRIC.strategies), "status");
  if (strategies) out.strategies = strategies;
  const version = single(f(METRIC.configVersion));
  if (version !== undefined) out.configVersion = version;
  return out;
}

// ---------------------------------------------------------------------------------------
// The window the page keeps

export interface Window {
  last?: Scrape;
  intervals: Interval[];
  gauges: Gauges[];
}

export const emptyWindow = (): Window => ({ intervals: [], gauges: [] });

/** The window after one more scrape, keeping the points of the last `keepSeconds`. */
export function addScrape(window: Window, scrape: Scrape, keepSeconds: number): Window {
  const since = Math.floor(scrape.at / 1000) - keepSeconds;
  const intervals = window.last && scrape.at > window.last.at ? [...window.intervals, interval(window.last, scrape)] : window.intervals;
  return {
    last: scrape,
    intervals: intervals.filter((i) => i.time >= since),
    gauges: [...window.gauges, gauges(scrape)].filter((g) => g.time >= since),
  };
}

/** Route rows over the window's intervals (rates over their summed length). */
export function windowRoutes(intervals: Interval[]): RouteRow[] | undefined {
  const withRoutes = intervals.filter((i) => i.routes);
  if (withRoutes.length === 0) return undefined;
  return routeRows(
    mergeRouteTraffic(withRoutes.map((i) => i.routes!)),
    withRoutes.reduce((a, i) => a + i.seconds, 0),
  );
}
