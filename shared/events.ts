import { z } from "zod";

// The one envelope every domain event travels in (README, "Domain events"): the account,
// the gateway and the queue consumer all speak it.
export const EVENT_TYPES = [
  "user.registered",
  "user.updated",
  "user.password_changed",
  "user.role_changed",
  "user.status_changed",
  "user.api_key_created",
  "user.api_key_revoked",
  "config.asset_created",
  "config.asset_updated",
  "market.history_imported",
  "strategy.created",
  "strategy.updated",
  "strategy.deleted",
  "strategy.started",
  "strategy.stopped",
  "strategy.errored",
  "backtest.completed",
  "order.submitted",
  "order.new",
  "order.partially_filled",
  "order.filled",
  "order.canceled",
  "order.expired",
  "order.rejected",
  "order.replaced",
  "account.cash_changed",
  "account.status_changed",
  "admin.message",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const DomainEvent = z.object({
  id: z.uuid(),
  type: z.enum(EVENT_TYPES),
  version: z.literal(1),
  occurredAt: z.iso.datetime(),
  subject: z.string().min(1),
  traceparent: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});
export type DomainEvent = z.infer<typeof DomainEvent>;

/** An event; engines pass their own id and time (they have no clock or id source of their own). */
export function domainEvent(
  type: EventType,
  subject: string,
  data: Record<string, unknown>,
  traceparent: string | null,
  stamp: { id: string; at: number } = { id: crypto.randomUUID(), at: Date.now() },
): DomainEvent {
  return { id: stamp.id, type, version: 1, occurredAt: new Date(stamp.at).toISOString(), subject, traceparent, data };
}

/** Events in one message at most (an account's flush takes up to 100 from its outbox). */
export const EVENT_MESSAGE_MAX_EVENTS = 100;

/**
 * A message on the events queue: one event, or the events one publisher flushes at once (an
 * order's submitted, new and fill events) as an array in one message. Each message costs
 * the queue and its consumer the same whatever it carries, so an account sends an order's
 * events as one; the consumer projects each event of a message and settles the message once.
 */
export const EventMessage = z.union([DomainEvent, z.array(DomainEvent).min(1).max(EVENT_MESSAGE_MAX_EVENTS)]);
export type EventMessage = z.infer<typeof EventMessage>;

/** The events of a message body (one event or an array of them). */
export const eventsOf = (message: EventMessage): DomainEvent[] => (Array.isArray(message) ? message : [message]);

/**
 * A queue message's body at most: Cloudflare Queues take up to 128 KB a message; the rest
 * is room for the runtime's own framing.
 */
export const EVENT_MESSAGE_MAX_BYTES = 96 * 1024;

/**
 * Packs events, in order, into as few message bodies as fit `maxBytes` of JSON and
 * EVENT_MESSAGE_MAX_EVENTS events each (an event alone larger than `maxBytes` still gets a
 * message of its own, which the queue refuses as it would have before). Each body is an
 * array, so the consumer reads one shape.
 */
export function packEvents(events: readonly DomainEvent[], maxBytes = EVENT_MESSAGE_MAX_BYTES): DomainEvent[][] {
  const messages: DomainEvent[][] = [];
  let current: DomainEvent[] = [];
  // "[" and "]", and a comma between events.
  let bytes = 2;
  for (const event of events) {
    const size = utf8Length(JSON.stringify(event));
    if (current.length > 0 && (bytes + 1 + size > maxBytes || current.length === EVENT_MESSAGE_MAX_EVENTS)) {
      messages.push(current);
      current = [];
      bytes = 2;
    }
    bytes += (current.length > 0 ? 1 : 0) + size;
    current.push(event);
  }
  if (current.length > 0) messages.push(current);
  return messages;
}

const encoder = new TextEncoder();
const utf8Length = (text: string): number => encoder.encode(text).length;
