import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../shared/rbac";
import { call, createKey, json, signUp, type TestUser } from "./helpers";
import { placeOrder, steeredMarket } from "./trading/helpers";

// Every route × every caller, from one table. "self" routes act on the caller's own
// data; `other` marks the cases that aim at another user's resource.
type Caller = "anonymous" | Role | "trader-read-key" | "trader-trade-key";
const CALLERS: Caller[] = ["anonymous", "guest", "user", "trader", "admin", "trader-read-key", "trader-trade-key"];

interface Callers {
  users: Record<Role, TestUser>;
  keys: { read: { key_id: string; secret: string }; trade: { key_id: string; secret: string } };
}

interface Fixture extends Callers {
  /** A second set of callers: one user's rate limit (200 default requests a minute) does not cover the whole table. */
  more: Callers;
  victim: TestUser;
  victimKeyId: string;
  /** A resting order of the victim's, and its symbol. */
  victimOrderId: string;
  victimSymbol: string;
  victimStrategyId: string;
  victimNotificationId: number;
  victimWebhookId: string;
  victimDeliveryId: number;
  victimWatchlistId: string;
}

interface Route {
  name: string;
  request: (f: Fixture, caller: TestUser) => { method: string; path: string; body?: unknown };
  expected: Record<Caller, number>;
  /** Called by the second set of callers. */
  more?: true;
}

const ALL_SIGNED_IN = { guest: 200, user: 200, trader: 200, admin: 200 } as const;
// Trading routes act on the caller's own account, whoever the caller is (admins too).
const TRADING_READ = { anonymous: 401, guest: 403, user: 200, trader: 200, admin: 200, "trader-read-key": 200, "trader-trade-key": 200 } as const;
const tradingWrite = (status: number) => ({ anonymous: 401, guest: 403, user: 403, trader: status, admin: status, "trader-read-key": 403, "trader-trade-key": status });
// Strategy routes follow the same roles as trading ones (strategy:read/write); deleting
// needs strategy:delete, which only admins hold.
const STRATEGY_READ = TRADING_READ;
const strategyWrite = tradingWrite;
const strategyDelete = (status: number) => ({ anonymous: 401, guest: 403, user: 403, trader: 403, admin: status, "trader-read-key": 403, "trader-trade-key": 403 });
// Reading one's notifications needs user:read (every role, both key scopes); marking them
// read changes the user's own state (user:write: not guests, not keys).
const NOTIFICATIONS_READ = { anonymous: 401, ...ALL_SIGNED_IN, "trader-read-key": 200, "trader-trade-key": 200 } as const;
const notificationsWrite = (status: number) => ({ anonymous: 401, guest: 403, user: status, trader: status, admin: status, "trader-read-key": 403, "trader-trade-key": 403 });
// Webhooks send the account's activity out: managing them needs a signed-in session.
const webhooksRead = (status: number) => ({ anonymous: 401, guest: status, user: status, trader: status, admin: status, "trader-read-key": 403, "trader-trade-key": 403 });
const webhooksWrite = (status: number) => ({ ...webhooksRead(status), guest: 403 });
const ADMIN_ONLY = { anonymous: 401, guest: 403, user: 403, trader: 403, admin: 200, "trader-read-key": 403, "trader-trade-key": 403 } as const;


