import { MACD as TiMACD } from "technicalindicators";
import { RSI as TsRSI } from "trading-signals";
import { describe, expect, it } from "vitest";
import type { BacktestResult } from "../../shared/strategy/backtest";
import type { StrategyBar } from "../../shared/strategy/runtime";
import { TEMPLATES } from "../../shared/strategy/templates";
import { seededBars } from "./helpers";
import { backtest, fillList, recorded, type Placed } from "./templates-harness";

// Each template's trades against its rule computed independently here, from the bars
// alone (plain loops, or trading-signals / technicalindicators for the indicators). With
// all-in sizing, no spread and loose limits, every market order fills at the next bar's
// open, so the rule's signal list is the list of orders the template placed.

type Bars = StrategyBar[];
type Signal = { bar: number; side: "buy" | "sell" };

/** Long/flat signals from per-bar entry and exit predicates, as the templates apply them. */
function longFlat(n: number, entry: (t: number) => boolean, exit: (t: number) => boolean): Signal[] {
  const signals: Signal[] = [];
  let long = false;
  for (let t = 0; t < n; t++) {
    if (!long && entry(t)) signals.push({ bar: t, side: "buy" });
    else if (long && exit(t)) signals.push({ bar: t, side: "sell" });
    else continue;
    long = !long;
  }
  return signals;
}

async function run(name: string, bars: Bars, params: Record<string, unknown>): Promise<{ placed: Placed[]; result: BacktestResult }> {
  const placed: Placed[] = [];
  const result = await backtest(recorded(TEMPLATES.get(name)!.create(), placed), bars, params);
  return { placed, result };
}

/** The placed orders are the expected signals, and each (but one on the last bar) filled at the next bar's open. */
function expectTrades(placed: Placed[], result: BacktestResult, bars: Bars, expected: Signal[]): void {
  expect(expected.length).toBeGreaterThan(6);
  expect(placed.map(({ bar, side }) => ({ bar, side }))).toEqual(expected);
  const fills = fillList(result, bars);
  const sent = expected.filter((s) => s.bar + 1 < bars.length);
  expect(fills.map(({ bar, side, price }) => ({ bar, side, price }))).toEqual(sent.map((s) => ({ bar: s.bar + 1, side: s.side, price: bars[s.bar + 1]!.open })));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** EMA seeded with the simple mean of its first `n` inputs, index-aligned (undefined before). */
function ema(xs: number[], n: number): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  let value: number | undefined;
  xs.forEach((x, i) => {
    if (i === n - 1) value = mean(xs.slice(0, n));
    else if (value !== undefined) value += (2 / (n + 1)) * (x - value);
    out.push(value);
  });
  return out;
}

const { ticks, bars } = seededBars(2_000, 424242);
const closes = bars.map((b) => b.close);

describe("the moving-average cross with kind ema", () => {
  it("buys when EMA(fast) of closes rises above EMA(slow) and sells when it falls back", async () => {
    const fast = ema(closes, 8);
    const slow = ema(closes, 21);
    const above = (t: number) => fast[t]! > slow[t]!;
    const expected = longFlat(bars.length, (t) => t >= 21 && !above(t - 1) && above(t), (t) => above(t - 1) && !above(t));
    const { placed, result } = await run("ma-cross", bars, { kind: "ema", fast: 8, slow: 21 });
    expectTrades(placed, result, bars, expected);
  });

  it("with kind sma trades differently from ema on the same bars (the kind is honoured)", async () => {
    const sma = await run("ma-cross", bars, { kind: "sma", fast: 8, slow: 21 });
    const emaRun = await run("ma-cross", bars, { kind: "ema", fast: 8, slow: 21 });
    expect(sma.placed.map((p) => p.bar)).not.toEqual(emaRun.placed.map((p) => p.bar));
  });
});

describe("RSI mean reversion", () => {
  it("buys as trading-signals' RSI crosses below oversold and sells as it crosses above overbought", async () => {
    const ts = new TsRSI(14);
    const rsi = closes.map((x) => ts.update(x, false) ?? null);
    const crossed = (t: number, f: (a: number, b: number) => boolean) => t > 0 && rsi[t] !== null && rsi[t - 1] !== null && f(rsi[t - 1]!, rsi[t]!);
    const expected = longFlat(
      bars.length,
      (t) => crossed(t, (a, b) => a >= 35 && b < 35),
      (t) => crossed(t, (a, b) => a <= 65 && b > 65),
    );
    const { placed, result } = await run("rsi-reversion", bars, { period: 14, oversold: 35, overbought: 65 });
    expectTrades(placed, result, bars, expected);
  });
});

