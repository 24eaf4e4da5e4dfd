import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { NotificationView } from "../shared/notifications/schemas";
import { call, json, signUp } from "./helpers";

/** Runs one migration's statements again, on rows written as an older version wrote them. */
async function rerun(prefix: string) {
  const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith(prefix));
  if (!migration) throw new Error(`no migration ${prefix}`);
  for (const query of migration.queries) await env.DB.prepare(query).run();
}

describe("data migrations", () => {
  it("0012 removes the sending admin's id from messages stored before, and from their deliveries not yet sent", async () => {
    const user = await signUp();
    const now = Date.now();
    const old = (eventId: string, kind: string, data: Record<string, unknown>) =>
      env.DB.prepare("INSERT INTO notifications (user_id, event_id, kind, title, body, data, created_at) VALUES (?, ?, ?, 'title', 'body', ?, ?)").bind(user.id, eventId, kind, JSON.stringify(data), now);
    const webhook = crypto.randomUUID();
    const payload = (eventId: string) => JSON.stringify({ id: eventId, type: "admin.message", created_at: new Date(now).toISOString(), title: "title", body: "body", data: { from: "admin-1" } });
    const delivery = (eventId: string, status: string) =>
      env.DB.prepare("INSERT INTO webhook_deliveries (webhook_id, event_id, seq, event_type, payload, status, attempts, created_at) VALUES (?, ?, 0, 'admin.message', ?, ?, 0, ?)").bind(webhook, eventId, payload(eventId), status, now);
    await env.DB.batch([
      old("ev-message", "admin.message", { from: "admin-1" }),
      // Another kind's `from` is not a sender: it stays.
      old("ev-other", "order.filled", { from: "venue", order_id: "o-1" }),
      env.DB.prepare("INSERT INTO webhooks (id, user_id, url, events, secret) VALUES (?, ?, 'https://example.com/hook', '[\"admin.message\"]', 'secret')").bind(webhook, user.id),
      delivery("ev-pending", "pending"),
      delivery("ev-sent", "delivered"),
    ]);
    await rerun("0012_");

    const list = await json<{ notifications: NotificationView[] }>(await call("/api/notifications?limit=100", { token: user.access, ip: user.ip }));
    const byKind = Object.fromEntries(list.notifications.map((n) => [n.kind, n.data]));
    expect(byKind["admin.message"]).toEqual({});
    expect(byKind["order.filled"]).toEqual({ from: "venue", order_id: "o-1" });
    const payloads = await env.DB.prepare("SELECT event_id, payload FROM webhook_deliveries WHERE webhook_id = ? ORDER BY event_id").bind(webhook).all<{ event_id: string; payload: string }>();
    const data = Object.fromEntries(payloads.results.map((r) => [r.event_id, (JSON.parse(r.payload) as { data: unknown }).data]));
    // Not yet sent: scrubbed. Sent: the exact body that went out.
    expect(data).toEqual({ "ev-pending": {}, "ev-sent": { from: "admin-1" } });
  });
});
