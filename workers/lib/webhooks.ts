import { and, eq, inArray, ne, sql } from "drizzle-orm";
import { z } from "zod";
import type { WebhookEventType } from "../../shared/notifications/notifications";
import { DeliveryMessage, retryDelaySeconds, SIGNATURE_HEADER, signatureHeader, webhookPayload, webhookUrlProblem } from "../../shared/notifications/webhooks";
import { database, inJsonList, schema, type Database } from "../../platform/db";
import { logger } from "../../platform/log";
import { endSpan, startSpan, type Span } from "../../platform/trace";
import type { Drafted } from "./notifications";

// Webhook deliveries (docs/notifications.md): rows in webhook_deliveries, one message each
// on the WEBHOOKS queue. The consumer signs and sends; a failure is retried with back-off by
// the queue, then dead-lettered, and the dead-letter consumer marks the row dead.

const log = logger("queue");
const TIMEOUT_MS = 10_000;
const d = schema.webhookDeliveries;

/**
 * A delivery's message: the delivery, and the traceparent of the span that queued it (the
 * events consumer's, or the request's for a test event or a redelivery), so the delivery's
 * span and the receiver continue the trace (docs/tracing.md). Messages queued before it
 * carried none start their own trace.
 */
const TracedDelivery = DeliveryMessage.extend({ traceparent: z.string().nullish() });
type TracedDelivery = z.infer<typeof TracedDelivery>;

/**
 * The statement that adds a delivery of each of a batch's events to every webhook of its
 * recipients that asked for its kind, in the events' order. The recipients are the events'
 * notification rows, so it must run after the statement that stores them (in the same
 * batch, so they land together), and a message to all users reaches all their webhooks in
 * the same statement. A redelivered event adds nothing. A disabled user's webhooks get
 * nothing. The events travel as one JSON parameter (D1 binds at most 100 to a statement).
 */
export function eventDeliveries(db: Database, drafted: readonly Drafted[], now: number) {
  const events = JSON.stringify(drafted.map(({ event, draft }) => ({ event: event.id, kind: draft.kind, payload: webhookPayload(event.id, event.occurredAt, draft.kind, draft.title, draft.body, draft.data) })));
  const w = schema.webhooks;
  const n = schema.notifications;
  const u = schema.users;
  // Every column in the table's order (a null id is the next one).
  const rows = sql`SELECT NULL, ${w.id}, e.value ->> 'event', 0, e.value ->> 'kind', e.value ->> 'payload', 'pending', 0, NULL, NULL, NULL, ${now}, NULL
    FROM json_each(${events}) AS e JOIN ${n} ON ${n.eventId} = e.value ->> 'event' JOIN ${w} ON ${w.userId} = ${n.userId}
    JOIN ${u} ON ${u.id} = ${w.userId} AND ${u.status} = 'active'
    WHERE EXISTS (SELECT 1 FROM json_each(${w.events}) AS k WHERE k.value = e.value ->> 'kind')
    ORDER BY e.key, ${w.id}`;
  return db.insert(d).select(rows).onConflictDoNothing();
}

/**
 * Queues the deliveries of these events not yet tried, in one read for them all; each
 * message carries its event's traceparent. A delivery a redelivered event finds untried
 * (queueing failed the first time) is queued now.
 */
export async function queueUntriedDeliveries(env: Env, db: Database, traceparents: ReadonlyMap<string, string | null>): Promise<void> {
  if (traceparents.size === 0) return;
  const untried = await db
    .select({ id: d.id, eventId: d.eventId })
    .from(d)
    .where(and(inJsonList(d.eventId, [...traceparents.keys()]), eq(d.status, "pending"), eq(d.attempts, 0)))
    .all();
  await enqueue(env, untried.map((r) => ({ delivery_id: r.id, traceparent: traceparents.get(r.eventId) ?? null })));
}

/** A new delivery to one webhook (a test event, or a manual redelivery of an earlier one), queued. */
export async function queueDelivery(env: Env, delivery: { webhookId: string; eventId: string; seq: number; eventType: WebhookEventType; payload: string }, traceparent: string | null = null) {
  const row = await database(env)
    .insert(d)
    .values({ ...delivery, status: "pending", attempts: 0, createdAt: Date.now() })
    .returning()
    .get();
  await enqueue(env, [{ delivery_id: row.id, traceparent }]);
  return row;
}

async function enqueue(env: Env, messages: TracedDelivery[]): Promise<void> {
  // sendBatch takes at most 100 messages.
  for (let i = 0; i < messages.length; i += 100) await env.WEBHOOKS.sendBatch(messages.slice(i, i + 100).map((body) => ({ body, contentType: "json" as const })));
}

/** The webhooks queue: one attempt per message; a failed one is retried after the back-off. */
export async function consumeDeliveries(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = database(env);
  await Promise.all(
    batch.messages.map(async (message) => {
      const parsed = TracedDelivery.safeParse(message.body);
      if (!parsed.success) {
        log("error", "webhook delivery message rejected", { queue: batch.queue, messageId: message.id });
        return message.ack();
      }
      const span = startSpan("webhook.delivery", parsed.data.traceparent);
      const fields = { delivery: parsed.data.delivery_id, attempt: message.attempts };
      try {
        const outcome = await attempt(db, env.ENVIRONMENT, parsed.data.delivery_id, span);
        endSpan(span, log, { ...fields, ...outcome.fields }, outcome.done ? "info" : "warn");
        if (outcome.done) message.ack();
        else message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      } catch (error) {
        endSpan(span, log, { ...fields, error: String(error) }, "error");
        log("error", "webhook delivery failed to run", { delivery: parsed.data.delivery_id, error: String(error) });
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      }
    }),
  );
}