describe("Bollinger", () => {
  // Mean and population σ of the window ending at t, computed directly.
  const band = (t: number, n: number, k: number) => {
    const w = closes.slice(t - n + 1, t + 1);
    const m = mean(w);
    const sd = Math.sqrt(mean(w.map((x) => (x - m) ** 2)));
    return { lower: m - k * sd, middle: m, upper: m + k * sd };
  };
  it("reversion: buys a close below the lower band, sells a close at or above the middle", async () => {
    const expected = longFlat(
      bars.length,
      (t) => t >= 19 && closes[t]! < band(t, 20, 2).lower,
      (t) => closes[t]! >= band(t, 20, 2).middle,
    );
    const { placed, result } = await run("bollinger", bars, { mode: "reversion" });
    expectTrades(placed, result, bars, expected);
  });

  it("breakout: buys a close above the upper band, sells a close below the middle", async () => {
    const expected = longFlat(
      bars.length,
      (t) => t >= 14 && closes[t]! > band(t, 15, 1.5).upper,
      (t) => closes[t]! < band(t, 15, 1.5).middle,
    );
    const { placed, result } = await run("bollinger", bars, { mode: "breakout", period: 15, multiplier: 1.5 });
    expectTrades(placed, result, bars, expected);
  });
});

describe("Donchian / turtle breakout", () => {
  const highest = (t: number, n: number) => Math.max(...bars.slice(t - n, t).map((b) => b.high));
  const lowest = (t: number, n: number) => Math.min(...bars.slice(t - n, t).map((b) => b.low));
  // Wilder's ATR: true ranges (high − low on the first bar), seeded with their simple mean.
  const trueRanges = bars.map((b, i) => (i === 0 ? b.high - b.low : Math.max(b.high - b.low, Math.abs(b.high - bars[i - 1]!.close), Math.abs(b.low - bars[i - 1]!.close))));
  const atr: (number | undefined)[] = [];
  trueRanges.forEach((tr, i) => atr.push(i < 13 ? undefined : i === 13 ? mean(trueRanges.slice(0, 14)) : atr[i - 1]! + (tr - atr[i - 1]!) / 14));

  it("buys a close above the previous 20 highs and sells a close below the previous 10 lows", async () => {
    const expected = longFlat(
      bars.length,
      (t) => t >= 20 && closes[t]! > highest(t, 20),
      (t) => closes[t]! < lowest(t, 10),
    );
    const { placed, result } = await run("donchian", bars, { entry: 20, exit: 10, atrStop: 0 });
    expectTrades(placed, result, bars, expected);
  });

  it("with an ATR stop, also sells a close below the entry close minus k ATRs", async () => {
    let stop: number | null = null;
    const expected = longFlat(
      bars.length,
      (t) => {
        const go = t >= 20 && closes[t]! > highest(t, 20);
        if (go) stop = atr[t] === undefined ? null : closes[t]! - 1.5 * atr[t]!;
        return go;
      },
      (t) => closes[t]! < lowest(t, 20) || (stop !== null && closes[t]! < stop),
    );
    const { placed, result } = await run("donchian", bars, { entry: 20, exit: 20, atrPeriod: 14, atrStop: 1.5 });
    expectTrades(placed, result, bars, expected);
    // The stop changed the outcome: some exits happened above the channel's low.
    const plain = longFlat(bars.length, (t) => t >= 20 && closes[t]! > highest(t, 20), (t) => closes[t]! < lowest(t, 20));
    expect(expected).not.toEqual(plain);
  });
});

describe("MACD", () => {
  const ti = TiMACD.calculate({ fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, values: closes, SimpleMAOscillator: false, SimpleMASignal: false });
  const hist: (number | undefined)[] = [...new Array<undefined>(closes.length - ti.length), ...ti.map((v) => v.histogram)];
  const rose = (t: number, level: number) => hist[t - 1] !== undefined && hist[t] !== undefined && hist[t - 1]! <= level && hist[t]! > level;
  const fell = (t: number, level: number) => hist[t - 1] !== undefined && hist[t] !== undefined && hist[t - 1]! >= level && hist[t]! < level;

  it.each([0, 0.05])("buys as technicalindicators' histogram rises above +%s and sells as it falls below minus it", async (threshold) => {
    const expected = longFlat(bars.length, (t) => t > 0 && rose(t, threshold), (t) => t > 0 && fell(t, -threshold));
    const { placed, result } = await run("macd", bars, { threshold });
    expectTrades(placed, result, bars, expected);
  });
});

