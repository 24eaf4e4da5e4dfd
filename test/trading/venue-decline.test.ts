import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { VenueOrderRequest } from "../../shared/venue/venue";
import type { PriceWindow } from "../../shared/trading/price-window";
import { restartObject, signUp, type TestUser } from "../helpers";
import { quotedMarket } from "./helpers";

// The symbol object's side of the one-call order path (docs/order-path.md, "Calls"): an
// order carries the window of prices over which the account's checks agree; the symbol takes
// it while its own price is inside and declines it otherwise, storing only the id so that a
// resend is declined again and never fills, also after a restart. Every answer carries the
// price now.

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

let n = 0;
const order = (o: Partial<VenueOrderRequest> = {}): VenueOrderRequest => ({
  id: `decline-test-${Date.now()}-${++n}`,
  account: "decline-test-account",
  side: "buy",
  type: "market",
  tif: "ioc",
  qty: 1,
  notional: null,
  maxLots: null,
  limit: null,
  stop: null,
  cap: 20_000,
  expiresAt: null,
  ...o,
});

const around = (reference: number, below: number, above: number): PriceWindow => ({ low: reference - below, high: reference + above, bandPct: 10 });

describe("the symbol object's decline", () => {
  it("takes an order whose window holds its price, declines one whose window does not (for good, also after a restart), and answers its price", async () => {
    const market = await quotedMarket(admin);
    const stub = () => env.MARKET.getByName(market.symbol);
    const price = (await stub().marketPrice())!;
    expect(price.freshUntil).toBeGreaterThan(Date.now());

    const alike = order();
    const taken = await stub().venueSubmit(alike, 0, null, around(price.reference, 0, 0));
    expect(taken.declined).toBeUndefined();
    expect(taken.price).toMatchObject({ reference: price.reference, bid: price.bid, ask: price.ask });
    expect(taken.reports.filter((r) => r.orderId === alike.id)).toMatchObject([{ kind: "fill", price: price.ask, qty: 1 }]);

    const moved = order();
    const before = await stub().venueStatus();
    const declined = await stub().venueSubmit(moved, 0, null, around(price.reference, -1, 50));
    expect(declined.declined).toBe(true);
    expect(declined.price).toMatchObject({ reference: price.reference, ask: price.ask });
    expect(declined.reports.some((r) => r.orderId === moved.id)).toBe(false);
    expect(await stub().venueStatus()).toMatchObject({ seq: before.seq, orders: before.orders });

    // The account's retry alarm resends without a price: declined again, even after a restart.
    expect((await stub().venueSubmit(moved, 0)).declined).toBe(true);
    await restartObject(stub());
    expect((await stub().venueSubmit(moved, 0)).declined).toBe(true);
    expect((await stub().venueFills("decline-test-account")).map((f) => f.orderId)).toEqual([alike.id]);
  });

  it("declines a cancel whose window does not hold the price (nothing canceled) and answers the price with every cancel", async () => {
    const market = await quotedMarket(admin);
    const stub = () => env.MARKET.getByName(market.symbol);
    const price = (await stub().marketPrice())!;
    const resting = order({ type: "limit", tif: "gtc", limit: price.bid! - 100, cap: null });
    await stub().venueSubmit(resting, 0);
    const declined = await stub().venueCancel(resting.account, resting.id, 0, null, around(price.reference, 50, -1));
    expect(declined).toMatchObject({ declined: true, price: { reference: price.reference } });
    expect(declined.reports.some((r) => r.orderId === resting.id && r.kind === "done")).toBe(false);
    const canceled = await stub().venueCancel(resting.account, resting.id, 0, null, around(price.reference, 1, 1));
    expect(canceled.declined).toBeUndefined();
    expect(canceled.price).toMatchObject({ reference: price.reference });
    expect(canceled.reports.filter((r) => r.orderId === resting.id)).toMatchObject([{ kind: "done", reason: "canceled" }]);
  });
});
