import { sql } from "drizzle-orm";
import { z } from "zod";
import { DomainEvent } from "../shared/events";
import { database, schema } from "../platform/db";
import { logger } from "../platform/log";
import { endSpan, startSpan } from "../platform/trace";
import { notificationOf } from "../shared/notifications/notifications";
import { pushNotifications, storeNotification } from "./lib/notifications";
import { consumeDeadEvents } from "./lib/dead-letters";
import { consumeDeadDeliveries, consumeDeliveries, queueEventDeliveries } from "./lib/webhooks";

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
  for (const message of batch.messages) {
    const parsed = DomainEvent.safeParse(message.body);
    if (!parsed.success) {
      // A malformed event never succeeds; after max_retries it lands in the dead-letter queue.
      log("error", "event rejected", { queue: batch.queue, messageId: message.id, issues: parsed.error.issues.length });
      message.retry();
      continue;
    }
    const event = parsed.data;
    // One span per event, a child of the span that published it; the webhook deliveries it queues continue from it.
    const span = startSpan("queue.event", event.traceparent);
    const fields = { eventId: event.id, type: event.type, subject: event.subject, attempt: message.attempts };
    try {
      const audit = db
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
      const draft = notificationOf(event);
      // One batch is one transaction: the audit row, the projections and the notification land together.
      const results = await db.batch([audit, ...tradingProjections(db, event), ...(draft ? [storeNotification(db, event, draft)] : [])]);
      if (draft) {
        await pushNotifications(env, results.at(-1) as Awaited<ReturnType<typeof storeNotification>>, span.traceparent);
        await queueEventDeliveries(env, db, event, draft, span.traceparent);
      }
      message.ack();
      endSpan(span, log, fields);
    } catch (error) {
      endSpan(span, log, { ...fields, error: String(error) }, "error");
      log("error", "event projection failed", { eventId: event.id, type: event.type, traceparent: event.traceparent, error: String(error) });
      message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
    }
  }
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

/** Order events keep order_history at each order's latest state and add fills to fill_history. */
function tradingProjections(db: ReturnType<typeof database>, event: DomainEvent) {
  if (!event.type.startsWith("order.")) return [];
  const data = OrderEventData.safeParse(event.data);
  if (!data.success) return [];
  const { order, user_id: userId, version } = data.data;
  const row = { orderId: order.id, userId, symbol: order.symbol, side: order.side, status: order.status, version, lastEventAt: event.occurredAt, data: JSON.stringify(order) };
  const statements = [
    db
      .insert(schema.orderHistory)
      .values(row)
      .onConflictDoUpdate({
        target: schema.orderHistory.orderId,
        set: { status: row.status, version: row.version, lastEventAt: row.lastEventAt, data: row.data },
        setWhere: sql`excluded.version > ${schema.orderHistory.version}`,
      }),
  ];
  const fill = data.data;
  if (fill.execution_id && fill.price && fill.qty && fill.fee && fill.realized_pl)
    statements.push(
      db
        .insert(schema.fillHistory)
        .values({ executionId: fill.execution_id, orderId: order.id, userId, symbol: order.symbol, side: order.side, price: fill.price, qty: fill.qty, fee: fill.fee, realizedPl: fill.realized_pl, occurredAt: event.occurredAt })
        .onConflictDoNothing({ target: schema.fillHistory.executionId }) as never,
    );
  return statements;
}
