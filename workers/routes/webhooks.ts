import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { and, desc, eq, lt, max, sql, type SQL } from "drizzle-orm";
import { conflict, notFound, unprocessable } from "../../shared/errors";
import { errorResponses, jsonBody, jsonContent, SESSION_ONLY } from "../../shared/schemas/common";
import {
  CreatedWebhook,
  CreateWebhookRequest,
  DeliveryIdParam,
  ListDeliveriesQuery,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookIdParam,
  type WebhookView,
} from "../../shared/notifications/schemas";
import type { WebhookEventType } from "../../shared/notifications/notifications";
import { MAX_WEBHOOKS_PER_USER, webhookPayload, webhookUrlProblem } from "../../shared/notifications/webhooks";
import type { AppEnv } from "../context";
import { database, isUniqueViolation, schema, type Database } from "../../platform/db";
import { randomString } from "../../platform/random";
import { queueDelivery } from "../lib/webhooks";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";
import { keysetPage } from "../lib/pages";

// The caller's webhooks (docs/notifications.md): register a URL for some notification kinds,
// list and delete them, read a webhook's delivery log, redeliver one delivery, send a test
// event. Deliveries leave from the queue consumer (workers/lib/webhooks.ts).
export const webhooks = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

// A webhook sends the account's activity to a URL: a leaked API key must not be able to add one.
const security = SESSION_ONLY;
const tags = ["webhooks"];
const w = schema.webhooks;
const d = schema.webhookDeliveries;
const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

type WebhookRow = typeof w.$inferSelect;
type DeliveryRow = typeof d.$inferSelect;

const webhookView = (row: WebhookRow): WebhookView => ({
  id: row.id,
  url: row.url,
  events: JSON.parse(row.events) as WebhookEventType[],
  description: row.description,
  created_at: iso(row.createdAt)!,
});

const deliveryView = (row: DeliveryRow) => ({
  id: row.id,
  event_id: row.eventId,
  event_type: row.eventType as WebhookEventType,
  redelivery: row.seq,
  status: row.status,
  attempts: row.attempts,
  response_status: row.responseStatus,
  latency_ms: row.latencyMs,
  error: row.error,
  created_at: iso(row.createdAt)!,
  last_attempt_at: iso(row.lastAttemptAt),
});

/** The caller's webhook; another user's answers exactly like a missing one. */
async function ownWebhook(db: Database, userId: string, id: string): Promise<WebhookRow> {
  const row = await db
    .select()
    .from(w)
    .where(and(eq(w.id, id), eq(w.userId, userId)))
    .get();
  if (!row) throw notFound("webhook not found");
  return row;
}

const create = createRoute({
  method: "post",
  path: "/api/webhooks",
  tags,
  summary: "Register a webhook; its signing secret is in this response only",
  security,
  middleware: [requirePermission("user:write", { sessionOnly: true })] as const,
  request: { body: jsonBody(CreateWebhookRequest) },
  responses: { 201: jsonContent(CreatedWebhook, "The webhook and its secret"), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
});

webhooks.openapi(create, async (c) => {
  const { userId } = principalOf(c);
  const body = c.req.valid("json");
  const problem = webhookUrlProblem(body.url, c.env.ENVIRONMENT);
  if (problem) throw unprocessable(`url ${problem}`, [{ path: "url", message: problem }]);
  // Stored and shown as the parsed URL, the address deliveries go to: as sent, spaces, tabs,
  // line breaks and an octal host (010.0.0.1 is 8.0.0.1) hid the real target from its owner (QA).
  const target = new URL(body.url).href;
  const db = database(c.env);
  const secret = `whsec_${randomString(40, BASE62)}`;
  const id = crypto.randomUUID();
  // Counted in the INSERT itself (every column in the table's order), so concurrent creates
  // cannot pass the limit between a count and an insert.
  const inserted = await db
    .insert(w)
    .select(
      sql`SELECT ${id}, ${userId}, ${target}, ${JSON.stringify(body.events)}, ${secret}, ${body.description ?? null}, ${Date.now()}
        WHERE (SELECT count(*) FROM webhooks WHERE user_id = ${userId}) < ${MAX_WEBHOOKS_PER_USER}`,
    )
    .run();
  if (inserted.meta.changes !== 1) throw conflict(`at most ${MAX_WEBHOOKS_PER_USER} webhooks; delete one first`);
  const row = (await db.select().from(w).where(eq(w.id, id)).get())!;
  return c.json({ ...webhookView(row), secret }, 201);
});

const list = createRoute({
  method: "get",
  path: "/api/webhooks",
  tags,
  summary: "The caller's webhooks (never their secrets)",
  security,
  middleware: [requirePermission("user:read", { sessionOnly: true })] as const,
  responses: { 200: jsonContent(Webhook.array(), "Webhooks, newest first"), ...errorResponses(401, 403, 429) },
});

webhooks.openapi(list, async (c) => {
  const rows = await database(c.env).select().from(w).where(eq(w.userId, principalOf(c).userId)).orderBy(desc(w.createdAt)).all();
  return c.json(rows.map(webhookView), 200);
});

const remove = createRoute({
  method: "delete",
  path: "/api/webhooks/{webhook_id}",
  tags,
  summary: "Delete a webhook and its delivery log; nothing more is sent to it",
  security,
  middleware: [requirePermission("user:write", { sessionOnly: true })] as const,
  request: { params: WebhookIdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404, 422, 429) },
});

