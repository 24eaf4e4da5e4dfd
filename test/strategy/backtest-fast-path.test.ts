import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runBacktest, type BacktestOptions } from "../../shared/strategy/backtest";
import { equityValues } from "../../shared/strategy/metrics";
import type { OrderInput, Strategy, StrategyBar, StrategyContext } from "../../shared/strategy/runtime";
import { maCross } from "../../shared/strategy/templates/ma-cross";
import { parseMoney } from "../../shared/trading/money";
import { COIN, HOUR, START, seededBars } from "./helpers";

// The backtest skips the rest of a bar's prints when nothing can react to them (no order
// open, nothing held, no onQuote/onTrade). `plain: true` plays every print; both must give
// the same orders, fills, equity, metrics, state and logs, whatever the bars, the strategy
// and the venue.

interface Plan {
  seed: number;
  /** Per-bar chance (in 1/16) that onBar acts. */
  activity: number;
  listensTrades: boolean;
  listensQuotes: boolean;
  reacts: boolean;
}

/** A deterministic draw in [0, n) from the plan's seed and a counter kept in the state. */
function draw(seed: number, counter: number, n: number): number {
  let x = (seed ^ Math.imul(counter + 1, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) % n;
}

/** Something a strategy may do on an event: orders of every type and tif, cancels, logs. */
function act(ctx: StrategyContext<Plan>, price: number): void {
  const s = ctx.state as { n?: number; ids?: string[] };
  const n = (s.n = (s.n ?? 0) + 1);
  const ids = (s.ids ??= []);
  const r = (k: number) => draw(ctx.params.seed, n * 7 + k, 1_000_000);
  const offset = ((r(1) % 41) - 20) / 100;
  const qty = [0.5, 1, 3, 0.000000001][r(2) % 4]!;
  const tif = (["gtc", "day", "ioc", "fok"] as const)[r(3) % 4]!;
  const side = r(4) % 2 === 0 ? "buy" : "sell";
  const send = (order: OrderInput) => ids.push(side === "buy" ? ctx.buy(order) : ctx.sell(order));
  switch (r(0) % 10) {
    case 0:
      send({ qty });
      break;
    case 1:
      send({ qty, type: "limit", limit: Math.max(0.01, price + offset), tif });
      break;
    case 2:
      send({ qty, type: "stop", stop: Math.max(0.01, price + offset), tif: tif === "fok" ? "gtc" : tif });
      break;
    case 3:
      send({ qty, type: "stop_limit", stop: Math.max(0.01, price + offset), limit: Math.max(0.01, price + offset * 2), tif: "day" });
      break;
    case 4:
      if (side === "buy") send({ notional: 50 + (r(5) % 500) });
      else send({ qty: ctx.position.qty === "0" ? 1 : ctx.position.qty });
      break;
    case 5:
      if (ids.length > 0) ctx.cancel(ids[r(5) % ids.length]!);
      break;
    case 6:
      ctx.cancelAll();
      break;
    case 7:
      ctx.log("open", ctx.openOrders.length, ctx.account.equity, ctx.position);
      break;
    case 8:
      // A trailing stop, by price or by percent: it follows every print while it waits.
      send(r(5) % 2 === 0 ? { qty, type: "trailing_stop", trailPrice: 0.01 + (r(6) % 30) / 100, tif: "gtc" } : { qty, type: "trailing_stop", trailPercent: (1 + (r(6) % 300)) / 100, tif: "day" });
      break;
    default:
      send({ qty: ctx.maxBuyQty(), tag: "all_in" });
  }
  if (ids.length > 20) ids.splice(0, ids.length - 20);
}

function strategyOf(plan: Plan): Strategy<Plan> {
  const maybe = (ctx: StrategyContext<Plan>, price: number, salt: number) => {
    const s = ctx.state as { n?: number };
    if (draw(plan.seed ^ salt, s.n ?? 0, 16) < plan.activity) act(ctx, price);
    else s.n = (s.n ?? 0) + 1;
  };
  return {
    params: plan,
    onBar: (bar: StrategyBar, ctx: StrategyContext<Plan>) => maybe(ctx, bar.close, 1),
    ...(plan.listensTrades && { onTrade: (t, ctx) => maybe(ctx, t.price, 2) }),
    ...(plan.listensQuotes && { onQuote: (q, ctx) => maybe(ctx, q.bid, 3) }),
    ...(plan.reacts && { onOrderUpdate: (u, ctx) => (u.event === "fill" ? maybe(ctx, u.price ?? 1, 4) : ctx.log(u.event, u.id, u.message ?? "")) }),
    onStop: (ctx) => ctx.log("stop", ctx.position.qty),
  };
}

const plan = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  activity: fc.integer({ min: 0, max: 16 }),
  listensTrades: fc.boolean(),
  listensQuotes: fc.boolean(),
  reacts: fc.boolean(),
});