describe("dual thrust", () => {
  it("buys a close above open + k1·range and sells a close below open − k2·range, the range from the previous bars", async () => {
    const line = (t: number, n: number) => {
      const w = ticks.slice(t - n, t);
      const hh = Math.max(...w.map((b) => b.high));
      const ll = Math.min(...w.map((b) => b.low));
      const hc = Math.max(...w.map((b) => b.close));
      const lc = Math.min(...w.map((b) => b.close));
      return Math.max(hh - lc, hc - ll);
    };
    const expected = longFlat(
      bars.length,
      (t) => t >= 3 && ticks[t]!.close > ticks[t]!.open + 0.4 * line(t, 3),
      (t) => ticks[t]!.close < ticks[t]!.open - 0.3 * line(t, 3),
    );
    const { placed, result } = await run("dual-thrust", bars, { lookback: 3, k1: 0.4, k2: 0.3 });
    expectTrades(placed, result, bars, expected);
  });
});

describe("grid", () => {
  it("buys only at its lines, sells each filled buy one line higher, and never sells what it did not buy", async () => {
    const lines = [96, 97, 98, 99, 100, 101, 102, 103, 104];
    const { placed, result } = await run("grid", bars, { lower: 96, upper: 104, levels: 9, qty: 5 });
    expect(placed.every((p) => p.order.type === "limit" && lines.includes(Number(p.order.limit)))).toBe(true);
    const fills = fillList(result, bars);
    expect(fills.filter((f) => f.side === "sell").length).toBeGreaterThan(10);
    const limitOf = new Map(placed.map((p) => [p.id, Number(p.order.limit)]));
    let held = 0;
    const bought: number[] = []; // lines of buys not yet sold
    for (const f of fills) {
      const limit = limitOf.get(f.order)!;
      // A limit fills at its price or better (a gap through it fills at the print).
      if (f.side === "buy") expect(f.price).toBeLessThanOrEqual(limit);
      else expect(f.price).toBeGreaterThanOrEqual(limit);
      expect(f.qty).toBe("5");
      if (f.side === "buy") bought.push(limit);
      else expect(bought.splice(bought.indexOf(limit - 1), 1)).toEqual([limit - 1]);
      held += f.side === "buy" ? 5 : -5;
      expect(held).toBeGreaterThanOrEqual(0);
    }
    // What is still held is exactly the buys not yet sold.
    expect(held).toBe(bought.length * 5);
  });

  it("opens with one resting buy per line below the first close and nothing above it", async () => {
    const { placed } = await run("grid", bars.slice(0, 1), { lower: 96, upper: 104, levels: 9, qty: 5 });
    expect(placed.map((p) => Number(p.order.limit))).toEqual([96, 97, 98, 99, 100, 101, 102, 103, 104].filter((l) => l < closes[0]!));
  });
});

describe("DCA", () => {
  it("buys the notional every N bars and takes profit when the close clears the average price by the percentage", async () => {
    const { placed, result } = await run("dca", bars, { every: 10, notional: 1_000, takeProfitPct: 2 });
    const fills = fillList(result, bars);
    const sells = placed.filter((p) => p.side === "sell");
    expect(sells.length).toBeGreaterThan(3);
    // The average price of the buys since the last sell, at each bar's close.
    let qty = 0;
    let cost = 0;
    let next = 0;
    for (let t = 0; t < bars.length; t++) {
      for (; next < fills.length && fills[next]!.bar <= t; next++) {
        const f = fills[next]!;
        if (f.side === "sell") [qty, cost] = [0, 0];
        else [qty, cost] = [qty + Number(f.qty), cost + Number(f.qty) * f.price];
      }
      const target = qty > 0 ? (cost / qty) * 1.02 : Infinity;
      const here = placed.filter((p) => p.bar === t);
      const sold = here.some((p) => p.side === "sell");
      // Within a cent of the target either way (the position's average price is to the cent).
      if (sold) expect(closes[t]!).toBeGreaterThanOrEqual(target - 0.011);
      else expect(closes[t]! < target + 0.011).toBe(true);
      const buys = here.filter((p) => p.side === "buy");
      expect(buys.length).toBe(!sold && t % 10 === 0 ? 1 : 0);
      for (const b of buys) expect(b.order.notional).toBe(1_000);
    }
    for (const f of fills.filter((f) => f.side === "buy")) expect(Math.abs(Number(f.qty) * f.price - 1_000)).toBeLessThan(0.01);
  });

  it("stops buying once the buying power is below the notional, without refused orders", async () => {
    const { placed, result } = await run("dca", bars.slice(0, 200), { every: 5, notional: 3_000 });
    expect(result.orders.every((o) => o.status === "filled")).toBe(true);
    expect(placed.length).toBeLessThan(40);
    expect(placed.length).toBeGreaterThan(25);
  });
});
