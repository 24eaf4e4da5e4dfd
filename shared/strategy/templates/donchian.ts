import { z } from "zod";
import { ATR, Highest, Lowest, type ATRState, type ExtremeState } from "../../indicators";
import type { Strategy } from "../runtime";
import { checkParams, enterLong, exitLong, hasOpenOrders, isLong, sizingFields, startState, type StrategyTemplate } from "./common";

// Donchian channel breakout (the turtles' rule), long only, read at the bar's close:
// - entry while flat: the close above the highest high of the previous `entry` bars (the
//   current bar excluded), so the first possible entry is at bar index `entry`;
// - exit while long: the close below the lowest low of the previous `exit` bars, or, with
//   `atrStop` > 0, below the stop: the entry bar's close − atrStop × ATR(atrPeriod) at the
//   entry bar (no stop while the ATR is still seeding). The stop is checked on closes, like
//   the exits, not with a resting order.
// Market orders fill at the next bar's open.

export const donchianParams = z
  .object({
    entry: z.number().int().min(1).max(1_000).default(20).describe("Entry channel: buy a close above the highest high of this many previous bars"),
    exit: z.number().int().min(1).max(1_000).default(10).describe("Exit channel: sell a close below the lowest low of this many previous bars"),
    atrPeriod: z.number().int().min(1).max(1_000).default(20).describe("Bars in the ATR (Wilder) that sizes the stop"),
    atrStop: z.number().min(0).max(100).default(0).describe("Stop distance below the entry bar's close in ATRs (the turtles used 2); 0 = no stop"),
    ...sizingFields,
  })
  .refine((p) => p.exit <= p.entry, { message: "the exit channel must not be longer than the entry channel", path: ["exit"] });

export type DonchianParams = z.output<typeof donchianParams>;

type DonchianTemplateState = { highest: ExtremeState; lowest: ExtremeState; atr: ATRState; stop: number | null };

const donchian: Strategy<DonchianParams> = {
  params: donchianParams.parse({}),

  onStart(ctx) {
    const { entry, exit, atrPeriod } = checkParams("donchian", donchianParams, ctx.params);
    startState(ctx, (): DonchianTemplateState => ({ highest: new Highest(entry).save(), lowest: new Lowest(exit).save(), atr: new ATR(atrPeriod).save(), stop: null }));
  },

  onBar(bar, ctx) {
    const s = ctx.state as DonchianTemplateState;
    const highest = Highest.restore(s.highest);
    const lowest = Lowest.restore(s.lowest);
    const atr = ATR.restore(s.atr);
    // The channels of the previous bars, read before this bar joins them.
    const entryLevel = highest.value;
    const exitLevel = lowest.value;
    highest.update(bar.high);
    lowest.update(bar.low);
    const range = atr.update(bar.high, bar.low, bar.close);
    s.highest = highest.save();
    s.lowest = lowest.save();
    s.atr = atr.save();
    if (hasOpenOrders(ctx)) return;
    if (!isLong(ctx)) {
      if (entryLevel !== null && bar.close > entryLevel && enterLong(ctx, "breakout")) {
        s.stop = ctx.params.atrStop > 0 && range !== null ? bar.close - ctx.params.atrStop * range : null;
      }
      return;
    }
    const tag = exitLevel !== null && bar.close < exitLevel ? "channel_exit" : s.stop !== null && bar.close < s.stop ? "atr_stop" : null;
    if (tag === null) return;
    exitLong(ctx, tag);
    s.stop = null;
  },
};

export const donchianTemplate: StrategyTemplate<DonchianParams> = {
  name: "donchian",
  title: "Donchian / turtle breakout",
  description: "Buys a close above the highest high of the entry channel and sells a close below the lowest low of the shorter exit channel, with an optional stop a multiple of the ATR below the entry. Long only.",
  params: donchianParams,
  create: () => ({ ...donchian }),
};
