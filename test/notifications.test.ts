import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { domainEvent, type DomainEvent } from "../shared/events";
import { notificationOf } from "../shared/notifications/notifications";
import { AdminMessageRequest, type NotificationView } from "../shared/notifications/schemas";
import worker from "../workers/index";
import { call, expectError, json, signUp, until, type TestUser } from "./helpers";
import { placed, quotedMarket } from "./trading/helpers";
import { COIN, seededBars } from "./strategy/helpers";
import { createInstrument, step } from "./market-helpers";

// In-app notifications: the queue consumer turns the domain events users are told of into
// rows of their list and frames on their socket's `notifications` stream.

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

interface Frame {
  stream: string;
  data: NotificationView & { streams?: string[] };
}

async function listen(user: TestUser) {
  const res = await call("/stream", { headers: { upgrade: "websocket" }, token: user.access, ip: user.ip });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: Frame[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string) as Frame);
  });
  ws.send(JSON.stringify({ action: "listen", data: { streams: ["notifications"] } }));
  await until(async () => frames.find((f) => f.stream === "listening"), "listening");
  return { ws, notifications: () => frames.filter((f) => f.stream === "notifications").map((f) => f.data) };
}

const get = async <T>(user: TestUser, path: string): Promise<T> => {
  const res = await call(path, { token: user.access, ip: user.ip });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return json<T>(res);
};
const unread = async (user: TestUser) => (await get<{ unread: number }>(user, "/api/notifications/unread_count")).unread;
const list = (user: TestUser, query = "") => get<{ notifications: NotificationView[]; next_page_token: string | null }>(user, `/api/notifications${query}`);

/** An admin's message to `user` (or to everyone), and the wait until it is in their list. */
async function message(user: TestUser, title: string, to: string | null = user.id): Promise<NotificationView> {
  const res = await call("/api/admin/notifications", { body: { ...(to && { user_id: to }), title, body: `about ${title}` }, token: admin.access, ip: admin.ip });
  expect(res.status).toBe(202);
  // Waits on D1 itself: polling the API would spend the user's rate limit.
  await until(async () => stored(user, title), `the message ${title}`);
  return (await list(user)).notifications.find((n) => n.title === title)!;
}

const stored = (user: TestUser, title: string) => env.DB.prepare("SELECT id FROM notifications WHERE user_id = ? AND title = ?").bind(user.id, title).first();

