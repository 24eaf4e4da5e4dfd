import { createExecutionContext, env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../workers/app";
import { call, createKey, expectError, freshIp, json, ORIGIN, restartObject, signUp, until, type TestUser } from "./helpers";
import { StreamClient } from "./stream-client";
import { orderReaching, placed, placeOrder, quotedMarket, steeredMarket, type Market } from "./trading/helpers";

// A change reaches the running account and symbol objects it concerns before the write
// answers (docs/config.md): the next order, fill or request obeys it, with no restart and
// no read of its own. Account- and symbol-scoped values only: other test files share the
// ConfigStore. The gateway's global values are tested against a store of their own.

let admin: TestUser;
let market: Market;

const restingBuy = (qty: string) => ({ symbol: market.symbol, qty, side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });

async function configure(key: string, scope: string, value: Record<string, unknown>): Promise<number> {
  const read = await call("/api/admin/config", { token: admin.access, ip: admin.ip });
  const res = await call(`/api/admin/config/${key}`, { method: "PUT", body: { scope, value, reason: "test" }, token: admin.access, ip: admin.ip, headers: { "if-match": read.headers.get("etag")! } });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json<{ version: number }>()).version;
}

/** The version of the configuration an account object holds (its stored copy). */
const heldVersion = (owner: string) => runInDurableObject(env.ACCOUNT.getByName(owner), (_o, state) => state.storage.kv.get<{ version: number }>("config")?.version ?? 0);

beforeAll(async () => {
  admin = await signUp("admin");
  market = await quotedMarket(admin);
});

describe("config propagation", () => {
  it("a lowered risk limit refuses the running account's next order with the new limit", async () => {
    const user = await signUp();
    await placed(user, restingBuy("3"));
    const started = performance.now();
    await configure("risk_limits", `account:${user.id}`, { maxOrderQty: "2" });
    const refused = await expectError(await placeOrder(user, restingBuy("3")), 422);
    const elapsed = performance.now() - started;
    expect(refused.details[0]).toMatchObject({ rule: "max_order_qty", path: "qty" });
    expect(refused.details[0]!.message).toContain("maximum order quantity 2");
    // The figure for docs/config.md: from sending the change to the refused order's answer.
    console.info(`config propagation: change -> first order that obeys it: ${elapsed.toFixed(1)} ms`);
    await placed(user, restingBuy("2"));
  });

  it("a per-account limit set by the account API still counts over the configuration", async () => {
    const user = await signUp();
    await placed(user, restingBuy("1"));
    await configure("risk_limits", `account:${user.id}`, { maxOrderQty: "2" });
    const limits = await call(`/api/admin/accounts/${user.id}/limits`, { method: "PATCH", body: { maxOrderQty: "4" }, token: admin.access, ip: admin.ip });
    expect(limits.status).toBe(200);
    await placed(user, restingBuy("4"));
    await expectError(await placeOrder(user, restingBuy("5")), 422);
  });

  it("an account object restarted after a change wakes with it", async () => {
    const user = await signUp();
    await placed(user, restingBuy("1"));
    await configure("risk_limits", `account:${user.id}`, { maxOrderQty: "1" });
    await restartObject(env.ACCOUNT.getByName(user.id));
    const refused = await expectError(await placeOrder(user, restingBuy("2")), 422);
    expect(refused.details[0]).toMatchObject({ rule: "max_order_qty" });
  });

  it("a lowered rate limit counts from the user's next request, in the same window, with the same headers", async () => {
    const user = await signUp();
    const get = () => call("/v2/account", { token: user.access, ip: user.ip });
    const first = await get();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit")).toBe("200");
    await configure("rate_limits", `account:${user.id}`, { default: 3 });
    // The window the object already counted in memory goes on: the object was not restarted.
    const second = await get();
    expect(second.status).toBe(200);
    expect([second.headers.get("x-ratelimit-limit"), second.headers.get("x-ratelimit-remaining")]).toEqual(["3", "1"]);
    expect((await get()).status).toBe(200);
    const limited = await expectError(await get(), 429);
    expect(limited.message).toContain("rate limit exceeded for default requests");
    // Other users keep the limit from the vars.
    const other = await signUp();
    expect((await call("/v2/account", { token: other.access, ip: other.ip })).headers.get("x-ratelimit-limit")).toBe("200");
  });

  it("market data counts against a budget of its own: a history walk that spends it leaves the account's calls alone", async () => {
    // Found in QA: 200 quote requests spent the default budget, and /v2/account and /v2/clock answered 429.
    const user = await signUp();
    await configure("rate_limits", `account:${user.id}`, { data: 2, default: 5 });
    const quotes = () => call("/v1beta3/crypto/us/latest/quotes?symbols=BTC/USD", { token: user.access, ip: user.ip });
    const stocks = () => call("/v2/stocks/AAPL/bars?timeframe=1Min", { token: user.access, ip: user.ip });
    expect((await quotes()).headers.get("x-ratelimit-limit")).toBe("2");
    expect((await stocks()).status).not.toBe(429);
    const limited = await expectError(await quotes(), 429);
    expect(limited.message).toContain("rate limit exceeded for data requests");
    const account = await call("/v2/account", { token: user.access, ip: user.ip });
    expect([account.status, account.headers.get("x-ratelimit-limit"), account.headers.get("x-ratelimit-remaining")]).toEqual([200, "5", "4"]);
  });

  it("a global change reaches every running account before the write answers", async () => {
    // A version to wake with, so that each account keeps a copy once it has registered.
    await configure("feature_flags", "global", { fan_out_probe: false });
    const owners = Array.from({ length: 200 }, (_, i) => `fan-out-${crypto.randomUUID()}-${i}`);
    await Promise.all(owners.map((owner) => env.ACCOUNT.getByName(owner).positions()));
    // Each woke and registered in the background; a copy in its storage says it was answered.
    await until(async () => (await Promise.all(owners.map(heldVersion))).every((v) => v > 0), "the accounts to register");
    const started = performance.now();
    const version = await configure("feature_flags", "global", { fan_out_probe: true });
    const elapsed = performance.now() - started;
    expect(new Set(await Promise.all(owners.map(heldVersion)))).toEqual(new Set([version]));
    console.info(`config propagation: a global change pushed to ${owners.length}+ running accounts, answered in ${elapsed.toFixed(1)} ms`);
  });
});

