import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aggregateTrades } from "../../shared/market/bars";
import { barToAlpaca, quoteToAlpaca, rfc3339, tradeToAlpaca } from "../../shared/market/format";
import { type InstrumentSpec, decimalToLots, decimalToTicks, ticksToDecimal } from "../../shared/market/instrument";
import { STREAM_TIMEFRAMES } from "../../shared/market/timeframe";
import type { Bar, Quote, Trade } from "../../shared/market/types";

const AAPL: InstrumentSpec = { symbol: "AAPL", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
const BTC: InstrumentSpec = { symbol: "BTC/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.0001", timeZone: "UTC" };
const T = Date.parse("2024-01-02T15:04:05.123Z");

describe("Alpaca market-data records", () => {
  it("writes timestamps in UTC with exactly three fraction digits", () => {
    expect(rfc3339(T)).toBe("2024-01-02T15:04:05.123Z");
    expect(rfc3339(Date.parse("2024-01-02T15:04:00Z"))).toBe("2024-01-02T15:04:00.000Z");
  });

  it("writes a bar with exact prices and a VWAP four decimals finer than the tick", () => {
    const bar: Bar = { t: Date.parse("2026-03-02T14:30:00Z"), o: 18750, h: 18790, l: 18750, c: 18755, v: 17, n: 3, pv: "318855", firstT: 0, lastT: 0 };
    // 318855 / 17 = 18756.1764705… ticks = 187.561764705… → 187.561765
    expect(barToAlpaca(bar, AAPL)).toEqual({ t: "2026-03-02T14:30:00.000Z", o: 187.5, h: 187.9, l: 187.5, c: 187.55, v: 17, n: 3, vw: 187.561765 });
    expect(barToAlpaca({ ...bar, v: 0, pv: "0" }, AAPL).vw).toBe(187.55);
  });

  it("writes the VWAP exactly at a lot size of 1e-9, where Σ price·size passes 2^53", () => {
    const NANO: InstrumentSpec = { ...BTC, lotSize: "0.000000001" };
    // Two coins in all; the VWAP is 6725001 + 100000 / 2e9 ticks = 67250.0100005, which
    // rounds half up to 67250.010001. A float sum or a float division lands below the half.
    const trades: Trade[] = [
      { t: T, id: 1, priceTicks: 6_725_001, sizeLots: 1_999_900_000, takerSide: "B" },
      { t: T + 1, id: 2, priceTicks: 6_725_002, sizeLots: 100_000, takerSide: "B" },
    ];
    const [bar] = aggregateTrades(trades, STREAM_TIMEFRAMES[0]!, "UTC");
    const exact = 6_725_001n * 1_999_900_000n + 6_725_002n * 100_000n;
    expect(exact > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(BigInt(bar!.pv)).toBe(exact);
    // Exact: price·10^6 = Σpv · 10^4 / v (ticks are hundredths), rounded half up.
    const scaled = exact * 10_000n;
    const v = 2_000_000_000n;
    const micros = scaled / v + (2n * (scaled % v) >= v ? 1n : 0n);
    expect(barToAlpaca(bar!, NANO).vw).toBe(Number(micros) / 1e6);
    expect(barToAlpaca(bar!, NANO).vw).toBe(67250.010001);
  });

  it("writes crypto sizes in coins, not lots", () => {
    const bar: Bar = { t: T, o: 6725000, h: 6725000, l: 6725000, c: 6725000, v: 1234, n: 1, pv: String(6725000 * 1234), firstT: T, lastT: T };
    expect(barToAlpaca(bar, BTC)).toMatchObject({ o: 67250, v: 0.1234, vw: 67250 });
  });

  it("writes stock and crypto trades in their own shapes", () => {
    const trade: Trade = { t: T, id: 42, priceTicks: 18755, sizeLots: 3, takerSide: "S" };
    expect(tradeToAlpaca(trade, AAPL)).toEqual({ t: "2024-01-02T15:04:05.123Z", x: "V", p: 187.55, s: 3, c: [], i: 42, z: "C" });
    expect(tradeToAlpaca(trade, AAPL, { exchange: "Q", tape: "A" })).toMatchObject({ x: "Q", z: "A" });
    expect(tradeToAlpaca({ ...trade, sizeLots: 5 }, BTC)).toEqual({ t: "2024-01-02T15:04:05.123Z", p: 187.55, s: 0.0005, i: 42, tks: "S" });
  });

  it("writes stock and crypto quotes in their own shapes", () => {
    const quote: Quote = { t: T, bidTicks: 18750, askTicks: 18751, bidLots: 100, askLots: 200 };
    expect(quoteToAlpaca(quote, AAPL)).toEqual({ t: "2024-01-02T15:04:05.123Z", bx: "V", bp: 187.5, bs: 100, ax: "V", ap: 187.51, as: 200, c: [], z: "C" });
    expect(quoteToAlpaca(quote, BTC)).toEqual({ t: "2024-01-02T15:04:05.123Z", bp: 187.5, bs: 0.01, ap: 187.51, as: 0.02 });
  });

  it("prints numbers whose JSON text is the exact decimal", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 12 }), fc.integer({ min: 1, max: 10 ** 9 }), (ticks, lots) => {
        const json = JSON.parse(JSON.stringify(tradeToAlpaca({ t: T, id: 1, priceTicks: ticks, sizeLots: lots, takerSide: "B" }, BTC))) as { p: number; s: number };
        expect(decimalToTicks(json.p, BTC)).toBe(ticks);
        expect(decimalToLots(json.s, BTC)).toBe(lots);
        expect(String(json.p)).toBe(String(Number(ticksToDecimal(ticks, BTC))));
      }),
    );
  });
});
