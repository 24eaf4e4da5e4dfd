import { z } from "zod";
import { parseMoney } from "../../trading/money";
import { floorCents, type Strategy } from "../runtime";
import { checkParams, exitLong, hasOpenOrders, isLong, startState, type StrategyTemplate } from "./common";

// Dollar-cost averaging, long only: a market buy of `notional` USD at the close of bar
// index 0, every, 2·every, … (it fills at the next bar's open), skipped while the buying
// power is below the notional or an order of the strategy is still open. With
// takeProfitPct > 0, a close at or above the position's average price × (1 + pct/100)
// sells the whole position at market instead (no buy on that bar), and the cycle goes on.

export const dcaParams = z.object({
  every: z.number().int().min(1).max(100_000).default(24).describe("Bars between two buys"),
  notional: z.number().positive().max(1e12).default(100).describe("USD spent on each buy (rounded down to the cent)"),
  takeProfitPct: z.number().min(0).max(1_000).default(0).describe("Sell everything when the close is this many percent above the average price; 0 = never"),
});

export type DcaParams = z.output<typeof dcaParams>;

/** Bars seen so far: the next bar's index. */
type DcaState = { bars: number };

const dca: Strategy<DcaParams> = {
  params: dcaParams.parse({}),

  onStart(ctx) {
    checkParams("dca", dcaParams, ctx.params);
    startState(ctx, (): DcaState => ({ bars: 0 }));
  },

  onBar(bar, ctx) {
    const { every, notional, takeProfitPct } = ctx.params;
    const s = ctx.state as DcaState;
    const index = s.bars++;
    if (hasOpenOrders(ctx)) return;
    const avg = ctx.position.avgPrice;
    if (takeProfitPct > 0 && isLong(ctx) && avg !== null && bar.close >= avg * (1 + takeProfitPct / 100)) {
      exitLong(ctx, "take_profit");
      return;
    }
    if (index % every !== 0) return;
    const amount = floorCents(notional);
    if (amount > 0n && (parseMoney(ctx.account.buyingPower) ?? 0n) >= amount) ctx.buy({ notional, tag: "dca" });
  },
};

export const dcaTemplate: StrategyTemplate<DcaParams> = {
  name: "dca",
  title: "Dollar-cost averaging",
  description: "Buys a fixed USD amount at market every N bars, optionally selling everything once the close is a set percentage above the average price. Long only.",
  params: dcaParams,
  create: () => ({ ...dca }),
};
