import { domainEvent, type EventType } from "../../shared/events";
import { log } from "../../platform/log";

/**
 * Publishes a domain event. Awaited, so a queue failure is logged with the trace id of
 * the request that caused it; the state change itself has already committed.
 */
export async function publish(env: Env, type: EventType, subject: string, data: Record<string, unknown>, traceparent: string): Promise<void> {
  const event = domainEvent(type, subject, data, traceparent);
  try {
    await env.EVENTS.send(event, { contentType: "json" });
  } catch (error) {
    log("error", "event publish failed", { eventId: event.id, type, subject, traceparent, error: String(error) });
  }
}
