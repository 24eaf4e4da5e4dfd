// The one drizzle schema for D1. Migrations in d1/migrations/ are generated from this
// file by `npm run db:generate` and never edited by hand.
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const timestampNow = (name: string) =>
  integer(name, { mode: "number" })
    .notNull()
    .default(sql`(unixepoch('subsec') * 1000)`);

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  username: text("username").notNull().unique(),
  displayName: text("display_name"),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: ["guest", "user", "trader", "admin"] }).notNull(),
  status: text("status", { enum: ["active", "disabled"] }).notNull().default("active"),
  createdAt: timestampNow("created_at"),
  updatedAt: integer("updated_at", { mode: "number" }).notNull(),
});

// One row per login: the refresh-token family. Revoking it ends the session's access
// tokens at once, because every authenticated request checks it.
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    createdAt: timestampNow("created_at"),
    expiresAt: integer("expires_at", { mode: "number" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "number" }),
    revokeReason: text("revoke_reason"),
    userAgent: text("user_agent"),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

// Every refresh token ever issued, stored hashed. A token that is presented after it was
// rotated (usedAt set) is a replay: the whole session family is revoked.
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id),
    createdAt: timestampNow("created_at"),
    usedAt: integer("used_at", { mode: "number" }),
  },
  (t) => [index("refresh_tokens_session_idx").on(t.sessionId)],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    keyId: text("key_id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    name: text("name").notNull(),
    secretHash: text("secret_hash").notNull(),
    scopes: text("scopes").notNull(),
    createdAt: timestampNow("created_at"),
    lastUsedAt: integer("last_used_at", { mode: "number" }),
    revokedAt: integer("revoked_at", { mode: "number" }),
  },
  (t) => [index("api_keys_user_idx").on(t.userId)],
);

// Written by the event consumer; the event id as primary key makes redelivery harmless.
export const auditLog = sqliteTable(
  "audit_log",
  {
    eventId: text("event_id").primaryKey(),
    type: text("type").notNull(),
    subject: text("subject").notNull(),
    occurredAt: text("occurred_at").notNull(),
    traceparent: text("traceparent"),
    data: text("data").notNull(),
    recordedAt: timestampNow("recorded_at"),
  },
  (t) => [index("audit_log_subject_idx").on(t.subject, t.occurredAt)],
);

// The instrument registry. Demo instruments are seeded by a migration; admins add and
// edit the rest. `feed` and `session` are JSON documents validated by shared/schemas.
export const assets = sqliteTable("assets", {
  id: text("id").primaryKey(),
  symbol: text("symbol").notNull().unique(),
  name: text("name").notNull(),
  assetClass: text("class", { enum: ["us_equity", "crypto"] }).notNull(),
  exchange: text("exchange").notNull(),
  tickSize: text("tick_size").notNull(),
  lotSize: text("lot_size").notNull(),
  minOrderSize: text("min_order_size").notNull(),
  tradable: integer("tradable", { mode: "boolean" }).notNull().default(true),
  status: text("status", { enum: ["active", "inactive"] }).notNull().default("active"),
  // null: trades around the clock; otherwise {"timeZone","open","close","days"}.
  session: text("session"),
  feed: text("feed").notNull(),
  createdAt: timestampNow("created_at"),
  updatedAt: integer("updated_at", { mode: "number" }).notNull(),
});

// Order and fill history projected from the accounts' domain events by the queue consumer.
// An order row holds the latest state seen (by event time); a fill row is keyed by its
// execution id. Both make a redelivered event a no-op.
export const orderHistory = sqliteTable(
  "order_history",
  {
    orderId: text("order_id").primaryKey(),
    userId: text("user_id").notNull(),
    symbol: text("symbol").notNull(),
    side: text("side").notNull(),
    status: text("status").notNull(),
    // The account numbers its events; a row only moves forward (redelivered or late events lose).
    version: integer("version", { mode: "number" }).notNull(),
    lastEventAt: text("last_event_at").notNull(),
    data: text("data").notNull(),
  },
  (t) => [index("order_history_user_idx").on(t.userId, t.lastEventAt)],
);

