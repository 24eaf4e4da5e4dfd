import { sql } from "drizzle-orm";
import type { DomainEvent } from "../../shared/events";
import type { NotificationDraft } from "../../shared/notifications/notifications";
import type { NotificationView } from "../../shared/notifications/schemas";
import { schema, type Database } from "../../platform/db";
import { logger } from "../../platform/log";
import { accountOf } from "./accounts";

// The notifications a domain event makes (shared/notifications/notifications.ts): stored in
// D1 by the queue consumer, then pushed to their users' sockets.

const log = logger("queue");

export type NotificationRow = typeof schema.notifications.$inferSelect;

/**
 * The statement that stores an event's notification for its user, or for every active user
 * (an admin's message to all). It selects from users, so an event naming no known user
 * stores nothing; a redelivered event stores nothing either (one row per event and user).
 * It answers the rows it inserted: exactly the ones to push.
 */
export function storeNotification(db: Database, event: DomainEvent, draft: NotificationDraft) {
  const recipients = draft.userId === null ? sql`${schema.users.status} = 'active'` : sql`${schema.users.id} = ${draft.userId}`;
  // Every column in the table's order: a null id is the next one, a null read_at is unread.
  const rows = sql`SELECT NULL, ${schema.users.id}, ${event.id}, ${draft.kind}, ${draft.title}, ${draft.body}, ${JSON.stringify(draft.data)}, ${Date.parse(event.occurredAt)}, NULL
    FROM ${schema.users} WHERE ${recipients}`;
  return db.insert(schema.notifications).select(rows).onConflictDoNothing().returning();
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