async function deliver(events: DomainEvent[]) {
  const batch = createMessageBatch("redfire-events-dev", events.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

describe("notifications", () => {
  it("a fill reaches the owner's socket at once and stays in their list, unread", async () => {
    const [user, market] = await Promise.all([signUp(), quotedMarket(admin)]);
    const stream = await listen(user);
    const order = await placed(user, { symbol: market.symbol, qty: "3", side: "buy", type: "market", time_in_force: "day" });
    const pushed = await until(async () => stream.notifications().find((n) => n.kind === "order.filled"), "the fill's notification on the socket");
    expect(pushed).toMatchObject({ kind: "order.filled", read_at: null, data: { order_id: order.id, symbol: market.symbol, side: "buy", qty: "3" } });
    expect(pushed.title).toContain(market.symbol);
    const { notifications } = await list(user);
    expect(notifications.find((n) => n.id === pushed.id)).toEqual(pushed);
    expect(await unread(user)).toBe(notifications.length);
    stream.ws.close();
  });

  it("a finished backtest tells its owner, with the run's id and result", async () => {
    const user = await signUp();
    const bars = seededBars(300, 7).bars.map((b) => ({ ...b, t: new Date(b.t).toISOString() }));
    const res = await call("/api/backtests", {
      body: { template: "ma-cross", params: { fast: 5, slow: 20 }, symbol: COIN.symbol, tick_size: COIN.tickSize, lot_size: COIN.lotSize, timeframe: "1Hour", bars },
      token: user.access,
      ip: user.ip,
    });
    expect(res.status).toBe(201);
    const { id } = await json<{ id: string }>(res);
    const row = await until(
      async () => env.DB.prepare("SELECT title, data FROM notifications WHERE user_id = ? AND kind = 'backtest.completed'").bind(user.id).first<{ title: string; data: string }>(),
      "the backtest's notification",
      20_000,
    );
    expect(row.title).toBe(`Backtest finished: ${COIN.symbol}`);
    expect(JSON.parse(row.data)).toMatchObject({ backtest_id: id, status: "done", error: null });
  });

  it("a live strategy that keeps throwing, and one its owner stops, each tell the owner", async () => {
    const user = await signUp();
    const bars = seededBars(20, 5).bars.map((b) => ({ ...b, t: new Date(b.t).toISOString() }));
    const asset = await createInstrument(admin, { class: "crypto", tick_size: "0.01", lot_size: "0.0001", feed: { kind: "none" } });
    const csv = ["timestamp,open,high,low,close,volume", ...bars.map((b) => `${b.t},${b.open},${b.high},${b.low},${b.close},${b.volume}`)].join("\n");
    expect((await call(`/api/admin/assets/${asset.id}/history?timeframe=1Min`, { token: admin.access, rawBody: csv, headers: { "content-type": "text/csv" } })).status).toBe(200);
    const create = async (body: Record<string, unknown>) =>
      json<{ id: string }>(await call("/api/strategies", { token: user.access, ip: user.ip, body: { name: crypto.randomUUID().slice(0, 8), symbol: asset.symbol, timeframe: "1Min", ...body } }));
    const source = "export default { onBar() { const broken: any = null; return broken.size; } };";
    const failing = await create({ kind: "code", language: "ts", source });
    const stopped = await create({ kind: "template", template: "ma-cross" });
    const start = async (id: string) => expect((await call(`/api/strategies/${id}/start`, { method: "POST", token: user.access, ip: user.ip })).status).toBe(200);
    await start(stopped.id);
    // Three stops at once and one after: one stop, told once.
    const stops = await Promise.all([1, 2, 3].map(() => call(`/api/strategies/${stopped.id}/stop`, { method: "POST", token: user.access, ip: user.ip })));
    expect(stops.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await call(`/api/strategies/${stopped.id}/stop`, { method: "POST", token: user.access, ip: user.ip })).status).toBe(200);
    // One of a user's strategies runs at a time on a symbol: the failing one starts now.
    await start(failing.id);
    const replay = { feed: { kind: "replay", timeframe: "1Min", speed: 10_000_000, loop: false } };
    expect((await call(`/api/admin/assets/${asset.id}`, { method: "PATCH", token: admin.access, body: replay })).status).toBe(200);
    const kinds = async () => (await env.DB.prepare("SELECT kind, data FROM notifications WHERE user_id = ? ORDER BY id").bind(user.id).all<{ kind: string; data: string }>()).results;
    const rows = await until(
      async () => {
        await step(asset.symbol);
        const found = await kinds();
        return found.length >= 2 && found;
      },
      "both strategies' notifications",
      30_000,
    );
    expect(rows.map((r) => [r.kind, (JSON.parse(r.data) as { strategy_id: string }).strategy_id]).sort()).toEqual(
      [
        ["strategy.errored", failing.id],
        ["strategy.stopped", stopped.id],
      ].sort(),
    );
    expect(JSON.parse(rows.find((r) => r.kind === "strategy.errored")!.data)).toMatchObject({ symbol: asset.symbol, message: expect.stringContaining("null") });
    // Nothing more arrives for the repeated stops.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await kinds()).filter((r) => r.kind === "strategy.stopped")).toHaveLength(1);
  });

  it("unread counts fall as notifications are marked read, one or all; marking twice keeps the first read time", async () => {
    const user = await signUp();
    const first = await message(user, "one");
    await message(user, "two");
    await message(user, "three");
    expect(await unread(user)).toBe(3);

    const read = await json<NotificationView>(await call(`/api/notifications/${first.id}/read`, { method: "POST", token: user.access, ip: user.ip }));
    expect(read).toMatchObject({ id: first.id, title: "one" });
    expect(read.read_at).not.toBeNull();
    expect(await unread(user)).toBe(2);
    const again = await json<NotificationView>(await call(`/api/notifications/${first.id}/read`, { method: "POST", token: user.access, ip: user.ip }));
    expect(again.read_at).toBe(read.read_at);
    expect((await list(user, "?unread=true")).notifications.map((n) => n.title)).toEqual(["three", "two"]);

    const all = await json<{ marked: number }>(await call("/api/notifications/read_all", { method: "POST", token: user.access, ip: user.ip }));
    expect(all.marked).toBe(2);
    expect(await unread(user)).toBe(0);
    expect((await list(user, "?unread=true")).notifications).toEqual([]);
    expect((await list(user)).notifications).toHaveLength(3);
  });

  it("pages run newest first without overlap, and the last page has no token", async () => {
    const user = await signUp();
    for (const title of ["a", "b", "c", "d", "e"]) await message(user, title);
    const titles: string[] = [];
    let token: string | null = "";
    let pages = 0;
    while (token !== null) {
      const page = await list(user, `?limit=2${token ? `&page_token=${token}` : ""}`);
      titles.push(...page.notifications.map((n) => n.title));
      token = page.next_page_token;
      pages += 1;
    }
    expect(titles).toEqual(["e", "d", "c", "b", "a"]);
    expect(pages).toBe(3);
  });

  it("an admin's message to everyone reaches every active user", async () => {
    const [a, b] = await Promise.all([signUp(), signUp("guest")]);
    const title = `maintenance ${crypto.randomUUID()}`;
    await message(a, title, null);
    await until(async () => stored(b, title), "the message in the guest's list");
    expect((await list(b)).notifications.map((n) => n.title)).toEqual([title]);
  });

  it("a redelivered event makes one notification and one push", async () => {
    const user = await signUp();
    const stream = await listen(user);
    const event = domainEvent("admin.message", `user:${user.id}`, { user_id: user.id, title: "once", body: "only once", by: admin.id }, null);
    const sentinel = domainEvent("admin.message", `user:${user.id}`, { user_id: user.id, title: "after", body: "the last one", by: admin.id }, null);
    const result = await deliver([event, event, sentinel]);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1", "m2"]);
    expect((await deliver([event])).explicitAcks).toEqual(["m0"]);
    await until(async () => stream.notifications().find((n) => n.title === "after"), "the sentinel's push");
    expect(stream.notifications().filter((n) => n.title === "once")).toHaveLength(1);
    expect((await list(user)).notifications.map((n) => n.title)).toEqual(["after", "once"]);
    stream.ws.close();
  });

  it("a dead-lettered event is kept whole, and an admin's replay delivers it once", async () => {
    const user = await signUp();
    const event = domainEvent("admin.message", `user:${user.id}`, { user_id: user.id, title: "back from the dead", body: "replayed", by: admin.id }, null);
    // The dead-letter queue hands it over twice (a redelivery): one row.
    const messageId = crypto.randomUUID();
    for (let delivery = 0; delivery < 2; delivery++) {
      const batch = createMessageBatch("redfire-events-dlq-dev", [{ id: messageId, timestamp: new Date(), attempts: 1, body: [event] }]);
      const ctx = createExecutionContext();
      await worker.queue(batch, env);
      expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    }
    expect(await stored(user, "back from the dead")).toBeNull();
    const page = await get<{ events: { message_id: string; event_type: string; event_id: string; events: number; replayed_at: string | null; body: unknown }[] }>(admin, "/api/admin/dead-events?limit=200");
    const dead = page.events.filter((e) => e.message_id === messageId);
    expect(dead).toEqual([expect.objectContaining({ event_type: "admin.message", event_id: event.id, events: 1, replayed_at: null, body: [JSON.parse(JSON.stringify(event))] })]);
    await expectError(await call("/api/admin/dead-events", { token: user.access, ip: user.ip }), 403);
    await expectError(await call("/api/admin/dead-events/nope/replay", { method: "POST", token: admin.access, ip: admin.ip }), 404);
    // Replayed (twice: the consumers are idempotent), it makes one notification.
    for (let i = 0; i < 2; i++) {
      const res = await call(`/api/admin/dead-events/${messageId}/replay`, { method: "POST", token: admin.access, ip: admin.ip });
      expect(res.status).toBe(202);
      expect((await json<{ replayed_at: string | null }>(res)).replayed_at).not.toBeNull();
    }
    await until(async () => stored(user, "back from the dead"), "the replayed event's notification");
    await new Promise((r) => setTimeout(r, 500));
    expect((await list(user)).notifications.filter((n) => n.title === "back from the dead")).toHaveLength(1);
  });

  it("a blocked account (its user disabled) is told why", async () => {
    const user = await signUp();
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access, ip: admin.ip })).status).toBe(200);
    const row = await until(
      async () => env.DB.prepare("SELECT kind, title, data FROM notifications WHERE user_id = ? AND kind = 'account.status_changed'").bind(user.id).first<{ kind: string; title: string; data: string }>(),
      "the trading-blocked notification",
    );
    expect(row.title).toBe("Trading blocked");
    expect(JSON.parse(row.data)).toEqual({ trading_blocked: true, reason: "the user is disabled" });
  });

  it("suspending trading in the account's configuration is told as the trader's own switch, and so is resuming", async () => {
    const user = await signUp();
    const rows = () => env.DB.prepare("SELECT title, data FROM notifications WHERE user_id = ? AND kind = 'account.status_changed' ORDER BY id").bind(user.id).all<{ title: string; data: string }>();
    for (const suspend_trade of [true, false])
      expect((await call("/v2/account/configurations", { method: "PATCH", body: { suspend_trade }, token: user.access, ip: user.ip })).status).toBe(200);
    const both = await until(async () => ((await rows()).results.length === 2 ? (await rows()).results : undefined), "both notifications");
    expect(both.map((r) => [r.title, JSON.parse(r.data)])).toEqual([
      ["Trading suspended", { trade_suspended_by_user: true }],
      ["Trading resumed", { trade_suspended_by_user: false }],
    ]);
  });

  it("a user enabled again while their own suspend_trade is on is told new orders stay refused (QA)", async () => {
    const user = await signUp();
    expect((await call("/v2/account/configurations", { method: "PATCH", body: { suspend_trade: true }, token: user.access, ip: user.ip })).status).toBe(200);
    for (const status of ["disabled", "active"])
      expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status }, token: admin.access, ip: admin.ip })).status).toBe(200);
    const rows = () => env.DB.prepare("SELECT title, body FROM notifications WHERE user_id = ? AND kind = 'account.status_changed' ORDER BY id").bind(user.id).all<{ title: string; body: string }>();
    const all = await until(async () => ((await rows()).results.length === 3 ? (await rows()).results : undefined), "three notifications");
    expect(all.map((r) => r.title)).toEqual(["Trading suspended", "Trading blocked", "Trading allowed again"]);
    expect(all[2]!.body).toBe("Your account is enabled again; new orders stay refused while suspend_trade is on in its configuration.");
  });

  it("a disabled user gets no admin message, to them or to all; an active one does (QA)", async () => {
    const [user, other] = await Promise.all([signUp(), signUp()]);
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access, ip: admin.ip })).status).toBe(200);
    const tag = crypto.randomUUID();
    const toThem = domainEvent("admin.message", `user:${user.id}`, { user_id: user.id, title: `to them ${tag}`, body: "b", by: admin.id }, null);
    const toAll = domainEvent("admin.message", "users", { user_id: null, title: `to all ${tag}`, body: "b", by: admin.id }, null);
    const toOther = domainEvent("admin.message", `user:${other.id}`, { user_id: other.id, title: `to other ${tag}`, body: "b", by: admin.id }, null);
    expect((await deliver([toThem, toAll, toOther])).explicitAcks.sort()).toEqual(["m0", "m1", "m2"]);
    const titles = async (id: string) => (await env.DB.prepare("SELECT title FROM notifications WHERE user_id = ? AND kind = 'admin.message'").bind(id).all<{ title: string }>()).results.map((r) => r.title);
    expect(await titles(user.id)).toEqual([]);
    expect((await titles(other.id)).sort()).toEqual([`to all ${tag}`, `to other ${tag}`]);
    // Enabled again, they get the next one.
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "active" }, token: admin.access, ip: admin.ip })).status).toBe(200);
    const after = domainEvent("admin.message", `user:${user.id}`, { user_id: user.id, title: `after ${tag}`, body: "b", by: admin.id }, null);
    await deliver([after]);
    expect(await titles(user.id)).toEqual([`after ${tag}`]);
  });

  it("an admin's message to one disabled user is refused (409, saying so), not accepted and dropped", async () => {
    const user = await signUp();
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access, ip: admin.ip })).status).toBe(200);
    const refused = await expectError(await call("/api/admin/notifications", { body: { user_id: user.id, title: "hello", body: "b" }, token: admin.access, ip: admin.ip }), 409);
    expect(refused.message).toBe(`user ${user.id} is disabled: a disabled user gets no messages; enable them first`);
    expect(refused.details).toEqual([{ path: "user_id", message: "the user is disabled" }]);
  });

  it("an admin's message does not tell its recipients the sender's user id; the audit log keeps it (QA)", async () => {
    const user = await signUp();
    const stream = await listen(user);
    const title = `from staff ${crypto.randomUUID()}`;
    const shown = await message(user, title);
    expect(shown.data).toEqual({});
    const pushed = await until(async () => stream.notifications().find((n) => n.title === title), "the message's push");
    expect(pushed.data).toEqual({});
    expect(JSON.stringify(pushed)).not.toContain(admin.id);
    stream.ws.close();
    const audit = await until(
      async () => env.DB.prepare("SELECT data FROM audit_log WHERE type = 'admin.message' AND subject = ?").bind(`user:${user.id}`).first<{ data: string }>(),
      "the message's audit row",
    );
    expect(JSON.parse(audit.data)).toMatchObject({ user_id: user.id, title, by: admin.id });
  });

  it("another user's notification is not found and stays unread", async () => {
    const [owner, other] = await Promise.all([signUp(), signUp()]);
    const mine = await message(owner, "private");
    await expectError(await call(`/api/notifications/${mine.id}/read`, { method: "POST", token: other.access, ip: other.ip }), 404);
    expect(await unread(owner)).toBe(1);
    expect((await list(other)).notifications).toEqual([]);
  });

  it("bad input is a 4xx in the envelope and changes nothing", async () => {
    const user = await signUp();
    await message(user, "keep me unread");
    const cases: [string, Parameters<typeof call>[1], number][] = [
      ["/api/notifications?limit=0", {}, 422],
      ["/api/notifications?limit=101", {}, 422],
      ["/api/notifications?limit=abc", {}, 422],
      ["/api/notifications?page_token=-1", {}, 422],
      ["/api/notifications?page_token=1e3", {}, 422],
      ["/api/notifications?unread=yes", {}, 422],
      ["/api/notifications/abc/read", { method: "POST" }, 422],
      ["/api/notifications/0/read", { method: "POST" }, 422],
      ["/api/notifications/99999999999999999999/read", { method: "POST" }, 422],
      ["/api/notifications/123456789/read", { method: "POST" }, 404],
      ["/api/notifications/read_all", { method: "DELETE" }, 405],
    ];
    for (const [path, options, status] of cases) await expectError(await call(path, { ...options, token: user.access, ip: user.ip }), status);
    const adminCases: [unknown, number][] = [
      [{ user_id: user.id, title: "", body: "x" }, 422],
      [{ user_id: user.id, title: "t" }, 422],
      [{ user_id: user.id, title: "t", body: "b", extra: 1 }, 422],
      [{ user_id: "not-a-uuid", title: "t", body: "b" }, 422],
      [{ user_id: crypto.randomUUID(), title: "t", body: "b" }, 404],
      [{ user_id: user.id, title: "x".repeat(121), body: "b" }, 422],
      // Text people read: no control characters, text-direction marks, blank-looking titles or unpaired surrogates (QA).
      [{ user_id: user.id, title: "a\u0000\u001b[31mred", body: "b" }, 422],
      [{ user_id: user.id, title: "\u200b", body: "b" }, 422],
      [{ user_id: user.id, title: "t", body: "b\u202eevil" }, 422],
      [{ user_id: user.id, title: "\ud800", body: "b" }, 422],
      [[], 422],
    ];
    for (const [body, status] of adminCases) await expectError(await call("/api/admin/notifications", { body, token: admin.access, ip: admin.ip }), status);
    await expectError(await call("/api/admin/notifications", { rawBody: "{", headers: { "content-type": "application/json" }, token: admin.access, ip: admin.ip }), 400);
    await expectError(await call("/api/admin/notifications", { body: { user_id: user.id, title: "t", body: "b" }, token: user.access, ip: user.ip }), 403);
    expect(await unread(user)).toBe(1);
    expect((await list(user)).notifications.map((n) => n.title)).toEqual(["keep me unread"]);
    // A body keeps its paragraphs, whichever line breaks the client writes (QA: "\r\n" was refused); they are stored as "\n".
    expect((await call("/api/admin/notifications", { body: { user_id: user.id, title: "t", body: "line one\n\tline two" }, token: admin.access, ip: admin.ip })).status).toBe(202);
    expect((await call("/api/admin/notifications", { body: { user_id: user.id, title: "t", body: "line one\r\nline two\rline three" }, token: admin.access, ip: admin.ip })).status).toBe(202);
    expect(AdminMessageRequest.parse({ title: "t", body: "one\r\ntwo\rthree\n" }).body).toBe("one\ntwo\nthree");
  });
});

