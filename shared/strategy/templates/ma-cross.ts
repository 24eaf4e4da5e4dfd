import { roundPrice, type Strategy, type StrategyBar, type StrategyContext } from "../runtime";

// The canonical moving-average cross (docs/strategies.md), written against the same API as
// user code. Sums are of closes in integer ticks, so the comparison
// slow·fastSum > fast·slowSum is exact (strict: equal means "not above"). Long only: on a
// cross up while flat, buy the largest quantity the account accepts (ctx.maxBuyQty: its
// cost at the price band's edge plus the worst-case fee fits in the cash); on a cross down
// while long, sell the whole position. Its state is JSON, as every strategy's is.

export type MaCrossParams = {
  fast: number;
  slow: number;
  sizing: "all_in";
};

interface MaCrossState {
  [key: string]: number[] | number | boolean | null;
  /** The last `slow` closes in ticks, oldest first. */
  closes: number[];
  fastSum: number;
  slowSum: number;
  /** C[t−1], or null before bar index slow − 1. */
  above: boolean | null;
}

export const maCross: Strategy<MaCrossParams> = {
  params: { fast: 10, slow: 30, sizing: "all_in" },

  onStart(ctx) {
    const { fast, slow } = ctx.params;
    if (!Number.isInteger(fast) || !Number.isInteger(slow) || fast < 1 || slow <= fast) throw new RangeError(`ma-cross needs integers 1 ≤ fast < slow (got fast ${fast}, slow ${slow})`);
    ctx.state = { closes: [], fastSum: 0, slowSum: 0, above: null } satisfies MaCrossState;
  },

  onBar(bar: StrategyBar, ctx: StrategyContext<MaCrossParams>) {
    const { fast, slow } = ctx.params;
    const s = ctx.state as MaCrossState;
    // Integer ticks by the runtime's one rounding rule (exact decimal, no float division).
    const close = roundPrice(bar.close, ctx.instrument);
    s.closes.push(close);
    s.slowSum += close;
    s.fastSum += close;
    const n = s.closes.length;
    if (n > fast) s.fastSum -= s.closes[n - 1 - fast]!;
    if (n > slow) s.slowSum -= s.closes.shift()!;
    if (s.closes.length < slow) return;
    const above = slow * s.fastSum > fast * s.slowSum;
    const before = s.above;
    s.above = above;
    if (before === null) return;
    const long = ctx.position.qty !== "0";
    if (!before && above && !long) {
      const qty = ctx.maxBuyQty();
      if (qty !== "0") ctx.buy({ qty, tag: "cross_up" });
    } else if (before && !above && long) {
      ctx.sell({ qty: ctx.position.qty, tag: "cross_down" });
    }
  },
};

export default maCross;
