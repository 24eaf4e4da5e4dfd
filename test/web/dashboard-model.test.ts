import { describe, expect, it } from "vitest";
import { addScrape, counterDelta, emptyWindow, gauges, histogramDelta, histogramQuantile, interval, routeRows, topRoutes, windowRoutes, type Scrape } from "../../web/src/dashboard-model";
import { parseMetrics } from "../../web/src/metrics-text";
import { call, signUp, until } from "../helpers";

// The admin dashboard's figures (web/src/dashboard-model.ts) from two scrapes written out
// here, against values worked out by hand in the comments.

const T0 = 1_700_000_000_000;
const scrape = (at: number, lines: string[]): Scrape => ({ at, families: parseMetrics(lines.join("\n")) });
const req = (method: string, route: string, status: string, n: number) => `redfire_http_requests_total{route="${route}",method="${method}",status="${status}"} ${n}`;
const hist = (method: string, route: string, status: string, buckets: [string, number][], sum: number) => {
  const l = `route="${route}",method="${method}",status="${status}"`;
  return [...buckets.map(([le, n]) => `redfire_http_request_duration_seconds_bucket{${l},le="${le}"} ${n}`), `redfire_http_request_duration_seconds_sum{${l}} ${sum}`, `redfire_http_request_duration_seconds_count{${l}} ${buckets.at(-1)![1]}`];
};
const B = (a: number, b: number, c: number, inf: number): [string, number][] => [
  ["0.01", a],
  ["0.05", b],
  ["0.25", c],
  ["+Inf", inf],
];

const before = scrape(T0, [
  "# TYPE redfire_http_requests_total counter",
  req("POST", "/v2/orders", "200", 100),
  req("POST", "/v2/orders", "403", 5),
  req("GET", "/api/users/me", "200", 40),
  req("GET", "/api/users/me", "500", 2),
  "# TYPE redfire_http_request_duration_seconds histogram",
  ...hist("POST", "/v2/orders", "200", B(50, 90, 100, 100), 2),
  ...hist("GET", "/api/users/me", "200", B(30, 40, 40, 40), 0.4),
  "# TYPE redfire_orders gauge",
  'redfire_orders{status="new"} 4',
  'redfire_orders{status="filled"} 20',
  'redfire_orders{status="canceled"} 1',
  "# TYPE redfire_fills_total counter",
  "redfire_fills_total 20",
  "# TYPE redfire_order_rejections_total counter",
  'redfire_order_rejections_total{rule="buying_power"} 3',
  "# TYPE redfire_messages_sent_total counter",
  'redfire_messages_sent_total{kind="market"} 1000',
  'redfire_messages_sent_total{kind="trade"} 50',
  "# TYPE redfire_dead_letters_total counter",
  'redfire_dead_letters_total{queue="events"} 0',
  "# TYPE redfire_sockets gauge",
  'redfire_sockets{kind="market"} 3',
  'redfire_sockets{kind="trade"} 2',
]);

// Five seconds later. GET /api/users/me restarted (its counters went down), GET /api/keys
// is new since the first scrape.
const after = scrape(T0 + 5000, [
  "# TYPE redfire_http_requests_total counter",
  req("POST", "/v2/orders", "200", 140), // +40
  req("POST", "/v2/orders", "403", 10), // +5
  req("GET", "/api/users/me", "200", 10), // restart: +10
  req("GET", "/api/users/me", "500", 1), // restart: +1
  req("GET", "/api/keys", "200", 4), // new: +4
  "# TYPE redfire_http_request_duration_seconds histogram",
  ...hist("POST", "/v2/orders", "200", B(60, 110, 138, 140), 5), // delta 10, 20, 38, 40
  ...hist("GET", "/api/users/me", "200", B(2, 8, 10, 10), 0.2), // restart: 2, 8, 10, 10
  ...hist("GET", "/api/keys", "200", B(4, 4, 4, 4), 0.02), // new: 4, 4, 4, 4
  "# TYPE redfire_orders gauge",
  'redfire_orders{status="new"} 6',
  'redfire_orders{status="filled"} 27',
  'redfire_orders{status="canceled"} 2',
  "# TYPE redfire_fills_total counter",
  "redfire_fills_total 27",
  "# TYPE redfire_order_rejections_total counter",
  'redfire_order_rejections_total{rule="buying_power"} 5',
  'redfire_order_rejections_total{rule="max_order_qty"} 1',
  "# TYPE redfire_messages_sent_total counter",
  'redfire_messages_sent_total{kind="market"} 1500',
  'redfire_messages_sent_total{kind="trade"} 60',
  "# TYPE redfire_dead_letters_total counter",
  'redfire_dead_letters_total{queue="events"} 1',
  "# TYPE redfire_sockets gauge",
  'redfire_sockets{kind="market"} 4',
  'redfire_sockets{kind="trade"} 2',
]);

