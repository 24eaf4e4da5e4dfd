import { describe, expect, it } from "vitest";
import { runBacktest } from "../../shared/strategy/backtest";
import type { Strategy, StrategyBar } from "../../shared/strategy/runtime";
import { TEMPLATES } from "../../shared/strategy/templates";
import { exitLong } from "../../shared/strategy/templates/common";
import { parseMoney } from "../../shared/trading/money";
import { COIN, HOUR, START } from "./helpers";

// The account's order size limits (RISK_LIMITS: 1,000,000 USD an order by default) judge
// buys. A strategy's all-in buy is sized within them (ctx.maxBuyQty): before, it was refused
// outright. An exit sells the whole position in one order, however large: a sell only takes a
// position down, and a limit on it trapped positions grown past it.

const bar = (i: number, price: number): StrategyBar => ({ t: START + i * HOUR, open: price, high: price, low: price, close: price, volume: 1 });
const units = (text: string) => parseMoney(text)!;
const LIMITS = { maxOrderNotional: "1000", maxPositionNotional: "1000000" };

describe("orders within the account's order limits", () => {
  it("closes a position larger than one order may be in one sell: the order limits judge buys", async () => {
    // DCA buys 600 USD a bar at 100 for twelve bars, then the price jumps 50 %: take profit.
    const bars = [...Array.from({ length: 12 }, (_, i) => bar(i, 100)), ...Array.from({ length: 4 }, (_, i) => bar(12 + i, 150))];
    const result = await runBacktest({ strategy: TEMPLATES.get("dca")!.create(), bars, spec: COIN, params: { every: 1, notional: 600, takeProfitPct: 20 }, cash: "100000", venue: { takerBps: 0, makerBps: 0, minFee: "0" }, limits: LIMITS });
    expect(result.logs.filter((l) => l.text.includes("refused"))).toEqual([]);
    const firstSell = result.fills.findIndex((f) => f.side === "sell");
    expect(firstSell).toBeGreaterThan(0);
    const bought = result.fills.slice(0, firstSell).reduce((s, f) => s + units(f.qty), 0n);
    expect(bought * 150n).toBeGreaterThan(units("5000")); // worth over 5,000 USD at 150, five times the limit
    const sells = result.fills.filter((f) => f.side === "sell");
    expect(sells).toHaveLength(1);
    expect(units(sells[0]!.qty)).toBe(bought);
  });

  it("sizes an all-in buy within the order limit instead of having it refused", async () => {
    const bars = Array.from({ length: 60 }, (_, i) => bar(i, i < 35 ? 100 - (i % 7) : 100 + i));
    const result = await runBacktest({ strategy: TEMPLATES.get("ma-cross")!.create(), bars, spec: COIN, params: { fast: 3, slow: 8, sizing: "all_in" }, cash: "100000", venue: { takerBps: 0, makerBps: 0, minFee: "0" }, limits: LIMITS });
    expect(result.logs.filter((l) => l.text.includes("refused"))).toEqual([]);
    const buys = result.fills.filter((f) => f.side === "buy");
    expect(buys.length).toBeGreaterThan(0);
    // Within the limit at the price the account checks it against: the last trade, the close before the fill.
    for (const f of buys) {
      const before = bars[bars.findIndex((b) => new Date(b.t).toISOString() === f.transaction_time) - 1]!;
      expect((units(f.qty) * units(String(before.close))) / 10n ** 18n).toBeLessThanOrEqual(units("1000"));
    }
  });

  it("exits only what no open sell already holds, in as many orders as that needs", async () => {
    // 30 units bought at 100; a resting limit sell holds 25 of them when the exit comes, so
    // it sells the 5 left, in one order: sized by the whole position, it sold 5 and had
    // five more orders refused for lots the limit sell held.
    const seen: { qty: string; available: string }[] = [];
    const strategy: Strategy = {
      onBar(b, ctx) {
        if (b.t === START) for (let i = 0; i < 3; i++) ctx.buy({ qty: 10 });
        if (b.t === START + 2 * HOUR) ctx.sell({ qty: 25, type: "limit", limit: 110 });
        if (b.t === START + 4 * HOUR) {
          seen.push({ qty: ctx.position.qty, available: ctx.position.qtyAvailable });
          exitLong(ctx, "exit");
        }
      },
    };
    const bars = Array.from({ length: 7 }, (_, i) => bar(i, 100));
    const result = await runBacktest({ strategy, bars, spec: COIN, cash: "100000", venue: { takerBps: 0, makerBps: 0, minFee: "0" }, limits: { ...LIMITS, maxOrderNotional: "3000" } });
    expect(result.logs.filter((l) => l.text.includes("refused"))).toEqual([]);
    expect(seen.map(({ qty, available }) => [units(qty), units(available)])).toEqual([[units("30"), units("5")]]);
    const exits = result.orders.filter((o) => o.side === "sell" && o.order_type === "market");
    expect(exits.map((o) => [units(o.qty!), o.status])).toEqual([[units("5"), "filled"]]);
    expect(result.orders.find((o) => o.order_type === "limit")?.status).toBe("new");
  });
});