/** The fee the venue charged for an order's fills, from the user's FILL activities. */
async function feesOf(user: TestUser, orderId: string): Promise<string[]> {
  const fills = await json<{ order_id: string; fee: string }[]>(await call("/v2/account/activities/FILL?direction=asc", { token: user.access, ip: user.ip }));
  return fills.filter((f) => f.order_id === orderId).map((f) => f.fee);
}

describe("config propagation to symbols", () => {
  const marketBuy = (symbol: string) => ({ symbol, qty: "1", side: "buy", type: "market", time_in_force: "gtc" });

  it("a fee changed for one symbol is paid by the running venue's next fill; other symbols keep the vars' fee", async () => {
    const [mine, other] = await Promise.all([steeredMarket(admin), steeredMarket(admin)]);
    await Promise.all([mine, other].map((m) => m.quote("100.00", "100.05")));
    const user = await signUp();
    // VENUE charges 25 bps as taker: 1 share at 100.05 pays 0.25.
    const before = await placed(user, marketBuy(mine.symbol));
    await orderReaching(user, before.id, "filled");
    expect(await feesOf(user, before.id)).toEqual(["0.25"]);

    const started = performance.now();
    await configure("venue", `symbol:${mine.symbol}`, { takerBps: 5 });
    const after = await placed(user, marketBuy(mine.symbol));
    await orderReaching(user, after.id, "filled");
    const fees = await feesOf(user, after.id);
    const elapsed = performance.now() - started;
    expect(fees).toEqual(["0.05"]);
    console.info(`config propagation: venue fee change -> first fill that pays it: ${elapsed.toFixed(1)} ms`);

    const elsewhere = await placed(user, marketBuy(other.symbol));
    await orderReaching(user, elsewhere.id, "filled");
    expect(await feesOf(user, elsewhere.id)).toEqual(["0.25"]);
  });

  it("a symbol object restarted after a change wakes with it", async () => {
    const market = await steeredMarket(admin);
    await market.quote("100.00", "100.05");
    await configure("venue", `symbol:${market.symbol}`, { takerBps: 10 });
    // The venue keeps its quote across the restart (its feed stays down: the order fills against it).
    await restartObject(env.MARKET.getByName(market.symbol));
    const user = await signUp();
    const order = await placed(user, marketBuy(market.symbol));
    await orderReaching(user, order.id, "filled");
    expect(await feesOf(user, order.id)).toEqual(["0.10"]);
  });
});