describe("counters", () => {
  it("grow by their difference, and a counter that went down restarted and counts its new value", () => {
    expect(counterDelta(100, 140)).toBe(40);
    expect(counterDelta(140, 140)).toBe(0);
    expect(counterDelta(40, 10)).toBe(10);
    expect(counterDelta(5, 0)).toBe(0);
  });
});

describe("histogramQuantile (Prometheus' linear interpolation)", () => {
  // 100 observations: 10 ≤ 0.1 s, 50 in (0.1, 0.5], 30 in (0.5, 1], 10 above 1 s.
  const buckets = [
    { le: 0.1, count: 10 },
    { le: 0.5, count: 60 },
    { le: 1, count: 90 },
    { le: Infinity, count: 100 },
  ];

  it("interpolates inside the bucket holding the rank", () => {
    // rank 50: bucket (0.1, 0.5] holds ranks 11–60; 40 of its 50 → 0.1 + 0.4 × 40/50
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.42, 12);
    // rank 5 in the first bucket, from 0: 0.1 × 5/10
    expect(histogramQuantile(0.05, buckets)).toBeCloseTo(0.05, 12);
    // rank 90 is the top of (0.5, 1]
    expect(histogramQuantile(0.9, buckets)).toBeCloseTo(1, 12);
  });

  it("answers the highest finite bound for a rank in the +Inf bucket", () => {
    expect(histogramQuantile(0.95, buckets)).toBe(1);
    expect(histogramQuantile(0.99, buckets)).toBe(1);
  });

  it("has no answer without observations or without a +Inf bucket, and infinities outside 0–1", () => {
    expect(histogramQuantile(0.5, buckets.map((b) => ({ ...b, count: 0 })))).toBeNaN();
    expect(histogramQuantile(0.5, buckets.slice(0, 3))).toBeNaN();
    expect(histogramQuantile(0.5, [])).toBeNaN();
    expect(histogramQuantile(-0.1, buckets)).toBe(-Infinity);
    expect(histogramQuantile(1.1, buckets)).toBe(Infinity);
  });

  it("takes buckets in any order and lifts a count lower than the one below it", () => {
    const shuffled = [buckets[3]!, buckets[1]!, buckets[0]!, buckets[2]!];
    expect(histogramQuantile(0.5, shuffled)).toBeCloseTo(0.42, 12);
    // 0.5 says 5 (< 10 below it): read as 10, so rank 15 of 20 is in (0.5, 1]: 0.5 + 0.5 × 5/10
    expect(histogramQuantile(0.75, [{ le: 0.1, count: 10 }, { le: 0.5, count: 5 }, { le: 1, count: 20 }, { le: Infinity, count: 20 }])).toBeCloseTo(0.75, 12);
  });

  it("subtracts bucket by bucket between scrapes, and takes the new state whole after a restart", () => {
    const a = { buckets: [{ le: 0.1, count: 5 }, { le: Infinity, count: 8 }], sum: 1, count: 8 };
    const b = { buckets: [{ le: 0.1, count: 9 }, { le: Infinity, count: 15 }], sum: 2.5, count: 15 };
    expect(histogramDelta(a, b)).toEqual({ buckets: [{ le: 0.1, count: 4 }, { le: Infinity, count: 7 }], sum: 1.5, count: 7 });
    const restarted = { buckets: [{ le: 0.1, count: 1 }, { le: Infinity, count: 3 }], sum: 0.4, count: 3 };
    expect(histogramDelta(b, restarted)).toEqual(restarted);
  });
});

