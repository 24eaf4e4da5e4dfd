import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, expectError, json, signUp, type TestUser } from "../helpers";
import { accountJson, order, orderReaching, placed, placeOrder, steeredMarket, traderAndMarket, until, type Market, type OrderJson } from "./helpers";

// Every order type × time in force, on a market quoted 100.00 / 100.05 (100 each side)
// with a last trade at 100.02. Each case places one buy and, where it waits for the
// market, moves the market so that it can act; the table says where the order ends.

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

type Tif = "day" | "gtc" | "ioc" | "fok";
const TIFS: Tif[] = ["day", "gtc", "ioc", "fok"];

interface Case {
  type: "market" | "limit" | "stop" | "stop_limit";
  tif: Tif;
  prices: { limit_price?: string; stop_price?: string };
  /** Status right after placement. */
  placed: string;
  /** Moves the market after placement, if the order waits for it. */
  then?: (m: Market) => Promise<void>;
  end: { status: string; filled_qty: string; filled_avg_price: string | null };
}

const rests = (tif: Tif) => tif === "day" || tif === "gtc";
const riseToTrigger = async (m: Market) => {
  await m.quote("101.00", "101.05");
  await m.trade("101.02");
};

const CASES: Case[] = [
  ...TIFS.map((tif): Case => ({ type: "market", tif, prices: {}, placed: "filled", end: { status: "filled", filled_qty: "10", filled_avg_price: "100.05" } })),
  // Marketable limits fill at once at the ask, whatever the time in force.
  ...TIFS.map((tif): Case => ({ type: "limit", tif, prices: { limit_price: "100.05" }, placed: "filled", end: { status: "filled", filled_qty: "10", filled_avg_price: "100.05" } })),
  // A limit below the ask rests (day, gtc) and fills as maker when the ask comes down to it,
  // or is canceled at once (ioc, fok).
  ...TIFS.map(
    (tif): Case =>
      rests(tif)
        ? { type: "limit", tif, prices: { limit_price: "99.50" }, placed: "new", then: (m) => m.quote("99.40", "99.50"), end: { status: "filled", filled_qty: "10", filled_avg_price: "99.50" } }
        : { type: "limit", tif, prices: { limit_price: "99.50" }, placed: "canceled", end: { status: "canceled", filled_qty: "0", filled_avg_price: null } },
  ),
  // A buy stop waits for a trade at or above 101.00, then buys at the ask.
  ...TIFS.map((tif): Case => ({ type: "stop", tif, prices: { stop_price: "101.00" }, placed: "new", then: riseToTrigger, end: { status: "filled", filled_qty: "10", filled_avg_price: "101.05" } })),
  // A buy stop_limit at 101.00 / 101.10 buys at the ask once triggered.
  ...TIFS.map(
    (tif): Case => ({ type: "stop_limit", tif, prices: { stop_price: "101.00", limit_price: "101.10" }, placed: "new", then: riseToTrigger, end: { status: "filled", filled_qty: "10", filled_avg_price: "101.05" } }),
  ),
  // Triggered below the ask, a stop_limit rests as a limit (day, gtc) or ends (ioc, fok).
  ...TIFS.map(
    (tif): Case => ({
      type: "stop_limit",
      tif,
      prices: { stop_price: "101.00", limit_price: "101.01" },
      placed: "new",
      then: riseToTrigger,
      end: rests(tif) ? { status: "new", filled_qty: "0", filled_avg_price: null } : { status: "canceled", filled_qty: "0", filled_avg_price: null },
    }),
  ),
];

