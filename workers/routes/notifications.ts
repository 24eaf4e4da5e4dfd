import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { and, count, desc, eq, isNull, lt, type SQL } from "drizzle-orm";
import { ApiError, conflict, notFound } from "../../shared/errors";
import { errorResponses, jsonBody, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import {
  AdminMessageAccepted,
  AdminMessageRequest,
  ListNotificationsQuery,
  MarkedRead,
  Notification,
  NotificationIdParam,
  NotificationList,
  UnreadCount,
} from "../../shared/notifications/schemas";
import { domainEvent } from "../../shared/events";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { log } from "../../platform/log";
import { notificationView } from "../lib/notifications";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";
import { keysetPage } from "../lib/pages";

// The caller's notifications (docs/notifications.md): the list, the unread count, marking
// them read; and an admin's message to one user or to all. The rows are written by the queue
// consumer from domain events; the socket's `notifications` stream carries new ones at once.
export const notifications = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;
const tags = ["notifications"];
const n = schema.notifications;

const list = createRoute({
  method: "get",
  path: "/api/notifications",
  tags,
  summary: "The caller's notifications, newest first",
  security,
  middleware: [requirePermission("user:read")] as const,
  request: { query: ListNotificationsQuery },
  responses: { 200: jsonContent(NotificationList, "A page of notifications"), ...errorResponses(401, 403, 422, 429) },
});

notifications.openapi(list, async (c) => {
  const { limit, page_token, unread } = c.req.valid("query");
  const filters: SQL[] = [eq(n.userId, principalOf(c).userId)];
  if (page_token) filters.push(lt(n.id, Number(page_token)));
  if (unread === "true") filters.push(isNull(n.readAt));
  const rows = await database(c.env)
    .select()
    .from(n)
    .where(and(...filters))
    .orderBy(desc(n.id))
    .limit(limit + 1)
    .all();
  const { page, next } = keysetPage(rows, limit, (row) => String(row.id));
  return c.json({ notifications: page.map(notificationView), next_page_token: next }, 200);
});

const unreadCount = createRoute({
  method: "get",
  path: "/api/notifications/unread_count",
  tags,
  summary: "How many of the caller's notifications are unread",
  security,
  middleware: [requirePermission("user:read")] as const,
  responses: { 200: jsonContent(UnreadCount, "The unread count"), ...errorResponses(401, 403, 429) },
});

notifications.openapi(unreadCount, async (c) => {
  const row = await database(c.env)
    .select({ unread: count() })
    .from(n)
    .where(and(eq(n.userId, principalOf(c).userId), isNull(n.readAt)))
    .get();
  return c.json({ unread: row?.unread ?? 0 }, 200);
});

const markRead = createRoute({
  method: "post",
  path: "/api/notifications/{id}/read",
  tags,
  summary: "Mark one of the caller's notifications read (again: no change)",
  security,
  middleware: [requirePermission("user:write")] as const,
  request: { params: NotificationIdParam },
  responses: { 200: jsonContent(Notification, "The notification, read"), ...errorResponses(401, 403, 404, 422, 429) },
});

notifications.openapi(markRead, async (c) => {
  const { id } = c.req.valid("param");
  const mine = and(eq(n.id, Number(id)), eq(n.userId, principalOf(c).userId));
  const db = database(c.env);
  // The first read time stays: marking twice changes nothing.
  await db.update(n).set({ readAt: Date.now() }).where(and(mine, isNull(n.readAt))).run();
  const row = await db.select().from(n).where(mine).get();
  // Another user's notification answers exactly like a missing one.
  if (!row) throw notFound("notification not found");
  return c.json(notificationView(row), 200);
});

const markAllRead = createRoute({
  method: "post",
  path: "/api/notifications/read_all",
  tags,
  summary: "Mark every notification of the caller read",
  security,
  middleware: [requirePermission("user:write")] as const,
  responses: { 200: jsonContent(MarkedRead, "How many were marked"), ...errorResponses(401, 403, 429) },
});

notifications.openapi(markAllRead, async (c) => {
  const result = await database(c.env)
    .update(n)
    .set({ readAt: Date.now() })
    .where(and(eq(n.userId, principalOf(c).userId), isNull(n.readAt)))
    .run();
  return c.json({ marked: result.meta.changes }, 200);
});

const adminMessage = createRoute({
  method: "post",
  path: "/api/admin/notifications",
  tags: ["admin", ...tags],
  summary: "Send a message to one user's notifications, or to every active user's (admins only)",
  security,
  middleware: [requirePermission("admin:all")] as const,
  request: { body: jsonBody(AdminMessageRequest) },
  responses: { 202: jsonContent(AdminMessageAccepted, "Published; the queue consumer stores and pushes it"), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503) },
});

notifications.openapi(adminMessage, async (c) => {
  const actor = principalOf(c);
  const body = c.req.valid("json");
  if (body.user_id) {
    const user = await database(c.env).select({ status: schema.users.status }).from(schema.users).where(eq(schema.users.id, body.user_id)).get();
    if (!user) throw notFound("user not found");
    // A disabled user is sent nothing (docs/notifications.md): said here, not accepted and dropped.
    if (user.status !== "active") throw conflict(`user ${body.user_id} is disabled: a disabled user gets no messages; enable them first`, [{ path: "user_id", message: "the user is disabled" }]);
  }
  const event = domainEvent("admin.message", body.user_id ? `user:${body.user_id}` : "users", { user_id: body.user_id ?? null, title: body.title, body: body.body, by: actor.userId }, c.get("traceparent"));
  // Unlike other events, this one is the whole action: the admin must know if it was not sent.
  try {
    await c.env.EVENTS.send(event, { contentType: "json" });
  } catch (error) {
    log("error", "admin message not published", { eventId: event.id, traceparent: c.get("traceparent"), error: String(error) });
    throw new ApiError(503, "the message could not be queued; try again");
  }
  return c.json({ event_id: event.id }, 202);
});
