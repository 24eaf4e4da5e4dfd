import { describe, expect, it } from "vitest";
import { EMA } from "../../shared/indicators";
import { backtestReport } from "../../shared/strategy/backtest";
import { TEMPLATES, type StrategyTemplate } from "../../shared/strategy/templates";
import { seededBars } from "./helpers";
import { backtest, restarting } from "./templates-harness";

// A live strategy's only memory is ctx.state: restarted at random callbacks (a fresh
// object, its state through JSON, onStart again), every template must trade exactly as an
// uninterrupted run. Parameters are chosen so that each one trades often on this series.
const PARAMS: Record<string, Record<string, unknown>> = {
  "ma-cross": { kind: "sma" },
  "rsi-reversion": {},
  bollinger: { mode: "reversion" },
  donchian: { atrStop: 2 },
  macd: {},
  "dual-thrust": {},
  grid: { lower: 95, upper: 105, levels: 11, qty: 10 },
  dca: { every: 10, notional: 500, takeProfitPct: 3 },
};
const VARIANTS: [string, Record<string, unknown>][] = [
  ...Object.entries(PARAMS),
  ["ma-cross", { kind: "ema", fast: 8, slow: 21, sizing: "qty", qty: 50 }],
  ["bollinger", { mode: "breakout", sizing: "notional", notional: 20_000 }],
  ["macd", { threshold: 0.05 }],
  ["donchian", { entry: 10, exit: 5, atrStop: 0 }],
];

const { bars } = seededBars(1_200, 20261202);

describe.each(VARIANTS)("the %s template, restarted at random callbacks", (name, params) => {
  const template = TEMPLATES.get(name)!;

  it("places the same orders and gets the same fills, equity and state as an uninterrupted run", async () => {
    const whole = await backtest(template.create(), bars, params);
    const { strategy, restarts } = restarting(template, 99, 0.05);
    const restarted = await backtest(strategy, bars, params);
    expect(restarts()).toBeGreaterThan(30);
    expect(whole.fills.length).toBeGreaterThan(4);
    expect(restarted.orders).toEqual(whole.orders);
    expect(restarted.fills).toEqual(whole.fills);
    expect(JSON.stringify(backtestReport(restarted, bars.length))).toBe(JSON.stringify(backtestReport(whole, bars.length)));
  });

  it("is deterministic: two runs give byte-identical reports", async () => {
    const a = await backtest(template.create(), bars, params);
    const b = await backtest(template.create(), bars, params);
    expect(JSON.stringify(backtestReport(a, bars.length))).toBe(JSON.stringify(backtestReport(b, bars.length)));
  });
});

it("every registered template is covered here", () => {
  expect(Object.keys(PARAMS).sort()).toEqual([...TEMPLATES.keys()].sort());
});

it("the check can fail: a strategy that keeps its average in the object instead of ctx.state trades differently once restarted", async () => {
  const leaky: StrategyTemplate = {
    ...TEMPLATES.get("ma-cross")!,
    create: () => {
      const fast = new EMA(5);
      const slow = new EMA(20);
      let above: boolean | null = null;
      return {
        onBar(bar, ctx) {
          const f = fast.update(bar.close);
          const s = slow.update(bar.close);
          if (f === null || s === null) return;
          const now = f > s;
          if (above === false && now && ctx.position.qty === "0") ctx.buy({ qty: 10 });
          if (above === true && !now && ctx.position.qty !== "0") ctx.sell({ qty: ctx.position.qty });
          above = now;
        },
      };
    },
  };
  const whole = await backtest(leaky.create(), bars, {});
  const restarted = await backtest(restarting(leaky, 99, 0.05).strategy, bars, {});
  expect(whole.fills.length).toBeGreaterThan(4);
  expect(JSON.stringify(restarted.fills)).not.toBe(JSON.stringify(whole.fills));
});
