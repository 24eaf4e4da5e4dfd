import { sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { z } from "zod";
import { EventMessage, eventsOf, type DomainEvent } from "../shared/events";
import { database, schema, type Database } from "../platform/db";
import { inJsonChunks } from "../platform/json-chunks";
import { logger } from "../platform/log";
import { carriedSpan, finishSpan, sampled, startSpan, type Span } from "../platform/trace";
import { notificationOf } from "../shared/notifications/notifications";
import { listeningRecipients, pushNotifications, storeNotifications, type Drafted, type NotificationRow } from "./lib/notifications";
import { consumeDeadEvents } from "./lib/dead-letters";
import { consumeDeadDeliveries, consumeDeliveries, eventDeliveries, queueUntriedDeliveries } from "./lib/webhooks";

const log = logger("queue");

/** The Worker consumes four queues (wrangler.toml): domain events and their dead letters, webhook deliveries and theirs. */
export function consumeQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  if (batch.queue.startsWith("redfire-events-dlq-")) return consumeDeadEvents(batch, env);
  if (batch.queue.startsWith("redfire-webhooks-dlq-")) return consumeDeadDeliveries(batch, env);
  if (batch.queue.startsWith("redfire-webhooks-")) return consumeDeliveries(batch, env);
  return consumeEvents(batch, env);
}

// Projects domain events into the audit log, the order and fill history and the users'
// notifications (pushed to their sockets and queued to their webhooks). Idempotent by event
// id: a redelivered message inserts nothing and pushes nothing. A message that fails is
// retried, then dead-lettered. A message carries one event or several (an account sends an
// order's events as one message, shared/events.ts): it is settled once, for all of them.
async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = database(env);
  const items: Projected[] = [];
  /** Each valid message with its events' items, in the batch's order. */
  const delivered: { message: Message<unknown>; items: Projected[] }[] = [];
  // One span per trace in the batch, a child of the span that published its events (an
  // order's submitted, new and fill events share one), all in the batch's one line: a log
  // line is the costliest thing the consumer does per event on the local runtime, where
  // every console line crosses the inspector. The webhook deliveries and pushes of its
  // events continue from it.
  const traces = new Map<string, Trace>();
  for (const message of batch.messages) {
    const parsed = EventMessage.safeParse(message.body);
    if (!parsed.success) {
      // A malformed message never succeeds; after max_retries it lands in the dead-letter queue.
      log("error", "event rejected", { queue: batch.queue, messageId: message.id, issues: parsed.error.issues.length });
      message.retry();
      continue;
    }
    const own: Projected[] = [];
    for (const event of eventsOf(parsed.data)) {
      // An event with no traceparent starts a trace of its own.
      const key = event.traceparent ?? `root:${event.id}:${items.length}`;
      let trace = traces.get(key);
      if (!trace) traces.set(key, (trace = { span: startSpan("queue.events", event.traceparent), events: [], attempt: 0, failed: null }));
      trace.events.push(event);
      trace.attempt = Math.max(trace.attempt, message.attempts);
      const item = { event, trace };
      items.push(item);
      own.push(item);
    }
    delivered.push({ message, items: own });
  }
  // The whole batch in one D1 transaction and one read of its deliveries: a filled order is
  // three events, and every round trip is a trip to D1's region.
  if (delivered.length > 1)
    try {
      await project(env, db, items);
      for (const { message } of delivered) message.ack();
      logBatch(batch.queue, items.length, traces);
      return;
    } catch (error) {
      // Nothing of the batch landed (or all of it did, and each event is idempotent): one
      // message at a time, a message D1 refuses an event of is retried alone and the others land.
      log("warn", "event batch failed, projecting its messages one by one", { queue: batch.queue, messages: delivered.length, events: items.length, error: String(error) });
    }
  for (const { message, items: own } of delivered) {
    try {
      await project(env, db, own);
      message.ack();
    } catch (error) {
      for (const item of own) item.trace.failed = String(error);
      log("error", "event projection failed", { messageId: message.id, eventIds: own.map((i) => i.event.id), types: own.map((i) => i.event.type), traceparent: own[0]?.event.traceparent ?? null, error: String(error) });
      message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
    }
  }
  logBatch(batch.queue, items.length, traces);
}

