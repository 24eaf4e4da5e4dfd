import { logger } from "../../platform/log";
import { database, schema } from "../../platform/db";
import { METRICS_STORE } from "../../shared/observability/catalog";

const log = logger("queue");

/**
 * The envelope's type and id, when the dead message is a domain event; for a message of
 * several events (shared/events.ts), its first event's, with how many it carried.
 */
function eventOf(body: unknown): { eventType: string | null; eventId: string | null; events: number } {
  const first: unknown = Array.isArray(body) ? body[0] : body;
  const e = (typeof first === "object" && first !== null ? first : {}) as { type?: unknown; id?: unknown };
  return { eventType: typeof e.type === "string" ? e.type.slice(0, 100) : null, eventId: typeof e.id === "string" ? e.id.slice(0, 100) : null, events: Array.isArray(body) ? body.length : 1 };
}

/**
 * Domain events the consumer gave up on (after max_retries): logged, kept whole in D1's
 * `dead_events` (once per message id, so a redelivery is one row) for an admin to replay
 * (`POST /api/admin/dead-events/{message_id}/replay`), counted in the metrics object (once
 * per message id too) and acknowledged, so the dead-letter queue drains. If either cannot
 * be stored, the batch is retried.
 */
export async function consumeDeadEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const at = Date.now();
  const letters = batch.messages.map((message) => {
    const { events, ...event } = eventOf(message.body);
    log("error", "event dead-lettered", { queue: batch.queue, messageId: message.id, attempts: message.attempts, events, ...event });
    return { queue: batch.queue, messageId: message.id, attempts: message.attempts, at, events, body: JSON.stringify(message.body) ?? "null", ...event };
  });
  try {
    const db = database(env);
    const rows = letters.map((l) => ({ messageId: l.messageId, queue: l.queue, eventType: l.eventType, eventId: l.eventId, events: l.events, body: l.body, attempts: l.attempts, deadAt: l.at }));
    // Ten rows a statement: nine parameters each, inside D1's hundred.
    for (let i = 0; i < rows.length; i += 10) await db.insert(schema.deadEvents).values(rows.slice(i, i + 10)).onConflictDoNothing().run();
    await env.METRICS.getByName(METRICS_STORE).deadLetters(letters.map(({ queue, messageId, attempts, at, eventType, eventId }) => ({ queue, messageId, attempts, at, eventType, eventId })));
    batch.ackAll();
  } catch (error) {
    log("warn", "dead letters not counted; retrying them", { queue: batch.queue, messages: letters.length, error: String(error) });
    batch.retryAll();
  }
}
