import { z } from "zod";
import { Bollinger, type BollingerState } from "../../indicators";
import type { Strategy } from "../runtime";
import { checkParams, enterLong, exitLong, hasOpenOrders, isLong, sizingFields, startState, type StrategyTemplate } from "./common";

// Bollinger bands of closes (the current bar included, population σ), long only, read at
// the bar's close:
// - reversion: flat and the close below the lower band → buy; long and the close at or
//   above the middle band → sell (back to the mean);
// - breakout: flat and the close above the upper band → buy; long and the close below the
//   middle band → sell (the move has faded).
// Bands exist from bar index `period − 1`; market orders fill at the next bar's open.

export const bollingerParams = z.object({
  mode: z.enum(["reversion", "breakout"]).default("reversion").describe("reversion buys below the lower band and exits at the middle; breakout buys above the upper band and exits below the middle"),
  period: z.number().int().min(2).max(1_000).default(20).describe("Bars in the moving average and the standard deviation"),
  multiplier: z.number().gt(0).max(10).default(2).describe("Band width in standard deviations"),
  ...sizingFields,
});

export type BollingerParams = z.output<typeof bollingerParams>;

type BollingerTemplateState = { bands: BollingerState };

const bollinger: Strategy<BollingerParams> = {
  params: bollingerParams.parse({}),

  onStart(ctx) {
    const { period, multiplier } = checkParams("bollinger", bollingerParams, ctx.params);
    startState(ctx, (): BollingerTemplateState => ({ bands: new Bollinger(period, multiplier).save() }));
  },

  onBar(bar, ctx) {
    const s = ctx.state as BollingerTemplateState;
    const indicator = Bollinger.restore(s.bands);
    const bands = indicator.update(bar.close);
    s.bands = indicator.save();
    if (bands === null || hasOpenOrders(ctx)) return;
    const close = bar.close;
    const long = isLong(ctx);
    if (ctx.params.mode === "reversion") {
      if (!long && close < bands.lower) enterLong(ctx, "below_lower");
      else if (long && close >= bands.middle) exitLong(ctx, "at_middle");
    } else {
      if (!long && close > bands.upper) enterLong(ctx, "above_upper");
      else if (long && close < bands.middle) exitLong(ctx, "below_middle");
    }
  },
};

export const bollingerTemplate: StrategyTemplate<BollingerParams> = {
  name: "bollinger",
  title: "Bollinger bands",
  description: "Reversion buys a close below the lower band and sells back at the middle band; breakout buys a close above the upper band and sells when the close falls below the middle. Long only.",
  params: bollingerParams,
  create: () => ({ ...bollinger }),
};
