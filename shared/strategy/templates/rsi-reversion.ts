import { z } from "zod";
import { RSI, type RSIState } from "../../indicators";
import type { Strategy } from "../runtime";
import { checkParams, enterLong, exitLong, hasOpenOrders, isLong, sizingFields, startState, type StrategyTemplate } from "./common";

// RSI mean reversion, long only: buy when Wilder's RSI of closes crosses below `oversold`
// (the previous value at or above it, this one below), sell the whole position when it
// crosses above `overbought`. A cross needs two RSI values, so the first possible signal
// is at bar index `period + 1`. Signals are read at the bar's close; their market orders
// fill at the next bar's open.

export const rsiReversionParams = z
  .object({
    period: z.number().int().min(2).max(1_000).default(14).describe("Bars in Wilder's RSI"),
    oversold: z.number().gt(0).lt(100).default(30).describe("Buy when the RSI crosses below this level (0–100)"),
    overbought: z.number().gt(0).lt(100).default(70).describe("Sell when the RSI crosses above this level (0–100)"),
    ...sizingFields,
  })
  .refine((p) => p.oversold < p.overbought, { message: "oversold must be below overbought", path: ["oversold"] });

export type RsiReversionParams = z.output<typeof rsiReversionParams>;

type RsiReversionState = { rsi: RSIState; last: number | null };

const rsiReversion: Strategy<RsiReversionParams> = {
  params: rsiReversionParams.parse({}),

  onStart(ctx) {
    const { period } = checkParams("rsi-reversion", rsiReversionParams, ctx.params);
    startState(ctx, (): RsiReversionState => ({ rsi: new RSI(period).save(), last: null }));
  },

  onBar(bar, ctx) {
    const { oversold, overbought } = ctx.params;
    const s = ctx.state as RsiReversionState;
    const rsi = RSI.restore(s.rsi);
    const value = rsi.update(bar.close);
    s.rsi = rsi.save();
    const last = s.last;
    s.last = value;
    if (value === null || last === null || hasOpenOrders(ctx)) return;
    const long = isLong(ctx);
    if (!long && last >= oversold && value < oversold) enterLong(ctx, "oversold");
    else if (long && last <= overbought && value > overbought) exitLong(ctx, "overbought");
  },
};

export const rsiReversionTemplate: StrategyTemplate<RsiReversionParams> = {
  name: "rsi-reversion",
  title: "RSI mean reversion",
  description: "Buys when the RSI of closes crosses below the oversold level and sells when it crosses above the overbought level. Long only.",
  params: rsiReversionParams,
  create: () => ({ ...rsiReversion }),
};