describe("which events notify whom", () => {
  const user = crypto.randomUUID();
  it.each([
    [domainEvent("backtest.completed", `user:${user}`, { user_id: user, backtestId: "b1", symbol: "AAPL", status: "failed", error: "no bars" }, null), { userId: user, kind: "backtest.completed", title: "Backtest failed: AAPL", body: "Backtest b1: no bars" }],
    // The ratio reads as a percentage in the text (it read "total return 0.078113778000000001"), exact in the data.
    [
      domainEvent("backtest.completed", `user:${user}`, { user_id: user, backtestId: "b2", symbol: "AAPL", status: "done", total_return: 0.0781137780000001 }, null),
      { userId: user, kind: "backtest.completed", title: "Backtest finished: AAPL", body: "Backtest b2 is done (total return 7.81%)", data: { total_return: 0.0781137780000001 } },
    ],
    // What ran and on what, and the strategy's name, where the event has them (found in QA: ids in the text).
    [domainEvent("backtest.completed", `user:${user}`, { user_id: user, backtestId: "b3", symbol: "AAPL", timeframe: "1Hour", template: "ma-cross", status: "done", total_return: -0.5 }, null), { body: "ma-cross backtest on AAPL 1Hour is done (total return -50.00%)" }],
    [domainEvent("backtest.completed", `user:${user}`, { user_id: user, backtestId: "b4", symbol: "AAPL", timeframe: "1Min", template: null, status: "failed", error: "no bars" }, null), { body: "Code backtest on AAPL 1Min: no bars" }],
    [domainEvent("strategy.stopped", `user:${user}`, { strategyId: "s2", name: "MA cross", symbol: "BTC/USD" }, null), { body: 'Strategy "MA cross" on BTC/USD was stopped' }],
    [domainEvent("backtest.completed", `user:${user}`, { user_id: user, backtestId: "b5", symbol: "AAPL", timeframe: "1Min", template: null, name: "my code", status: "done", total_return: -0.00001 }, null), { body: 'Backtest of "my code" on AAPL 1Min is done (total return 0.00%)' }],
    [domainEvent("strategy.errored", `user:${user}`, { user_id: user, strategyId: "s1", symbol: "AAPL", message: "line 3: boom" }, null), { userId: user, kind: "strategy.errored", body: "Strategy s1 on AAPL: line 3: boom" }],
    [domainEvent("strategy.stopped", `user:${user}`, { strategyId: "s1", symbol: "AAPL" }, null), { userId: user, kind: "strategy.stopped", title: "Strategy stopped" }],
    [domainEvent("order.rejected", `account:${user}`, { user_id: user, order: { id: "o1", symbol: "AAPL", side: "buy", status: "rejected" }, reason: "no liquidity" }, null), { userId: user, kind: "order.rejected", body: "Order o1: no liquidity" }],
    [domainEvent("admin.message", "users", { user_id: null, title: "t", body: "b", by: user }, null), { userId: null, kind: "admin.message", title: "t" }],
  ])("%# %o", (event, expected) => {
    expect(notificationOf(event)).toMatchObject(expected);
  });

  it("an admin's message carries no sender in its data (recipients do not learn staff user ids)", () => {
    const draft = notificationOf(domainEvent("admin.message", `user:${user}`, { user_id: user, title: "t", body: "b", by: crypto.randomUUID() }, null));
    expect(draft).toEqual({ userId: user, kind: "admin.message", title: "t", body: "b", data: {} });
  });

  it.each([
    domainEvent("order.new", `account:${user}`, { user_id: user, order: { id: "o1", symbol: "AAPL", side: "buy", status: "new" } }, null),
    domainEvent("order.filled", `account:${user}`, { user_id: user, order: "not an order" }, null),
    domainEvent("user.updated", `user:${user}`, {}, null),
  ])("no notification for %o", (event) => {
    expect(notificationOf(event)).toBeNull();
  });
});
