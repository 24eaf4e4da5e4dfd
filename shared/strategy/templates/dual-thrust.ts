import { z } from "zod";
import { roundPrice, type Strategy } from "../runtime";
import { checkParams, enterLong, exitLong, hasOpenOrders, isLong, sizingFields, startState, type StrategyTemplate } from "./common";

// Dual thrust, long/flat. Session semantics: each bar of the strategy's timeframe is one
// session (run it on daily bars for the classic daily rule, on hourly bars for hourly
// sessions). For bar t, over the `lookback` bars before it (t − lookback … t − 1):
//   range = max(highest high − lowest close, highest close − lowest low)
//   buy line = open[t] + k1 · range,   sell line = open[t] − k2 · range
// At bar t's close: flat and the close above the buy line → buy; long and the close below
// the sell line → sell the whole position (where the original reverses to short, this
// template goes flat). The first possible signal is at bar index `lookback`; market orders
// fill at the next bar's open. Prices are compared in ticks (the range is exact).

export const dualThrustParams = z.object({
  lookback: z.number().int().min(1).max(1_000).default(4).describe("Bars before the current one whose highs, lows and closes give the range"),
  k1: z.number().gt(0).max(10).default(0.5).describe("Buy line: the bar's open plus k1 × range"),
  k2: z.number().gt(0).max(10).default(0.5).describe("Sell line: the bar's open minus k2 × range"),
  ...sizingFields,
});

export type DualThrustParams = z.output<typeof dualThrustParams>;

/** The previous `lookback` bars in ticks, oldest first. */
type DualThrustState = { highs: number[]; lows: number[]; closes: number[] };

const dualThrust: Strategy<DualThrustParams> = {
  params: dualThrustParams.parse({}),

  onStart(ctx) {
    checkParams("dual-thrust", dualThrustParams, ctx.params);
    startState(ctx, (): DualThrustState => ({ highs: [], lows: [], closes: [] }));
  },

  onBar(bar, ctx) {
    const { lookback, k1, k2 } = ctx.params;
    const s = ctx.state as DualThrustState;
    const tick = (price: number) => roundPrice(price, ctx.instrument);
    const [open, close] = [tick(bar.open), tick(bar.close)];
    const full = s.closes.length === lookback;
    const range = full ? Math.max(Math.max(...s.highs) - Math.min(...s.closes), Math.max(...s.closes) - Math.min(...s.lows)) : 0;
    s.highs.push(tick(bar.high));
    s.lows.push(tick(bar.low));
    s.closes.push(close);
    if (s.closes.length > lookback) [s.highs, s.lows, s.closes].forEach((xs) => xs.shift());
    if (!full || hasOpenOrders(ctx)) return;
    const long = isLong(ctx);
    if (!long && close > open + k1 * range) enterLong(ctx, "buy_line");
    else if (long && close < open - k2 * range) exitLong(ctx, "sell_line");
  },
};

export const dualThrustTemplate: StrategyTemplate<DualThrustParams> = {
  name: "dual-thrust",
  title: "Dual thrust",
  description: "Each bar is a session: buys when the close rises k1 × range above the bar's open and sells when it falls k2 × range below it, the range coming from the previous bars' highs, lows and closes. Long/flat: the sell signal exits instead of going short.",
  params: dualThrustParams,
  create: () => ({ ...dualThrust }),
};
