import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MetricsBuffer } from "../shared/observability/registry";
import { HTTP_DURATION, HTTP_REQUESTS } from "../shared/observability/catalog";
import { flushMetrics } from "../workers/middleware/request-context";
import worker from "../workers/index";
import { call, createKey, expectError, signUp, until, type TestUser } from "./helpers";
import { StreamClient } from "./stream-client";
import { placeOrder, placed, quotedMarket } from "./trading/helpers";

// GET /metrics: the Prometheus text format, parsed by a small parser written here from the
// format's description (not the server's formatter), and its counts against D1's own.

interface Parsed {
  types: Map<string, string>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

function parse(text: string): Parsed {
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Parsed["samples"] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(meta[3]!)) throw new Error(`bad type: ${line}`);
        types.set(meta[2]!, meta[3]!);
      } else helped.add(meta[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[3] ?? "").match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = pair.indexOf("=");
      labels[pair.slice(0, eq)] = pair.slice(eq + 2, -1).replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
    }
    const value = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    if (Number.isNaN(value) && m[4] !== "NaN") throw new Error(`bad value: ${line}`);
    // A histogram's samples are its name with _bucket, _sum or _count.
    const base = /^(.*)_(bucket|sum|count)$/.exec(m[1]!)?.[1];
    const family = base !== undefined && types.get(base) === "histogram" ? base : m[1]!;
    if (!types.has(family) || !helped.has(family)) throw new Error(`sample before its HELP and TYPE: ${line}`);
    if (family !== m[1] && m[1]!.endsWith("_bucket") && labels.le === undefined) throw new Error(`bucket without le: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, samples };
}

const total = (p: Parsed, name: string) => p.samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);
/** The one sample of `name` whose labels include `labels` (0 when there is none yet). */
const valueOf = (p: Parsed, name: string, labels: Record<string, string>) => {
  const found = p.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
};

/** Flushes this isolate's request counts into the metrics object, then scrapes. */
async function scrape(admin: TestUser): Promise<Parsed> {
  await flushMetrics(env);
  const res = await call("/metrics", { token: admin.access });
  expect(res.status).toBe(200);
  return parse(await res.text());
}
const d1Count = async (table: string) => (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())!.n;

describe("GET /metrics", () => {
  it("is for admins only", async () => {
    await expectError(await call("/metrics"), 401);
    const trader = await signUp();
    await expectError(await call("/metrics", { token: trader.access }), 403);
    // A scraper's key: an admin's, with the metrics scope; it reads /metrics and nothing else.
    const admin = await signUp("admin");
    const scraper = await createKey(admin, ["metrics"]);
    const scraped = await call("/metrics", { apiKey: scraper });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("# TYPE");
    await expectError(await call("/v2/account", { apiKey: scraper }), 403);
    await expectError(await call("/api/admin/users", { apiKey: scraper }), 403);
    // Nor market data, not even crypto's (which any user's credential may stream).
    await expectError(await call("/v1beta3/crypto/us", { apiKey: scraper, headers: { upgrade: "websocket" } }), 403);
    // An admin's trading key reads no metrics; a trader cannot make a metrics key at all (it would read nothing).
    await expectError(await call("/metrics", { apiKey: await createKey(admin, ["read", "trade"]) }), 403);
    const refused = await expectError(await call("/api/keys", { body: { name: "scraper", scopes: ["metrics"] }, token: trader.access, ip: trader.ip }), 422);
    expect(refused.details.map((d) => d.path)).toEqual(["scopes"]);
  });

  it("answers the text format, and its order and fill counts are D1's, including the orders just placed", async () => {
    const admin = await signUp("admin");
    const market = await quotedMarket(admin);
    const trader = await signUp();
    for (let i = 0; i < 3; i++) await placed(trader, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
    // The projections are written by the queue consumer, a moment after the orders.
    await until(async () => ((await env.DB.prepare("SELECT count(*) AS n FROM fill_history WHERE user_id = ?").bind(trader.id).first<{ n: number }>())!.n >= 3 ? true : undefined), "the fills to be projected", 15_000);

    const fillsBefore = await d1Count("fill_history");
    const ordersBefore = await d1Count("order_history");
    const res = await call("/metrics", { token: admin.access });
    const fillsAfter = await d1Count("fill_history");
    const ordersAfter = await d1Count("order_history");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const metrics = parse(await res.text());

    expect(metrics.types.get("redfire_fills_total")).toBe("counter");
    expect(metrics.types.get("redfire_orders")).toBe("gauge");
    const fills = total(metrics, "redfire_fills_total");
    expect(fills).toBeGreaterThanOrEqual(fillsBefore);
    expect(fills).toBeLessThanOrEqual(fillsAfter);
    const orders = total(metrics, "redfire_orders");
    expect(orders).toBeGreaterThanOrEqual(ordersBefore);
    expect(orders).toBeLessThanOrEqual(ordersAfter);
    expect(metrics.samples.find((s) => s.name === "redfire_orders" && s.labels.status === "filled")?.value).toBeGreaterThanOrEqual(3);
    // One sample per hub, and the configuration's version.
    expect(metrics.samples.filter((s) => s.name === "redfire_market_sockets")).toHaveLength(Number(env.STREAM_HUBS));
    expect(metrics.samples.find((s) => s.name === "redfire_config_version")?.value).toBeGreaterThanOrEqual(0);
    expect(metrics.samples.find((s) => s.name === "redfire_event_lag_seconds")?.value).toBeGreaterThanOrEqual(0);
  });

  it("counts requests by route, method and status, with a latency histogram whose buckets are cumulative", async () => {
    const admin = await signUp("admin");
    const series = { route: "/api/users/me", method: "GET", status: "401" };
    const before = await scrape(admin);
    for (let i = 0; i < 5; i++) await expectError(await call("/api/users/me"), 401);
    // A path no route matches is counted under one fixed route label, not its own path.
    await call(`/no-such-path-${crypto.randomUUID()}`);
    // A route's request refused by middleware before its handler is counted under the route (QA: it was unmatched).
    const refused = { route: "/api/webhooks", method: "POST", status: "415" };
    await expectError(await call("/api/webhooks", { method: "POST", rawBody: "{}", token: admin.access, ip: admin.ip, headers: { "content-type": "text/plain" } }), 415);
    const after = await scrape(admin);
    expect(valueOf(after, "redfire_http_requests_total", refused) - valueOf(before, "redfire_http_requests_total", refused)).toBe(1);

    expect(after.types.get("redfire_http_requests_total")).toBe("counter");
    expect(after.types.get("redfire_http_request_duration_seconds")).toBe("histogram");
    expect(valueOf(after, "redfire_http_requests_total", series) - valueOf(before, "redfire_http_requests_total", series)).toBe(5);
    const count = valueOf(after, "redfire_http_request_duration_seconds_count", series);
    expect(count - valueOf(before, "redfire_http_request_duration_seconds_count", series)).toBe(5);
    expect(valueOf(after, "redfire_http_request_duration_seconds_sum", series)).toBeGreaterThanOrEqual(0);
    const buckets = after.samples.filter((s) => s.name === "redfire_http_request_duration_seconds_bucket" && s.labels.route === series.route && s.labels.method === "GET" && s.labels.status === "401");
    expect(buckets.length).toBeGreaterThan(1);
    const bounds = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
    expect(bounds.at(-1)).toBe(Infinity);
    for (let i = 1; i < buckets.length; i++) {
      expect(bounds[i]).toBeGreaterThan(bounds[i - 1]!);
      expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    }
    expect(buckets.at(-1)!.value).toBe(count);
    // No sample carries the unknown path as its route.
    expect(after.samples.some((s) => s.labels.route?.startsWith("/no-such-path"))).toBe(false);
    expect(after.samples.some((s) => s.name === "redfire_http_requests_total" && s.labels.route === "(unmatched)")).toBe(true);
  });

  it("sums the counts of two isolates' buffers flushed into the one store", async () => {
    const admin = await signUp("admin");
    const series = { route: `/two-isolates/${crypto.randomUUID()}`, method: "GET", status: "200" };
    const store = env.METRICS.getByName("metrics");
    const first = new MetricsBuffer();
    const second = new MetricsBuffer();
    for (const [buffer, n, seconds] of [[first, 3, 0.003], [second, 4, 7]] as const) {
      for (let i = 0; i < n; i++) {
        buffer.inc(HTTP_REQUESTS, series);
        buffer.observe(HTTP_DURATION, series, seconds);
      }
    }
    await store.record(first.take());
    await store.record(second.take());
    // The second buffer counts on after its flush; its next flush adds to the same totals.
    second.inc(HTTP_REQUESTS, series);
    await store.record(second.take());
    const metrics = await scrape(admin);
    expect(valueOf(metrics, "redfire_http_requests_total", series)).toBe(8);
    expect(valueOf(metrics, "redfire_http_request_duration_seconds_count", series)).toBe(7);
    expect(valueOf(metrics, "redfire_http_request_duration_seconds_bucket", { ...series, le: "0.005" })).toBe(3);
    expect(valueOf(metrics, "redfire_http_request_duration_seconds_bucket", { ...series, le: "5" })).toBe(3);
    expect(valueOf(metrics, "redfire_http_request_duration_seconds_bucket", { ...series, le: "10" })).toBe(7);
    expect(valueOf(metrics, "redfire_http_request_duration_seconds_bucket", { ...series, le: "+Inf" })).toBe(7);
    expect(valueOf(metrics, "redfire_http_request_duration_seconds_sum", series)).toBeCloseTo(3 * 0.003 + 4 * 7, 6);
  });

  it("counts a refused order under the rule that refused it", async () => {
    const admin = await signUp("admin");
    const market = await quotedMarket(admin);
    const trader = await signUp();
    const before = await scrape(admin);
    // Above RISK_LIMITS.maxOrderQty (100000).
    const refused = await expectError(await placeOrder(trader, { symbol: market.symbol, qty: "100001", side: "buy", type: "market", time_in_force: "day" }), 422);
    expect(refused.details.some((d) => d.rule === "max_order_qty")).toBe(true);
    const after = await scrape(admin);
    expect(after.types.get("redfire_order_rejections_total")).toBe("counter");
    expect(valueOf(after, "redfire_order_rejections_total", { rule: "max_order_qty" }) - valueOf(before, "redfire_order_rejections_total", { rule: "max_order_qty" })).toBe(1);
  });

  it("shows an open trade_updates socket in the socket gauge, counts its frames, and drops it after it closes", async () => {
    const admin = await signUp("admin");
    const market = await quotedMarket(admin);
    const trader = await signUp();
    const trade = async () => valueOf(await scrape(admin), "redfire_sockets", { kind: "trade" });
    const before = await scrape(admin);
    expect(before.types.get("redfire_sockets")).toBe("gauge");
    const baseline = valueOf(before, "redfire_sockets", { kind: "trade" });
    const framesBefore = valueOf(before, "redfire_messages_sent_total", { kind: "trade" });
    expect(valueOf(before, "redfire_sockets", { kind: "market" })).toBeGreaterThanOrEqual(0);

    const client = await StreamClient.open("/stream", { authorization: `Bearer ${trader.access}` });
    client.send({ action: "listen", data: { streams: ["trade_updates"] } });
    await client.waitFor((m) => m.stream === "listening");
    await until(async () => ((await trade()) === baseline + 1 ? true : undefined), "the socket to be reported open");

    await placed(trader, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
    await client.waitFor((m) => m.stream === "trade_updates" && (m.data as { event?: string }).event === "fill");
    client.ws.close(1000, "done");
    await until(async () => ((await trade()) === baseline ? true : undefined), "the socket to be reported closed");
    // The account reports the frames it sent with the socket's close, at the latest.
    const after = await scrape(admin);
    expect(valueOf(after, "redfire_messages_sent_total", { kind: "trade" }) - framesBefore).toBeGreaterThanOrEqual(2);
    expect(after.samples.some((s) => s.name === "redfire_messages_sent_total" && s.labels.kind === "market")).toBe(true);
  });

  it("counts open market-data sockets and the frames the hubs sent them", async () => {
    const admin = await signUp("admin");
    const trader = await signUp();
    const before = await scrape(admin);
    const client = await StreamClient.open("/v2/iex", { authorization: `Bearer ${trader.access}` });
    await client.waitFor((m) => m.T === "success" && m.msg === "authenticated");
    const open = await scrape(admin);
    // The kind's gauge is the per-hub gauges of the same scrape added up, this socket among them.
    expect(valueOf(open, "redfire_sockets", { kind: "market" })).toBe(total(open, "redfire_market_sockets"));
    expect(valueOf(open, "redfire_sockets", { kind: "market" })).toBeGreaterThanOrEqual(1);
    // "connected" and "authenticated": two frames from the hub, at least.
    expect(valueOf(open, "redfire_messages_sent_total", { kind: "market" }) - valueOf(before, "redfire_messages_sent_total", { kind: "market" })).toBeGreaterThanOrEqual(2);
    client.ws.close(1000, "done");
  });

  it("counts a dead-lettered event once, however often it is delivered", async () => {
    const admin = await signUp("admin");
    const queue = "redfire-events-dlq-dev";
    const before = valueOf(await scrape(admin), "redfire_dead_letters_total", { queue });
    const id = crypto.randomUUID();
    for (let delivery = 0; delivery < 2; delivery++) {
      const batch = createMessageBatch(queue, [{ id, timestamp: new Date(), attempts: 1, body: { id: crypto.randomUUID(), type: "order.filled", version: 1 } }]);
      const ctx = createExecutionContext();
      await worker.queue(batch, env);
      const result = await getQueueResult(batch, ctx);
      expect(result.ackAll).toBe(true);
      expect(result.retryBatch.retry).toBe(false);
    }
    const after = await scrape(admin);
    expect(after.types.get("redfire_dead_letters_total")).toBe("counter");
    expect(valueOf(after, "redfire_dead_letters_total", { queue }) - before).toBe(1);
  });
});