webhooks.openapi(remove, async (c) => {
  const { webhook_id } = c.req.valid("param");
  // The rows deleted are counted with the deliveries the cascade removes: ask which webhook went.
  const deleted = await database(c.env)
    .delete(w)
    .where(and(eq(w.id, webhook_id), eq(w.userId, principalOf(c).userId)))
    .returning({ id: w.id })
    .get();
  if (!deleted) throw notFound("webhook not found");
  return c.body(null, 204);
});

const deliveries = createRoute({
  method: "get",
  path: "/api/webhooks/{webhook_id}/deliveries",
  tags,
  summary: "A webhook's delivery log, newest first: status, attempts, the last response and latency",
  security,
  middleware: [requirePermission("user:read", { sessionOnly: true })] as const,
  request: { params: WebhookIdParam, query: ListDeliveriesQuery },
  responses: { 200: jsonContent(WebhookDeliveryList, "A page of deliveries"), ...errorResponses(401, 403, 404, 422, 429) },
});

webhooks.openapi(deliveries, async (c) => {
  const { webhook_id } = c.req.valid("param");
  const { limit, page_token } = c.req.valid("query");
  const db = database(c.env);
  await ownWebhook(db, principalOf(c).userId, webhook_id);
  const filters: SQL[] = [eq(d.webhookId, webhook_id)];
  if (page_token) filters.push(lt(d.id, Number(page_token)));
  const rows = await db
    .select()
    .from(d)
    .where(and(...filters))
    .orderBy(desc(d.id))
    .limit(limit + 1)
    .all();
  const { page, next } = keysetPage(rows, limit, (row) => String(row.id));
  return c.json({ deliveries: page.map(deliveryView), next_page_token: next }, 200);
});

const redeliver = createRoute({
  method: "post",
  path: "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
  tags,
  summary: "Send a delivery again (the same body and event id, freshly signed) as a new delivery",
  security,
  middleware: [requirePermission("user:write", { sessionOnly: true })] as const,
  request: { params: DeliveryIdParam },
  responses: { 202: jsonContent(WebhookDelivery, "The new delivery, queued"), ...errorResponses(401, 403, 404, 422, 429) },
});

webhooks.openapi(redeliver, async (c) => {
  const { webhook_id, delivery_id } = c.req.valid("param");
  const db = database(c.env);
  await ownWebhook(db, principalOf(c).userId, webhook_id);
  const original = await db
    .select()
    .from(d)
    .where(and(eq(d.id, Number(delivery_id)), eq(d.webhookId, webhook_id)))
    .get();
  if (!original) throw notFound("delivery not found");
  // Each redelivery takes the next number of its event; two at once can pick the same one,
  // and the second's insert then meets the unique (webhook, event, seq): it takes the next.
  for (let attempt = 0; ; attempt++) {
    const last = await db
      .select({ seq: max(d.seq) })
      .from(d)
      .where(and(eq(d.webhookId, webhook_id), eq(d.eventId, original.eventId)))
      .get();
    try {
      const row = await queueDelivery(c.env, { webhookId: webhook_id, eventId: original.eventId, seq: (last?.seq ?? 0) + 1, eventType: original.eventType as WebhookEventType, payload: original.payload }, c.get("traceparent"));
      return c.json(deliveryView(row), 202);
    } catch (error) {
      if (!isUniqueViolation(error, "webhook_deliveries") || attempt >= 20) throw error;
    }
  }
});

const sendTest = createRoute({
  method: "post",
  path: "/api/webhooks/{webhook_id}/test",
  tags,
  summary: "Send a webhook.test event to the webhook (whatever kinds it asked for)",
  security,
  middleware: [requirePermission("user:write", { sessionOnly: true })] as const,
  request: { params: WebhookIdParam },
  responses: { 202: jsonContent(WebhookDelivery, "The test delivery, queued"), ...errorResponses(401, 403, 404, 422, 429) },
});

webhooks.openapi(sendTest, async (c) => {
  const { webhook_id } = c.req.valid("param");
  const { userId } = principalOf(c);
  const hook = await ownWebhook(database(c.env), userId, webhook_id);
  const eventId = crypto.randomUUID();
  const payload = webhookPayload(eventId, new Date().toISOString(), "webhook.test", "Test event", "A test delivery sent from RedFire.", { webhook_id: hook.id });
  const row = await queueDelivery(c.env, { webhookId: hook.id, eventId, seq: 0, eventType: "webhook.test", payload }, c.get("traceparent"));
  return c.json(deliveryView(row), 202);
});
