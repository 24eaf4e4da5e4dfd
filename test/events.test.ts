import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { domainEvent, EVENT_MESSAGE_MAX_BYTES, EVENT_MESSAGE_MAX_EVENTS, EventMessage, packEvents } from "../shared/events";
import worker from "../workers/index";
import { call, signUp } from "./helpers";

const auditRows = (subject: string) =>
  env.DB.prepare("SELECT event_id, type, traceparent, data FROM audit_log WHERE subject = ? ORDER BY occurred_at").bind(subject).all<{ event_id: string; type: string; traceparent: string; data: string }>();

async function deliver(messages: { id: string; body: unknown; attempts?: number }[]) {
  const batch = createMessageBatch("redfire-events-dev", messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("domain events", () => {
  it("a sign-up travels through the queue into the audit log with the request's trace id", async () => {
    const user = await signUp();
    const rows = await eventually(async () => {
      const { results } = await auditRows(`user:${user.id}`);
      return results.some((r) => r.type === "user.registered") ? results : undefined;
    });
    const registered = rows.find((r) => r.type === "user.registered")!;
    expect(JSON.parse(registered.data)).toMatchObject({ userId: user.id, role: "trader" });
    expect(registered.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it("an admin's role change is audited with who made it", async () => {
    const admin = await signUp("admin");
    const user = await signUp();
    await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { role: "user" }, token: admin.access });
    const change = await eventually(async () => (await auditRows(`user:${user.id}`)).results.find((r) => r.type === "user.role_changed"));
    expect(JSON.parse(change.data)).toEqual({ userId: user.id, from: "trader", to: "user", by: admin.id });
  });

  it("the consumer is idempotent: one event delivered three times is recorded once", async () => {
    const event = domainEvent("user.updated", `user:${crypto.randomUUID()}`, { n: 1 }, null);
    for (let i = 1; i <= 3; i++) {
      const result = await deliver([{ id: `m${i}`, body: event, attempts: i }]);
      expect(result.explicitAcks).toEqual([`m${i}`]);
    }
    const { results } = await auditRows(event.subject);
    expect(results).toHaveLength(1);
    expect(results[0]?.event_id).toBe(event.id);
  });

  it("a duplicate inside one batch is recorded once and both copies are acknowledged", async () => {
    const event = domainEvent("user.updated", `user:${crypto.randomUUID()}`, { n: 2 }, null);
    const result = await deliver([
      { id: "a", body: event },
      { id: "b", body: event },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["a", "b"]);
    expect((await auditRows(event.subject)).results).toHaveLength(1);
  });

  it("a malformed event is retried (and so dead-lettered), never recorded", async () => {
    const subject = `user:${crypto.randomUUID()}`;
    const result = await deliver([{ id: "bad", body: { type: "user.updated", subject } }]);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["bad"]);
    expect((await auditRows(subject)).results).toHaveLength(0);
  });
});

describe("packing events into queue messages", () => {
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;
  const eventOf = (i: number, text: string) => domainEvent("order.new", `account:${i}`, { note: text }, null, { id: crypto.randomUUID(), at: Date.UTC(2026, 0, 1) + i });

  it("keeps every event in order, each message within the size (an event larger alone), as few messages as the order allows", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary", maxLength: 600 }), { maxLength: 250 }), fc.integer({ min: 150, max: 200_000 }), (texts, max) => {
        const events = texts.map((t, i) => eventOf(i, t));
        const messages = packEvents(events, max);
        expect(messages.flat()).toEqual(events);
        for (const [i, m] of messages.entries()) {
          expect(m.length).toBeGreaterThan(0);
          if (m.length > 1) expect(bytes(m)).toBeLessThanOrEqual(max);
          expect(m.length).toBeLessThanOrEqual(EVENT_MESSAGE_MAX_EVENTS);
          // Greedy: the next message's first event would not have fitted in this one.
          if (i + 1 < messages.length && m.length < EVENT_MESSAGE_MAX_EVENTS) expect(bytes([...m, messages[i + 1]![0]])).toBeGreaterThan(max);
          expect(EventMessage.safeParse(m).success).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("an order's events go as one message; a full outbox of large events as several under the queue's 128 KB", () => {
    const order = [eventOf(1, "submitted"), eventOf(2, "new"), eventOf(3, "filled")];
    expect(packEvents(order)).toEqual([order]);
    const large = Array.from({ length: 100 }, (_, i) => eventOf(i, "x".repeat(3000)));
    const messages = packEvents(large);
    expect(messages.length).toBeGreaterThan(1);
    expect(messages.flat()).toEqual(large);
    for (const m of messages) expect(bytes(m)).toBeLessThanOrEqual(EVENT_MESSAGE_MAX_BYTES);
    // Small events: at most EVENT_MESSAGE_MAX_EVENTS a message, which the consumer's schema takes.
    const many = Array.from({ length: 250 }, (_, i) => eventOf(i, ""));
    expect(packEvents(many).map((m) => m.length)).toEqual([100, 100, 50]);
  });
});