/**
 * The app with a ConfigStore of its own: the gateway's keys are global only, and a global
 * write to the environment's store would change the limits of every other test file running
 * at the same time. Only the store's name differs; the store, the app and the limiters are
 * the real ones.
 */
function ownGateway() {
  const name = `config-test-${crypto.randomUUID()}`;
  const store = () => env.CONFIG.getByName(name);
  const scoped: Env = { ...env, CONFIG: { getByName: () => store() } as unknown as Env["CONFIG"] };
  const app = createApp();
  const request = (path: string, init: { method?: string; body?: unknown; ip?: string; token?: string; headers?: Record<string, string> } = {}) => {
    const headers = new Headers(init.headers);
    headers.set("cf-connecting-ip", init.ip ?? freshIp());
    if (init.token) headers.set("authorization", `Bearer ${init.token}`);
    if (init.body !== undefined) headers.set("content-type", "application/json");
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    return app.request(`${ORIGIN}${path}`, { method: init.method ?? (body ? "POST" : "GET"), headers, body }, scoped, createExecutionContext());
  };
  /** An admin's PUT through this app, based on the version it reads first. */
  const configure = async (key: string, value: Record<string, unknown>) => {
    const read = await request("/api/admin/config", { token: admin.access, ip: admin.ip });
    const res = await request(`/api/admin/config/${key}`, { method: "PUT", body: { value, reason: "test" }, token: admin.access, ip: admin.ip, headers: { "if-match": read.headers.get("etag")! } });
    expect(res.status, await res.clone().text()).toBe(200);
  };
  return { store, request, configure };
}