const ROUTES: Route[] = [
  {
    name: "GET /api/users/me",
    request: () => ({ method: "GET", path: "/api/users/me" }),
    expected: { anonymous: 401, ...ALL_SIGNED_IN, "trader-read-key": 200, "trader-trade-key": 200 },
  },
  {
    name: "PATCH /api/users/me",
    request: () => ({ method: "PATCH", path: "/api/users/me", body: { display_name: "matrix" } }),
    expected: { anonymous: 401, guest: 403, user: 200, trader: 200, admin: 200, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "POST /api/users/me/password (wrong current password → 422 once allowed)",
    request: () => ({ method: "POST", path: "/api/users/me/password", body: { current_password: "not-the-password", new_password: "another-long-passphrase" } }),
    expected: { anonymous: 401, guest: 422, user: 422, trader: 422, admin: 422, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "GET /api/keys",
    request: () => ({ method: "GET", path: "/api/keys" }),
    expected: { anonymous: 401, ...ALL_SIGNED_IN, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "POST /api/keys",
    request: () => ({ method: "POST", path: "/api/keys", body: { name: "matrix", scopes: ["read"] } }),
    expected: { anonymous: 401, guest: 403, user: 201, trader: 201, admin: 201, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "DELETE /api/keys/{another user's key}",
    request: (f) => ({ method: "DELETE", path: `/api/keys/${f.victimKeyId}` }),
    expected: { anonymous: 401, guest: 404, user: 404, trader: 404, admin: 404, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "GET /api/sessions",
    request: () => ({ method: "GET", path: "/api/sessions" }),
    expected: { anonymous: 401, ...ALL_SIGNED_IN, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "DELETE /api/sessions/{another user's session}",
    request: (f) => ({ method: "DELETE", path: `/api/sessions/${String(decodeJwt(f.victim.access).sid)}` }),
    expected: { anonymous: 401, guest: 404, user: 404, trader: 404, admin: 404, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "GET /api/admin/users",
    request: () => ({ method: "GET", path: "/api/admin/users?limit=1" }),
    expected: { anonymous: 401, guest: 403, user: 403, trader: 403, admin: 200, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "PATCH /api/admin/users/{another user}",
    request: (f) => ({ method: "PATCH", path: `/api/admin/users/${f.victim.id}`, body: { role: "trader" } }),
    expected: { anonymous: 401, guest: 403, user: 403, trader: 403, admin: 200, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "GET /health",
    request: () => ({ method: "GET", path: "/health" }),
    expected: { anonymous: 200, ...ALL_SIGNED_IN, "trader-read-key": 200, "trader-trade-key": 200 },
  },
  {
    name: "GET /.well-known/jwks.json",
    request: () => ({ method: "GET", path: "/.well-known/jwks.json" }),
    expected: { anonymous: 200, ...ALL_SIGNED_IN, "trader-read-key": 200, "trader-trade-key": 200 },
  },
  { name: "GET /v2/account", request: () => ({ method: "GET", path: "/v2/account" }), expected: TRADING_READ },
  { name: "GET /v2/orders", request: () => ({ method: "GET", path: "/v2/orders?status=all" }), expected: TRADING_READ },
  { name: "GET /v2/positions", request: () => ({ method: "GET", path: "/v2/positions" }), expected: TRADING_READ },
  { name: "GET /v2/account/activities", request: () => ({ method: "GET", path: "/v2/account/activities" }), expected: TRADING_READ },
  { name: "GET /v2/account/portfolio/history", request: () => ({ method: "GET", path: "/v2/account/portfolio/history?period=1W&timeframe=1D&intraday_reporting=continuous" }), expected: TRADING_READ },
  { name: "GET /v2/account/configurations", request: () => ({ method: "GET", path: "/v2/account/configurations" }), expected: TRADING_READ, more: true },
  { name: "PATCH /v2/account/configurations", request: () => ({ method: "PATCH", path: "/v2/account/configurations", body: { suspend_trade: false } }), expected: tradingWrite(200), more: true },
  // Watchlists are the caller's own account's: another user's list answers like a missing one.
  { name: "GET /v2/watchlists", request: () => ({ method: "GET", path: "/v2/watchlists" }), expected: TRADING_READ, more: true },
  { name: "POST /v2/watchlists", request: () => ({ method: "POST", path: "/v2/watchlists", body: { name: `matrix ${crypto.randomUUID()}`, symbols: ["AAPL"] } }), expected: tradingWrite(200), more: true },
  {
    name: "GET /v2/watchlists/{another user's}",
    request: (f) => ({ method: "GET", path: `/v2/watchlists/${f.victimWatchlistId}` }),
    expected: { ...TRADING_READ, user: 404, trader: 404, admin: 404, "trader-read-key": 404, "trader-trade-key": 404 },
    more: true,
  },
  { name: "PUT /v2/watchlists/{another user's}", request: (f) => ({ method: "PUT", path: `/v2/watchlists/${f.victimWatchlistId}`, body: { name: "taken over" } }), expected: tradingWrite(404), more: true },
  { name: "POST /v2/watchlists/{another user's}", request: (f) => ({ method: "POST", path: `/v2/watchlists/${f.victimWatchlistId}`, body: { symbol: "MSFT" } }), expected: tradingWrite(404), more: true },
  { name: "DELETE /v2/watchlists/{another user's}/AAPL", request: (f) => ({ method: "DELETE", path: `/v2/watchlists/${f.victimWatchlistId}/AAPL` }), expected: tradingWrite(404), more: true },
  { name: "DELETE /v2/watchlists/{another user's}", request: (f) => ({ method: "DELETE", path: `/v2/watchlists/${f.victimWatchlistId}` }), expected: tradingWrite(404), more: true },
  {
    name: "GET /v2/orders/{another user's order}",
    request: (f) => ({ method: "GET", path: `/v2/orders/${f.victimOrderId}` }),
    expected: { ...TRADING_READ, user: 404, trader: 404, admin: 404, "trader-read-key": 404, "trader-trade-key": 404 },
  },
  {
    name: "GET /v2/orders:by_client_order_id (another user's)",
    request: (f) => ({ method: "GET", path: `/v2/orders:by_client_order_id?client_order_id=victim-${f.victimOrderId}` }),
    expected: { ...TRADING_READ, user: 404, trader: 404, admin: 404, "trader-read-key": 404, "trader-trade-key": 404 },
  },
  {
    name: "POST /v2/orders (qty 0 → 422 once allowed)",
    request: (f) => ({ method: "POST", path: "/v2/orders", body: { symbol: f.victimSymbol, qty: "0", side: "buy", type: "market", time_in_force: "day" } }),
    expected: tradingWrite(422),
  },
  { name: "PATCH /v2/orders/{another user's order}", request: (f) => ({ method: "PATCH", path: `/v2/orders/${f.victimOrderId}`, body: { qty: "2" } }), expected: tradingWrite(404) },
  { name: "DELETE /v2/orders/{another user's order}", request: (f) => ({ method: "DELETE", path: `/v2/orders/${f.victimOrderId}` }), expected: tradingWrite(404) },
  { name: "DELETE /v2/orders (the caller's own, none open)", request: () => ({ method: "DELETE", path: "/v2/orders" }), expected: tradingWrite(207) },
  { name: "DELETE /v2/positions/{a symbol only the victim holds}", request: (f) => ({ method: "DELETE", path: `/v2/positions/${f.victimSymbol}` }), expected: tradingWrite(404) },
  {
    name: "POST /api/account/reset (session only)",
    request: () => ({ method: "POST", path: "/api/account/reset", body: {} }),
    expected: { ...tradingWrite(200), "trader-trade-key": 403 },
  },
  { name: "GET /api/admin/accounts/{another user}", request: (f) => ({ method: "GET", path: `/api/admin/accounts/${f.victim.id}` }), expected: ADMIN_ONLY },
  { name: "GET /api/admin/venues/{symbol}/fills of another user", request: (f) => ({ method: "GET", path: `/api/admin/venues/AAPL/fills?account=${f.victim.id}` }), expected: ADMIN_ONLY },
  // Run-time configuration: the permission is judged before anything else, so an admin's
  // write without If-Match is the 428 and nobody else gets that far.
  { name: "GET /metrics", request: () => ({ method: "GET", path: "/metrics" }), expected: ADMIN_ONLY },
  { name: "GET /api/admin/config", request: () => ({ method: "GET", path: "/api/admin/config" }), expected: ADMIN_ONLY },
  { name: "GET /api/admin/config/{key}", request: () => ({ method: "GET", path: "/api/admin/config/risk_limits?scope=global" }), expected: ADMIN_ONLY },
  { name: "GET /api/admin/config/history", request: () => ({ method: "GET", path: "/api/admin/config/history?key=risk_limits" }), expected: ADMIN_ONLY },
  { name: "PUT /api/admin/config/{key} without If-Match", request: () => ({ method: "PUT", path: "/api/admin/config/feature_flags", body: { value: { x: true }, reason: "matrix" } }), expected: { ...ADMIN_ONLY, admin: 428 }, more: true },
  { name: "PATCH /api/admin/config/{key} without If-Match", request: () => ({ method: "PATCH", path: "/api/admin/config/feature_flags", body: { value: { x: true }, reason: "matrix" } }), expected: { ...ADMIN_ONLY, admin: 428 }, more: true },
  { name: "DELETE /api/admin/config/{key} without If-Match", request: () => ({ method: "DELETE", path: "/api/admin/config/feature_flags?reason=matrix" }), expected: { ...ADMIN_ONLY, admin: 428 }, more: true },
  { name: "POST /api/admin/config/rollback without If-Match", request: () => ({ method: "POST", path: "/api/admin/config/rollback", body: { version: 0, reason: "matrix" } }), expected: { ...ADMIN_ONLY, admin: 428 }, more: true },
  {
    name: "POST /api/admin/accounts/{another user}/deposits",
    request: (f) => ({ method: "POST", path: `/api/admin/accounts/${f.victim.id}/deposits`, body: { amount: "1" } }),
    expected: ADMIN_ONLY,
  },
  {
    name: "PATCH /api/admin/accounts/{another user}/limits",
    request: (f) => ({ method: "PATCH", path: `/api/admin/accounts/${f.victim.id}/limits`, body: { ordersPerMinute: 500 } }),
    expected: ADMIN_ONLY,
  },
  { name: "GET /api/strategies/templates", request: () => ({ method: "GET", path: "/api/strategies/templates" }), expected: STRATEGY_READ },
  { name: "GET /api/strategies", request: () => ({ method: "GET", path: "/api/strategies" }), expected: STRATEGY_READ },
  {
    name: "POST /api/strategies (bad params → 422 once allowed)",
    request: () => ({ method: "POST", path: "/api/strategies", body: { name: "matrix", symbol: "AAPL", kind: "template", template: "ma-cross", params: { fast: -1 } } }),
    expected: strategyWrite(422),
  },
  {
    name: "GET /api/strategies/{another user's strategy}",
    request: (f) => ({ method: "GET", path: `/api/strategies/${f.victimStrategyId}` }),
    expected: { ...STRATEGY_READ, user: 404, trader: 404, admin: 404, "trader-read-key": 404, "trader-trade-key": 404 },
  },
  {
    name: "GET /api/strategies/{another user's strategy}/versions/1",
    request: (f) => ({ method: "GET", path: `/api/strategies/${f.victimStrategyId}/versions/1` }),
    expected: { ...STRATEGY_READ, user: 404, trader: 404, admin: 404, "trader-read-key": 404, "trader-trade-key": 404 },
  },
  {
    name: "PATCH /api/strategies/{another user's strategy}",
    request: (f) => ({ method: "PATCH", path: `/api/strategies/${f.victimStrategyId}`, body: { params: { fast: 2 } } }),
    expected: strategyWrite(404),
  },
  { name: "DELETE /api/strategies/{another user's strategy}", request: (f) => ({ method: "DELETE", path: `/api/strategies/${f.victimStrategyId}` }), expected: strategyDelete(404) },
  { name: "POST /api/strategies/{another user's strategy}/start", request: (f) => ({ method: "POST", path: `/api/strategies/${f.victimStrategyId}/start` }), expected: strategyWrite(404) },
  { name: "POST /api/strategies/{another user's strategy}/stop", request: (f) => ({ method: "POST", path: `/api/strategies/${f.victimStrategyId}/stop` }), expected: strategyWrite(404) },
  {
    name: "GET /api/strategies/{another user's strategy}/stats",
    request: (f) => ({ method: "GET", path: `/api/strategies/${f.victimStrategyId}/stats` }),
    expected: { ...STRATEGY_READ, user: 404, trader: 404, admin: 404, "trader-read-key": 404, "trader-trade-key": 404 },
  },
  {
    name: "GET /api/strategies/{another user's strategy}/logs",
    request: (f) => ({ method: "GET", path: `/api/strategies/${f.victimStrategyId}/logs` }),
    expected: { ...STRATEGY_READ, user: 404, trader: 404, admin: 404, "trader-read-key": 404, "trader-trade-key": 404 },
  },
  { name: "GET /api/notifications", request: () => ({ method: "GET", path: "/api/notifications" }), expected: NOTIFICATIONS_READ, more: true },
  { name: "GET /api/notifications/unread_count", request: () => ({ method: "GET", path: "/api/notifications/unread_count" }), expected: NOTIFICATIONS_READ, more: true },
  {
    name: "POST /api/notifications/{another user's}/read",
    request: (f) => ({ method: "POST", path: `/api/notifications/${f.victimNotificationId}/read` }),
    expected: notificationsWrite(404),
    more: true,
  },
  { name: "POST /api/notifications/read_all", request: () => ({ method: "POST", path: "/api/notifications/read_all" }), expected: notificationsWrite(200), more: true },
  {
    name: "POST /api/admin/notifications (to another user)",
    request: (f) => ({ method: "POST", path: "/api/admin/notifications", body: { user_id: f.victim.id, title: "matrix", body: "from the matrix" } }),
    expected: { ...ADMIN_ONLY, admin: 202 },
    more: true,
  },
  { name: "GET /api/webhooks", request: () => ({ method: "GET", path: "/api/webhooks" }), expected: webhooksRead(200), more: true },
  {
    name: "POST /api/webhooks (private URL → 422 once allowed)",
    request: () => ({ method: "POST", path: "/api/webhooks", body: { url: "https://10.0.0.1/hook", events: ["order.filled"] } }),
    expected: webhooksWrite(422),
    more: true,
  },
  { name: "DELETE /api/webhooks/{another user's}", request: (f) => ({ method: "DELETE", path: `/api/webhooks/${f.victimWebhookId}` }), expected: webhooksWrite(404), more: true },
  { name: "GET /api/webhooks/{another user's}/deliveries", request: (f) => ({ method: "GET", path: `/api/webhooks/${f.victimWebhookId}/deliveries` }), expected: webhooksRead(404), more: true },
  { name: "POST /api/webhooks/{another user's}/test", request: (f) => ({ method: "POST", path: `/api/webhooks/${f.victimWebhookId}/test` }), expected: webhooksWrite(404), more: true },
  {
    name: "POST /api/webhooks/{another user's}/deliveries/{id}/redeliver",
    request: (f) => ({ method: "POST", path: `/api/webhooks/${f.victimWebhookId}/deliveries/${f.victimDeliveryId}/redeliver` }),
    expected: webhooksWrite(404),
    more: true,
  },
];

let fixture: Fixture;

beforeAll(async () => {
  const [guest, user, trader, admin, victim] = await Promise.all([signUp("guest"), signUp("user"), signUp("trader"), signUp("admin"), signUp("trader")]);
  const [read, trade, victimKey] = await Promise.all([createKey(trader, ["read"]), createKey(trader, ["trade"]), createKey(victim)]);
  const [guest2, user2, trader2, admin2] = await Promise.all([signUp("guest"), signUp("user"), signUp("trader"), signUp("admin")]);
  const more: Callers = { users: { guest: guest2, user: user2, trader: trader2, admin: admin2 }, keys: { read: await createKey(trader2, ["read"]), trade: await createKey(trader2, ["trade"]) } };
  const market = await steeredMarket(admin);
  await market.quote("100.00", "100.05");
  await market.trade("100.02");
  const placed = await placeOrder(victim, { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
  const victimOrder = await json<{ id: string }>(placed);
  // A client order id tied to the order, so the by-client-id route can aim at it too.
  const tagged = await placeOrder(victim, { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "98.00", time_in_force: "gtc", client_order_id: `victim-${victimOrder.id}` });
  expect(tagged.status).toBe(200);
  const victimStrategy = await call("/api/strategies", { body: { name: "victim's", symbol: "AAPL", kind: "template", template: "ma-cross" }, token: victim.access, ip: victim.ip });
  expect(victimStrategy.status).toBe(201);
  const notification = await env.DB.prepare("INSERT INTO notifications (user_id, event_id, kind, title, body, data, created_at) VALUES (?, ?, 'admin.message', 'victim', 'theirs', '{}', 0) RETURNING id")
    .bind(victim.id, crypto.randomUUID())
    .first<{ id: number }>();
  const victimWebhookId = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO webhooks (id, user_id, url, events, secret) VALUES (?, ?, 'https://example.com/hook', '[\"order.filled\"]', 'whsec_matrix')").bind(victimWebhookId, victim.id).run();
  const delivery = await env.DB.prepare(
    "INSERT INTO webhook_deliveries (webhook_id, event_id, seq, event_type, payload, status, attempts, created_at) VALUES (?, ?, 0, 'order.filled', '{}', 'dead', 4, 0) RETURNING id",
  )
    .bind(victimWebhookId, crypto.randomUUID())
    .first<{ id: number }>();
  const victimWatchlist = await call("/v2/watchlists", { body: { name: "victim's", symbols: ["AAPL"] }, token: victim.access, ip: victim.ip });
  expect(victimWatchlist.status).toBe(200);
  fixture = {
    victimWatchlistId: (await json<{ id: string }>(victimWatchlist)).id,
    users: { guest, user, trader, admin },
    keys: { read, trade },
    more,
    victim,
    victimKeyId: victimKey.key_id,
    victimOrderId: victimOrder.id,
    victimSymbol: market.symbol,
    victimStrategyId: (await json<{ id: string }>(victimStrategy)).id,
    victimNotificationId: notification!.id,
    victimWebhookId,
    victimDeliveryId: delivery!.id,
  };
});

describe.each(ROUTES)("$name", (route) => {
  it.each(CALLERS)("as %s", async (caller) => {
    const callers = route.more ? fixture.more : fixture;
    const owner = caller === "anonymous" || caller.endsWith("-key") ? callers.users.trader : callers.users[caller as Role];
    const { method, path, body } = route.request(fixture, owner);
    const credentials =
      caller === "anonymous"
        ? {}
        : caller === "trader-read-key"
          ? { apiKey: callers.keys.read }
          : caller === "trader-trade-key"
            ? { apiKey: callers.keys.trade }
            : { token: owner.access };
    const res = await call(path, { method, body, ...credentials });
    expect(res.status, await res.clone().text()).toBe(route.expected[caller]);
  });
});

it("leaves the victim's strategy untouched by everyone else", async () => {
  const res = await call(`/api/strategies/${fixture.victimStrategyId}`, { token: fixture.victim.access, ip: fixture.victim.ip });
  expect(await json<{ name: string; current_version: number }>(res)).toMatchObject({ name: "victim's", current_version: 1 });
});

it("leaves the victim's notification unread by everyone else", async () => {
  const row = await env.DB.prepare("SELECT read_at FROM notifications WHERE id = ?").bind(fixture.victimNotificationId).first<{ read_at: number | null }>();
  expect(row).toEqual({ read_at: null });
});

it("leaves the victim's webhook and its delivery log untouched by everyone else", async () => {
  const row = await env.DB.prepare("SELECT (SELECT count(*) FROM webhooks WHERE id = ?) AS hooks, (SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?) AS deliveries")
    .bind(fixture.victimWebhookId, fixture.victimWebhookId)
    .first();
  expect(row).toEqual({ hooks: 1, deliveries: 1 });
});

it("leaves the victim's orders untouched by everyone else", async () => {
  const res = await call(`/v2/orders/${fixture.victimOrderId}`, { token: fixture.victim.access, ip: fixture.victim.ip });
  expect(await json<{ status: string; qty: string }>(res)).toMatchObject({ status: "new", qty: "1" });
});
