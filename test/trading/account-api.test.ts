import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { tradingDate } from "../../shared/trading/trading-date";
import { Account, Activity } from "../../shared/schemas/trading";
import { call, expectError, json, restartObject, signUp, type TestUser } from "../helpers";
import { accountJson, orderReaching, placeOrder, steeredMarket, placed, traderAndMarket, type OrderJson } from "./helpers";

// The account's own routes beyond placing orders: listing and filtering orders, activity
// pages, closing every position, resetting the account, and the admin's deposits and
// per-account limits.

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

const fresh = () => traderAndMarket(admin);

const get = async <T>(user: TestUser, path: string) => json<T>(await call(path, { token: user.access, ip: user.ip }));
const restingBuy = (symbol: string, limit: string, extra: Record<string, unknown> = {}) => ({ symbol, qty: "1", side: "buy", type: "limit", limit_price: limit, time_in_force: "gtc", ...extra });

describe("listing orders", () => {
  it("filters by status, side and symbol, pages by time in both directions, and takes epoch ms", async () => {
    const { user, market } = await fresh();
    const other = await steeredMarket(admin);
    await other.quote("50.00", "50.05");
    await other.trade("50.02");
    const a = await placed(user, restingBuy(market.symbol, "99.00"));
    const b = await placed(user, restingBuy(other.symbol, "49.00"));
    const c = await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
    await orderReaching(user, c.id, "filled");

    const ids = (list: OrderJson[]) => list.map((o) => o.id);
    expect(ids(await get<OrderJson[]>(user, "/v2/orders"))).toEqual([b.id, a.id]); // open by default, newest first
    expect(ids(await get<OrderJson[]>(user, "/v2/orders?status=closed"))).toEqual([c.id]);
    expect(ids(await get<OrderJson[]>(user, "/v2/orders?status=all&direction=asc"))).toEqual([a.id, b.id, c.id]);
    expect(ids(await get<OrderJson[]>(user, `/v2/orders?status=all&symbols=${other.symbol}`))).toEqual([b.id]);
    expect(ids(await get<OrderJson[]>(user, "/v2/orders?status=all&side=sell"))).toEqual([]);
    expect(ids(await get<OrderJson[]>(user, "/v2/orders?status=all&limit=1"))).toEqual([c.id]);
    const created = (await get<(OrderJson & { created_at: string })[]>(user, "/v2/orders?status=all&direction=asc")).map((o) => Date.parse(o.created_at));
    expect(ids(await get<OrderJson[]>(user, `/v2/orders?status=all&direction=asc&after=${created[0]}`))).toEqual([b.id, c.id]);
    expect(ids(await get<OrderJson[]>(user, `/v2/orders?status=all&until=${new Date(created[2]!).toISOString()}`))).toEqual([b.id, a.id]);
    await expectError(await call("/v2/orders?after=yesterday", { token: user.access, ip: user.ip }), 422);
    // Each bound says which it is.
    expect((await expectError(await call("/v2/orders?limit=501", { token: user.access, ip: user.ip }), 422)).details.map((d) => d.message)).toContain("limit must be at most 500");
    expect((await expectError(await call("/v2/orders?limit=0", { token: user.access, ip: user.ip }), 422)).details.map((d) => d.message)).toContain("limit must be at least 1");
    expect((await expectError(await call("/v2/orders?limit=x", { token: user.access, ip: user.ip }), 422)).details.map((d) => d.message)).toContain("limit must be a whole number");
    // Another spelling of a number is not a count; a count of many digits is refused once, for its bound.
    for (const limit of ["1e2", "0x10", "5.0"]) expect((await expectError(await call(`/v2/orders?limit=${limit}`, { token: user.access, ip: user.ip }), 422)).details, limit).toEqual([{ path: "limit", message: "limit must be a whole number" }]);
    expect((await expectError(await call("/v2/orders?limit=99999999999999999999", { token: user.access, ip: user.ip }), 422)).details).toEqual([{ path: "limit", message: "limit must be at most 500" }]);
    expect(ids(await get<OrderJson[]>(user, "/v2/orders?status=all&limit=%202%20"))).toHaveLength(2);
  });

  it("finds an order by its client_order_id, and answers 404 for one it does not know", async () => {
    const { user, market } = await fresh();
    const o = await placed(user, restingBuy(market.symbol, "99.00", { client_order_id: "mine-1" }));
    expect((await get<OrderJson>(user, "/v2/orders:by_client_order_id?client_order_id=mine-1")).id).toBe(o.id);
    const missing = await expectError(await call("/v2/orders:by_client_order_id?client_order_id=nope", { token: user.access, ip: user.ip }), 404);
    expect(missing.code).toBe(40410000);
    await expectError(await call(`/v2/orders/${crypto.randomUUID()}`, { token: user.access, ip: user.ip }), 404);
    // An id in capitals is the same order.
    expect((await get<OrderJson>(user, `/v2/orders/${o.id.toUpperCase()}`)).id).toBe(o.id);
  });
});