describe("every order type × time in force", () => {
  it.each(CASES.map((c) => [`${c.type} ${c.tif} ${JSON.stringify(c.prices)}`, c] as const))("%s", async (_name, c) => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const res = await placeOrder(user, { symbol: market.symbol, qty: "10", side: "buy", type: c.type, time_in_force: c.tif, ...c.prices });
    expect(res.status, await res.clone().text()).toBe(200);
    const o = await json<OrderJson>(res);
    expect(o.status).toBe(c.placed);
    await c.then?.(market);
    const end = c.end.status === c.placed && !c.then ? await order(user, o.id) : await orderReaching(user, o.id, c.end.status);
    expect(end).toMatchObject(c.end);
    // Whatever happened, the account holds back exactly what open orders may still need.
    const account = await accountJson(user);
    if (end.status === "new") expect(account.buying_power).not.toBe(account.cash);
    else expect(account.buying_power).toBe(account.cash);
  });

  it("a stop already through the last trade is refused with 422 naming stop_price, and nothing is placed or held, for every time in force", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    for (const tif of TIFS) {
      for (const prices of [{ stop_price: "50.00" }, { stop_price: "100.02" }, { stop_price: "99.00", limit_price: "101.00" }]) {
        const type = "limit_price" in prices ? "stop_limit" : "stop";
        const refused = await expectError(await placeOrder(user, { symbol: market.symbol, qty: "10", side: "buy", type, time_in_force: tif, ...prices }), 422);
        expect(refused.details.map((d) => d.path), `${type} ${tif} ${JSON.stringify(prices)}`).toEqual(["stop_price"]);
        expect(refused.message).toMatch(/^stop_price \d+\.\d+ is (below|at) the last price 100\.02: a buy stop must be above it/);
      }
    }
    const account = await accountJson(user);
    expect(account.buying_power).toBe(account.cash);
    expect(await json<OrderJson[]>(await call("/v2/orders?status=all", { token: user.access, ip: user.ip }))).toEqual([]);
  });
});

