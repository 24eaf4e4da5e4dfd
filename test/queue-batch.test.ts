import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";
import { domainEvent, type DomainEvent } from "../shared/events";
import type { NotificationView } from "../shared/notifications/schemas";
import worker from "../workers/index";
import { inJsonChunks, JSON_PARAMETER_MAX_BYTES } from "../platform/json-chunks";
import { call, json, signUp, until, type TestUser } from "./helpers";
import { instrument, type CallLog } from "./instrumented";

// The events consumer writes a whole message batch in one D1 batch (one transaction) and
// reads its webhook deliveries once. What a user relies on stays as it was one message at a
// time: every row lands once, a redelivered batch changes nothing and pushes nothing, and
// one event D1 refuses holds back no other.

const receiver = inject("webhooks").url;
let batches = 0;

async function deliver(events: unknown[], attempts = 1) {
  const prefix = `b${(batches += 1)}`;
  const batch = createMessageBatch("redfire-events-dev", events.map((body, i) => ({ id: `${prefix}-${i}`, timestamp: new Date(), attempts, body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  const result = await getQueueResult(batch, ctx);
  const index = (id: string) => Number(id.slice(prefix.length + 1));
  return { acked: result.explicitAcks.map(index).sort((a: number, b: number) => a - b), retried: result.retryMessages.map((m: { msgId: string }) => index(m.msgId)).sort((a: number, b: number) => a - b) };
}

/** The events a market order makes as the account publishes them: submitted, new, then one event per fill. */
function orderEvents(user: TestUser, fills: string[], symbol = "AAPL"): { orderId: string; executions: string[]; events: DomainEvent[] } {
  const orderId = crypto.randomUUID();
  const qty = fills.reduce((sum, q) => sum + Number(q), 0).toString();
  let version = 0;
  let filled = 0;
  const event = (type: DomainEvent["type"], status: string, extra: Record<string, unknown> = {}) =>
    domainEvent(type, `account:${user.id}`, { account_id: user.id, user_id: user.id, version: (version += 1), order: { id: orderId, symbol, side: "buy", status, qty, filled_qty: String(filled) }, ...extra }, null);
  const executions = fills.map((_, i) => `${symbol}:${orderId}:${i}`);
  const events = [event("order.submitted", "pending_new"), event("order.new", "new")];
  fills.forEach((q, i) => {
    filled += Number(q);
    const last = i === fills.length - 1;
    events.push(event(last ? "order.filled" : "order.partially_filled", last ? "filled" : "partially_filled", { execution_id: executions[i], price: "100.05", qty: q, fee: "0.00", realized_pl: "0.00" }));
  });
  return { orderId, executions, events };
}

/** Two traders' orders, one filled at once, one in two fills, one more of the first trader's; their events interleaved as one batch. */
async function twoTraders() {
  const [a, b] = await Promise.all([signUp(), signUp()]);
  const orders = [orderEvents(a, ["2"]), orderEvents(b, ["1", "3"], "MSFT"), orderEvents(a, ["5"], "TSLA")];
  const events: DomainEvent[] = [];
  for (let i = 0; i < 4; i++) for (const o of orders) if (o.events[i]) events.push(o.events[i]!);
  return { a, b, orders, events };
}

const rows = async <T>(sql: string, ...binds: unknown[]) => (await env.DB.prepare(sql).bind(...binds).all<T>()).results;
const ids = (events: DomainEvent[]) => JSON.stringify(events.map((e) => e.id));

/** Everything the events wrote, read back per table. */
async function landed(events: DomainEvent[], orderIds: string[]) {
  return {
    audit: await rows<{ event_id: string }>("SELECT event_id FROM audit_log WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY event_id", ids(events)),
    orders: await rows<{ order_id: string; status: string; version: number }>("SELECT order_id, status, version FROM order_history WHERE order_id IN (SELECT value FROM json_each(?)) ORDER BY order_id", JSON.stringify(orderIds)),
    fills: await rows<{ execution_id: string; qty: string }>("SELECT execution_id, qty FROM fill_history WHERE order_id IN (SELECT value FROM json_each(?)) ORDER BY execution_id", JSON.stringify(orderIds)),
    notifications: await rows<{ user_id: string; event_id: string; kind: string }>("SELECT user_id, event_id, kind FROM notifications WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY id", ids(events)),
  };
}

async function listen(user: TestUser, streams = ["notifications"]) {
  const res = await call("/stream", { headers: { upgrade: "websocket" }, token: user.access, ip: user.ip });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: { stream: string; data: NotificationView }[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string) as (typeof frames)[number]);
  });
  /** Sends a listen and waits for its answer. */
  const relisten = async (to: string[]) => {
    const answers = frames.filter((f) => f.stream === "listening").length;
    ws.send(JSON.stringify({ action: "listen", data: { streams: to } }));
    await until(async () => frames.filter((f) => f.stream === "listening").length > answers, "listening");
  };
  await relisten(streams);
  return { ws, relisten, pushed: () => frames.filter((f) => f.stream === "notifications").map((f) => f.data) };
}

const listenerRow = async (user: TestUser) => (await rows("SELECT user_id FROM notification_listeners WHERE user_id = ?", user.id)).length === 1;

/** An admin's message to `user`: pushed after everything delivered before it, so its push says the earlier ones had their chance. */
async function sentinel(user: TestUser, stream: Awaited<ReturnType<typeof listen>>) {
  const title = `sentinel ${crypto.randomUUID()}`;
  expect((await deliver([domainEvent("admin.message", `user:${user.id}`, { user_id: user.id, title, body: "the last one", by: user.id }, null)])).acked).toEqual([0]);
  await until(async () => stream.pushed().some((n) => n.title === title), `${title}'s push`);
}

const fillsPushed = (stream: Awaited<ReturnType<typeof listen>>) =>
  stream
    .pushed()
    .filter((n) => n.kind === "order.filled" || n.kind === "order.partially_filled")
    .map((n) => `${n.kind} ${String(n.data.order_id)} ${String(n.data.execution_id)}`)
    .sort();

async function hook(user: TestUser, events: string[]) {
  const name = crypto.randomUUID();
  const res = await call("/api/webhooks", { body: { url: `${receiver}/${name}`, events }, token: user.access, ip: user.ip });
  if (res.status !== 201) throw new Error(`webhook refused: ${res.status} ${await res.text()}`);
  const { id } = await json<{ id: string }>(res);
  const received = async () => ((await (await fetch(`${receiver}/${name}`)).json()) as { body: string }[]).map((r) => (JSON.parse(r.body) as { id: string; type: string }).id).sort();
  return { id, received };
}

describe("the events consumer, a batch at a time", () => {
  it("a batch of two traders' orders lands every audit row, order and fill row and notification once, and pushes each fill once", async () => {
    const { a, b, orders, events } = await twoTraders();
    const [streamA, streamB] = await Promise.all([listen(a), listen(b)]);
    expect(await deliver(events)).toEqual({ acked: events.map((_, i) => i), retried: [] });

    const got = await landed(events, orders.map((o) => o.orderId));
    expect(got.audit.map((r) => r.event_id)).toEqual(events.map((e) => e.id).sort());
    expect(got.orders).toEqual(orders.map((o) => ({ order_id: o.orderId, status: "filled", version: o.events.length })).sort((x, y) => x.order_id.localeCompare(y.order_id)));
    expect(got.fills).toEqual(
      [
        { execution_id: orders[0]!.executions[0]!, qty: "2" },
        { execution_id: orders[1]!.executions[0]!, qty: "1" },
        { execution_id: orders[1]!.executions[1]!, qty: "3" },
        { execution_id: orders[2]!.executions[0]!, qty: "5" },
      ].sort((x, y) => x.execution_id.localeCompare(y.execution_id)),
    );
    const fillEvents = events.filter((e) => e.type === "order.filled" || e.type === "order.partially_filled");
    // In the batch's order: each event's notification after the one before it.
    expect(got.notifications).toEqual(fillEvents.map((e) => ({ user_id: (e.data as { user_id: string }).user_id, event_id: e.id, kind: e.type })));

    const expected = (user: TestUser) =>
      fillEvents
        .filter((e) => (e.data as { user_id: string }).user_id === user.id)
        .map((e) => `${e.type} ${(e.data as { order: { id: string } }).order.id} ${String((e.data as { execution_id: string }).execution_id)}`)
        .sort();
    await until(async () => fillsPushed(streamA).length === 2 && fillsPushed(streamB).length === 2, "each trader's fills on their socket");
    await Promise.all([sentinel(a, streamA), sentinel(b, streamB)]);
    expect(fillsPushed(streamA)).toEqual(expected(a));
    expect(fillsPushed(streamB)).toEqual(expected(b));
    streamA.ws.close();
    streamB.ws.close();
  });

  it("a batch mixing fills, a message to everyone and an event for no known user stores each user's notifications in the events' order", async () => {
    const { a, b, events } = await twoTraders();
    const everyone = domainEvent("admin.message", "users", { user_id: null, title: `to all ${crypto.randomUUID()}`, body: "maintenance", by: a.id }, null);
    const nobody = domainEvent("admin.message", "user:nobody", { user_id: crypto.randomUUID(), title: "to no one", body: "lost", by: a.id }, null);
    const batch = [...events.slice(0, 6), everyone, nobody, ...events.slice(6), everyone];
    expect((await deliver(batch)).retried).toEqual([]);
    const of = async (user: TestUser) => (await rows<{ event_id: string }>("SELECT event_id FROM notifications WHERE user_id = ? ORDER BY id", user.id)).map((r) => r.event_id);
    const expected = (user: TestUser) =>
      [...events.slice(0, 6), everyone, ...events.slice(6)].filter((e) => e === everyone || ((e.type === "order.filled" || e.type === "order.partially_filled") && (e.data as { user_id: string }).user_id === user.id)).map((e) => e.id);
    expect(await of(a)).toEqual(expected(a));
    expect(await of(b)).toEqual(expected(b));
    expect(await rows("SELECT id FROM notifications WHERE event_id = ?", nobody.id)).toEqual([]);
  });

  it("a notification is pushed only to a user with a socket listening: the other's account object is not called", async () => {
    const { a, b, orders, events } = await twoTraders();
    const streamA = await listen(a);
    const calls: CallLog = [];
    const restore = instrument(env, calls);
    try {
      expect((await deliver(events)).retried).toEqual([]);
    } finally {
      restore();
    }
    const notifies = (user: TestUser) => calls.filter((c) => c === `ACCOUNT(${user.id}).notify`).length;
    // a's two fills pushed, one call each; b, with no socket, stored and never called.
    expect([notifies(a), notifies(b)]).toEqual([2, 0]);
    await until(async () => fillsPushed(streamA).length === 2, "a's fills on the socket");
    expect((await landed(events, orders.map((o) => o.orderId))).notifications).toHaveLength(4);
    streamA.ws.close();
  });

  it("a user's listener row follows their sockets: written before `listening` answers, kept while any socket listens, gone after the last", async () => {
    const user = await signUp();
    expect(await listenerRow(user)).toBe(false);
    const first = await listen(user, ["trade_updates"]);
    expect(await listenerRow(user)).toBe(false);
    await first.relisten(["trade_updates", "notifications"]);
    // No waiting: the answer came after the row.
    expect(await listenerRow(user)).toBe(true);
    const second = await listen(user);
    await first.relisten(["trade_updates"]);
    expect(await listenerRow(user)).toBe(true);
    second.ws.close(1000, "done");
    await until(async () => !(await listenerRow(user)), "the row gone after the last listener closed");
    // A notification stored now is not pushed to anyone; listening again brings the row back.
    await first.relisten(["notifications"]);
    expect(await listenerRow(user)).toBe(true);
    first.ws.close(1000, "done");
    await until(async () => !(await listenerRow(user)), "the row gone again");
  });

  it("rows travel as JSON chunks that keep their order, each within the parameter size D1 takes", () => {
    const bytes = (text: string) => new TextEncoder().encode(text).length;
    const row = fc.array(fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.integer(), fc.constant(null)), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 60 }), fc.integer({ min: 2, max: 400 }), (rows, max) => {
        const chunks = inJsonChunks(rows, max);
        // Every row once, in order; none empty.
        expect(chunks.flatMap((c) => JSON.parse(c) as unknown[][])).toEqual(rows);
        for (const chunk of chunks) {
          const parsed = JSON.parse(chunk) as unknown[][];
          expect(parsed.length).toBeGreaterThan(0);
          // Within the bound, unless one row alone is over it.
          if (parsed.length > 1) expect(bytes(chunk)).toBeLessThanOrEqual(max);
        }
        // Greedy: a chunk took the next row whenever it fit.
        for (let i = 1; i < chunks.length; i++) {
          const next = JSON.parse(chunks[i]!) as unknown[][];
          expect(bytes(chunks[i - 1]!) + 1 + bytes(JSON.stringify(next[0]))).toBeGreaterThan(max);
        }
      }),
      { numRuns: 1000 },
    );
    expect(inJsonChunks([])).toEqual([]);
  });

  it("every column of the audit, fill and order rows comes from its event", async () => {
    const user = await signUp();
    const { orderId, executions, events } = orderEvents(user, ["3"], "MSFT");
    const traced = events.map((e) => ({ ...e, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }));
    expect(await deliver(traced)).toEqual({ acked: [0, 1, 2], retried: [] });
    const filled = traced[2]!;
    const audit = await rows<Record<string, unknown>>("SELECT event_id, type, subject, occurred_at, traceparent, data, typeof(recorded_at) AS recorded FROM audit_log WHERE event_id = ?", filled.id);
    expect(audit).toEqual([{ event_id: filled.id, type: "order.filled", subject: filled.subject, occurred_at: filled.occurredAt, traceparent: filled.traceparent, data: JSON.stringify(filled.data), recorded: "integer" }]);
    expect(await rows("SELECT * FROM fill_history WHERE order_id = ?", orderId)).toEqual([
      { execution_id: executions[0], order_id: orderId, user_id: user.id, symbol: "MSFT", side: "buy", price: "100.05", qty: "3", fee: "0.00", realized_pl: "0.00", occurred_at: filled.occurredAt },
    ]);
    expect(await rows("SELECT * FROM order_history WHERE order_id = ?", orderId)).toEqual([
      { order_id: orderId, user_id: user.id, symbol: "MSFT", side: "buy", status: "filled", version: 3, last_event_at: filled.occurredAt, data: JSON.stringify(filled.data.order) },
    ]);
  });

  it("events larger than one statement's parameter land in several statements, every row once", async () => {
    // 24 events of about 90 KB each: their audit rows are over two million bytes, three statements.
    const user = await signUp();
    const padding = "x".repeat(90_000);
    const events = Array.from({ length: 24 }, (_, i) => domainEvent("account.cash_changed", `account:${user.id}`, { account_id: user.id, user_id: user.id, amount: String(i), padding }, null));
    expect(inJsonChunks(events.map((e) => [e.id, JSON.stringify(e.data)])).length).toBe(3);
    expect(await deliver(events)).toEqual({ acked: events.map((_, i) => i), retried: [] });
    const got = await rows<{ event_id: string; size: number }>("SELECT event_id, length(data) AS size FROM audit_log WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY event_id", ids(events));
    expect(got).toEqual(events.map((e) => ({ event_id: e.id, size: JSON.stringify(e.data).length })).sort((x, y) => x.event_id.localeCompare(y.event_id)));
    expect(JSON_PARAMETER_MAX_BYTES * 2).toBeLessThan(events.length * 90_000);
  });

  it("a full batch, more rows of each table than one statement binds, lands every row once; delivered again it changes nothing", async () => {
    // 50 events (the batch size): 10 orders of one fill and 5 of two, so 15 order rows, 20
    // fill rows and 50 audit rows, each over the rows one D1 statement takes (12, 10 and 16).
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const orders = Array.from({ length: 15 }, (_, i) => orderEvents(i % 2 ? a : b, i < 10 ? ["1"] : ["1", "2"], ["AAPL", "MSFT", "TSLA"][i % 3]));
    // Every order's events reversed within the batch: its row still ends at its latest version.
    const events = orders.flatMap((o) => o.events);
    events.reverse();
    expect(events).toHaveLength(50);
    const fills = orders.flatMap((o) => o.executions);
    expect(fills).toHaveLength(20);
    expect(await deliver(events)).toEqual({ acked: events.map((_, i) => i), retried: [] });
    const got = await landed(events, orders.map((o) => o.orderId));
    expect(got.audit.map((r) => r.event_id)).toEqual(events.map((e) => e.id).sort());
    expect(got.orders).toEqual(orders.map((o) => ({ order_id: o.orderId, status: "filled", version: o.events.length })).sort((x, y) => x.order_id.localeCompare(y.order_id)));
    expect(got.fills.map((f) => f.execution_id)).toEqual([...fills].sort());
    expect(got.notifications).toHaveLength(fills.length);
    // The same 50 again, and half of them with a duplicate of each inside one batch.
    expect(await deliver(events, 2)).toEqual({ acked: events.map((_, i) => i), retried: [] });
    const half = events.slice(0, 25);
    expect(await deliver([...half, ...half], 2)).toEqual({ acked: Array.from({ length: 50 }, (_, i) => i), retried: [] });
    expect(await landed(events, orders.map((o) => o.orderId))).toEqual(got);
  });

  it("an order's row ends at its latest version whatever order its events arrive in, within a batch and across batches", async () => {
    const user = await signUp();
    const partial = orderEvents(user, ["1", "3"]);
    // One batch, newest first: the row is the fill's, not the first event's.
    const reversed = [...partial.events].reverse();
    expect((await deliver(reversed)).retried).toEqual([]);
    const once = await landed(partial.events, [partial.orderId]);
    expect(once.orders).toEqual([{ order_id: partial.orderId, status: "filled", version: 4 }]);
    expect(once.fills.map((f) => f.qty)).toEqual(["1", "3"]);
    // An older batch arriving after a newer one does not take the row back.
    const split = orderEvents(user, ["2"]);
    expect((await deliver(split.events.slice(1))).retried).toEqual([]);
    expect((await deliver(split.events.slice(0, 1))).retried).toEqual([]);
    expect((await landed(split.events, [split.orderId])).orders).toEqual([{ order_id: split.orderId, status: "filled", version: 3 }]);
  });

  it("the same batch delivered again changes nothing and pushes nothing", async () => {
    const { a, b, orders, events } = await twoTraders();
    const [streamA, streamB] = await Promise.all([listen(a), listen(b)]);
    expect((await deliver(events)).retried).toEqual([]);
    await until(async () => fillsPushed(streamA).length === 2 && fillsPushed(streamB).length === 2, "the first delivery's pushes");
    const before = await landed(events, orders.map((o) => o.orderId));

    // Redelivered as the queue would after a lost acknowledgement, and in another order with a duplicate inside.
    expect(await deliver(events, 2)).toEqual({ acked: events.map((_, i) => i), retried: [] });
    const shuffled = [...events].reverse();
    expect(await deliver([...shuffled, shuffled[0]!], 3)).toEqual({ acked: [...shuffled, shuffled[0]].map((_, i) => i), retried: [] });

    expect(await landed(events, orders.map((o) => o.orderId))).toEqual(before);
    await Promise.all([sentinel(a, streamA), sentinel(b, streamB)]);
    expect(fillsPushed(streamA)).toHaveLength(2);
    expect(fillsPushed(streamB)).toHaveLength(2);
    streamA.ws.close();
    streamB.ws.close();
  });

  it("an event D1 refuses is retried alone; the rest of its batch lands", async () => {
    const { a, orders, events } = await twoTraders();
    // No event a producer of RedFire's sends breaks a constraint (every insert is "or
    // nothing", or an upsert), and local D1 takes values far beyond the queue's 128 KB. So
    // the test has D1 itself refuse one event, with a trigger on its audit row: it stands
    // for whatever D1 refuses of one event and not of the others.
    const poisoned = orderEvents(a, ["7"]).events.at(-1)!;
    const trigger = `refuse_${poisoned.id.replaceAll("-", "")}`;
    await env.DB.prepare(`CREATE TRIGGER ${trigger} BEFORE INSERT ON audit_log WHEN NEW.event_id = '${poisoned.id}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`).run();
    try {
      const batch = [...events.slice(0, 5), poisoned, ...events.slice(5)];
      expect(await deliver(batch)).toEqual({ acked: batch.map((_, i) => i).filter((i) => i !== 5), retried: [5] });
    } finally {
      await env.DB.prepare(`DROP TRIGGER ${trigger}`).run();
    }

    const got = await landed(events, orders.map((o) => o.orderId));
    expect(got.audit).toHaveLength(events.length);
    expect(got.orders.map((o) => [o.status, o.version]).sort()).toEqual(orders.map((o) => ["filled", o.events.length]).sort());
    expect(got.fills).toHaveLength(4);
    expect(got.notifications).toHaveLength(4);
    // Nothing of the refused event: its audit row, fill and notification went together.
    expect(await landed([poisoned], [(poisoned.data as { order: { id: string } }).order.id])).toEqual({ audit: [], orders: [], fills: [], notifications: [] });

    // Its retry, once D1 takes it, lands it whole.
    expect(await deliver([poisoned], 2)).toEqual({ acked: [0], retried: [] });
    const retried = await landed([poisoned], [(poisoned.data as { order: { id: string } }).order.id]);
    expect([retried.audit.length, retried.orders.length, retried.fills.length, retried.notifications.length]).toEqual([1, 1, 1, 1]);
  });

  it("a batch queues one delivery per matching webhook and event, sent once, and a redelivered batch queues none", async () => {
    const { a, b, events } = await twoTraders();
    const [fillsA, everythingA, rejectsA, fillsB] = await Promise.all([
      hook(a, ["order.filled", "order.partially_filled"]),
      hook(a, ["order.filled"]),
      hook(a, ["order.rejected"]),
      hook(b, ["order.filled", "order.partially_filled"]),
    ]);
    // A duplicate inside the batch (the queue delivers at least once) adds no delivery of its own.
    const duplicate = events.find((e) => e.type === "order.partially_filled")!;
    expect((await deliver([...events, duplicate])).retried).toEqual([]);
    const of = (user: TestUser, ...types: string[]) =>
      events
        .filter((e) => (e.data as { user_id: string }).user_id === user.id && types.includes(e.type))
        .map((e) => e.id)
        .sort();
    const deliveries = async (webhookId: string) => (await rows<{ event_id: string }>("SELECT event_id FROM webhook_deliveries WHERE webhook_id = ? ORDER BY event_id", webhookId)).map((r) => r.event_id);
    expect(await deliveries(fillsA.id)).toEqual(of(a, "order.filled", "order.partially_filled"));
    expect(await deliveries(everythingA.id)).toEqual(of(a, "order.filled"));
    expect(await deliveries(rejectsA.id)).toEqual([]);
    expect(await deliveries(fillsB.id)).toEqual(of(b, "order.filled", "order.partially_filled"));

    // Sent: the receiver has each of them.
    await until(async () => (await fillsB.received()).length === 2 && (await fillsA.received()).length === 2 && (await everythingA.received()).length === 2, "the deliveries at the receiver");
    await until(
      async () => (await rows<{ n: number }>("SELECT count(*) AS n FROM webhook_deliveries WHERE webhook_id IN (?, ?, ?) AND status = 'delivered'", fillsA.id, everythingA.id, fillsB.id))[0]!.n === 6,
      "the deliveries to be marked delivered",
    );

    // Delivered once more: no new delivery row, nothing queued again (the sentinel delivery comes after anything it would have queued).
    expect(await deliver(events, 2)).toEqual({ acked: events.map((_, i) => i), retried: [] });
    const later = orderEvents(b, ["4"]).events;
    expect((await deliver(later)).retried).toEqual([]);
    await until(async () => (await fillsB.received()).includes(later.at(-1)!.id), "a later fill's delivery");
    expect(await deliveries(fillsB.id)).toEqual([...of(b, "order.filled", "order.partially_filled"), later.at(-1)!.id].sort());
    expect(await fillsB.received()).toEqual([...of(b, "order.filled", "order.partially_filled"), later.at(-1)!.id].sort());
    expect(await fillsA.received()).toEqual(of(a, "order.filled", "order.partially_filled"));
    expect(await everythingA.received()).toEqual(of(a, "order.filled"));
    expect(await rejectsA.received()).toEqual([]);
  });
});

