// Running templates in tests: the venue and limits of the MA-cross test (fees, no spread,
// limits out of the way), a recorder of which bar placed which order, and a restarting
// wrapper that simulates a live strategy's restarts.
import { seededRandom } from "../../shared/market/random";
import { runBacktest, type BacktestResult } from "../../shared/strategy/backtest";
import type { OrderInput, Strategy, StrategyBar, StrategyContext } from "../../shared/strategy/runtime";
import type { StrategyTemplate } from "../../shared/strategy/templates";
import { COIN } from "./helpers";

export const FEE_BPS = 7;

export function backtest(strategy: Strategy<Record<string, unknown>>, bars: StrategyBar[], params: Record<string, unknown>, cash = "100000"): Promise<BacktestResult> {
  return runBacktest({
    strategy,
    bars,
    spec: COIN,
    params,
    cash,
    halfSpreadTicks: 0,
    venue: { makerBps: FEE_BPS, takerBps: FEE_BPS, minFee: "0.01", depthLevels: 1, slippageTicks: 0 },
    limits: { maxOrderQty: "100000000", maxOrderNotional: "100000000", maxPositionNotional: "100000000", dailyLossLimit: "100000000", ordersPerMinute: 100_000 },
  });
}

export interface Placed {
  /** Index of the bar whose onBar placed the order (−1: onStart; an update's orders get the last bar's index). */
  bar: number;
  side: "buy" | "sell";
  order: OrderInput;
  id: string;
}

/** The strategy, with every order it places recorded against the bar that was last seen. */
export function recorded(strategy: Strategy<Record<string, unknown>>, placed: Placed[]): Strategy<Record<string, unknown>> {
  let index = -1;
  const spy = (ctx: StrategyContext<Record<string, unknown>>): StrategyContext<Record<string, unknown>> =>
    Object.create(ctx, {
      buy: { value: (order: OrderInput) => record(ctx, "buy", order) },
      sell: { value: (order: OrderInput) => record(ctx, "sell", order) },
      state: { get: () => ctx.state, set: (v) => (ctx.state = v) },
    }) as StrategyContext<Record<string, unknown>>;
  const record = (ctx: StrategyContext<Record<string, unknown>>, side: "buy" | "sell", order: OrderInput) => {
    const id = ctx[side](order);
    placed.push({ bar: index, side, order, id });
    return id;
  };
  return {
    params: strategy.params,
    onStart: (ctx) => strategy.onStart?.(spy(ctx)),
    onBar: (bar, ctx) => {
      index += 1;
      strategy.onBar?.(bar, spy(ctx));
    },
    onOrderUpdate: (update, ctx) => strategy.onOrderUpdate?.(update, spy(ctx)),
    onStop: (ctx) => strategy.onStop?.(spy(ctx)),
  };
}

/**
 * A live restart, simulated: before a callback, with probability `chance` (a seeded draw),
 * the strategy object is thrown away, ctx.state goes through JSON (what storage keeps) and a
 * fresh `create()` gets onStart with it, as the symbol's object does after an eviction.
 * Answers the wrapper and a counter of the restarts it made.
 */
export function restarting(template: StrategyTemplate, seed: number, chance: number): { strategy: Strategy<Record<string, unknown>>; restarts: () => number } {
  const random = seededRandom(seed);
  let inner = template.create();
  let restarts = 0;
  const maybeRestart = (ctx: StrategyContext<Record<string, unknown>>) => {
    if (random.next() >= chance) return;
    restarts += 1;
    ctx.state = JSON.parse(JSON.stringify(ctx.state)) as typeof ctx.state;
    inner = template.create();
    inner.onStart?.(ctx);
  };
  const strategy: Strategy<Record<string, unknown>> = {
    params: inner.params,
    onStart: (ctx) => inner.onStart?.(ctx),
    onBar: (bar, ctx) => {
      maybeRestart(ctx);
      inner.onBar?.(bar, ctx);
    },
    onOrderUpdate: (update, ctx) => {
      maybeRestart(ctx);
      inner.onOrderUpdate?.(update, ctx);
    },
    onStop: (ctx) => inner.onStop?.(ctx),
  };
  return { strategy, restarts: () => restarts };
}

/** Fills as (bar index of the fill, side, price, qty), in order. */
export function fillList(result: BacktestResult, bars: StrategyBar[]): { bar: number; side: string; price: number; qty: string; order: string }[] {
  const barOf = new Map(bars.map((b, i) => [b.t, i]));
  const clientIdOf = new Map(result.orders.map((o) => [o.id, o.client_order_id]));
  return result.fills.map((f) => ({ bar: barOf.get(Date.parse(f.transaction_time))!, side: f.side, price: Number(f.price), qty: f.qty, order: clientIdOf.get(f.order_id)! }));
}
