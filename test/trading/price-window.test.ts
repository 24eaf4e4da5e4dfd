import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admit, inWindow, priceWindow, trailingWindow } from "../../shared/trading/price-window";
import { trailingStop } from "../../shared/venue/trailing";
import { priceBand, protectionPrice, stopAnchor } from "../../shared/trading/risk";
import type { MarketPrice } from "../../shared/trading/views";
import type { VenueOrderRequest } from "../../shared/venue/venue";
import { harness } from "./engine-harness";

// The window an order checked against a held price travels with (docs/order-path.md,
// "Calls"): the widest run of reference prices inside the band at each of which the
// account's checks accept, and what the venue does with it.

const price = (reference: number, stale = false): MarketPrice => ({ symbol: "AAA", reference, bid: reference - 5, ask: reference + 5, previousClose: null, t: 0, stale });

describe("priceWindow", () => {
  it("is the band cut at the first refusal on each side, for any run of accepted prices around the reference", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000_000 }), fc.integer({ min: 1, max: 10_000 }).map((n) => n / 100), fc.nat(), fc.nat(), (reference, pct, below, above) => {
        const [bandLow, bandHigh] = priceBand(reference, pct);
        const from = reference - (below % (reference - bandLow + 2));
        const to = reference + (above % (bandHigh - reference + 2));
        let calls = 0;
        const w = priceWindow(reference, pct, (r) => (calls++, r >= from && r <= to));
        expect(w).toEqual({ low: Math.max(from, bandLow), high: Math.min(to, bandHigh), bandPct: pct });
        // Two calls when the band accepts, about log2(band) more per side that does not.
        expect(calls).toBeLessThanOrEqual(2 + 2 * Math.ceil(Math.log2(bandHigh - bandLow + 2)));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("admit", () => {
  const order = (o: Partial<VenueOrderRequest>): VenueOrderRequest => ({ id: "o", account: "a", side: "buy", type: "market", tif: "ioc", qty: 1, notional: null, maxLots: null, limit: null, stop: null, cap: 11_000, expiresAt: null, ...o });
  const window = { low: 9_900, high: 10_000, bandPct: 10 };

  it("declines outside the window, on a stale price and without one", () => {
    for (const p of [price(9_899), price(10_001), price(9_950, true), null]) {
      expect(admit(order({}), window, p)).toBeNull();
      expect(inWindow(window, p)).toBe(false);
    }
    expect(inWindow(window, price(9_900))).toBe(true);
    expect(inWindow(window, price(10_000))).toBe(true);
  });

  it("protects a market order from the venue's price, as asking first would have; leaves limits and stops as sent", () => {
    expect(admit(order({}), window, price(9_950))!.cap).toBe(protectionPrice("buy", 9_950, 10));
    expect(admit(order({ side: "sell", cap: 8_910 }), window, price(9_950))!.cap).toBe(protectionPrice("sell", 9_950, 10));
    const limit = order({ type: "limit", limit: 9_000, cap: null });
    expect(admit(limit, window, price(9_950))).toBe(limit);
    const stop = order({ type: "stop", stop: 10_500, cap: 11_550 });
    expect(admit(stop, window, price(9_950))).toBe(stop);
  });

  it("protects a stop already through the venue's price from that price, as the account would have", () => {
    // A buy stop at 50.00 under a price of 99.50 triggers on arrival: capped around 50.00 it
    // could not trade at all.
    expect(admit(order({ type: "stop", stop: 5_000, cap: protectionPrice("buy", 10_000, 10) }), window, price(9_950))!.cap).toBe(protectionPrice("buy", 9_950, 10));
    expect(admit(order({ type: "stop", side: "sell", stop: 20_000, cap: protectionPrice("sell", 9_900, 10) }), window, price(9_950))!.cap).toBe(protectionPrice("sell", 9_950, 10));
  });

  it("never protects beyond the account's reservation: the venue's cap is inside the one set at the window's worst edge", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 1_000_000 }), fc.integer({ min: 1, max: 2_000 }).map((n) => n / 100), fc.double({ min: 0, max: 1, noNaN: true }), (reference, pct, at) => {
        const w = priceWindow(reference, pct, () => true);
        const r = Math.round(w.low + (w.high - w.low) * at);
        expect(admit(order({ cap: protectionPrice("buy", w.high, pct) }), w, price(r))!.cap!).toBeLessThanOrEqual(protectionPrice("buy", w.high, pct));
        expect(admit(order({ side: "sell", cap: protectionPrice("sell", w.low, pct) }), w, price(r))!.cap!).toBeGreaterThanOrEqual(protectionPrice("sell", w.low, pct));
        // Stops, through the price or not: the account capped them around the stop or the window's worst edge.
        for (const stop of [Math.max(1, w.low - 7), r, w.high + 7]) {
          const buyCap = protectionPrice("buy", stopAnchor("buy", stop, w.high), pct);
          const sellCap = protectionPrice("sell", stopAnchor("sell", stop, w.low), pct);
          expect(admit(order({ type: "stop", stop, cap: buyCap }), w, price(r))!.cap!).toBeLessThanOrEqual(buyCap);
          expect(admit(order({ type: "stop", side: "sell", stop, cap: sellCap }), w, price(r))!.cap!).toBeGreaterThanOrEqual(sellCap);
        }
        // Trailing stops: their window ends at the reference on the worse side, and the
        // account capped them around the stop its trail set from there.
        for (const trail of [{ ticks: 1 + (reference % 97) }, { ppm: 1 + (reference % 50_000) }]) {
          const buyWindow = trailingWindow(w, "buy", reference);
          const sellWindow = trailingWindow(w, "sell", reference);
          const buyCap = protectionPrice("buy", trailingStop("buy", reference, trail), pct);
          const sellCap = protectionPrice("sell", trailingStop("sell", reference, trail), pct);
          const trailing = (side: "buy" | "sell", cap: number) => order({ type: "trailing_stop", side, tif: "gtc", stop: trailingStop(side, reference, trail), trail, hwm: reference, cap });
          const buyAt = admit(trailing("buy", buyCap), buyWindow, price(Math.min(r, reference)));
          const sellAt = admit(trailing("sell", sellCap), sellWindow, price(Math.max(r, reference)));
          expect(buyAt!.cap!).toBeLessThanOrEqual(buyCap);
          expect(sellAt!.cap!).toBeGreaterThanOrEqual(sellCap);
          expect(admit(trailing("buy", buyCap), buyWindow, price(reference + 1))).toBeNull();
          expect(admit(trailing("sell", sellCap), sellWindow, price(reference - 1))).toBeNull();
        }
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("the engine's window", () => {
  it("is exactly where the checks accept: every price in it places the order asking first would, the prices just outside refuse", async () => {
    const order = fc.record({
      side: fc.constantFrom("buy" as const, "sell" as const),
      type: fc.constantFrom("market" as const, "limit" as const),
      qty: fc.integer({ min: 1, max: 60 }),
      offset: fc.integer({ min: -1_500, max: 1_500 }),
    });
    let placed = 0;
    let cut = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1_000, max: 9_000 }), fc.integer({ min: 1, max: 15 }), fc.integer({ min: 0, max: 40 }), order, async (cash, band, held, o) => {
        const h = harness({ cash: String(cash), limits: { priceBandPct: band, maxPositionNotional: "5000", maxOrderNotional: "3000" } });
        await h.quote("99.95", "100.05", "1000");
        if (held > 0) await h.place({ side: "buy", qty: String(held) });
        const market = (await h.venues.marketPrice("AAA"))!;
        const fields = { side: o.side, type: o.type, qty: String(o.qty), time_in_force: "gtc" as const, ...(o.type === "limit" ? { limit_price: ((market.reference + o.offset) / 100).toFixed(2) } : {}) };
        const first = h.engine.place(fields, h.asset(), market, null, true);
        const command = h.engine.drain().venue.find((c) => c.kind === "submit");
        h.restart();
        if (!first.ok) return;
        placed += 1;
        const w = command!.window!;
        expect(w.low).toBeLessThanOrEqual(market.reference);
        expect(w.high).toBeGreaterThanOrEqual(market.reference);
        const accepts = (reference: number) => {
          const outcome = h.engine.place(fields, h.asset(), { ...market, reference }, null);
          h.restart();
          return outcome.ok;
        };
        const [bandLow, bandHigh] = priceBand(market.reference, band);
        if (w.low > bandLow || w.high < bandHigh) cut += 1;
        for (const r of [w.low, w.high, Math.floor((w.low + w.high) / 2), market.reference]) expect(accepts(r), `refused at ${r} inside [${w.low}, ${w.high}]`).toBe(true);
        if (w.low > bandLow) expect(accepts(w.low - 1), `accepted at ${w.low - 1}, below the window`).toBe(false);
        if (w.high < bandHigh) expect(accepts(w.high + 1), `accepted at ${w.high + 1}, above the window`).toBe(false);
        // The reservation is the one at the window's worst edge, which covers any fill in it.
        const edge = h.engine.place(fields, h.asset(), { ...market, reference: o.side === "buy" ? w.high : w.low }, null);
        const reserved = edge.ok ? h.engine.state.ledger.reservations[edge.value.id] : undefined;
        h.restart();
        const again = h.engine.place(fields, h.asset(), market, null, true);
        expect(again.ok && h.engine.state.ledger.reservations[again.value.id]?.cash).toBe(reserved?.cash);
        h.restart();
      }),
      { numRuns: 600 },
    );
    expect(placed, "no order placed").toBeGreaterThan(100);
    expect(cut, "no window cut short of the band by a check").toBeGreaterThan(10);
  });
});
