import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { count, sql } from "drizzle-orm";
import { CONFIG_STORE } from "../../shared/config/live";
import { DEAD_LETTERS, GATEWAY_METRICS, MESSAGES_SENT, METRICS_STORE } from "../../shared/observability/catalog";
import { exposition, type MetricFamily } from "../../shared/observability/prometheus";
import { families as familiesOf } from "../../shared/observability/registry";
import { errorResponses } from "../../shared/schemas/common";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { requirePermission } from "../middleware/authenticate";
import { allHubs } from "../lib/stream-hubs";

// GET /metrics for admins (a scraper authenticates with an admin's API key:
// `Authorization: Bearer <key_id>:<secret>`). Every figure is read at scrape time from
// where it is kept across isolates: D1's projections and records, the hubs, the
// configuration store, and the metrics object, which sums what the gateway's isolates
// counted (requests, latency, refused orders), what the accounts reported (trade sockets
// and frames) and the dead letters (docs/observability.md).
export const metrics = new OpenAPIHono<AppEnv>();

const route = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["system"],
  summary: "Platform metrics in the Prometheus text format (admins, or an admin's key with the metrics scope)",
  security: [{ bearerAuth: [] }, { apiKeyId: [], apiSecret: [] }],
  middleware: [requirePermission("metrics:read")] as const,
  responses: { 200: { description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: z.string() } } }, ...errorResponses(401, 403, 429) },
});

metrics.openapi(route, async (c) => {
  const db = database(c.env);
  const byStatus = <T extends { status: string; n: number }>(rows: T[]) => rows.map((r) => ({ labels: { status: r.status }, value: r.n }));
  const [orders, fills, strategies, backtests, deliveries, events, lag, hubs, config, counted] = await Promise.all([
    db.select({ status: schema.orderHistory.status, n: count() }).from(schema.orderHistory).groupBy(schema.orderHistory.status).all(),
    db.select({ n: count() }).from(schema.fillHistory).get(),
    db.select({ status: schema.strategies.status, n: count() }).from(schema.strategies).groupBy(schema.strategies.status).all(),
    db.select({ status: schema.backtests.status, n: count() }).from(schema.backtests).groupBy(schema.backtests.status).all(),
    db.select({ status: schema.webhookDeliveries.status, n: count() }).from(schema.webhookDeliveries).groupBy(schema.webhookDeliveries.status).all(),
    db.select({ n: count() }).from(schema.auditLog).get(),
    // The newest projected event: how long after it happened the consumer stored it.
    // (by rowid: the insertion order, without a scan)
    db.select({ recordedAt: schema.auditLog.recordedAt, occurredAt: schema.auditLog.occurredAt }).from(schema.auditLog).orderBy(sql`rowid desc`).limit(1).get(),
    Promise.all(allHubs(c.env).map(async (hub) => ({ hub, stats: await c.env.STREAM_HUB.getByName(hub).stats() }))),
    c.env.CONFIG.getByName(CONFIG_STORE).snapshot(),
    c.env.METRICS.getByName(METRICS_STORE).snapshot(),
  ]);
  const families: MetricFamily[] = [
    { name: "redfire_orders", type: "gauge", help: "Orders by their latest status, as the event projection (order_history) holds them.", samples: byStatus(orders) },
    { name: "redfire_fills_total", type: "counter", help: "Fills projected from the accounts' events (fill_history).", samples: [{ value: fills?.n ?? 0 }] },
    { name: "redfire_strategies", type: "gauge", help: "Strategies by status; running ones live in their symbol's object.", samples: byStatus(strategies) },
    { name: "redfire_backtests", type: "gauge", help: "Backtest jobs by status.", samples: byStatus(backtests) },
    { name: "redfire_webhook_deliveries", type: "gauge", help: "Webhook deliveries by status; dead ones went through the dead-letter queue.", samples: byStatus(deliveries) },
    { name: "redfire_events_projected_total", type: "counter", help: "Domain events the queue consumer has stored (audit log).", samples: [{ value: events?.n ?? 0 }] },
    { name: "redfire_event_lag_seconds", type: "gauge", help: "For the newest stored event: from when it happened to when the consumer stored it.", samples: lag ? [{ value: Math.max(0, lag.recordedAt - Date.parse(lag.occurredAt)) / 1000 }] : [] },
    { name: "redfire_market_sockets", type: "gauge", help: "Open market-data WebSockets, per hub.", samples: hubs.map(({ hub, stats }) => ({ labels: { hub }, value: stats.sockets })) },
    { name: "redfire_config_version", type: "gauge", help: "The run-time configuration's current version (0: the environment's vars).", samples: [{ value: config.version }] },
    {
      name: "redfire_sockets",
      type: "gauge",
      help: "Open client WebSockets by kind: market (the hubs, now) and trade (trade_updates, as the accounts last reported).",
      samples: [
        { labels: { kind: "market" }, value: sum(hubs.map(({ stats }) => stats.sockets)) },
        { labels: { kind: "trade" }, value: counted.tradeSockets },
      ],
    },
  ];
  // The hubs' frames join the trade frames the accounts reported.
  const market = { name: MESSAGES_SENT.name, labels: { kind: "market" }, value: sum(hubs.map(({ stats }) => stats.framesSent)) };
  const totals = { ...counted.totals, counters: [market, ...counted.totals.counters] };
  if (!totals.counters.some((s) => s.name === MESSAGES_SENT.name && s.labels.kind === "trade")) totals.counters.push({ name: MESSAGES_SENT.name, labels: { kind: "trade" }, value: 0 });
  families.push(...familiesOf([...GATEWAY_METRICS, MESSAGES_SENT, DEAD_LETTERS], totals));
  return c.body(exposition(families), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