export const fillHistory = sqliteTable(
  "fill_history",
  {
    executionId: text("execution_id").primaryKey(),
    orderId: text("order_id").notNull(),
    userId: text("user_id").notNull(),
    symbol: text("symbol").notNull(),
    side: text("side").notNull(),
    price: text("price").notNull(),
    qty: text("qty").notNull(),
    fee: text("fee").notNull(),
    realizedPl: text("realized_pl").notNull(),
    occurredAt: text("occurred_at").notNull(),
  },
  (t) => [index("fill_history_user_idx").on(t.userId, t.occurredAt)],
);

// A user's saved strategy: either a template with parameters or code they wrote. Every
// save of new parameters or code is a new numbered version (strategy_versions); the row
// holds the current one. A running strategy keeps the version it started with
// (running_version), so an edit never changes what is trading under it.
export const strategies = sqliteTable(
  "strategies",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    name: text("name").notNull(),
    kind: text("kind", { enum: ["template", "code"] }).notNull(),
    template: text("template"),
    symbol: text("symbol").notNull(),
    timeframe: text("timeframe").notNull(),
    // JSON object: the template's parameters (validated by its zod schema) or the code's.
    params: text("params").notNull(),
    currentVersion: integer("current_version", { mode: "number" }).notNull(),
    status: text("status", { enum: ["stopped", "running", "errored"] })
      .notNull()
      .default("stopped"),
    statusMessage: text("status_message"),
    runningVersion: integer("running_version", { mode: "number" }),
    // The number of its last live run (each start is a new one), kept after it stops; null
    // if it never ran, when it has no statistics to ask for.
    lastRun: integer("last_run", { mode: "number" }),
    createdAt: timestampNow("created_at"),
    updatedAt: integer("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [
    uniqueIndex("strategies_user_name_idx").on(t.userId, t.name),
    index("strategies_user_idx").on(t.userId),
  ],
);

// Versions are immutable once written: a backtest or a running strategy names one.
export const strategyVersions = sqliteTable(
  "strategy_versions",
  {
    strategyId: text("strategy_id")
      .notNull()
      .references(() => strategies.id, { onDelete: "cascade" }),
    version: integer("version", { mode: "number" }).notNull(),
    template: text("template"),
    params: text("params").notNull(),
    // What the user wrote, and the JavaScript compiled from it at save.
    source: text("source"),
    compiled: text("compiled"),
    language: text("language", { enum: ["js", "ts"] }),
    createdAt: timestampNow("created_at"),
  },
  (t) => [primaryKey({ columns: [t.strategyId, t.version] })],
);

// Backtest jobs. A backtest copies what it runs (template or version, symbol, params), and
// strategy_id has no foreign key on purpose: results outlive a deleted strategy.
export const backtests = sqliteTable(
  "backtests",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    strategyId: text("strategy_id"),
    strategyVersion: integer("strategy_version", { mode: "number" }),
    kind: text("kind", { enum: ["template", "code"] }).notNull(),
    template: text("template"),
    symbol: text("symbol").notNull(),
    timeframe: text("timeframe").notNull(),
    params: text("params").notNull(),
    status: text("status", { enum: ["queued", "running", "done", "failed", "cancelled"] })
      .notNull()
      .default("queued"),
    barsTotal: integer("bars_total", { mode: "number" }).notNull().default(0),
    barsDone: integer("bars_done", { mode: "number" }).notNull().default(0),
    error: text("error"),
    metrics: text("metrics"),
    optimizationId: text("optimization_id"),
    createdAt: timestampNow("created_at"),
    finishedAt: integer("finished_at", { mode: "number" }),
  },
  (t) => [
    index("backtests_user_idx").on(t.userId, t.createdAt),
    // The user's unfinished runs, counted before each start (the cap on runs at once).
    index("backtests_active_idx")
      .on(t.userId)
      .where(sql`${t.status} IN ('queued', 'running')`),
  ],
);