describe("activities", () => {
  it("the account and its activities are what the OpenAPI document says, field for field", async () => {
    const { user, market } = await fresh();
    await orderReaching(user, (await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" })).id, "filled");
    const shape = (schema: { shape: Record<string, unknown> }) => Object.keys(schema.shape).sort();
    const accountBody = await accountJson(user);
    expect(Object.keys(accountBody).sort()).toEqual(shape(Account));
    expect(Account.safeParse(accountBody).success).toBe(true);
    const activities = await get<Record<string, unknown>[]>(user, "/v2/account/activities?direction=asc");
    expect(activities.map((a) => a.activity_type)).toEqual(["CSD", "FILL"]);
    const fillSchema = Activity.options.find((o) => "liquidity" in o.shape)!;
    const cashSchema = Activity.options.find((o) => !("liquidity" in o.shape))!;
    expect(Object.keys(activities[0]!).sort()).toEqual(shape(cashSchema));
    expect(Object.keys(activities[1]!).sort()).toEqual(shape(fillSchema));
    for (const a of activities) expect(Activity.safeParse(a).success).toBe(true);
  });

  it("pages fills and cash activities with page_token, also under /activities/FILL", async () => {
    const { user, market } = await fresh();
    for (let i = 0; i < 3; i++) await orderReaching(user, (await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" })).id, "filled");
    const all = await get<{ id: string; activity_type: string }[]>(user, "/v2/account/activities?direction=asc");
    expect(all.map((a) => a.activity_type)).toEqual(["CSD", "FILL", "FILL", "FILL"]);
    const first = await get<{ id: string }[]>(user, "/v2/account/activities?direction=asc&page_size=2");
    const second = await get<{ id: string }[]>(user, `/v2/account/activities?direction=asc&page_size=2&page_token=${encodeURIComponent(first.at(-1)!.id)}`);
    expect([...first, ...second].map((a) => a.id)).toEqual(all.map((a) => a.id));
    const fills = await get<Record<string, unknown>[]>(user, "/v2/account/activities/FILL");
    expect(fills).toHaveLength(3);
    expect(fills[0]).toMatchObject({ activity_type: "FILL", type: "fill", side: "buy", qty: "1", price: "100.05", symbol: market.symbol, leaves_qty: "0", cum_qty: "1", order_status: "filled" });
    expect(fills[0]!.id).toMatch(/^\d{17}::[0-9a-f-]{36}$/);
    expect(fills[0]!.execution_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // A token that is no activity id is refused, not read as a place to page from.
    for (const token of ["garbage", "%FF", `${fills[0]!.id}x`]) await expectError(await call(`/v2/account/activities?page_token=${token}`, { token: user.access, ip: user.ip }), 422);
    await expectError(await call("/v2/account/activities/NOPE", { token: user.access, ip: user.ip }), 422);
    // Types of Alpaca's that RedFire never records are answered with none, alone or beside others.
    expect(await get<unknown[]>(user, "/v2/account/activities?activity_types=DIV")).toEqual([]);
    expect((await get<{ activity_type: string }[]>(user, "/v2/account/activities?activity_types=DIV,FILL,INT")).map((a) => a.activity_type)).toEqual(["FILL", "FILL", "FILL"]);
    // TRANS is Alpaca's cash transactions (deposits and withdrawals), and category its two groups (QA: both were ignored).
    const types = async (query: string) => (await get<{ activity_type: string }[]>(user, `/v2/account/activities${query}`)).map((a) => a.activity_type);
    expect(await types("?activity_types=TRANS")).toEqual(["CSD"]);
    expect(await types("/TRANS")).toEqual(["CSD"]);
    expect(await types("?category=trade_activity")).toEqual(["FILL", "FILL", "FILL"]);
    expect(await types("?category=non_trade_activity")).toEqual(["CSD"]);
    expect((await expectError(await call("/v2/account/activities?category=bogus", { token: user.access, ip: user.ip }), 422)).message).toBe("Invalid format for parameter category: must be trade_activity or non_trade_activity");
    expect((await expectError(await call("/v2/account/activities?category=trade_activity&activity_types=FILL", { token: user.access, ip: user.ip }), 422)).message).toBe("category cannot be combined with activity_types");
    // date is the account's day, New York's: today's holds everything just done, yesterday's nothing.
    const today = tradingDate(Date.now());
    expect(await get<unknown[]>(user, `/v2/account/activities?date=${today}`)).toHaveLength(all.length);
    const yesterday = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    expect(await get<unknown[]>(user, `/v2/account/activities?date=${yesterday}`)).toEqual([]);
    // Alone, and a real date.
    const both = await expectError(await call(`/v2/account/activities?date=${today}&after=${yesterday}`, { token: user.access, ip: user.ip }), 422);
    expect(both.message).toBe("date cannot be combined with after or until");
    // Bounds the wrong way round are refused, as the calendar and the portfolio history refuse them (QA: an empty list).
    for (const path of ["/v2/account/activities", "/v2/orders"]) {
      const reversed = await expectError(await call(`${path}?after=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z`, { token: user.access, ip: user.ip }), 422);
      expect(reversed.message, path).toBe("after must be before until");
    }
    // 9999-12-31 answered 500 (its next day has no four-digit year).
    for (const bad of ["2026-02-30", "tomorrow", "1767225600000", "9999-12-31", "0001-01-01"]) await expectError(await call(`/v2/account/activities?date=${bad}`, { token: user.access, ip: user.ip }), 422);
    // An empty after is no after, as everywhere else.
    expect(await get<unknown[]>(user, `/v2/account/activities?date=${today}&after=`)).toHaveLength(all.length);
  });
});

describe("positions by path", () => {
  it("finds a pair as BTC/USD (encoded) or BTCUSD, and answers 404 for odd segments", async () => {
    const user = await signUp();
    const market = await steeredMarket(admin, { class: "crypto" });
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    await orderReaching(user, (await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "gtc" })).id, "filled");
    // Encoded, without the slash, and with the slash as a path separator (Alpaca's SDKs send that).
    for (const path of [encodeURIComponent(market.symbol), market.symbol.replace("/", ""), market.symbol]) expect((await get<{ qty: string }>(user, `/v2/positions/${path}`)).qty).toBe("1"); // on the 0.0001 lot grid, without trailing zeros
    for (const odd of ["100%25", "%25E0%25A4", "..%2F..", "NOPE", "NOPE/USD"]) await expectError(await call(`/v2/positions/${odd}`, { token: user.access, ip: user.ip }), 404);
    // The slashless form names the same pair everywhere: an order, the orders' filter, the asset.
    const slashless = market.symbol.replace("/", "");
    const more = await placed(user, { symbol: slashless, qty: "1", side: "buy", type: "market", time_in_force: "gtc" });
    expect(more.symbol).toBe(market.symbol);
    await orderReaching(user, more.id, "filled");
    expect((await get<OrderJson[]>(user, `/v2/orders?status=all&symbols=${slashless}`)).map((o) => o.id)).toContain(more.id);
    expect((await get<{ symbol: string }>(user, `/v2/assets/${slashless}`)).symbol).toBe(market.symbol);
    // And a pair's position closes by its unencoded path.
    const close = await call(`/v2/positions/${market.symbol}?percentage=50`, { method: "DELETE", token: user.access, ip: user.ip });
    expect(close.status).toBe(200);
    expect(await json<{ qty: string; side: string }>(close)).toMatchObject({ qty: "1", side: "sell" });
  });
});

describe("closing everything", () => {
  it("DELETE /v2/positions sells every position (207), after canceling open orders when asked", async () => {
    const { user, market } = await fresh();
    await orderReaching(user, (await placed(user, { symbol: market.symbol, qty: "3", side: "buy", type: "market", time_in_force: "day" })).id, "filled");
    const resting = await placed(user, { symbol: market.symbol, qty: "1", side: "sell", type: "limit", limit_price: "105.00", time_in_force: "gtc" });
    // A position names its asset's exchange (alpaca-py's Position takes only exchanges it knows), listed and alone.
    const { exchange } = await get<{ exchange: string }>(user, `/v2/assets/${market.symbol}`);
    expect(exchange).toBe("NASDAQ");
    expect((await get<{ exchange: string }[]>(user, "/v2/positions")).map((p) => p.exchange)).toEqual([exchange]);
    expect((await get<{ exchange: string }>(user, `/v2/positions/${market.symbol}`)).exchange).toBe(exchange);
    // alpaca-py sends its bool as "True"; a word that is not a boolean is refused before anything is closed.
    await expectError(await call("/v2/positions?cancel_orders=yes", { method: "DELETE", token: user.access, ip: user.ip }), 422);
    const res = await call("/v2/positions?cancel_orders=True", { method: "DELETE", token: user.access, ip: user.ip });
    expect(res.status).toBe(207);
    const [entry] = await json<{ symbol: string; status: number; body: OrderJson }[]>(res);
    expect(entry).toMatchObject({ symbol: market.symbol, status: 200, body: { side: "sell", qty: "3", type: "market" } });
    await orderReaching(user, resting.id, "canceled");
    await orderReaching(user, entry!.body.id, "filled");
    expect(await get<unknown[]>(user, "/v2/positions")).toEqual([]);
    await expectError(await call(`/v2/positions/${market.symbol}`, { token: user.access, ip: user.ip }), 404);
  });
});

describe("reset, deposits and limits", () => {
  it("a reset cancels open orders and starts over with the chosen cash", async () => {
    const { user, market } = await fresh();
    const o = await placed(user, restingBuy(market.symbol, "99.00"));
    const reset = await call("/api/account/reset", { body: { cash: "2500.50" }, token: user.access, ip: user.ip });
    expect(reset.status).toBe(200);
    expect(await json(reset)).toEqual({ cash: "2500.50" });
    await orderReaching(user, o.id, "canceled");
    expect(await accountJson(user)).toMatchObject({ cash: "2500.50", buying_power: "2500.50", equity: "2500.50" });
    await expectError(await call("/api/account/reset", { body: { cash: "-5" }, token: user.access, ip: user.ip }), 422);
    // Cash is a decimal string: a JSON number (a binary double) and fields it does not know are refused by name.
    const number = await expectError(await call("/api/account/reset", { body: { cash: 2500.5 }, token: user.access, ip: user.ip }), 422);
    expect(number.details).toEqual([expect.objectContaining({ path: "cash", message: 'cash must be sent as a decimal string, e.g. "1000.00": a JSON number can lose precision' })]);
    const unknown = await expectError(await call("/api/account/reset", { body: { cash: "2500.50", currency: "EUR" }, token: user.access, ip: user.ip }), 422);
    expect(JSON.stringify(unknown.details)).toContain("currency");
    // Bounded (maxResetCash, 1,000,000 by default), and recorded in the activities.
    await expectError(await call("/api/account/reset", { body: { cash: "1000000000000" }, token: user.access, ip: user.ip }), 422);
    // The JNLC moves the difference, so the cash activities add up to the cash.
    const records = await json<{ activity_type: string; net_amount: string }[]>(await call("/v2/account/activities/JNLC", { token: user.access, ip: user.ip }));
    const deposits = await json<{ net_amount: string }[]>(await call("/v2/account/activities/CSD", { token: user.access, ip: user.ip }));
    expect(deposits.map((r) => r.net_amount)).toEqual(["100000.00"]);
    expect(records.map((r) => r.net_amount)).toEqual(["-97499.50"]);
    expect((await accountJson(user)).cash).toBe("2500.50");
  });

  it("lists orders filtered by hundreds of symbols (more than one SQL statement may bind)", async () => {
    const { user, market } = await fresh();
    await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    for (const n of [99, 100, 101, 500]) {
      const symbols = [market.symbol, ...Array.from({ length: n - 1 }, (_, i) => `ZZ${i}`)].join(",");
      const res = await call(`/v2/orders?status=all&symbols=${encodeURIComponent(symbols)}`, { token: user.access, ip: user.ip });
      expect(res.status, `${n} symbols`).toBe(200);
      expect(await json<OrderJson[]>(res)).toHaveLength(1);
    }
  });

  it("disabling a user cancels their resting orders and blocks the account; enabling restores trading", async () => {
    const { user, market } = await fresh();
    const resting = await placed(user, { symbol: market.symbol, qty: "5", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    const status = (to: string) => call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: to }, token: admin.access, ip: admin.ip });
    expect((await status("disabled")).status).toBe(200);
    const viewed = await json<Record<string, unknown>>(await call(`/api/admin/accounts/${user.id}`, { token: admin.access, ip: admin.ip }));
    expect([viewed.status, viewed.trading_blocked, viewed.reserved_cash]).toEqual(["INACTIVE", true, "0.00"]);
    // The order no longer rests: a market that crosses it fills nothing.
    await market.quote("98.00", "98.50");
    expect((await status("active")).status).toBe(200);
    const login = await call("/api/auth/login", { body: { email: user.email, password: user.password }, ip: user.ip });
    const token = (await json<{ access_token: string }>(login)).access_token;
    const account = await json<Record<string, unknown>>(await call("/v2/account", { token, ip: user.ip }));
    expect([account.status, account.trading_blocked]).toEqual(["ACTIVE", false]);
    const again = await call("/v2/orders", { token, ip: user.ip, body: { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "97.00", time_in_force: "gtc" } });
    expect(again.status).toBe(200);
    const old = await json<OrderJson>(await call(`/v2/orders/${resting.id}`, { token, ip: user.ip }));
    expect(old.status).toBe("canceled");
  });

  it("an admin deposit adds cash and a cash activity", async () => {
    const user = await signUp();
    const res = await call(`/api/admin/accounts/${user.id}/deposits`, { body: { amount: "1234.56" }, token: admin.access, ip: admin.ip });
    expect(res.status).toBe(200);
    expect((await accountJson(user)).cash).toBe("101234.56");
    const cash = await get<{ activity_type: string; net_amount: string }[]>(user, "/v2/account/activities?activity_types=CSD");
    expect(cash.map((a) => a.net_amount).sort()).toEqual(["100000.00", "1234.56"]);
    await expectError(await call(`/api/admin/accounts/${user.id}/deposits`, { body: { amount: "0.001" }, token: admin.access, ip: admin.ip }), 422);
    await expectError(await call(`/api/admin/accounts/${crypto.randomUUID()}/deposits`, { body: { amount: "1" }, token: admin.access, ip: admin.ip }), 404);
  });

  it("per-account limits apply at once: order size, order rate, position size", async () => {
    const { user, market } = await fresh();
    const limits = await call(`/api/admin/accounts/${user.id}/limits`, { method: "PATCH", body: { maxOrderQty: "5", ordersPerMinute: 3, maxPositionNotional: "400" }, token: admin.access, ip: admin.ip });
    expect(limits.status).toBe(200);
    expect(await json(limits)).toMatchObject({ maxOrderQty: "5", ordersPerMinute: 3 });
    const size = await expectError(await placeOrder(user, restingBuy(market.symbol, "99.00", { qty: "6" })), 422);
    expect(size.details[0]).toMatchObject({ rule: "max_order_qty", path: "qty" });
    const position = await expectError(await placeOrder(user, restingBuy(market.symbol, "99.00", { qty: "5" })), 422);
    expect(position.details[0]).toMatchObject({ rule: "max_position" });
    for (let i = 0; i < 3; i++) await placed(user, restingBuy(market.symbol, "95.00"));
    const rate = await expectError(await placeOrder(user, restingBuy(market.symbol, "95.00")), 429);
    expect(rate.details[0]).toMatchObject({ rule: "order_rate" });
    await expectError(await call(`/api/admin/accounts/${user.id}/limits`, { method: "PATCH", body: { maxOrderQty: "lots" }, token: admin.access, ip: admin.ip }), 422);
  });

  it("the position limit counts what open buys may still fill, from the stored orders, also in an account stored before that sum was kept", async () => {
    const { user, market } = await fresh(); // last trade 100.02
    const set = await call(`/api/admin/accounts/${user.id}/limits`, { method: "PATCH", body: { maxPositionNotional: "1001" }, token: admin.access, ip: admin.ip });
    expect(set.status).toBe(200);
    const rest = (qty: string) => placeOrder(user, restingBuy(market.symbol, "95.00", { qty }));
    const rule = async (res: Response) => (res.status === 200 ? "accepted" : (await expectError(res, 422)).details[0]?.rule);
    const first = await placed(user, restingBuy(market.symbol, "95.00", { qty: "4" }));
    const second = await placed(user, restingBuy(market.symbol, "95.00", { qty: "4" }));
    // Every lot at the last price: 8 open and 3 more, 1,100.22, above 1,001.
    expect(await rule(await rest("3"))).toBe("max_position");
    expect((await call(`/v2/orders/${first.id}`, { method: "DELETE", token: user.access, ip: user.ip })).status).toBe(204);
    await orderReaching(user, first.id, "canceled");
    expect(await rule(await rest("3"))).toBe("accepted");
    // The replace of the second (6 lots) is checked without its own 4: 9 lots, 900.18.
    const replace = await call(`/v2/orders/${second.id}`, { method: "PATCH", body: { qty: "6" }, token: user.access, ip: user.ip });
    expect(replace.status).toBe(200);
    expect(await rule(await rest("2"))).toBe("max_position"); // 11 lots: 1,100.22
    expect(await rule(await rest("1"))).toBe("accepted"); // 10 lots: 1,000.20
    // An account stored before the orders kept their open lots (schema 2): the upgrade
    // fills them in from the orders' data, so the 10 resting lots still count.
    const account = () => env.ACCOUNT.getByName(user.id);
    await runInDurableObject(account(), (_instance, state) => {
      state.storage.sql.exec(`ALTER TABLE orders DROP COLUMN open_lots`);
      state.storage.sql.exec(`UPDATE meta SET value = '2' WHERE key = 'schema_version'`);
    });
    await restartObject(account());
    expect(await rule(await rest("1"))).toBe("max_position"); // 11 lots: 1,100.22
    await runInDurableObject(account(), (_instance, state) => {
      expect(state.storage.sql.exec<{ lots: number }>(`SELECT SUM(open_lots) AS lots FROM orders WHERE open = 1`).one().lots).toBe(10);
    });
  });
});
