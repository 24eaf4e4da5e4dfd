import { env } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { STALE_QUOTE_MESSAGE, type VenueOrderRequest } from "../../shared/venue/venue";
import { restartObject, signUp, until, type TestUser } from "../helpers";
import { createInstrument, freshSymbol } from "../market-helpers";

// The symbol object around its engines: what an account sees of its price and its venue
// when the feed has just started, and when it has gone quiet.

const upstream = inject("upstream");
const control = (command: Record<string, unknown>) => fetch(upstream.control, { method: "POST", body: JSON.stringify(command) });
const market = (symbol: string) => env.MARKET.getByName(symbol);

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});


let orders = 0;
function order(o: Partial<VenueOrderRequest> = {}): VenueOrderRequest {
  orders += 1;
  return { id: `symbol-test-${Date.now()}-${orders}`, account: "symbol-test-account", side: "buy", type: "market", tif: "ioc", qty: 1, notional: null, maxLots: null, limit: null, stop: null, cap: null, expiresAt: null, ...o };
}

const restart = (symbol: string) => restartObject(market(symbol));

describe("a simulated symbol", () => {
  it("has a fresh quote and price the moment it exists, long before its first step", async () => {
    // The default test simulator steps once an hour and no test step has run.
    const { symbol } = await createInstrument(admin);
    const price = await market(symbol).marketPrice();
    expect(price).toMatchObject({ symbol, stale: false, reference: expect.any(Number) });
    expect(price!.bid!).toBeLessThan(price!.ask!);
    expect((await market(symbol).status()).stale).toBe(false);
    const { reports } = await market(symbol).venueSubmit(order(), 0);
    expect(reports).toMatchObject([{ kind: "fill", price: price!.ask, qty: 1 }]);
  });
});

describe("a feed gone quiet", () => {
  it("makes the price stale and the venue refuse marketable orders, also after a restart, until data returns", async () => {
    const symbol = freshSymbol("Q");
    await createInstrument(admin, { symbol, feed: { kind: "upstream", url: upstream.url, symbol, staleAfterMs: 300 } });
    await until(async () => (await market(symbol).status()).upstream?.connected, "the feed to connect");
    const quote = (bp: number, ap: number) => control({ action: "send", frames: [{ T: "q", S: symbol, t: "2026-01-05T15:00:00.000Z", bp, ap, bs: 10, as: 10 }] });
    await quote(10, 10.02);
    const fresh = await until(async () => {
      const p = await market(symbol).marketPrice();
      return p && !p.stale && p;
    }, "a fresh quote");
    expect(fresh).toMatchObject({ bid: 1000, ask: 1002 });

    await new Promise((r) => setTimeout(r, 400));
    expect(await market(symbol).marketPrice()).toMatchObject({ bid: 1000, ask: 1002, stale: true });
    expect((await market(symbol).status()).stale).toBe(true);
    const refused = await market(symbol).venueSubmit(order(), 0);
    expect(refused.reports).toMatchObject([{ kind: "done", reason: "rejected", message: STALE_QUOTE_MESSAGE }]);
    expect(STALE_QUOTE_MESSAGE).toMatch(/quote is stale/);
    const crossing = order({ type: "limit", tif: "gtc", limit: 1005 });
    expect((await market(symbol).venueSubmit(crossing, 0)).reports.at(-1)).toMatchObject({ orderId: crossing.id, reason: "rejected" });
    const passive = order({ type: "limit", tif: "gtc", limit: 990 });
    expect((await market(symbol).venueSubmit(passive, 0)).reports.some((r) => r.orderId === passive.id)).toBe(false);

    // A restart forgets nothing: the object still knows when it last heard from the feed.
    await restart(symbol);
    expect(await market(symbol).marketPrice()).toMatchObject({ stale: true });
    expect((await market(symbol).venueSubmit(order(), 0)).reports.at(-1)).toMatchObject({ reason: "rejected", message: STALE_QUOTE_MESSAGE });

    await until(async () => (await market(symbol).status()).upstream?.connected, "the feed to reconnect", 20_000);
    await quote(10.01, 10.03);
    await until(async () => {
      const p = await market(symbol).marketPrice();
      return p && !p.stale && p.bid === 1001;
    }, "the next quote");
    const filled = order();
    expect((await market(symbol).venueSubmit(filled, 0)).reports.filter((r) => r.orderId === filled.id)).toMatchObject([{ kind: "fill", price: 1003 }]);
  });
});
