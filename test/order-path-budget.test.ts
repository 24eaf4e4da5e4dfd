import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { findAsset } from "../platform/assets";
import { createApp } from "../workers/app";
import { createKey, freshIp, ORIGIN, restartObject, signUp, type TestUser } from "./helpers";
import { instrument, quiet, type CallLog } from "./instrumented";
import { quotedMarket, until, type Market } from "./trading/helpers";

// The hot paths' budget of hops (docs/order-path.md), counted through instrumented
// bindings so that a regression fails here: an order costs one call into the user's
// object, one from it to the symbol's object (the venue, checked against the price the
// account holds from the venue's last answer; two, price then venue, when it holds none
// fresh), no D1 query and no other object call; reads, cancels and the profile cost one
// call into the user's object. Counted after one warm-up
// request, which is allowed what a cold start needs (reading the user and the credential
// into the user's object, the asset into the isolate's cache).

const app = createApp();

interface Credentials {
  token?: string;
  apiKey?: { key_id: string; secret: string };
}

/** What `request` writes into a call log when the answer is back, before the work it left behind (waitUntil) is awaited. */
const ANSWERED = "(answered)";

async function request(path: string, who: Credentials, body?: unknown, method = body === undefined ? "GET" : "POST", log?: CallLog): Promise<Response> {
  const headers = new Headers({ "cf-connecting-ip": freshIp() });
  if (who.token) headers.set("authorization", `Bearer ${who.token}`);
  if (who.apiKey) {
    headers.set("apca-api-key-id", who.apiKey.key_id);
    headers.set("apca-api-secret-key", who.apiKey.secret);
  }
  if (body !== undefined) headers.set("content-type", "application/json");
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const res = await app.fetch(req, env, ctx);
  log?.push(ANSWERED);
  await waitOnExecutionContext(ctx);
  return res;
}

/**
 * Every call made through a binding, by anyone, while `work` ran (after the isolate went
 * quiet): `calls` until the answer, `after` from the answer until the work the request left
 * behind (the deferred metrics flush, waitUntil) was done.
 */
async function callsDuring(work: (log: CallLog) => Promise<Response>): Promise<{ res: Response; calls: CallLog; after: CallLog }> {
  await quiet(env);
  // The isolate's asset snapshot is read again behind a request's answer once it is 3 s
  // old (the wait above makes it so): read it now, so a D1 statement below is the request's.
  await findAsset(env, market.symbol);
  const log: CallLog = [];
  const restore = instrument(env, log);
  try {
    const res = await work(log);
    const answered = log.indexOf(ANSWERED);
    return { res, calls: answered < 0 ? log : log.slice(0, answered), after: answered < 0 ? [] : log.slice(answered + 1) };
  } finally {
    restore();
  }
}

// The gateway's request metrics go to the metrics object behind the answer, one flush per
// isolate at most once a second: after an isolate went quiet, the one flush right after this
// answer. (The rest after the answer is the events queue and, while a flush waits out its
// second, the queue consumer working off the events.)
const FLUSH = "METRICS(metrics).record";
const behindTheAnswer = (after: CallLog) => after.filter((c) => c.startsWith("METRICS("));

let admin: TestUser;
let market: Market;
beforeAll(async () => {
  admin = await signUp("admin");
  market = await quotedMarket(admin);
});

const freshMarket = () => quotedMarket(admin);

/** Until the symbol has pushed every report it owes (each push carries its price to the account). */
const delivered = (symbol: string) => until(async () => (await env.MARKET.getByName(symbol).venueStatus()).outbox === 0, `${symbol}'s reports to be delivered`, 15_000);

const buy = () => ({ symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });

describe("the order path's budget", () => {
  for (const via of ["an access token", "an API key"] as const) {
    it(`an order with ${via}: one call into the user's object, one from it to the symbol's (the venue), no D1 query`, async () => {
      const user = await signUp();
      const who: Credentials = via === "an API key" ? { apiKey: await createKey(user) } : { token: user.access };
      expect((await request("/v2/orders", who, buy())).status).toBe(200);

      const { res, calls, after } = await callsDuring((log) => request("/v2/orders", who, buy(), "POST", log));
      expect(res.status).toBe(200);
      expect((await res.json<{ status: string }>()).status).toBe("filled");
      expect(behindTheAnswer(after)).toEqual([FLUSH]);
      // The events queue is not a hop of the answer: the account sends its outbox after it answers.
      // No marketPrice: the account traded this symbol within its staleness window, so it
      // checks the order against the price the venue's last answer carried, and the submit
      // carries that price for the venue to confirm (docs/order-path.md, "Calls").
      expect(calls.filter((c) => !c.startsWith("EVENTS."))).toEqual([`ACCOUNT(${user.id}).placeOrderAs`, `MARKET(${market.symbol}).venueSubmit`]);
    });
  }

  it("an order's events leave its account as one queue message: submitted, new and filled together", async () => {
    const user = await signUp();
    const who = { token: user.access };
    expect((await request("/v2/orders", who, buy())).status).toBe(200);
    await quiet(env);
    const sent: unknown[][] = [];
    const real = env.EVENTS;
    // The account object shares this env (instrumented.ts): its sends go through the wrapper.
    env.EVENTS = new Proxy(real, {
      get(target, prop) {
        if (prop === "sendBatch") return (messages: { body: unknown }[], options?: QueueSendBatchOptions) => (sent.push(messages.map((m) => m.body)), target.sendBatch(messages, options));
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      const res = await request("/v2/orders", who, buy());
      const { id } = await res.json<{ id: string }>();
      await until(async () => sent.length > 0, "the account's send");
      expect(sent).toHaveLength(1);
      expect(sent[0]).toHaveLength(1);
      const events = sent[0]![0] as { type: string; data: { order: { id: string } } }[];
      expect(events.map((e) => [e.type, e.data.order.id])).toEqual([
        ["order.submitted", id],
        ["order.new", id],
        ["order.filled", id],
      ]);
    } finally {
      env.EVENTS = real;
    }
  });

  it("an order without a fresh held price asks for it first: two calls to the symbol's object, price then venue", async () => {
    const user = await signUp();
    const who = { token: user.access };
    const hops = (calls: CallLog) => calls.filter((c) => /^(ACCOUNT|MARKET)\(/.test(c));
    const twoCalls = [`ACCOUNT(${user.id}).placeOrderAs`, `MARKET(${market.symbol}).marketPrice`, `MARKET(${market.symbol}).venueSubmit`];
    // The account's first order in the symbol: it holds no price yet.
    const first = await callsDuring((log) => request("/v2/orders", who, buy(), "POST", log));
    expect(first.res.status).toBe(200);
    expect(hops(first.calls)).toEqual(twoCalls);
    // After a wake the held price is gone with the object's memory: asked for again, once.
    await delivered(market.symbol);
    await restartObject(env.ACCOUNT.getByName(user.id));
    const woken = await callsDuring((log) => request("/v2/orders", who, buy(), "POST", log));
    expect(woken.res.status).toBe(200);
    expect((await woken.res.json<{ status: string }>()).status).toBe("filled");
    expect(hops(woken.calls)).toEqual(twoCalls);
    const held = await callsDuring((log) => request("/v2/orders", who, buy(), "POST", log));
    expect(hops(held.calls)).toEqual([`ACCOUNT(${user.id}).placeOrderAs`, `MARKET(${market.symbol}).venueSubmit`]);
  });

  it("a price that moved inside the order's window is still one venue call; one that left it is declined and placed again: two calls, one order", async () => {
    const user = await signUp();
    const who = { token: user.access };
    const priced = await freshMarket();
    const buyThere = () => ({ ...buy(), symbol: priced.symbol });
    const marketCalls = (calls: string[]) => calls.filter((c) => /^(ACCOUNT|MARKET)\(/.test(c));
    expect((await request("/v2/orders", who, buyThere())).status).toBe(200);
    // The price (the last trade) moves after the account's last answer from the symbol, inside the 10 % band.
    await delivered(priced.symbol);
    await priced.quote("101.00", "101.05");
    await priced.trade("101.02");
    const inside = await callsDuring((log) => request("/v2/orders", who, buyThere(), "POST", log));
    expect(inside.res.status).toBe(200);
    expect(await inside.res.json()).toMatchObject({ status: "filled", filled_avg_price: "101.05" });
    expect(marketCalls(inside.calls)).toEqual([`ACCOUNT(${user.id}).placeOrderAs`, `MARKET(${priced.symbol}).venueSubmit`]);
    // Then past the band: the venue declines, the account places the order again.
    await delivered(priced.symbol);
    await priced.quote("120.00", "120.05");
    await priced.trade("120.02");
    const { res, calls } = await callsDuring((log) => request("/v2/orders", who, buyThere(), "POST", log));
    expect(res.status).toBe(200);
    const placed = await res.json<{ id: string; status: string; filled_avg_price: string }>();
    expect(placed).toMatchObject({ status: "filled", filled_avg_price: "120.05" });
    expect(marketCalls(calls)).toEqual([`ACCOUNT(${user.id}).placeOrderAs`, `MARKET(${priced.symbol}).venueSubmit`, `MARKET(${priced.symbol}).venueSubmit`]);
    // The declined order left nothing behind: three orders, all filled, and no other.
    const orders = await (await request("/v2/orders?status=all", who)).json<{ id: string; status: string }[]>();
    expect(orders.map((o) => o.status)).toEqual(["filled", "filled", "filled"]);
    expect(orders[0]!.id).toBe(placed.id);
  });

  it("the profile with an access token or an API key: one call into the user's object, nothing else", async () => {
    const user = await signUp();
    const key = await createKey(user);
    for (const who of [{ token: user.access }, { apiKey: key }]) {
      expect((await request("/api/users/me", who)).status).toBe(200);
      const { res, calls } = await callsDuring((log) => request("/api/users/me", who, undefined, "GET", log));
      expect(res.status).toBe(200);
      expect(calls).toEqual([`ACCOUNT(${user.id}).me`]);
    }
  });

  it("reading the account, positions and orders, and cancelling one: one call into the user's object each, nothing else", async () => {
    const user = await signUp();
    const who = { token: user.access };
    const resting = await (await request("/v2/orders", who, { ...buy(), type: "limit", limit_price: "90.00", time_in_force: "gtc" })).json<{ id: string }>();
    for (const [method, path, command] of [
      ["GET", "/v2/account", "account"],
      ["GET", "/v2/positions", "positions"],
      ["GET", "/v2/orders?status=all", "orders"],
      ["GET", `/v2/orders/${resting.id}`, "order"],
      ["DELETE", `/v2/orders/${resting.id}`, "cancelOrder"],
    ] as const) {
      const { res, calls } = await callsDuring((log) => request(path, who, undefined, method, log));
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      // A cancel reaches the venue: that is the account's one call to the symbol's object.
      expect(calls.filter((c) => !c.startsWith("EVENTS.")), `${method} ${path} (${command})`).toEqual([`ACCOUNT(${user.id}).gated`, ...(command === "cancelOrder" ? [`MARKET(${market.symbol}).venueCancel`] : [])]);
    }
  });

  it("a refused order still costs the user's object one call: a revoked session is a 401 from there", async () => {
    const user = await signUp();
    expect((await request("/v2/orders", { token: user.access }, buy())).status).toBe(200);
    await request("/api/auth/logout", {}, { refresh_token: user.refresh });
    const { res, calls } = await callsDuring((log) => request("/v2/orders", { token: user.access }, buy(), "POST", log));
    expect(res.status).toBe(401);
    // The object reads the session again once (the logout told it to), and the refused
    // credential is counted against the caller's address, as a request without one is, under
    // the run-time configuration's rate limits (read again once the isolate's copy is a second
    // old, which the quiet wait makes it: docs/config.md).
    expect(calls.filter((c) => !c.startsWith("DB:") && c !== "CONFIG(config).gateway")).toEqual([`ACCOUNT(${user.id}).placeOrderAs`, expect.stringMatching(/^RATE_LIMITER\(ip:.*\)\.hit$/)]);
    expect(calls.filter((c) => c === "CONFIG(config).gateway").length).toBeLessThanOrEqual(1);
  });

  it("the metrics flush: one behind each answer, never among an order's calls, none with REQUEST_METRICS off", async () => {
    const user = await signUp();
    const who = { token: user.access };
    expect((await request("/v2/orders", who, buy())).status).toBe(200);
    const order = [`ACCOUNT(${user.id}).placeOrderAs`, `MARKET(${market.symbol}).venueSubmit`];

    // Two orders one after the other: the first's flush runs behind its answer, before the
    // second is sent; the second's (the gate holds it until a second after the first's) behind
    // the second's answer. Neither is one of an order's calls.
    const { calls, after } = await callsDuring(async (log) => {
      expect((await request("/v2/orders", who, buy())).status).toBe(200);
      return request("/v2/orders", who, buy(), "POST", log);
    });
    // (Object calls only: the queue consumer may start on the first order's events meanwhile.)
    expect(calls.filter((c) => /^(ACCOUNT|MARKET|METRICS)\(/.test(c) && !c.endsWith(".notify"))).toEqual([...order, FLUSH, ...order]);
    expect(behindTheAnswer(after)).toEqual([FLUSH]);

    // Switched off: no flush at all.
    const was = env.REQUEST_METRICS;
    env.REQUEST_METRICS = "off";
    try {
      const off = await callsDuring((log) => request("/v2/orders", who, buy(), "POST", log));
      expect(off.res.status).toBe(200);
      expect(off.calls.filter((c) => !c.startsWith("EVENTS."))).toEqual(order);
      expect(behindTheAnswer(off.after)).toEqual([]);
    } finally {
      env.REQUEST_METRICS = was;
    }
  });
});
