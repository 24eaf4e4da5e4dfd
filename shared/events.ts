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