describe("one interval between two scrapes", () => {
  const i = interval(before, after);

  it("gives requests per second in all and by status class, and the shares of 4xx and 5xx", () => {
    // 40 + 5 + 10 + 1 + 4 = 60 requests in 5 s; 2xx 54, 4xx 5, 5xx 1
    expect(i.seconds).toBe(5);
    expect(i.time).toBe(T0 / 1000 + 5);
    expect(i.requests!.total).toBeCloseTo(12, 12);
    expect(i.requests!.byClass["2xx"]).toBeCloseTo(10.8, 12);
    expect(i.requests!.byClass["4xx"]).toBeCloseTo(1, 12);
    expect(i.requests!.byClass["5xx"]).toBeCloseTo(0.2, 12);
    expect(i.errors!.client).toBeCloseTo(5 / 60, 12);
    expect(i.errors!.server).toBeCloseTo(1 / 60, 12);
  });

  it("gives latency quantiles over every route from the buckets' deltas", () => {
    // Summed deltas: ≤0.01: 10+2+4 = 16, ≤0.05: 20+8+4 = 32, ≤0.25: 38+10+4 = 52, +Inf: 40+10+4 = 54
    // p50: rank 27 in (0.01, 0.05]: 0.01 + 0.04 × 11/16
    expect(i.latency!.p50).toBeCloseTo(0.0375, 12);
    // p95: rank 51.3 in (0.05, 0.25]: 0.05 + 0.2 × 19.3/20
    expect(i.latency!.p95).toBeCloseTo(0.243, 12);
    // p99: rank 53.46 is in +Inf: the highest finite bound
    expect(i.latency!.p99).toBe(0.25);
  });

  it("gives each route's rate, p50, p99 and error share, the top ones by rate and by p99", () => {
    const rows = routeRows(i.routes!, i.seconds);
    const row = (method: string, route: string) => rows.find((r) => r.method === method && r.route === route)!;
    // POST /v2/orders: 45 requests, 5 refused; deltas 10, 20, 38, 40
    expect(row("POST", "/v2/orders").rate).toBeCloseTo(9, 12);
    expect(row("POST", "/v2/orders").errorShare).toBeCloseTo(5 / 45, 12);
    expect(row("POST", "/v2/orders").p50).toBeCloseTo(0.05, 12); // rank 20 tops (0.01, 0.05]
    expect(row("POST", "/v2/orders").p99).toBe(0.25); // rank 39.6 in +Inf
    // GET /api/users/me after its restart: 11 requests, 1 failed; 2, 8, 10, 10
    expect(row("GET", "/api/users/me").rate).toBeCloseTo(2.2, 12);
    expect(row("GET", "/api/users/me").errorShare).toBeCloseTo(1 / 11, 12);
    expect(row("GET", "/api/users/me").p50).toBeCloseTo(0.03, 12); // rank 5: 0.01 + 0.04 × 3/6
    expect(row("GET", "/api/users/me").p99).toBeCloseTo(0.24, 12); // rank 9.9: 0.05 + 0.2 × 1.9/2
    // GET /api/keys, new: 4 requests, all under 10 ms
    expect(row("GET", "/api/keys").rate).toBeCloseTo(0.8, 12);
    expect(row("GET", "/api/keys").p50).toBeCloseTo(0.005, 12); // rank 2: 0.01 × 2/4
    expect(row("GET", "/api/keys").p99).toBeCloseTo(0.0099, 12); // rank 3.96: 0.01 × 3.96/4
    expect(row("GET", "/api/keys").errorShare).toBe(0);

    expect(topRoutes(rows, "rate", 2).map((r) => `${r.method} ${r.route}`)).toEqual(["POST /v2/orders", "GET /api/users/me"]);
    expect(topRoutes(rows, "p99", 3).map((r) => `${r.method} ${r.route}`)).toEqual(["POST /v2/orders", "GET /api/users/me", "GET /api/keys"]);
  });

  it("gives the order flow: orders placed and reaching a final status, fills and rejections by rule per second", () => {
    // orders 25 → 35 in 5 s; filled +7, canceled +1 ("new" is a working status, not drawn)
    expect(i.orders!.placed).toBeCloseTo(2, 12);
    expect(i.orders!.byStatus).toEqual({ filled: 7 / 5, canceled: 1 / 5 });
    expect(i.fills).toBeCloseTo(1.4, 12);
    expect(i.rejections!.buying_power).toBeCloseTo(0.4, 12);
    expect(i.rejections!.max_order_qty).toBeCloseTo(0.2, 12); // a new rule: counted from zero
  });

  it("gives messages by kind and dead letters by queue per second", () => {
    expect(i.messages).toEqual({ market: 100, trade: 2 });
    expect(i.deadLetters).toEqual({ events: 0.2 });
  });

  it("reports nothing for a family missing from either scrape, rather than its whole total as one spike", () => {
    const without = scrape(T0 - 5000, ["# TYPE redfire_fills_total counter", "redfire_fills_total 10"]);
    const j = interval(without, before);
    expect(j.requests).toBeUndefined();
    expect(j.latency).toBeUndefined();
    expect(j.routes).toBeUndefined();
    expect(j.rejections).toBeUndefined();
    expect(j.fills).toBeCloseTo(2, 12);
    expect(interval(after, without).fills).toBeUndefined(); // time went backwards: nothing
  });
});