/** The webhooks' dead-letter queue: a delivery that ran out of attempts is marked dead (a manual redelivery can still send it). */
export async function consumeDeadDeliveries(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const ids = batch.messages.flatMap((m) => {
    const parsed = DeliveryMessage.safeParse(m.body);
    return parsed.success ? [parsed.data.delivery_id] : [];
  });
  if (ids.length > 0) await database(env).update(d).set({ status: "dead" }).where(and(inArray(d.id, ids), ne(d.status, "delivered"))).run();
  batch.ackAll();
}

/** One attempt at a delivery; answers whether it is done (delivered, or nothing left to send), and what its span logs. */
async function attempt(db: Database, environment: string, id: number, span: Span): Promise<{ done: boolean; fields: Record<string, unknown> }> {
  const found = await db
    .select({ delivery: d, url: schema.webhooks.url, secret: schema.webhooks.secret, owner: schema.users.status })
    .from(d)
    .innerJoin(schema.webhooks, eq(schema.webhooks.id, d.webhookId))
    .innerJoin(schema.users, eq(schema.users.id, schema.webhooks.userId))
    .where(eq(d.id, id))
    .get();
  // A deleted webhook takes its deliveries with it; a delivered one is not sent twice.
  if (!found || found.delivery.status === "delivered" || found.delivery.status === "dead") return { done: true, fields: { skipped: found?.delivery.status ?? "gone" } };
  // A disabled user's webhooks are not called, whatever was queued before they were disabled:
  // the delivery ends dead, unsent, and the log says why (enabled again, they may redeliver it).
  if (found.owner !== "active") {
    await db.update(d).set({ status: "dead", error: "not sent: the webhook's owner is disabled" }).where(eq(d.id, id)).run();
    return { done: true, fields: { skipped: "owner_disabled", eventType: found.delivery.eventType } };
  }
  const { delivery, url, secret } = found;
  // The URL rules again, as they are now: a URL stored under an older, looser rule is not called.
  const refused = webhookUrlProblem(url, environment);
  if (refused) {
    await db.update(d).set({ status: "dead", error: `not sent: ${refused}` }).where(eq(d.id, id)).run();
    return { done: true, fields: { skipped: "url_refused", eventType: delivery.eventType } };
  }
  // What a user sends by hand (a test, a redelivery: seq above 0) is tried once: with the
  // queue's retries each call made up to 13 requests to a URL of the caller's choosing, at
  // the request rate (found in QA); the user sees the answer and may send it again.
  const once = delivery.eventType === "webhook.test" || delivery.seq > 0;
  const started = Date.now();
  const outcome = await send(url, secret, delivery, started, span.traceparent);
  const latencyMs = Date.now() - started;
  await db
    .update(d)
    .set({
      status: outcome.ok ? "delivered" : once ? "dead" : "failing",
      attempts: sql`${d.attempts} + 1`,
      responseStatus: outcome.status,
      latencyMs,
      error: outcome.error,
      lastAttemptAt: started,
    })
    .where(eq(d.id, id))
    .run();
  return { done: outcome.ok || once, fields: { host: hostOf(url), status: outcome.status, eventType: delivery.eventType, ...(outcome.error ? { error: outcome.error } : {}) } };
}

// Only the host is logged: a webhook's path and query may carry the receiver's own secrets.
const hostOf = (url: string): string | null => {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
};

async function send(url: string, secret: string, delivery: typeof d.$inferSelect, now: number, traceparent: string): Promise<{ ok: boolean; status: number | null; error: string | null }> {
  try {
    const res = await fetch(url, {
      method: "POST",
      body: delivery.payload,
      // A redirect is not followed: it could lead to an address the URL rules refuse.
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: {
        "content-type": "application/json",
        "user-agent": "RedFire-Webhooks/1",
        [SIGNATURE_HEADER]: await signatureHeader(secret, Math.floor(now / 1000), delivery.payload),
        "RedFire-Event": delivery.eventType,
        "RedFire-Delivery": String(delivery.id),
        // The delivery's own span: the receiver can continue the trace of what caused it.
        traceparent,
      },
    });
    await res.body?.cancel();
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, error: ok ? null : `the receiver answered ${res.status}` };
  } catch (error) {
    return { ok: false, status: null, error: networkError(error) };
  }
}

/**
 * Why a request got no answer, in words the webhook's owner can act on. The runtime says
 * only "internal error; reference = …" when a name does not resolve, which read as our
 * fault (found in QA), and "Network connection lost." when a connection is refused.
 */
function networkError(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return `no answer within ${TIMEOUT_MS / 1000} s`;
  const message = error instanceof Error ? error.message : String(error);
  if (/^(internal error\b|network connection lost)/i.test(message)) return "could not connect to the receiver (the name did not resolve, or the connection was refused)";
  return message.slice(0, 500);
}
