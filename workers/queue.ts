import { DomainEvent } from "../shared/events";
import { database, schema } from "./lib/db";
import { log } from "./lib/log";

// Projects domain events into the audit log. Idempotent by event id: a redelivered
// message inserts nothing. A message that fails is retried, then dead-lettered.
export async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
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
    try {
      await db
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
      message.ack();
    } catch (error) {
      log("error", "event projection failed", { eventId: event.id, type: event.type, traceparent: event.traceparent, error: String(error) });
      message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
    }
  }
}
