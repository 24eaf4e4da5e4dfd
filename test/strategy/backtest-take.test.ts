import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Backtest, type BacktestPart, type BacktestResult } from "../../shared/strategy/backtest";
import { failedCallbackLogs } from "../../shared/strategy/invoke";
import type { Strategy } from "../../shared/strategy/runtime";
import { TEMPLATES } from "../../shared/strategy/templates";
import type { FillActivity } from "../../shared/trading/ports";
import { TERMINAL, type OrderStatus, type OrderView } from "../../shared/trading/orders";
import { COIN, seededBars } from "./helpers";
import { backtest, FEE_BPS } from "./templates-harness";

// A job hands a long run's settled orders and fills to storage as it goes (Backtest.take),
// so the run forgets them. Whatever the chunks, what was handed over plus what the result
// keeps must be exactly the whole run's orders (in creation order) and fills, with the same
// metrics and equity curve. The grid template leaves limit orders resting while newer ones
// settle, so orders are handed over out of creation order.

const PARAMS: Record<string, Record<string, unknown>> = {
  "ma-cross": { kind: "sma", fast: 5, slow: 20 },
  grid: { lower: 95, upper: 105, levels: 11, qty: 10 },
  bollinger: { mode: "reversion" },
  dca: { every: 10, notional: 500, takeProfitPct: 3 },
};
const { bars } = seededBars(1_500, 20261203);

async function inChunks(name: string, chunks: number[], series = bars): Promise<{ result: BacktestResult; parts: BacktestPart[] }> {
  const bt = new Backtest({
    strategy: TEMPLATES.get(name)!.create(),
    bars: series,
    spec: COIN,
    params: PARAMS[name]!,
    cash: "100000",
    halfSpreadTicks: 0,
    venue: { makerBps: FEE_BPS, takerBps: FEE_BPS, minFee: "0.01", depthLevels: 1, slippageTicks: 0 },
    limits: { maxOrderQty: "100000000", maxOrderNotional: "100000000", maxPositionNotional: "100000000", dailyLossLimit: "100000000", ordersPerMinute: 100_000 },
  });
  const parts: BacktestPart[] = [];
  for (let i = 0; !bt.done; i++) {
    await bt.step(chunks[i % chunks.length]!);
    parts.push(bt.take());
  }
  return { result: bt.result(), parts };
}

describe("a backtest handing over settled orders and fills as it goes", () => {
  it.each(Object.keys(PARAMS))("%s: the parts and the rest are the whole run's orders, fills, metrics and curve", async (name) => {
    const whole = await backtest(TEMPLATES.get(name)!.create(), bars, PARAMS[name]!);
    expect(whole.fills.length).toBeGreaterThan(5);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 6 }), async (chunks) => {
        const { result, parts } = await inChunks(name, chunks);
        const orders: { seq: number; order: OrderView }[] = parts.flatMap((p) => p.orders);
        const fills: FillActivity[] = parts.flatMap((p) => p.fills);
        expect(new Set(orders.map((o) => o.seq)).size).toBe(orders.length);
        const handedOver = orders.sort((a, b) => a.seq - b.seq).map((o) => o.order);
        expect([...handedOver, ...result.orders].sort((a, b) => ids(a) - ids(b))).toEqual(whole.orders);
        expect([...fills, ...result.fills]).toEqual(whole.fills);
        expect(result.metrics).toEqual(whole.metrics);
        expect(result.equity).toEqual(whole.equity);
        expect(result.state).toEqual(whole.state);
      }),
      { numRuns: 15 },
    );
  });

  it("hands settled orders over while an older one still rests (grid), each with its place in creation order", async () => {
    const { result, parts } = await inChunks("grid", [50]);
    // The last take, once the run is done, hands over the rest: the orders still open too.
    expect(result.orders).toEqual([]);
    expect(parts.at(-1)!.orders.some((o) => !TERMINAL.has(o.order.status as OrderStatus))).toBe(true);
    const seqs = parts.flatMap((p) => p.orders.map((o) => o.seq));
    // Some order is handed over after a newer one: the grid's resting orders settle late.
    expect(seqs.some((s, i) => i > 0 && s < seqs[i - 1]!)).toBe(true);
    expect(parts.slice(0, -1).flatMap((p) => p.orders).every((o) => TERMINAL.has(o.order.status as OrderStatus))).toBe(true);
  });

  it("runBacktest, which hands over as it goes on a long run, answers its orders in creation order, as one take at the end does", async () => {
    // Long enough for runBacktest to take several times (every 5,000 bars).
    const long = seededBars(16_000, 20261204).bars;
    const whole = await backtest(TEMPLATES.get("grid")!.create(), long, PARAMS.grid!);
    const [atEnd, byParts] = await Promise.all([inChunks("grid", [long.length], long), inChunks("grid", [5_000], long)]);
    // Taken at 5,000-bar steps, some order comes after a newer one: the order matters.
    const seqs = byParts.parts.flatMap((p) => p.orders.map((o) => o.seq));
    expect(seqs.some((s, i) => i > 0 && s < seqs[i - 1]!)).toBe(true);
    const once = atEnd.parts.flatMap((p) => p.orders.map((o) => o.order));
    expect(once.length).toBeGreaterThan(100);
    expect(whole.orders).toEqual(once);
    expect(whole.fills).toEqual(atEnd.parts.flatMap((p) => p.fills));
  });
});

/** An order's place among a backtest's ids (a counter, in hex at the end of the id). */
const ids = (o: OrderView) => parseInt(o.id.slice(-12), 16);

describe("a run that fails", () => {
  it("keeps what it logged until then, the failed callback's own lines last, within the log's limit", async () => {
    const strategy: Strategy<Record<string, unknown>> = {
      onBar(bar, ctx) {
        const n = (ctx.state.n as number | undefined) ?? 0;
        for (let i = 0; i < 400; i++) ctx.log(`bar ${n} line ${i}`);
        if (n === 2) {
          ctx.log("giving up");
          throw new Error("out of ideas");
        }
        ctx.state = { n: n + 1 };
      },
    };
    const bt = new Backtest({ strategy, bars: seededBars(10, 1).bars, spec: COIN });
    const error: unknown = await bt.step(10).then(() => null, (e: unknown) => e);
    expect(String(error)).toContain("out of ideas");
    const { logs, logsDropped } = bt.logsSoFar(failedCallbackLogs(error));
    // Two bars' 800 lines kept, then the failed bar's first 200 of its 401; the rest counted.
    expect([logs.length, logs[799]!.text, logs[800]!.text, logs[999]!.text, logsDropped]).toEqual([1000, "bar 1 line 399", "bar 2 line 0", "bar 2 line 199", 201]);
  });
});