describe("gauges of one scrape", () => {
  it("takes sockets by kind, or the market hubs' sum before sockets by kind are reported", () => {
    expect(gauges(after).sockets).toEqual({ market: 4, trade: 2 });
    const older = scrape(T0, ["# TYPE redfire_market_sockets gauge", 'redfire_market_sockets{hub="hub-0"} 2', 'redfire_market_sockets{hub="hub-1"} 3', "# TYPE redfire_event_lag_seconds gauge", "redfire_event_lag_seconds 0.25"]);
    expect(gauges(older)).toEqual({ time: T0 / 1000, sockets: { market: 5 }, eventLagSeconds: 0.25 });
  });
});

describe("the window the page keeps", () => {
  it("adds an interval per scrape after the first, forgets points older than it keeps, and sums route traffic over it", () => {
    const third = scrape(T0 + 10_000, [
      "# TYPE redfire_http_requests_total counter",
      req("POST", "/v2/orders", "200", 150), // +10
      req("POST", "/v2/orders", "403", 10),
      req("GET", "/api/users/me", "200", 10),
      req("GET", "/api/users/me", "500", 1),
      req("GET", "/api/keys", "200", 4),
    ]);
    let w = addScrape(emptyWindow(), before, 60);
    expect(w.intervals).toHaveLength(0);
    expect(w.gauges).toHaveLength(1);
    w = addScrape(w, after, 60);
    w = addScrape(w, third, 60);
    expect(w.intervals).toHaveLength(2);
    // 45 + 10 POST /v2/orders over 10 s
    const rows = windowRoutes(w.intervals)!;
    expect(rows.find((r) => r.route === "/v2/orders")!.rate).toBeCloseTo(5.5, 12);
    expect(rows.find((r) => r.route === "/v2/orders")!.errorShare).toBeCloseTo(5 / 55, 12);
    // The third scrape has no histogram: the window's p50 still comes from the second.
    expect(rows.find((r) => r.route === "/v2/orders")!.p50).toBeCloseTo(0.05, 12);
    // Keeping 4 s: only the points at or after T0 + 6 s remain.
    const short = addScrape(addScrape(addScrape(emptyWindow(), before, 4), after, 4), third, 4);
    expect(short.intervals.map((x) => x.time)).toEqual([T0 / 1000 + 10]);
    expect(short.gauges.map((g) => g.time)).toEqual([T0 / 1000 + 10]);
  });
});

describe("against the Worker's own GET /metrics", () => {
  it("two scrapes with requests between them give a request rate, latency quantiles and the scraped route among the rows", async () => {
    const admin = await signUp("admin");
    const scrapeNow = async (): Promise<Scrape> => {
      const res = await call("/metrics", { token: admin.access });
      expect(res.status).toBe(200);
      return { at: Date.now(), families: parseMetrics(await res.text()) };
    };
    const first = await scrapeNow();
    for (let i = 0; i < 5; i++) expect((await call("/health")).status).toBe(200);
    // The gateway flushes its counts behind the answer, so the second scrape may need another try.
    const i = await until(async () => {
      const j = interval(first, await scrapeNow());
      return j.routes?.some((r) => r.method === "GET" && r.route === "/health" && r.requests >= 5) ? j : undefined;
    }, "the health checks to be counted", 10_000);
    expect(i.requests!.total).toBeGreaterThan(0);
    expect(i.latency!.p50).toBeGreaterThan(0);
    expect(i.latency!.p99).toBeGreaterThanOrEqual(i.latency!.p50);
    const rows = routeRows(i.routes!, i.seconds);
    const health = rows.find((r) => r.method === "GET" && r.route === "/health")!;
    expect(health.errorShare).toBe(0);
    expect(health.p99).toBeGreaterThan(0);
  });
});
