import { sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { z } from "zod";
import { DomainEvent } from "../shared/events";
import { database, schema, type Database } from "../platform/db";
import { logger } from "../platform/log";
import { carriedSpan, finishSpan, sampled, startSpan, type Span } from "../platform/trace";
import { notificationOf } from "../shared/notifications/notifications";
import { pushNotifications, storeNotification, type NotificationRow } from "./lib/notifications";
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
// retried, then dead-lettered.
async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = database(env);
  const items: Projected[] = [];
  // One span per trace in the batch, a child of the span that published its events (an
  // order's submitted, new and fill events share one), all in the batch's one line: a log
  // line is the costliest thing the consumer does per event on the local runtime, where
  // every console line crosses the inspector. The webhook deliveries and pushes of its
  // events continue from it.
  const traces = new Map<string, Trace>();
  for (const message of batch.messages) {
    const parsed = DomainEvent.safeParse(message.body);
    if (!parsed.success) {
      // A malformed event never succeeds; after max_retries it lands in the dead-letter queue.
      log("error", "event rejected", { queue: batch.queue, messageId: message.id, issues: parsed.error.issues.length });
      message.retry();
      continue;
    }
    const event = parsed.data;
    // An event with no traceparent starts a trace of its own.
    const key = event.traceparent ?? `root:${event.id}:${items.length}`;
    let trace = traces.get(key);
    if (!trace) traces.set(key, (trace = { span: startSpan("queue.events", event.traceparent), events: [], attempt: 0, failed: null }));
    trace.events.push(event);
    trace.attempt = Math.max(trace.attempt, message.attempts);
    items.push({ message, event, trace });
  }
  // The whole batch in one D1 transaction and one read of its deliveries: a filled order is
  // three events, and every round trip is a trip to D1's region.
  if (items.length > 1)
    try {
      await project(env, db, items);
      for (const item of items) item.message.ack();
      logBatch(batch.queue, items.length, traces);
      return;
    } catch (error) {
      // Nothing of the batch landed (or all of it did, and each event is idempotent): one by
      // one, an event D1 refuses is retried alone and the others land.
      log("warn", "event batch failed, projecting its events one by one", { queue: batch.queue, events: items.length, error: String(error) });
    }
  for (const item of items) {
    try {
      await project(env, db, [item]);
      item.message.ack();
    } catch (error) {
      const { event } = item;
      item.trace.failed = String(error);
      log("error", "event projection failed", { eventId: event.id, type: event.type, traceparent: event.traceparent, error: String(error) });
      item.message.retry({ delaySeconds: Math.min(60, 2 ** item.message.attempts) });
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
  message: Message<unknown>;
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
 */
async function project(env: Env, db: Database, items: Projected[]): Promise<void> {
  const statements: BatchItem<"sqlite">[] = [];
  const notified: { at: number; traceparent: string }[] = [];
  const traceparents = new Map<string, string>();
  const latest = new Map<string, OrderRow>();
  for (const { event, trace } of items) {
    const { span } = trace;
    statements.push(audit(db, event), ...tradingProjections(db, event, latest));
    const draft = notificationOf(event);
    if (!draft) continue;
    notified.push({ at: statements.length, traceparent: span.traceparent });
    // The deliveries join on the notification rows, so they come after them.
    statements.push(storeNotification(db, event, draft), eventDeliveries(db, event, draft));
    // A duplicate in the batch queues nothing of its own: its deliveries are its first copy's.
    if (!traceparents.has(event.id)) traceparents.set(event.id, span.traceparent);
  }
  for (const row of latest.values()) statements.push(orderHistory(db, row));
  const results = await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  // The rows each notification statement returned are the ones it inserted: a redelivered
  // event pushes none. A user's reach their socket in the events' order, users side by side.
  const queues = new Map<string, Promise<void>>();
  for (const { at, traceparent } of notified)
    for (const row of results[at] as NotificationRow[]) queues.set(row.userId, (queues.get(row.userId) ?? Promise.resolve()).then(() => pushNotifications(env, [row], traceparent)));
  const pushed = Promise.all(queues.values());
  try {
    await queueUntriedDeliveries(env, db, traceparents);
  } finally {
    // Pushing never throws (best effort); it runs beside the queueing and ends before the messages are settled.
    await pushed;
  }
}

function audit(db: Database, event: DomainEvent) {
  return db
    .insert(schema.auditLog)
    .values({
      eventId: event.id,
      type: event.type,
      subject: event.subject,
      occurredAt: event.occurredAt,
      traceparent: event.traceparent,
      data: JSON.stringify(event.data),
    })
    .onConflictDoNothing({ target: schema.auditLog.eventId });
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

type OrderRow = typeof schema.orderHistory.$inferInsert;

/**
 * Order events keep order_history at each order's latest state and add fills to
 * fill_history. The order's row is not written here but kept in `latest`, the batch's
 * highest version per order, written once after the batch's events (an order's submitted,
 * new and fill events usually share a batch): the upsert keeps the highest version it is
 * given, so the rows the batch's older versions would have written change nothing.
 */
function tradingProjections(db: Database, event: DomainEvent, latest: Map<string, OrderRow>) {
  if (!event.type.startsWith("order.")) return [];
  const data = OrderEventData.safeParse(event.data);
  if (!data.success) return [];
  const { order, user_id: userId, version } = data.data;
  const known = latest.get(order.id);
  if (!known || version > known.version)
    latest.set(order.id, { orderId: order.id, userId, symbol: order.symbol, side: order.side, status: order.status, version, lastEventAt: event.occurredAt, data: JSON.stringify(order) });
  const fill = data.data;
  if (!(fill.execution_id && fill.price && fill.qty && fill.fee && fill.realized_pl)) return [];
  return [
    db
      .insert(schema.fillHistory)
      .values({ executionId: fill.execution_id, orderId: order.id, userId, symbol: order.symbol, side: order.side, price: fill.price, qty: fill.qty, fee: fill.fee, realizedPl: fill.realized_pl, occurredAt: event.occurredAt })
      .onConflictDoNothing({ target: schema.fillHistory.executionId }),
  ];
}

/** An order's row at its latest state: inserted, or updated when its version is newer than the stored one. */
function orderHistory(db: Database, row: OrderRow) {
  return db
    .insert(schema.orderHistory)
    .values(row)
    .onConflictDoUpdate({
      target: schema.orderHistory.orderId,
      set: { status: row.status, version: row.version, lastEventAt: row.lastEventAt, data: row.data },
      setWhere: sql`excluded.version > ${schema.orderHistory.version}`,
    });
}
