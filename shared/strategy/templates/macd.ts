import { z } from "zod";
import { MACD, type MACDState } from "../../indicators";
import type { Strategy } from "../runtime";
import { checkParams, enterLong, exitLong, hasOpenOrders, isLong, sizingFields, startState, type StrategyTemplate } from "./common";

// MACD signal-line cross, long only, on closes: the histogram h = MACD − signal. Buy while
// flat when h rises above `threshold` (the previous h at or below it); sell the position
// when h falls below −threshold (the previous h at or above it). With threshold 0 these
// are the plain crosses of the MACD line over its signal line. The first histogram comes
// with bar index slow + signal − 2, the first cross one bar later.

export const macdParams = z
  .object({
    fast: z.number().int().min(1).max(1_000).default(12).describe("Bars in the fast EMA"),
    slow: z.number().int().min(2).max(1_000).default(26).describe("Bars in the slow EMA"),
    signal: z.number().int().min(1).max(1_000).default(9).describe("Bars in the signal line's EMA of the MACD line"),
    threshold: z.number().min(0).max(1e9).default(0).describe("Histogram margin in price units: buy when it rises above +threshold, sell when it falls below −threshold (0 = plain crosses)"),
    ...sizingFields,
  })
  .refine((p) => p.fast < p.slow, { message: "fast must be less than slow", path: ["fast"] });

export type MacdParams = z.output<typeof macdParams>;

type MacdTemplateState = { macd: MACDState; histogram: number | null };

const macd: Strategy<MacdParams> = {
  params: macdParams.parse({}),

  onStart(ctx) {
    const { fast, slow, signal } = checkParams("macd", macdParams, ctx.params);
    startState(ctx, (): MacdTemplateState => ({ macd: new MACD(fast, slow, signal).save(), histogram: null }));
  },

  onBar(bar, ctx) {
    const { threshold } = ctx.params;
    const s = ctx.state as MacdTemplateState;
    const indicator = MACD.restore(s.macd);
    const value = indicator.update(bar.close);
    s.macd = indicator.save();
    const before = s.histogram;
    const h = value?.histogram ?? null;
    s.histogram = h;
    if (h === null || before === null || hasOpenOrders(ctx)) return;
    const long = isLong(ctx);
    if (!long && before <= threshold && h > threshold) enterLong(ctx, "cross_up");
    else if (long && before >= -threshold && h < -threshold) exitLong(ctx, "cross_down");
  },
};

export const macdTemplate: StrategyTemplate<MacdParams> = {
  name: "macd",
  title: "MACD signal cross",
  description: "Buys when the MACD histogram rises above the threshold (the MACD line crossing over its signal line) and sells when it falls below minus the threshold. Long only.",
  params: macdParams,
  create: () => ({ ...macd }),
};