// A user's notifications (shared/notifications/notifications.ts), written by the queue
// consumer from the domain events users are told of. The id orders them (newest first is
// id descending, and a page token is the last id seen); one row per (event, user) makes a
// redelivered event a no-op, also for an admin's message to every user.
export const notifications = sqliteTable(
  "notifications",
  {
    id: integer("id", { mode: "number" }).primaryKey({ autoIncrement: true }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    eventId: text("event_id").notNull(),
    kind: text("kind").notNull(),
    title: text("title").notNull(),
    body: text("body").notNull(),
    // JSON object: what the event says (order id, symbol, price, …).
    data: text("data").notNull(),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
    readAt: integer("read_at", { mode: "number" }),
  },
  (t) => [uniqueIndex("notifications_event_user_idx").on(t.eventId, t.userId), index("notifications_user_idx").on(t.userId, t.id), index("notifications_unread_idx").on(t.userId, t.readAt)],
);

// The users with a socket listening to their `notifications` stream now: a row from the
// moment the account object has a socket listening (written before it answers `listening`)
// until its last one stops. The events consumer pushes a new notification only to these
// users, so a notification nobody is listening for costs no call into the account object.
// A row left by an object that stopped without its sockets' close costs a call that reaches
// no socket, nothing more; `since` (when it was written) tells an operator such a row.
export const notificationListeners = sqliteTable("notification_listeners", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  since: integer("since", { mode: "number" }).notNull(),
});

// A user's webhooks: deliveries of the notification kinds in `events` (a JSON array), signed
// with `secret` (shown once at creation; kept to sign, so it cannot be stored hashed).
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    events: text("events").notNull(),
    secret: text("secret").notNull(),
    description: text("description"),
    createdAt: timestampNow("created_at"),
  },
  (t) => [index("webhooks_user_idx").on(t.userId)],
);

// Every delivery of an event to a webhook, and how it went: the delivery log. The queue
// message carries only the id. `seq` numbers the manual redeliveries of one event (0: the
// first), so (webhook, event, seq) makes a redelivered domain event add no delivery.
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: integer("id", { mode: "number" }).primaryKey({ autoIncrement: true }),
    webhookId: text("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    eventId: text("event_id").notNull(),
    seq: integer("seq", { mode: "number" }).notNull(),
    eventType: text("event_type").notNull(),
    // The exact body sent (and signed) on every attempt.
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failing", "dead"] }).notNull(),
    attempts: integer("attempts", { mode: "number" }).notNull(),
    responseStatus: integer("response_status", { mode: "number" }),
    latencyMs: integer("latency_ms", { mode: "number" }),
    error: text("error"),
    createdAt: integer("created_at", { mode: "number" }).notNull(),
    lastAttemptAt: integer("last_attempt_at", { mode: "number" }),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_idx").on(t.webhookId, t.eventId, t.seq),
    index("webhook_deliveries_webhook_idx").on(t.webhookId, t.id),
    // The events consumer looks up a batch's untried deliveries by event id.
    index("webhook_deliveries_by_event_idx").on(t.eventId),
  ],
);

// Domain events the events consumer gave up on (after its retries), kept whole by the
// dead-letter queue's consumer so an admin can look at them and send them back
// (`/api/admin/dead-events`): every consumer is idempotent, so a replay is safe.
export const deadEvents = sqliteTable(
  "dead_events",
  {
    /** The queue's message id: a redelivered dead letter is stored once. */
    messageId: text("message_id").primaryKey(),
    queue: text("queue").notNull(),
    /** The first event's type and id (a message may carry several events). */
    eventType: text("event_type"),
    eventId: text("event_id"),
    events: integer("events", { mode: "number" }).notNull(),
    /** The message body as JSON, as the consumer received it. */
    body: text("body").notNull(),
    attempts: integer("attempts", { mode: "number" }).notNull(),
    deadAt: integer("dead_at", { mode: "number" }).notNull(),
    replayedAt: integer("replayed_at", { mode: "number" }),
  },
  (t) => [index("dead_events_dead_at_idx").on(t.deadAt, t.messageId)],
);