interface Trace {
  span: Span;
  events: DomainEvent[];
  /** The highest delivery attempt among its messages. */
  attempt: number;
  /** The error of an event of the trace that failed alone, if one did. */
  failed: string | null;
}

interface Projected {
  event: DomainEvent;
  trace: Trace;
}

/**
 * The batch's line: the spans of its sampled traces (and of any trace an event of which
 * failed), as a request line carries its hops', at `error` if an event of one failed. An
 * event's traceparent carries its trace's sampling decision (docs/tracing.md, "Sampling").
 */
function logBatch(queue: string, events: number, traces: Map<string, Trace>): void {
  if (traces.size === 0) return;
  const shown = [...traces.values()].filter(({ span, failed }) => failed !== null || sampled(span.traceparent));
  const lines = shown.map(({ span, events, attempt, failed }) => {
    const fields = { eventIds: events.map((e) => e.id), types: events.map((e) => e.type), subjects: [...new Set(events.map((e) => e.subject))], attempt };
    return failed === null ? finishSpan(span, "queue", fields) : finishSpan(span, "queue", { ...fields, error: failed }, "error");
  });
  const level = lines.some((l) => l.level === "error") ? "error" : "info";
  // The trace ids at the top as well, for a log search on one.
  log(level, "batch", { queue, events, ...(lines.length > 0 ? { traceIds: lines.map((l) => l.traceId), spans: lines.map(carriedSpan) } : {}) });
}

/**
 * Writes the events' audit rows, projections, notifications and webhook deliveries in one
 * batch (one transaction: they all land or none does), then pushes the notifications it
 * inserted and queues the deliveries not yet tried. Throws if any of it fails.
 *
 * Each table's rows go in as one statement, the rows a JSON parameter read with json_each
 * (inJsonChunks: more than a megabyte of rows is split), as do the notifications and their
 * webhook deliveries: a full batch is six statements and a read, whatever its size. Each
 * row's conflict is still its own (a redelivered event's audit, fill or notification row
 * inserts nothing; an order row moves only forward).
 */
