import { and, eq, sql } from "drizzle-orm";
import type { DomainEvent } from "../../shared/events";
import type { NotificationDraft } from "../../shared/notifications/notifications";
import type { NotificationView } from "../../shared/notifications/schemas";
import { inJsonList, schema, type Database } from "../../platform/db";
import { logger } from "../../platform/log";
import { accountOf } from "./accounts";

// The notifications a domain event makes (shared/notifications/notifications.ts): stored in
// D1 by the queue consumer, then pushed to their users' sockets.

const log = logger("queue");

export type NotificationRow = typeof schema.notifications.$inferSelect;

/** An event users are told of, with the notification it makes. */
export interface Drafted {
  event: DomainEvent;
  draft: NotificationDraft;
}

/**
 * The statement that stores the notifications of a batch's events, in the events' order:
 * each for its user, or for every active user (an admin's message to all). It selects from
 * users, so an event naming no known user stores nothing; a redelivered event stores nothing
 * either (one row per event and user). A disabled user gets no admin message, to them or to
 * all (docs/notifications.md); their account's own events (trading blocked, strategies
 * stopped, and why) stay in their list for when they are enabled again, and reach no
 * socket or webhook. It answers the rows it inserted: exactly the ones to
 * push. The events travel as one JSON parameter (D1 binds at most 100 to a statement), and
 * the two kinds of recipient are two selects: one finds each user by the primary key, the
 * other (CROSS JOIN keeps the events outermost) reads the users only for a message to all.
 */
export function storeNotifications(db: Database, drafted: readonly Drafted[]) {
  const events = JSON.stringify(
    drafted.map(({ event, draft }) => ({ event: event.id, user: draft.userId, kind: draft.kind, title: draft.title, body: draft.body, data: JSON.stringify(draft.data), at: Date.parse(event.occurredAt) })),
  );
  const u = schema.users;
  const fields = sql`e.value ->> 'event' AS event_id, e.value ->> 'kind' AS kind, e.value ->> 'title' AS title, e.value ->> 'body' AS body, e.value ->> 'data' AS data, e.value ->> 'at' AS created_at`;
  // Every column in the table's order: a null id is the next one, a null read_at is unread.
  const rows = sql`SELECT NULL, user_id, event_id, kind, title, body, data, created_at, NULL FROM (
      SELECT e.key AS ord, ${u.id} AS user_id, ${fields} FROM json_each(${events}) AS e JOIN ${u} ON ${u.id} = e.value ->> 'user' AND (${u.status} = 'active' OR e.value ->> 'kind' != 'admin.message')
      UNION ALL
      SELECT e.key, ${u.id}, ${fields} FROM json_each(${events}) AS e CROSS JOIN ${u} WHERE e.value ->> 'user' IS NULL AND ${u.status} = 'active'
    ) WHERE true ORDER BY ord, user_id`;
  return db.insert(schema.notifications).select(rows).onConflictDoNothing().returning();
}

/**
 * The statement that answers which recipients of these events' notifications have a socket
 * listening to them now (notification_listeners): the only users a new notification is
 * pushed to. In the same batch as the insert, after it. A disabled user's sockets were
 * closed; a listener row left behind is not called.
 */
export function listeningRecipients(db: Database, eventIds: readonly string[]) {
  const l = schema.notificationListeners;
  const n = schema.notifications;
  const u = schema.users;
  return db
    .selectDistinct({ userId: l.userId })
    .from(l)
    .innerJoin(n, eq(n.userId, l.userId))
    .innerJoin(u, and(eq(u.id, l.userId), eq(u.status, "active")))
    .where(inJsonList(n.eventId, eventIds));
}

export function notificationView(row: NotificationRow): NotificationView {
  return {
    id: row.id,
    kind: row.kind as NotificationView["kind"],
    title: row.title,
    body: row.body,
    data: JSON.parse(row.data) as Record<string, unknown>,
    created_at: new Date(row.createdAt).toISOString(),
    read_at: row.readAt === null ? null : new Date(row.readAt).toISOString(),
  };
}

/**
 * Pushes new notifications to their users' sockets (the `notifications` stream). Best
 * effort: the list in D1 is the record, and a user who was offline reads it there.
 */
export async function pushNotifications(env: Env, rows: NotificationRow[], traceparent: string | null = null): Promise<void> {
  await Promise.all(
    rows.map(async (row) => {
      try {
        // The account logs the push's span, and only when a socket got it (most pushes reach nobody).
        await accountOf(env, row.userId).notify("notifications", notificationView(row), traceparent);
      } catch (error) {
        log("warn", "could not push a notification", { userId: row.userId, notification: row.id, error: String(error) });
      }
    }),
  );
}