// An account sends the events one command stored as one message, an array (shared/events.ts):
// each message costs the queue and the consumer alike whatever it carries.
describe("the events consumer, several events a message", () => {
  it("each order's events as one message land exactly as one event a message does; delivered again they change nothing and push nothing", async () => {
    const { a, b, orders, events } = await twoTraders();
    const [streamA, streamB] = await Promise.all([listen(a), listen(b)]);
    const messages = orders.map((o) => o.events);
    expect(await deliver(messages)).toEqual({ acked: [0, 1, 2], retried: [] });

    const got = await landed(events, orders.map((o) => o.orderId));
    expect(got.audit.map((r) => r.event_id)).toEqual(events.map((e) => e.id).sort());
    expect(got.orders).toEqual(orders.map((o) => ({ order_id: o.orderId, status: "filled", version: o.events.length })).sort((x, y) => x.order_id.localeCompare(y.order_id)));
    expect(got.fills.map((f) => f.execution_id)).toEqual(orders.flatMap((o) => o.executions).sort());
    expect(got.notifications.map((n) => n.event_id).sort()).toEqual(events.filter((e) => e.type === "order.filled" || e.type === "order.partially_filled").map((e) => e.id).sort());
    await until(async () => fillsPushed(streamA).length === 2 && fillsPushed(streamB).length === 2, "each trader's fills on their socket");

    // Again, as a redelivery: nothing new lands, nothing is pushed again.
    expect(await deliver(messages, 2)).toEqual({ acked: [0, 1, 2], retried: [] });
    await Promise.all([sentinel(a, streamA), sentinel(b, streamB)]);
    expect(await landed(events, orders.map((o) => o.orderId))).toEqual(got);
    expect([fillsPushed(streamA).length, fillsPushed(streamB).length]).toEqual([2, 2]);
    streamA.ws.close();
    streamB.ws.close();
  });

  it("a message with one malformed event is retried whole (and so dead-lettered) and nothing of it lands; the batch's other messages do", async () => {
    const { orders } = await twoTraders();
    const [first, second] = [orders[0]!, orders[1]!];
    const broken = [...first.events.slice(0, 2), { ...first.events[2]!, id: "not-a-uuid" }];
    expect(await deliver([broken, second.events])).toEqual({ acked: [1], retried: [0] });
    expect(await landed(first.events, [first.orderId])).toEqual({ audit: [], orders: [], fills: [], notifications: [] });
    expect((await landed(second.events, [second.orderId])).audit).toHaveLength(second.events.length);
    // An empty array is no message either.
    expect(await deliver([[]])).toEqual({ acked: [], retried: [0] });
  });

  it("a message D1 refuses an event of is retried whole; the batch's other messages land, and its retry lands it all", async () => {
    const { orders } = await twoTraders();
    const [refused, other] = [orders[1]!, orders[2]!];
    const poisoned = refused.events.at(-1)!;
    const trigger = `refuse_${poisoned.id.replaceAll("-", "")}`;
    await env.DB.prepare(`CREATE TRIGGER ${trigger} BEFORE INSERT ON audit_log WHEN NEW.event_id = '${poisoned.id}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`).run();
    try {
      expect(await deliver([refused.events, other.events])).toEqual({ acked: [1], retried: [0] });
    } finally {
      await env.DB.prepare(`DROP TRIGGER ${trigger}`).run();
    }
    // The message went together: none of its events landed, not only the refused one.
    expect(await landed(refused.events, [refused.orderId])).toEqual({ audit: [], orders: [], fills: [], notifications: [] });
    expect((await landed(other.events, [other.orderId])).orders).toEqual([{ order_id: other.orderId, status: "filled", version: other.events.length }]);
    expect(await deliver([refused.events], 2)).toEqual({ acked: [0], retried: [] });
    const got = await landed(refused.events, [refused.orderId]);
    expect([got.audit.length, got.orders.length, got.fills.length, got.notifications.length]).toEqual([refused.events.length, 1, 2, 2]);
  });
});
