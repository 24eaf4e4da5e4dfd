import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, lt, or } from "drizzle-orm";
import { notFound } from "../../shared/errors";
import { errorResponses, jsonContent, SESSION_OR_KEY, wholeParam } from "../../shared/schemas/common";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { log } from "../../platform/log";
import { requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";
import { keysetPage } from "../lib/pages";

// The events dead-letter queue's replay path (DESIGN: "a dead-letter queue with a replay
// path"): what the events consumer gave up on is kept whole in D1 by the dead-letter
// consumer (workers/lib/dead-letters.ts); an admin lists it and sends a message back to the
// events queue, once whatever made it fail is mended. Every consumer is idempotent, so a
// message replayed twice, or one that had half succeeded, changes nothing more.
export const deadEvents = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["admin"];
const security = SESSION_OR_KEY;
const d = schema.deadEvents;

const DeadEvent = z
  .object({
    message_id: z.string(),
    queue: z.string().openapi({ description: "The dead-letter queue it came through (a replay sends it to the events queue)" }),
    event_type: z.string().nullable(),
    event_id: z.string().nullable(),
    events: z.number().int(),
    attempts: z.number().int().openapi({ description: "Deliveries of it to the dead-letter consumer; the events consumer tried it max_retries + 1 times before" }),
    dead_at: z.string(),
    replayed_at: z.string().nullable(),
    body: z.unknown().openapi({ description: "The message as the consumer received it: an event envelope, or an array of them" }),
  })
  .openapi("DeadEvent");

const view = (row: typeof d.$inferSelect) => ({
  message_id: row.messageId,
  queue: row.queue,
  event_type: row.eventType,
  event_id: row.eventId,
  events: row.events,
  attempts: row.attempts,
  dead_at: new Date(row.deadAt).toISOString(),
  replayed_at: row.replayedAt === null ? null : new Date(row.replayedAt).toISOString(),
  body: JSON.parse(row.body) as unknown,
});

const PAGE_TOKEN = /^(\d{1,16})\.(.{1,200})$/;

const list = createRoute({
  method: "get",
  path: "/api/admin/dead-events",
  tags,
  summary: "Domain events the events consumer gave up on, newest first (admins)",
  security,
  middleware: [requirePermission("admin:all")] as const,
  request: { query: z.object({ limit: wholeParam("limit", 1, 200).default(50), page_token: z.string().regex(PAGE_TOKEN, "not a page token from this list").optional() }) },
  responses: { 200: jsonContent(z.object({ events: z.array(DeadEvent), next_page_token: z.string().nullable() }), "A page of dead events"), ...errorResponses(401, 403, 422, 429) },
});

deadEvents.openapi(list, async (c) => {
  const { limit, page_token } = c.req.valid("query");
  const token = page_token ? PAGE_TOKEN.exec(page_token) : null;
  const after = token ? or(lt(d.deadAt, Number(token[1])), and(eq(d.deadAt, Number(token[1])), lt(d.messageId, token[2]!))) : undefined;
  const rows = await database(c.env)
    .select()
    .from(d)
    .where(after)
    .orderBy(desc(d.deadAt), desc(d.messageId))
    .limit(limit + 1)
    .all();
  const { page, next } = keysetPage(rows, limit, (row) => `${row.deadAt}.${row.messageId}`);
  return c.json({ events: page.map(view), next_page_token: next }, 200);
});

const replay = createRoute({
  method: "post",
  path: "/api/admin/dead-events/{message_id}/replay",
  tags,
  summary: "Send a dead event back to the events queue (admins); consumers are idempotent",
  security,
  middleware: [requirePermission("admin:all")] as const,
  request: { params: z.object({ message_id: z.string().min(1).max(200) }) },
  responses: { 202: jsonContent(DeadEvent, "Queued again; replayed_at set"), ...errorResponses(401, 403, 404, 422, 429) },
});

deadEvents.openapi(replay, async (c) => {
  const { message_id } = c.req.valid("param");
  const db = database(c.env);
  const row = await db.select().from(d).where(eq(d.messageId, message_id)).get();
  if (!row) throw notFound("dead event not found");
  // The body goes back as it was (one envelope, or a message of several): the consumer reads both.
  await c.env.EVENTS.send(JSON.parse(row.body), { contentType: "json" });
  const replayed = (await db.update(d).set({ replayedAt: Date.now() }).where(eq(d.messageId, message_id)).returning().get())!;
  log("info", "dead event replayed", { messageId: message_id, eventType: row.eventType, eventId: row.eventId, events: row.events });
  return c.json(view(replayed), 202);
});
