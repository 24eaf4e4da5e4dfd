import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { findAsset } from "../platform/assets";
import { createApp } from "../workers/app";
import { createKey, freshIp, ORIGIN, signUp, type TestUser } from "./helpers";
import { instrument, quiet, type CallLog } from "./instrumented";
import { quotedMarket, type Market } from "./trading/helpers";

// The hot paths' budget of hops (docs/order-path.md), counted through instrumented
// bindings so that a regression fails here: an order costs one call into the user's
// object, two from it to the symbol's object (its price, then the venue), no D1 query and
// no other object call; reads, cancels and the profile cost one call into the user's object. Counted after one warm-up
// request, which is allowed what a cold start needs (reading the user and the credential
// into the user's object, the asset into the isolate's cache).

const app = createApp();

interface Credentials {
  token?: string;
  apiKey?: { key_id: string; secret: string };
}

async function request(path: string, who: Credentials, body?: unknown, method = body === undefined ? "GET" : "POST"): Promise<Response> {
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
  await waitOnExecutionContext(ctx);
  return res;
}

/** Every call made through a binding, by anyone, while `work` ran (after the isolate went quiet). */
async function callsDuring(work: () => Promise<Response>): Promise<{ res: Response; calls: CallLog }> {
  await quiet(env);
  // The isolate's asset snapshot is read again behind a request's answer once it is 3 s
  // old (the wait above makes it so): read it now, so a D1 statement below is the request's.
  await findAsset(env, market.symbol);
  const calls: CallLog = [];
  const restore = instrument(env, calls);
  try {
    return { res: await work(), calls };
  } finally {
    restore();
  }
}

let admin: TestUser;
let market: Market;
beforeAll(async () => {
  admin = await signUp("admin");
  market = await quotedMarket(admin);
});

const buy = () => ({ symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });

describe("the order path's budget", () => {
  for (const via of ["an access token", "an API key"] as const) {
    it(`an order with ${via}: one call into the user's object, two from it to the symbol's (price, then venue), no D1 query`, async () => {
      const user = await signUp();
      const who: Credentials = via === "an API key" ? { apiKey: await createKey(user) } : { token: user.access };
      expect((await request("/v2/orders", who, buy())).status).toBe(200);

      const { res, calls } = await callsDuring(() => request("/v2/orders", who, buy()));
      expect(res.status).toBe(200);
      expect((await res.json<{ status: string }>()).status).toBe("filled");
      // The events queue is not a hop of the answer: the account sends its outbox after it answers.
      // Two calls to the symbol's object, not the one: the account needs the price
      // (marketPrice) for its checks and the reservation it commits before the venue may
      // fill (docs/order-path.md, "Calls per order").
      expect(calls.filter((c) => !c.startsWith("EVENTS."))).toEqual([`ACCOUNT(${user.id}).placeOrderAs`, `MARKET(${market.symbol}).marketPrice`, `MARKET(${market.symbol}).venueSubmit`]);
    });
  }

  it("the profile with an access token or an API key: one call into the user's object, nothing else", async () => {
    const user = await signUp();
    const key = await createKey(user);
    for (const who of [{ token: user.access }, { apiKey: key }]) {
      expect((await request("/api/users/me", who)).status).toBe(200);
      const { res, calls } = await callsDuring(() => request("/api/users/me", who));
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
      const { res, calls } = await callsDuring(() => request(path, who, undefined, method));
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      // A cancel reaches the venue: that is the account's one call to the symbol's object.
      expect(calls.filter((c) => !c.startsWith("EVENTS.")), `${method} ${path} (${command})`).toEqual([`ACCOUNT(${user.id}).gated`, ...(command === "cancelOrder" ? [`MARKET(${market.symbol}).venueCancel`] : [])]);
    }
  });

  it("a refused order still costs the user's object one call: a revoked session is a 401 from there", async () => {
    const user = await signUp();
    expect((await request("/v2/orders", { token: user.access }, buy())).status).toBe(200);
    await request("/api/auth/logout", {}, { refresh_token: user.refresh });
    const { res, calls } = await callsDuring(() => request("/v2/orders", { token: user.access }, buy()));
    expect(res.status).toBe(401);
    // The object reads the session again once (the logout told it to), and the refused
    // credential is counted against the caller's address, as a request without one is.
    expect(calls.filter((c) => !c.startsWith("DB:"))).toEqual([`ACCOUNT(${user.id}).placeOrderAs`, expect.stringMatching(/^RATE_LIMITER\(ip:.*\)\.hit$/)]);
  });
});