/** Bars on the 0.01 grid, some minutes apart and some across days (day orders, day rolls). */
const bars = fc
  .array(
    fc.record({
      gap: fc.constantFrom(60_000, HOUR, 6 * HOUR, 24 * HOUR, 3 * 24 * HOUR),
      open: fc.integer({ min: -30, max: 30 }),
      body: fc.integer({ min: -80, max: 80 }),
      up: fc.integer({ min: 0, max: 30 }),
      down: fc.integer({ min: 0, max: 30 }),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((steps) => {
    let t = START;
    let close = 10_000;
    return steps.map((s): StrategyBar => {
      t += s.gap;
      const open = Math.max(50, close + s.open);
      close = Math.max(50, open + s.body);
      const high = Math.max(open, close) + s.up;
      const low = Math.max(1, Math.min(open, close) - s.down);
      return { t, open: open / 100, high: high / 100, low: low / 100, close: close / 100, volume: 1 };
    });
  });

const setup = fc.record({
  venue: fc.record({
    makerBps: fc.constantFrom(0, 1.5, 10),
    takerBps: fc.constantFrom(0, 2.25, 25),
    minFee: fc.constantFrom("0", "0.01", "1"),
    depthLevels: fc.integer({ min: 0, max: 3 }),
    slippageTicks: fc.integer({ min: 0, max: 3 }),
    crossUsers: fc.boolean(),
  }),
  halfSpreadTicks: fc.integer({ min: 0, max: 3 }),
  quoteLots: fc.constantFrom(undefined, 1, 2_000_000_000),
  cash: fc.constantFrom("100000", "300", "5"),
  dailyLossLimit: fc.constantFrom(undefined, "1", "50"),
});

describe("the backtest's fast path", () => {
  it("gives the same result as playing every print, for any bars, strategy and venue", async () => {
    await fc.assert(
      fc.asyncProperty(bars, plan, setup, async (series, p, s) => {
        const options: BacktestOptions<Plan> = {
          strategy: strategyOf(p),
          bars: series,
          spec: COIN,
          cash: s.cash,
          venue: s.venue,
          halfSpreadTicks: s.halfSpreadTicks,
          ...(s.quoteLots !== undefined && { quoteLots: s.quoteLots }),
          ...(s.dailyLossLimit !== undefined && { limits: { dailyLossLimit: s.dailyLossLimit } }),
        };
        const fast = await runBacktest(options);
        const plain = await runBacktest({ ...options, strategy: strategyOf(p), plain: true });
        expect(fast).toEqual(plain);
      }),
      { numRuns: 400 },
    );
  });

  it("keeps an equity curve that is, bar by bar, the cash its fills leave plus the position they leave at the close", async () => {
    const ONE = 10n ** 18n;
    await fc.assert(
      fc.asyncProperty(bars, plan, setup, async (series, p, s) => {
        const result = await runBacktest({ strategy: strategyOf(p), bars: series, spec: COIN, cash: s.cash, venue: s.venue, halfSpreadTicks: s.halfSpreadTicks });
        // Rebuilt from the fills alone, in money units (10^-18 USD), with no engine code but the parser.
        let cash = parseMoney(s.cash)!;
        let lots = 0n;
        let next = 0;
        const expected = series.map((bar) => {
          for (; next < result.fills.length && Date.parse(result.fills[next]!.transaction_time) <= bar.t; next++) {
            const f = result.fills[next]!;
            const qty = parseMoney(f.qty)!;
            const value = (parseMoney(f.price)! * qty) / ONE;
            cash += (f.side === "buy" ? -value : value) - parseMoney(f.fee)!;
            lots += f.side === "buy" ? qty : -qty;
          }
          return cash + (parseMoney(String(bar.close))! * lots) / ONE;
        });
        expect(next).toBe(result.fills.length);
        expect(equityValues(result.equity)).toEqual(expected);
        // The runs of equal points it names to the metrics (its flat bars) are equal points.
        for (let i = 0; i < expected.length; i++) {
          const until = result.equity.sameUntil!(i);
          expect(until).toBeGreaterThanOrEqual(i);
          expect(until).toBeLessThan(expected.length);
          for (let j = i; j <= until; j++) expect(expected[j]).toBe(expected[i]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("shows a held position's unrealized P&L at every bar's close, as its lots' value there less their cost", async () => {
    // Bought once, then held: each onBar reads the position while only the last trade moves.
    const buyOnce: Strategy = {
      onBar(bar, ctx) {
        const s = ctx.state as { bought?: boolean };
        if (!s.bought) {
          s.bought = true;
          ctx.buy({ qty: "3" });
        }
        ctx.log(String(bar.close), ctx.position.qty, ctx.position.unrealizedPl, ctx.position.realizedPl);
      },
    };
    for (const seed of [5, 6, 7]) {
      const { bars: series } = seededBars(300, seed);
      const result = await runBacktest({ strategy: buyOnce, bars: series, spec: COIN, halfSpreadTicks: seed - 4 });
      expect(result.fills).toHaveLength(1);
      // No fee by default: the cost is the fill's value.
      const cost = parseMoney(result.fills[0]!.price)! * 3n;
      expect(result.logs).toHaveLength(series.length);
      for (const [i, line] of result.logs.entries()) {
        const [close, qty, unrealized, realized] = line.text.split(" ");
        expect(parseMoney(realized!)).toBe(0n);
        if (i === 0) expect([qty, parseMoney(unrealized!)]).toEqual(["0", 0n]);
        else expect([qty, parseMoney(unrealized!)]).toEqual(["3", parseMoney(close!)! * 3n - cost]);
      }
    }
  });

  it("gives the ma-cross template's result unchanged over a long series", async () => {
    const { bars: series } = seededBars(3_000, 11);
    const options: BacktestOptions<Record<string, unknown>> = { strategy: maCross as unknown as Strategy, bars: series, spec: COIN, params: { fast: 5, slow: 20 } };
    const fast = await runBacktest(options);
    expect(fast.fills.length).toBeGreaterThan(10);
    expect(fast).toEqual(await runBacktest({ ...options, plain: true }));
  });

  it("refuses a bar price off the positive grid exactly as before", async () => {
    const bar = { t: START, open: 1, high: 1, low: 0.004, close: 1, volume: 1 };
    await expect(runBacktest({ strategy: {}, bars: [bar], spec: COIN })).rejects.toThrow(/not a positive price/);
  });
});