describe("config propagation to the gateway (callers no object counts)", () => {
  const jwks = "/.well-known/jwks.json";

  it("a global rate limit changed in the store is applied to requests without a credential within half a second, refused credentials included", async () => {
    const gateway = ownGateway();
    // The isolate reads the store once and keeps the copy for half a second.
    expect((await gateway.request(jwks)).headers.get("x-ratelimit-limit")).toBe("200");
    const started = performance.now();
    // Straight to the store, as from another isolate: this one learns of it only by asking again.
    const written = await gateway.store().set("rate_limits", "global", { default: 3 }, 0, { author: "test", reason: "test", at: Date.now() });
    expect(written.ok).toBe(true);
    const ip = await until(async () => {
      const fresh = freshIp();
      return (await gateway.request(jwks, { ip: fresh })).headers.get("x-ratelimit-limit") === "3" && fresh;
    }, "the gateway to apply the new limit", 5_000);
    const elapsed = performance.now() - started;
    console.info(`config propagation: global anonymous rate limit change (another isolate's write) -> first request that obeys it: ${elapsed.toFixed(1)} ms`);
    // The address that saw it has two more requests in its window, then 429.
    expect((await gateway.request(jwks, { ip })).status).toBe(200);
    expect((await gateway.request(jwks, { ip })).status).toBe(200);
    await expectError(await gateway.request(jwks, { ip }), 429);
    // A credential the gateway refuses is counted against its address with the same limit.
    const refused = await gateway.request("/api/users/me", { token: "not-a-token" });
    await expectError(refused, 401);
    expect(refused.headers.get("x-ratelimit-limit")).toBe("3");
  });

  it("an admin's change through an isolate applies there from its next request", async () => {
    const gateway = ownGateway();
    const refresh = (ip: string) => gateway.request("/api/auth/refresh", { body: { refresh_token: "nope" }, ip });
    expect((await refresh(freshIp())).headers.get("x-ratelimit-limit")).toBe("10");
    await gateway.configure("rate_limits", { auth: 2 });
    const ip = freshIp();
    const first = await refresh(ip);
    await expectError(first, 401);
    expect([first.headers.get("x-ratelimit-limit"), first.headers.get("x-ratelimit-remaining")]).toEqual(["2", "1"]);
    await expectError(await refresh(ip), 401);
    await expectError(await refresh(ip), 429);
  });

  it("a lowered login throttle locks an account after the new number of failures", async () => {
    const gateway = ownGateway();
    const user = await signUp();
    const login = (password: string) => gateway.request("/api/auth/login", { body: { email: user.email, password } });
    await expectError(await login("wrong-password-1"), 401);
    const started = performance.now();
    await gateway.configure("login_throttle", { perAccount: 3 });
    await expectError(await login("wrong-password-2"), 401);
    await expectError(await login("wrong-password-3"), 401);
    // The vars' LOGIN_THROTTLE would allow ten: the right password is refused after three.
    const locked = await login(user.password);
    const elapsed = performance.now() - started;
    await expectError(locked, 429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    console.info(`config propagation: login throttle change -> first sign-in it locks: ${elapsed.toFixed(1)} ms`);
    // The same count under the environment's own store (untouched, ten allowed) still admits it.
    expect((await call("/api/auth/login", { body: { email: user.email, password: user.password } })).status).toBe(200);
  });
});

describe("config propagation to sockets", () => {
  const HUBS = Array.from({ length: Number(env.STREAM_HUBS) }, (_, i) => `hub-${i}`);
  const hubVersion = (hub: string) => runInDurableObject(env.STREAM_HUB.getByName(hub), (_o, state) => state.storage.kv.get<{ version: number }>("config")?.version ?? 0);
  // Registered: the ConfigStore pushes to it. (A hub woken before any configuration was
  // written, by an asset listed in an earlier test, holds no copy until the first push.)
  const registeredHubs = () =>
    runInDurableObject(env.CONFIG.getByName("config"), (_o, state) => state.storage.sql.exec<{ scope: string }>("SELECT scope FROM subscribers WHERE scope LIKE 'hub:%'").toArray().map((r) => r.scope.slice(4)));

  // A global change, so the file's other tests and other files see it while it lasts: the
  // window length is one no test reaches (every budget test spends its budget at once).
  it("a global socket limit reaches every running hub before the write answers, and new sockets on hubs and accounts are held to it", async () => {
    const user = await signUp();
    const key = await createKey(user, ["read"]);
    const headers = { "apca-api-key-id": key.key_id, "apca-api-secret-key": key.secret };
    // Wake every hub; each registers and keeps a copy of the configuration it is answered.
    await Promise.all(HUBS.map((hub) => env.STREAM_HUB.getByName(hub).stats(user.id)));
    await until(async () => {
      const registered = new Set(await registeredHubs());
      return HUBS.every((hub) => registered.has(hub));
    }, "the hubs to register");
    const version = await configure("socket_limits", "global", { windowSeconds: 11 });
    try {
      expect(new Set(await Promise.all(HUBS.map(hubVersion)))).toEqual(new Set([version]));
      const market = await StreamClient.open("/v2/iex", headers);
      await market.waitFor((m) => m.T === "success" && m.msg === "authenticated");
      for (let i = 0; i <= 100; i++) market.send({ action: "dance" });
      const limited = await market.waitFor((m) => m.T === "error" && m.code === 429);
      expect(String(limited.msg)).toContain("per 11 s");

      const trade = await StreamClient.open("/stream", headers);
      trade.send({ action: "listen", data: { streams: ["trade_updates"] } });
      await trade.waitFor((m) => m.stream === "listening");
      for (let i = 0; i <= 100; i++) trade.send({ action: "nothing" });
      await trade.waitFor((m) => m.stream === "error" && JSON.stringify(m.data).includes("at most 100 per 11 s"));

      // Before authentication the gateway's relay answers alone, by the same configured limits.
      const unauthenticated = await StreamClient.open("/stream");
      for (let i = 0; i <= 100; i++) unauthenticated.send({ action: "nothing" });
      await unauthenticated.waitFor((m) => m.stream === "error" && JSON.stringify(m.data).includes("at most 100 per 11 s"));
    } finally {
      const read = await call("/api/admin/config", { token: admin.access, ip: admin.ip });
      const res = await call("/api/admin/config/socket_limits?scope=global&reason=test%20done", { method: "DELETE", token: admin.access, ip: admin.ip, headers: { "if-match": read.headers.get("etag")! } });
      expect(res.status).toBe(200);
    }
  });
});
