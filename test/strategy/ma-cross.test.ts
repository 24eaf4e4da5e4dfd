import { describe, expect, it } from "vitest";
import { runBacktest } from "../../shared/strategy/backtest";
import { formatMoney } from "../../shared/trading/money";
import { equityValues } from "../../shared/strategy/metrics";
import type { Strategy, StrategyContext } from "../../shared/strategy/runtime";
import { maCross, type MaCrossParams } from "../../shared/strategy/templates/ma-cross";
import { COIN, seededBars } from "./helpers";

interface Trade {
  signal: number;
  fill: number;
  side: "buy" | "sell";
  price: number;
}

/** The contract's rule as a plain loop over close ticks: the trade list it implies. */
function plainLoop(ticks: { open: number; close: number }[], fast: number, slow: number): Trade[] {
  const trades: Trade[] = [];
  const sum = (t: number, k: number) => ticks.slice(t - k + 1, t + 1).reduce((s, b) => s + b.close, 0);
  const above = (t: number) => slow * sum(t, fast) > fast * sum(t, slow);
  let long = false;
  for (let t = slow; t < ticks.length; t++) {
    const was = above(t - 1);
    const is = above(t);
    const side: Trade["side"] | null = !was && is && !long ? "buy" : was && !is && long ? "sell" : null;
    if (side === null || t + 1 >= ticks.length) continue;
    trades.push({ signal: t, fill: t + 1, side, price: ticks[t + 1]!.open / 100 });
    long = side === "buy";
  }
  return trades;
}

/** The template, with each order it places recorded against the bar that placed it. */
function recorded(signals: Map<string, number>): Strategy<MaCrossParams> {
  let index = -1;
  return {
    ...maCross,
    onBar(bar, ctx) {
      index += 1;
      const spy: StrategyContext<MaCrossParams> = Object.create(ctx, {
        buy: { value: (o: Parameters<typeof ctx.buy>[0]) => (signals.set(ctx.buy(o), index), "") },
        sell: { value: (o: Parameters<typeof ctx.sell>[0]) => (signals.set(ctx.sell(o), index), "") },
        state: { get: () => ctx.state, set: (v) => (ctx.state = v) },
      });
      maCross.onBar!(bar, spy);
    },
  };
}

const FEE_BPS = 7;
const options = (strategy: Strategy<MaCrossParams>, bars: ReturnType<typeof seededBars>["bars"]) => ({
  strategy,
  bars,
  spec: COIN,
  params: { fast: 10, slow: 30 },
  cash: "100000",
  halfSpreadTicks: 0,
  venue: { makerBps: FEE_BPS, takerBps: FEE_BPS, minFee: "0.01", depthLevels: 1, slippageTicks: 0 },
  limits: { maxOrderQty: "100000000", maxOrderNotional: "100000000", maxPositionNotional: "100000000", dailyLossLimit: "100000000" },
});

describe("the moving-average cross backtest", () => {
  it("trades exactly as a plain loop of the contract's rule: signal bar, fill at the next open, side, price", async () => {
    const { ticks, bars } = seededBars(3000, 20260101);
    const signals = new Map<string, number>();
    const started = performance.now();
    const result = await runBacktest(options(recorded(signals), bars));
    const seconds = (performance.now() - started) / 1000;
    console.log(`ma-cross backtest: ${bars.length} bars in ${seconds.toFixed(2)} s, ${Math.round(bars.length / seconds)} bars/s, ${result.fills.length} fills`);

    const barOf = new Map(bars.map((b, i) => [b.t, i]));
    const clientIdOf = new Map(result.orders.map((o) => [o.id, o.client_order_id]));
    const traded: Trade[] = result.fills.map((f) => ({ signal: signals.get(clientIdOf.get(f.order_id)!)!, fill: barOf.get(Date.parse(f.transaction_time))!, side: f.side, price: Number(f.price) }));
    const expected = plainLoop(ticks, 10, 30);
    expect(expected.length).toBeGreaterThan(20);
    expect(traded).toEqual(expected);
    expect(result.orders.every((o) => o.status === "filled")).toBe(true);
    // Fees are the venue's rate on each fill's value, rounded half up to the cent.
    for (const f of result.fills) {
      const value = Number(f.price) * Number(f.qty);
      expect(Math.abs(Number(f.fee) - Math.max(0.01, Math.round((value * FEE_BPS) / 100) / 100))).toBeLessThan(0.0100001);
    }
    expect(result.metrics.trades).toBe(Math.floor(expected.length / 2));
    // Quantities and equity differ from an unrounded loop (sized the same way, at the band's
    // edge above the signal bar's close) only by the lot and cent roundings.
    let cash = 100_000;
    let qty = 0;
    for (const t of expected) {
      const close = ticks[t.signal]!.close;
      const cap = (close + Math.floor((close * 1000) / 10_000)) / 100;
      if (t.side === "buy") qty = cash / (cap * (1 + FEE_BPS / 10_000));
      const value = qty * t.price;
      cash += t.side === "buy" ? -value * (1 + FEE_BPS / 10_000) : value * (1 - FEE_BPS / 10_000);
      if (t.side === "sell") qty = 0;
    }
    const unrounded = cash + (qty * ticks.at(-1)!.close) / 100;
    expect(Math.abs(Number(result.metrics.endEquity) - unrounded)).toBeLessThan(0.01 * result.fills.length);
    expect(result.metrics.fees).not.toBe("0.00");
  });

  it("is deterministic: two runs give byte-identical JSON", async () => {
    const { bars } = seededBars(800, 7);
    const a = await runBacktest(options(maCross, bars));
    const b = await runBacktest(options(maCross, bars));
    expect(a).toEqual(b);
    expect(a.fills.length).toBeGreaterThan(0);
  });

  it("marks equity at every bar close as cash plus the position at the close", async () => {
    const { bars } = seededBars(400, 11);
    const result = await runBacktest(options(maCross, bars));
    expect(Array.from(result.equity.t)).toEqual(bars.map((b) => b.t));
    expect(equityValues(result.equity)).toHaveLength(bars.length);
    expect(formatMoney(result.equity.at(0))).toBe("100000.00");
    expect(result.metrics.endEquity).toBe(formatMoney(result.equity.at(bars.length - 1)));
  });
});
