import { z } from "zod";
import { EMA, type EMAState } from "../../indicators";
import { roundPrice, type Strategy, type StrategyBar, type StrategyContext } from "../runtime";
import { checkParams, enterLong, exitLong, isLong, sizingFields, startState, type StrategyTemplate } from "./common";

// The canonical moving-average cross (docs/strategies.md), written against the same API as
// user code. With kind "sma", sums are of closes in integer ticks, so the comparison
// slow·fastSum > fast·slowSum is exact (strict: equal means "not above"). With kind "ema",
// the two EMAs of closes (shared/indicators, seeded with the simple mean of their first
// inputs) are compared the same strict way. Long only: on a cross up while flat, buy (by
// default the largest quantity the account accepts: ctx.maxBuyQty, its cost at the price
// band's edge plus the worst-case fee fits in the cash); on a cross down while long, sell
// the whole position. All of its memory is in ctx.state, so a restart resumes exactly.

export const maCrossParams = z
  .object({
    kind: z.enum(["sma", "ema"]).default("sma").describe("Simple averages (exact sums in ticks) or exponential averages of closes"),
    fast: z.number().int().min(1).max(10_000).default(10).describe("Bars in the fast average"),
    slow: z.number().int().min(2).max(10_000).default(30).describe("Bars in the slow average"),
    ...sizingFields,
  })
  .refine((p) => p.fast < p.slow, { message: "fast must be less than slow", path: ["fast"] });

export type MaCrossParams = z.output<typeof maCrossParams>;

interface SmaState {
  [key: string]: number[] | number | boolean | string | null;
  /** The last `slow` closes in ticks, oldest first. */
  closes: number[];
  fastSum: number;
  slowSum: number;
  /** C[t−1], or null before bar index slow − 1. */
  above: boolean | null;
}

type EmaState = { fastEma: EMAState; slowEma: EMAState; above: boolean | null };

export const maCross: Strategy<MaCrossParams> = {
  params: maCrossParams.parse({}),

  onStart(ctx) {
    const { kind, fast, slow } = checkParams("ma-cross", maCrossParams, ctx.params);
    startState(ctx, (): SmaState | EmaState => (kind === "sma" ? { closes: [], fastSum: 0, slowSum: 0, above: null } : { fastEma: new EMA(fast).save(), slowEma: new EMA(slow).save(), above: null }));
  },

  onBar(bar: StrategyBar, ctx: StrategyContext<MaCrossParams>) {
    const above = ctx.params.kind === "ema" ? emaAbove(bar, ctx.state as EmaState) : smaAbove(bar, ctx);
    if (above === null) return;
    const s = ctx.state as { above: boolean | null };
    const before = s.above;
    s.above = above;
    if (before === null || before === above) return;
    // The position is read only on a cross (most bars have none, and reading it costs).
    const long = isLong(ctx);
    if (above && !long) enterLong(ctx, "cross_up");
    else if (!above && long) exitLong(ctx, "cross_down");
  },
};

/** C[t] by the exact tick rule, or null while fewer than `slow` closes were seen. */
function smaAbove(bar: StrategyBar, ctx: StrategyContext<MaCrossParams>): boolean | null {
  const { fast, slow } = ctx.params;
  const s = ctx.state as SmaState;
  // Integer ticks by the runtime's one rounding rule (exact decimal, no float division).
  const close = roundPrice(bar.close, ctx.instrument);
  s.closes.push(close);
  s.slowSum += close;
  s.fastSum += close;
  const n = s.closes.length;
  if (n > fast) s.fastSum -= s.closes[n - 1 - fast]!;
  if (n > slow) s.slowSum -= s.closes.shift()!;
  if (s.closes.length < slow) return null;
  return slow * s.fastSum > fast * s.slowSum;
}

/** EMA(fast) > EMA(slow) of closes, or null until both are seeded (bar index slow − 1). */
function emaAbove(bar: StrategyBar, s: EmaState): boolean | null {
  const fastEma = EMA.restore(s.fastEma);
  const slowEma = EMA.restore(s.slowEma);
  const fast = fastEma.update(bar.close);
  const slow = slowEma.update(bar.close);
  s.fastEma = fastEma.save();
  s.slowEma = slowEma.save();
  return fast === null || slow === null ? null : fast > slow;
}

export const maCrossTemplate: StrategyTemplate<MaCrossParams> = {
  name: "ma-cross",
  title: "Moving-average cross",
  description: "Long when the fast moving average of closes crosses above the slow one, flat when it crosses back below. Simple averages are exact in ticks; exponential ones use the EMA indicator.",
  params: maCrossParams,
  create: () => ({ ...maCross }),
};

export default maCross;