async function project(env: Env, db: Database, items: Projected[]): Promise<void> {
  const audits: AuditRow[] = [];
  const fills: FillRow[] = [];
  const latest = new Map<string, OrderRow>();
  const drafted: Drafted[] = [];
  const traceparents = new Map<string, string>();
  for (const { event, trace } of items) {
    audits.push(auditRow(event));
    fills.push(...tradingProjections(event, latest));
    const draft = notificationOf(event);
    // A duplicate in the batch notifies nothing of its own: its first copy did.
    if (!draft || traceparents.has(event.id)) continue;
    traceparents.set(event.id, trace.span.traceparent);
    drafted.push({ event, draft });
  }
  const rows: BatchItem<"sqlite">[] = [
    ...inJsonChunks(audits).map((json) => insertAudits(db, json)),
    ...inJsonChunks(fills).map((json) => insertFills(db, json)),
    ...inJsonChunks([...latest.values()]).map((json) => upsertOrders(db, json)),
  ];
  // The deliveries join on the notification rows, so they come after them.
  const notifying = drafted.length > 0 ? [storeNotifications(db, drafted), eventDeliveries(db, drafted, Date.now()), listeningRecipients(db, [...traceparents.keys()])] : [];
  const results = await db.batch([...rows, ...notifying] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  const [stored = [], , listeners = []] = results.slice(rows.length) as [NotificationRow[]?, unknown?, { userId: string }[]?];
  // The notification rows returned are the ones inserted: a redelivered event pushes none.
  // Only users with a socket listening are called (docs/notifications.md). A user's reach
  // their socket in the events' order (the ids'), users side by side.
  const listening = new Set(listeners.map((r) => r.userId));
  const inserted = stored.filter((r) => listening.has(r.userId)).sort((a, b) => a.id - b.id);
  const queues = new Map<string, Promise<void>>();
  for (const row of inserted) queues.set(row.userId, (queues.get(row.userId) ?? Promise.resolve()).then(() => pushNotifications(env, [row], traceparents.get(row.eventId) ?? null)));
  const pushed = Promise.all(queues.values());
  try {
    await queueUntriedDeliveries(env, db, traceparents);
  } finally {
    // Pushing never throws (best effort); it runs beside the queueing and ends before the messages are settled.
    await pushed;
  }
}

// Each row is a JSON array of its values in its table's column order (d1/schema.ts), read by index.
type AuditRow = [eventId: string, type: string, subject: string, occurredAt: string, traceparent: string | null, data: string];
type FillRow = [executionId: string, orderId: string, userId: string, symbol: string, side: string, price: string, qty: string, fee: string, realizedPl: string, occurredAt: string];
type OrderRow = [orderId: string, userId: string, symbol: string, side: string, status: string, version: number, lastEventAt: string, data: string];

/**
 * The rows of a JSON chunk as a SELECT of `columns` values each (r.value ->> 0, …), with
 * `extra` after them: an insert's source, in its table's column order. `WHERE true` keeps
 * SQLite from reading a following ON CONFLICT as the SELECT's join constraint.
 */
const rowsOf = (json: string, columns: number, extra?: SQL) =>
  sql`SELECT ${sql.raw(Array.from({ length: columns }, (_, i) => `r.value ->> ${i}`).join(", "))}${extra ? sql`, ${extra}` : sql``} FROM json_each(${json}) AS r WHERE true`;

/** Audit rows; a redelivered event's inserts nothing. recorded_at is its column's default. */
const insertAudits = (db: Database, json: string) =>
  db
    .insert(schema.auditLog)
    .select(rowsOf(json, 6, schema.auditLog.recordedAt.default as SQL))
    .onConflictDoNothing({ target: schema.auditLog.eventId });

/** Fill rows; a redelivered fill inserts nothing. */
const insertFills = (db: Database, json: string) => db.insert(schema.fillHistory).select(rowsOf(json, 10)).onConflictDoNothing({ target: schema.fillHistory.executionId });

/** Orders' rows at their latest states (one row per order: `latest`): each inserted, or updated when its version is newer than the stored one. */
const upsertOrders = (db: Database, json: string) =>
  db
    .insert(schema.orderHistory)
    .select(rowsOf(json, 8))
    .onConflictDoUpdate({
      target: schema.orderHistory.orderId,
      set: { status: sql`excluded.status`, version: sql`excluded.version`, lastEventAt: sql`excluded.last_event_at`, data: sql`excluded.data` },
      setWhere: sql`excluded.version > ${schema.orderHistory.version}`,
    });

function auditRow(event: DomainEvent): AuditRow {
  return [event.id, event.type, event.subject, event.occurredAt, event.traceparent ?? null, JSON.stringify(event.data)];
}

const OrderEventData = z.object({
  user_id: z.string(),
  version: z.number().int(),
  order: z.object({ id: z.string(), symbol: z.string(), side: z.string(), status: z.string() }).passthrough(),
  execution_id: z.string().optional(),
  price: z.string().optional(),
  qty: z.string().optional(),
  fee: z.string().optional(),
  realized_pl: z.string().optional(),
});

/**
 * Order events keep order_history at each order's latest state and add fills to
 * fill_history. The order's row is not written here but kept in `latest`, the batch's
 * highest version per order, written once after the batch's events (an order's submitted,
 * new and fill events usually share a batch): the upsert keeps the highest version it is
 * given, so the rows the batch's older versions would have written change nothing.
 * Answers the event's fill row, if it is a fill.
 */
function tradingProjections(event: DomainEvent, latest: Map<string, OrderRow>): FillRow[] {
  if (!event.type.startsWith("order.")) return [];
  const data = OrderEventData.safeParse(event.data);
  if (!data.success) return [];
  const { order, user_id: userId, version } = data.data;
  const known = latest.get(order.id);
  if (!known || version > known[5]) latest.set(order.id, [order.id, userId, order.symbol, order.side, order.status, version, event.occurredAt, JSON.stringify(order)]);
  const fill = data.data;
  if (!(fill.execution_id && fill.price && fill.qty && fill.fee && fill.realized_pl)) return [];
  return [[fill.execution_id, order.id, userId, order.symbol, order.side, fill.price, fill.qty, fill.fee, fill.realized_pl, event.occurredAt]];
}