describe("partial fills and races", () => {
  it("a resting limit fills in parts as displayed size arrives, then completes", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const o = await json<OrderJson>(await placeOrder(user, { symbol: market.symbol, qty: "10", side: "buy", type: "limit", limit_price: "99.50", time_in_force: "gtc" }));
    await market.quote("99.40", "99.50", "100", "4");
    expect(await orderReaching(user, o.id, "partially_filled")).toMatchObject({ filled_qty: "4" });
    await market.quote("99.40", "99.45", "100", "4");
    expect(await orderReaching(user, o.id, "partially_filled")).toMatchObject({ filled_qty: "8" });
    // Filled at its own limit, as maker, not at the better ask that crossed it.
    const done = await (async () => {
      await market.quote("99.30", "99.40", "100", "50");
      return orderReaching(user, o.id, "filled");
    })();
    expect(done).toMatchObject({ filled_qty: "10", filled_avg_price: "99.50" });
  });

  it("a cancel of a partly filled order keeps what filled and returns the rest of the reservation", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const o = await json<OrderJson>(await placeOrder(user, { symbol: market.symbol, qty: "10", side: "buy", type: "limit", limit_price: "99.50", time_in_force: "gtc" }));
    await market.quote("99.40", "99.50", "100", "3");
    await orderReaching(user, o.id, "partially_filled");
    expect((await call(`/v2/orders/${o.id}`, { method: "DELETE", token: user.access, ip: user.ip })).status).toBe(204);
    expect(await orderReaching(user, o.id, "canceled")).toMatchObject({ filled_qty: "3" });
    const account = await accountJson(user);
    expect(account.buying_power).toBe(account.cash);
    // 3 × 99.50 = 298.50 and a maker fee of 10 bps (0.30) out of 100,000.
    expect(account.cash).toBe("99701.20");
  });

  it("concurrent cancels of one order: one 204, the rest refused or 204, and one cancel recorded", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const o = await json<OrderJson>(await placeOrder(user, { symbol: market.symbol, qty: "5", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" }));
    const statuses = await Promise.all(Array.from({ length: 5 }, () => call(`/v2/orders/${o.id}`, { method: "DELETE", token: user.access, ip: user.ip }).then((r) => r.status)));
    expect(statuses).toContain(204);
    for (const s of statuses) expect([204, 422]).toContain(s);
    expect(await orderReaching(user, o.id, "canceled")).toMatchObject({ filled_qty: "0" });
    const account = await accountJson(user);
    expect(account.cash).toBe("100000.00");
    expect(account.buying_power).toBe("100000.00");
  });

  it("a cancel racing a fill ends either filled or canceled, never both, and the books agree", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const o = await json<OrderJson>(await placeOrder(user, { symbol: market.symbol, qty: "5", side: "buy", type: "limit", limit_price: "99.50", time_in_force: "gtc" }));
    const [cancel] = await Promise.all([call(`/v2/orders/${o.id}`, { method: "DELETE", token: user.access, ip: user.ip }), market.quote("99.40", "99.50").catch(() => undefined)]);
    expect([204, 422]).toContain(cancel.status);
    const end = await until(async () => {
      const now = await order(user, o.id);
      return now.status === "filled" || now.status === "canceled" ? now : undefined;
    }, "the race to settle");
    const account = await accountJson(user);
    expect(account.buying_power).toBe(account.cash);
    if (end.status === "filled") expect(account.cash).toBe("99502.00"); // 5 × 99.50 + 0.50 maker fee
    else expect(account.cash).toBe("100000.00");
  });

  it("concurrent orders with one client_order_id place one order", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const body = { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc", client_order_id: "same-every-time" };
    const answers = await Promise.all(Array.from({ length: 6 }, () => placeOrder(user, body).then((r) => json<OrderJson>(r))));
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(await json<OrderJson[]>(await call("/v2/orders?status=all", { token: user.access, ip: user.ip }))).toHaveLength(1);
    // One reservation: 99.00 plus the largest fee it could pay (taker, 25 bps → 0.25).
    expect((await accountJson(user)).reserved_cash).toBe("99.25");
  });
  it("five concurrent replaces of one order: exactly one wins, the others get a 4xx, one order stays open", async () => {
    const { user, market } = await traderAndMarket(admin);
    const o = await placed(user, { symbol: market.symbol, qty: "5", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => call(`/v2/orders/${o.id}`, { method: "PATCH", token: user.access, ip: user.ip, body: { limit_price: `98.${i}0` } })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    for (const s of statuses.filter((s) => s !== 200)) expect(s >= 400 && s < 500, `status ${s}`).toBe(true);
    const open = await json<OrderJson[]>(await call("/v2/orders?status=open", { token: user.access, ip: user.ip }));
    expect(open).toHaveLength(1);
    expect((await order(user, o.id)).status).toBe("replaced");
    expect((await accountJson(user)).reserved_cash).toBe(formatReserve(open[0]!.limit_price!));
  });

  it("concurrent replaces reusing one new client_order_id: no 5xx, no orphan, no reservation left once all is canceled, also after a restart", async () => {
    const { user, market } = await traderAndMarket(admin);
    const a = await placed(user, { symbol: market.symbol, qty: "5", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    const b = await placed(user, { symbol: market.symbol, qty: "5", side: "buy", type: "limit", limit_price: "98.00", time_in_force: "gtc" });
    const answers = await Promise.all(
      [a, b, a, b].map((o, i) => call(`/v2/orders/${o.id}`, { method: "PATCH", token: user.access, ip: user.ip, body: { limit_price: `97.${i}0`, client_order_id: "one-new-id" } })),
    );
    for (const r of answers) expect(r.status < 500, `status ${r.status}`).toBe(true);
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    const all = await json<OrderJson[]>(await call("/v2/orders?status=all", { token: user.access, ip: user.ip }));
    // Every replaced order has its replacement.
    for (const o of all.filter((x) => x.status === "replaced")) expect(all.some((x) => x.id === o.replaced_by)).toBe(true);
    expect(all.filter((x) => x.status === "new")).toHaveLength(2);
    expect((await call("/v2/orders", { method: "DELETE", token: user.access, ip: user.ip })).status).toBe(207);
    await until(async () => (await accountJson(user)).reserved_cash === "0.00", "reservations to be returned");
    await runInDurableObject(env.ACCOUNT.getByName(user.id), (_i, state) => {
      try {
        state.abort("test restart");
      } catch {
        // ends the call
      }
    }).catch(() => undefined);
    const account = await accountJson(user);
    expect(account.reserved_cash).toBe("0.00");
    expect(account.buying_power).toBe("100000.00");
  });
});

/** What a 5-share buy limit holds: value plus its largest fee (25 bps in the test config), to the cent. */
function formatReserve(limit: string): string {
  const value = Math.round(Number(limit) * 100) * 5;
  const fee = Math.round((value * 25) / 10_000);
  return ((value + fee) / 100).toFixed(2);
}
