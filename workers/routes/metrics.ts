import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { count, sql } from "drizzle-orm";
import { CONFIG_STORE } from "../../shared/config/live";
import { exposition, type MetricFamily } from "../../shared/observability/prometheus";
import { errorResponses } from "../../shared/schemas/common";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { requirePermission } from "../middleware/authenticate";
import { allHubs } from "../lib/stream-hubs";

// GET /metrics for admins (a scraper authenticates with an admin's API key:
// `Authorization: Bearer <key_id>:<secret>`). Every figure is read at scrape time from
// where it is already kept across isolates — D1's projections and records, the hubs, the
// configuration store — so the request path pays nothing for it. Request-latency
// histograms and per-hop spans are not here yet (docs/observability.md).
export const metrics = new OpenAPIHono<AppEnv>();

const route = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["system"],
  summary: "Platform metrics in the Prometheus text format (admins)",
  security: [{ bearerAuth: [] }, { apiKeyId: [], apiSecret: [] }],
  middleware: [requirePermission("admin:all")] as const,
  responses: { 200: { description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: z.string() } } }, ...errorResponses(401, 403, 429) },
});

metrics.openapi(route, async (c) => {
  const db = database(c.env);
  const byStatus = <T extends { status: string; n: number }>(rows: T[]) => rows.map((r) => ({ labels: { status: r.status }, value: r.n }));
  const [orders, fills, strategies, backtests, deliveries, events, lag, hubs, config] = await Promise.all([
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
  ];
  return c.body(exposition(families), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});
