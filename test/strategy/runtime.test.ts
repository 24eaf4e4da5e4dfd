import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decimalToNearestTicks, ticksToNumber } from "../../shared/market/instrument";
import { runBacktest } from "../../shared/strategy/backtest";
import { failedCallbackLogs, strategyInvoker, type StrategyCommand, type StrategyView } from "../../shared/strategy/invoke";
import { callbacksOf, floorLots, roundPrice, StrategyRuntime, type OrderInput, type OrderUpdate, type Strategy, type StrategyBar } from "../../shared/strategy/runtime";
import { COIN, HOUR, START } from "./helpers";
import { sendStrategyCommand } from "../../shared/strategy/send";
import { harness } from "../trading/engine-harness";

const STOCK = { ...COIN, symbol: "AAA", assetClass: "us_equity" as const, lotSize: "1", timeZone: "America/New_York" };
const flatBars = (count: number, price = 100): StrategyBar[] => Array.from({ length: count }, (_, i) => ({ t: START + i * HOUR, open: price, high: price + 1, low: price - 1, close: price, volume: 1 }));
const venue = { depthLevels: 1, slippageTicks: 0 };

describe("the strategy runtime", () => {
  it("sends a callback's orders after it returns, in the order placed", async () => {
    const seen: { bar: number; open: number; buyingPower: string; ids: string[] }[] = [];
    let bar = -1;
    const strategy: Strategy = {
      onBar(_b, ctx) {
        bar += 1;
        const before = ctx.account.buyingPower;
        const ids = bar === 0 ? [ctx.buy({ qty: 1, type: "limit", limit: 90 }), ctx.buy({ qty: 2, type: "limit", limit: 91 })] : [];
        // Nothing placed in this callback has reached the account yet.
        expect(ctx.account.buyingPower).toBe(before);
        seen.push({ bar, open: ctx.openOrders.length, buyingPower: ctx.account.buyingPower, ids });
      },
    };
    const result = await runBacktest({ strategy, bars: flatBars(3), spec: STOCK, venue, cash: "1000" });
    expect(seen.map((s) => s.open)).toEqual([0, 2, 2]);
    expect(seen[0]!.ids).toEqual(["strategy-1", "strategy-2"]);
    expect(result.orders.map((o) => [o.client_order_id, o.limit_price, o.status])).toEqual([
      ["strategy-1", "90.00", "new"],
      ["strategy-2", "91.00", "new"],
    ]);
    // Sent at the second bar's open, not during the first bar.
    expect(result.orders.every((o) => Date.parse(o.created_at) === START + HOUR)).toBe(true);
    expect(seen[1]!.buyingPower).toBe("728.00"); // 1000 − 90 − 2 × 91
  });

  it("a refusal arrives as a rejected update naming the rule", async () => {
    const updates: OrderUpdate[] = [];
    let placed = false;
    const strategy: Strategy = {
      onBar(_b, ctx) {
        if (placed) return;
        placed = true;
        ctx.buy({ qty: 50, tag: "too big" }); // 50 × 100 > 1000 of cash
        ctx.buy({ qty: 0.4, tag: "rounds to zero" }); // the lot is one share
        ctx.sell({ qty: 1, type: "limit", limit: 50, tag: "through the band" });
        // Types and times in force the code invents are refused, not run.
        ctx.buy({ qty: 1, type: "bogus" as never, tag: "no such type" });
        ctx.buy({ qty: 1, tif: "zzz" as never, tag: "no such tif" });
        ctx.buy({ qty: 1e30, tag: "huge" });
        ctx.buy({ notional: "lots" as never, tag: "not a number" });
        // A notional is money, not lots: a large one is not "too large" on a fine lot grid.
        ctx.buy({ notional: 10_000_000, tag: "big notional" });
        // Found in QA: a field the order does not take, a negative qty and an endless tag.
        ctx.buy({ qty: 1, symbol: "ETH/USD", tag: "other symbol" } as never);
        ctx.buy({ qty: -5, tag: "negative" });
        ctx.buy({ qty: 1, type: "trailing_stop", trailPrice: -1, tag: "negative trail" });
        ctx.buy({ qty: 1, type: "trailing_stop", trailPercent: 150, tag: "wide trail" });
        // A price too large to count is that, not "rounds to zero" (found in QA).
        ctx.buy({ qty: 1, type: "limit", limit: 1e30, tag: "huge limit" });
        ctx.buy({ qty: 1, type: "trailing_stop", trailPrice: 1e30, tag: "huge trail" });
        ctx.buy({ qty: 1, tag: "x".repeat(65) });
        ctx.buy({ qty: 1, tag: "fits" });
        // What code may pass that is no order at all (found in QA: null failed the callback, 42 "rounded to zero").
        ctx.buy(null as unknown as OrderInput);
        ctx.sell(42 as unknown as OrderInput);
        ctx.buy({ tag: "empty" });
        ctx.buy({ qty: 1, notional: 5, tag: "both" });
      },
      onOrderUpdate(update) {
        updates.push(update);
      },
    };
    const result = await runBacktest({ strategy, bars: flatBars(3), spec: STOCK, venue, cash: "1000" });
    const refusals = updates.filter((u) => u.event === "rejected").map((u) => [u.tag, u.rule]);
    expect(refusals).toEqual([
      ["too big", "buying_power"],
      ["rounds to zero", "invalid_order"],
      ["through the band", "price_band"],
      ["no such type", "invalid_order"],
      ["no such tif", "invalid_order"],
      ["huge", "invalid_order"],
      ["not a number", "invalid_order"],
      ["big notional", "max_order_notional"],
      ["other symbol", "invalid_order"],
      ["negative", "invalid_order"],
      ["negative trail", "invalid_order"],
      ["wide trail", "invalid_order"],
      ["huge limit", "invalid_order"],
      ["huge trail", "invalid_order"],
      [null, "invalid_order"],
      [null, "invalid_order"],
      [null, "invalid_order"],
      ["empty", "invalid_order"],
      ["both", "invalid_order"],
    ]);
    const messages = Object.fromEntries(updates.filter((u) => u.event === "rejected").map((u) => [u.tag, u.message]));
    expect(messages.huge).toBe("qty is too large: 1e+30");
    expect(updates.filter((u) => u.event === "rejected" && u.tag === null).map((u) => u.message).slice(1)).toEqual(["an order is an object with qty or notional, e.g. ctx.buy({ qty: 1 }), not null", "an order is an object with qty or notional, e.g. ctx.sell({ qty: 1 }), not number"]);
    expect([messages.empty, messages.both]).toEqual(["an order needs qty or notional", "give qty or notional, not both"]);
    expect(messages["not a number"]).toBe("notional must be a number: lots");
    expect(messages["other symbol"]).toBe("unknown field symbol: an order takes qty, notional, type, limit, stop, trailPrice, trailPercent, tif, tag (a strategy trades its own symbol, for its owner's account)");
    expect(messages.negative).toBe("qty must be positive: -5");
    expect(messages["negative trail"]).toBe("trailPrice must be positive: -1");
    expect(messages["huge limit"]).toBe("limit is too large: 1e+30");
    expect(messages["huge trail"]).toBe("trailPrice is too large: 1e+30");
    // The account's checks name the API's fields; the strategy reads the ones its code wrote (found in QA).
    expect(messages["wide trail"]).toBe('trailPercent must be a percent above 0 and below 100 with at most four decimals, not "150"');
    expect(messages["through the band"]).toMatch(/^limit 50\.00 is below the 10% band around the last price/);
    expect(updates.find((u) => u.event === "rejected" && u.tag === null)!.message).toBe("tag must be a string of at most 64 characters");
    expect(updates.filter((u) => u.tag === "fits").map((u) => u.event)).toContain("fill");
    // Each refusal is a line of the log too (a strategy that hears no updates would lose them without a word).
    expect(result.logs.map((l) => l.text)).toEqual(refusals.map(([tag, rule]) => expect.stringMatching(new RegExp(`^order \\S+ ${tag === null ? "" : `"${tag}" `}refused \\(${rule}\\): `))));
    expect(result.logs[0]!.text).toContain("insufficient balance");
  });

  it("orders placed from onOrderUpdate go out after it, and fills report price and quantity", async () => {
    const events: string[] = [];
    let sold = false;
    const strategy: Strategy = {
      onStart(ctx) {
        ctx.state = { fills: 0 };
      },
      onBar(_b, ctx) {
        if (ctx.openOrders.length === 0 && ctx.position.qty === "0" && !sold) ctx.buy({ qty: 3 });
      },
      onOrderUpdate(update, ctx) {
        events.push(`${update.event}:${update.side}:${update.qty ?? ""}@${update.price ?? ""}`);
        if (update.event === "fill" && update.side === "buy") {
          ctx.state.fills = (ctx.state.fills as number) + 1;
          sold = true;
          ctx.sell({ qty: ctx.position.qty });
        }
      },
    };
    const result = await runBacktest({ strategy, bars: flatBars(4), spec: STOCK, venue, cash: "1000" });
    expect(events).toEqual(["new:buy:@", "fill:buy:3@100", "new:sell:@", "fill:sell:3@100"]);
    expect(result.state).toEqual({ fills: 1 });
    expect(result.metrics.trades).toBe(1);
  });

  it("rounds prices to the nearest tick and quantities down to the lot grid", () => {
    expect(roundPrice(100.005, COIN)).toBe(10001);
    expect(roundPrice(100.0049, COIN)).toBe(10000);
    expect(floorLots(0.0000000019, COIN)).toBe(1);
    expect(floorLots("2.9999999999", COIN)).toBe(2_999_999_999);
    expect(floorLots(1e-10, COIN)).toBe(0);
  });

  it("the log is bounded", async () => {
    const strategy: Strategy = {
      onBar(_b, ctx) {
        for (let i = 0; i < 600; i++) ctx.log("line", i, { long: "x".repeat(1000) });
      },
    };
    const result = await runBacktest({ strategy, bars: flatBars(2), spec: STOCK, venue });
    expect(result.logs).toHaveLength(1000);
    expect(result.logs.every((l) => l.text.length <= 500)).toBe(true);
  });
});

describe("a failed callback", () => {
  // Live, a bar's orders wait in the runtime for the next print; the host calls discard
  // with what was held before an event when that event's callback throws.
  const view: StrategyView = { position: { qty: "0", qtyAvailable: "0", avgPrice: null, unrealizedPl: "0", realizedPl: "0" }, account: { cash: "1000.00", buyingPower: "1000.00", equity: "1000.00" }, openOrders: [], maxBuyQty: "10", maxSellQty: "0" };
  const setUp = () => {
    const sent: StrategyCommand[] = [];
    const strategy: Strategy = {
      onBar(_b, ctx) {
        ctx.buy({ qty: 1, tag: "bar" });
      },
      onQuote(q, ctx) {
        ctx.sell({ qty: 1, tag: "quote" });
        if (q.bid < 100) throw new Error("no");
      },
    };
    const rt = new StrategyRuntime({
      invoke: strategyInvoker(strategy),
      port: {
        view: () => view,
        send: async (command) => {
          sent.push(command);
          return null;
        },
      },
      spec: STOCK,
      params: {},
      callbacks: callbacksOf(strategy),
      idPrefix: "s-",
      now: () => START,
    });
    return { rt, sent };
  };

  it("drops what it placed and keeps what a completed callback held, which goes out with the next print", async () => {
    const { rt, sent } = setUp();
    await rt.barHolding(flatBars(1)[0]!);
    const held = new Set(rt.held);
    await expect(rt.quote({ t: START, bid: 99, ask: 101 })).rejects.toThrow("no");
    expect(rt.discard((c) => held.has(c))).toBe(0);
    expect(rt.memory.tags).toEqual({ "s-1": "bar" });
    await rt.quote({ t: START, bid: 100, ask: 101 });
    expect(sent.map((c) => (c.kind === "place" ? [c.id, c.fields.side] : c.kind))).toEqual([
      ["s-1", "buy"],
      ["s-2", "sell"],
    ]);
  });

  it("keeps the lines it logged before it threw with what it threw, and reads nothing from the thrown value itself", () => {
    const thrown: unknown[] = [];
    const strategy: Strategy = {
      onBar(bar, ctx) {
        ctx.log("close", bar.close);
        const error = Object.assign(new Error("no"), { logs: [{ t: 0, text: "forged" }] });
        thrown.push(error);
        throw error;
      },
      onQuote(_q, ctx) {
        throw { logs: [{ t: 0, text: "forged" }], ctx: typeof ctx };
      },
      // An async callback fails as it returns its promise; what it logged before its first await is kept too (found in QA).
      onTrade: (async (_t: unknown, ctx: { log(...parts: unknown[]): void }) => {
        ctx.log("in async");
        await null;
      }) as unknown as Strategy["onTrade"],
    };
    const invoke = strategyInvoker(strategy);
    const request = { instrument: STOCK, params: {}, state: {}, view, now: START, idPrefix: "s-", nextId: 0 };
    const caught = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return error;
      }
      throw new Error("did not throw");
    };
    const error = caught(() => invoke({ ...request, callback: "onBar", event: flatBars(1)[0]! }));
    expect(error).toBe(thrown[0]);
    expect(failedCallbackLogs(error)).toEqual([{ t: START, text: `close ${flatBars(1)[0]!.close}` }]);
    expect(failedCallbackLogs(caught(() => invoke({ ...request, callback: "onQuote", event: { t: START, bid: 1, ask: 2 } })))).toEqual([]);
    expect(failedCallbackLogs("a string")).toEqual([]);
    const early = caught(() => invoke({ ...request, callback: "onTrade", event: { t: START, price: 1 } }));
    expect([(early as Error).name, failedCallbackLogs(early)]).toEqual(["TypeError", [{ t: START, text: "in async" }]]);
  });

  it("without a keep rule drops every unsent order, and says how many", async () => {
    const { rt, sent } = setUp();
    await rt.barHolding(flatBars(1)[0]!);
    await rt.barHolding(flatBars(1)[0]!);
    expect(rt.discard()).toBe(2);
    expect(rt.held).toEqual([]);
    expect(rt.memory.tags).toEqual({});
    await rt.flush();
    expect(sent).toEqual([]);
  });
});

describe("what the host takes from a strategy (found in QA)", () => {
  it("an async callback fails at once, the same in a backtest as live, rather than acting after it returned", async () => {
    const strategy = { async onBar(_b: StrategyBar, ctx: { buy(o: object): string }) { await null; ctx.buy({ qty: 1 }); } } as unknown as Strategy;
    await expect(runBacktest({ strategy, bars: flatBars(3), spec: STOCK, venue, cash: "1000" })).rejects.toThrow("onBar returned a promise");
    // The invoker a live host and the sandbox use says the same.
    const invoke = strategyInvoker(strategy);
    const view = { position: null, account: null, openOrders: [], maxBuyQty: 0 } as unknown as StrategyView;
    expect(() => invoke({ callback: "onBar", event: flatBars(1)[0]!, instrument: STOCK, params: {}, state: {}, view, now: START, idPrefix: "s-", nextId: 0 })).toThrow(TypeError);
  });

  it("a strategy gets a frozen copy of the instrument: writing to it changes neither the engine's grid nor the fills", async () => {
    const spec = { ...STOCK };
    const writes: string[] = [];
    const strategy: Strategy = {
      onBar(_b, ctx) {
        try {
          (ctx.instrument as { tickSize: string }).tickSize = "0.0001";
        } catch (error) {
          writes.push((error as Error).name);
        }
        if (writes.length === 1) ctx.buy({ qty: 1 });
      },
    };
    const result = await runBacktest({ strategy, bars: flatBars(3), spec, venue, cash: "1000" });
    expect(writes).toEqual(["TypeError", "TypeError", "TypeError"]);
    expect(spec.tickSize).toBe(STOCK.tickSize);
    expect(result.fills.map((f) => f.price)).toEqual(["100.00"]);
  });

  it("an order placed under another id than its command's is refused: a strategy acts only under its prefix", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const forged: StrategyCommand = { kind: "place", id: "s-1", tag: null, fields: { side: "buy", type: "market", time_in_force: "gtc", qty: "1", client_order_id: "forged-1" } };
    expect(await sendStrategyCommand(h.runner, h.book, h.asset(), "s-", forged)).toMatchObject({ rule: "invalid_order" });
    expect(h.book.orderByClientId("forged-1")).toBeUndefined();
    const own: StrategyCommand = { ...forged, fields: { ...forged.fields, client_order_id: "s-1" } };
    expect(await sendStrategyCommand(h.runner, h.book, h.asset(), "s-", own)).toBeNull();
  });

  it("log lines are cut on the host's side too, whatever the invoker answers", async () => {
    const rt = new StrategyRuntime({
      // The times a patched isolate could report: none a Date holds is kept (a NaN made the log route answer 500).
      invoke: () => ({ commands: [], state: {}, nextId: 0, logs: [{ t: START, text: "z".repeat(200_000) }, { t: START, text: 42 as unknown as string }, { t: NaN, text: "a" }, { t: 1e300, text: "b" }, { t: "soon" as unknown as number, text: "c" }, { t: -8.64e15, text: "d" }] }),
      port: { view: () => ({}) as StrategyView, send: () => null },
      spec: STOCK,
      params: {},
      callbacks: new Set(["onBar"]),
      idPrefix: "s-",
      now: () => START,
    });
    await rt.barHolding(flatBars(1)[0]!);
    expect(rt.logs.map((l) => l.text.length)).toEqual([500, 2, 1, 1, 1, 1]);
    expect(rt.logs.map((l) => l.t)).toEqual([START, START, 0, 0, 0, -8.64e15]);
    expect(rt.logs[0]!.text.endsWith("…")).toBe(true);
  });
});

describe("the grid rule", () => {
  it("reads a number as its shortest decimal text, exponents included", () => {
    expect(floorLots(1.5e-9, COIN)).toBe(1);
    expect(floorLots(2.5e-8, COIN)).toBe(25);
    expect(roundPrice(1.23e2, COIN)).toBe(12300);
  });
});

describe("the backtest's fill model", () => {
  it("a market order from onBar fills at the next bar's open across the half spread; one placed on the last bar is never sent", async () => {
    const bars = flatBars(4).map((b, i) => ({ ...b, open: 100 + i, high: 101 + i, low: 99 + i, close: 100 + i }));
    let index = -1;
    const strategy: Strategy = {
      onBar(_b, ctx) {
        index += 1;
        if (index === 0) ctx.buy({ qty: 2 });
        if (index === 1) ctx.sell({ qty: 2 });
        if (index === 3) ctx.buy({ qty: 1 });
      },
    };
    const result = await runBacktest({ strategy, bars, spec: STOCK, venue, cash: "1000", halfSpreadTicks: 5 });
    expect(result.fills.map((f) => [f.side, f.price, Date.parse(f.transaction_time)])).toEqual([
      ["buy", "101.05", START + HOUR],
      ["sell", "101.95", START + 2 * HOUR],
    ]);
    expect(result.orders).toHaveLength(2);
    expect(result.unsent).toBe(1);
    expect(result.metrics.trades).toBe(1);
    expect(result.metrics.grossProfit).toBe("1.80");
  });

  it("a trailing stop follows the bar's path (open, the nearer extreme, the other, close) and sells where a print reaches its stop", async () => {
    const bar = (i: number, open: number, high: number, low: number, close: number): StrategyBar => ({ t: START + i * HOUR, open, high, low, close, volume: 1 });
    const bars = [bar(0, 100, 100, 100, 100), bar(1, 100, 100, 100, 100), bar(2, 101, 103, 101, 102.5), bar(3, 102.2, 102.4, 101, 101.5), bar(4, 101.5, 101.5, 101.5, 101.5)];
    let index = -1;
    const stops: (number | null)[] = [];
    const strategy: Strategy = {
      onBar(_b, ctx) {
        index += 1;
        stops.push(ctx.openOrders[0]?.stop ?? null);
        if (index === 0) ctx.buy({ qty: 2 });
        // Its mark starts at the last print (100.00): the stop a dollar below.
        if (index === 1) ctx.sell({ qty: 2, type: "trailing_stop", trailPrice: 1 });
      },
    };
    const result = await runBacktest({ strategy, bars, spec: STOCK, venue, cash: "1000", halfSpreadTicks: 0 });
    // Bar 2 prints 101, 101, 103 (mark 103, stop 102), 102.5; bar 3 prints 102.2, then its
    // high 102.4 (nearer the open), then its low 101, through the stop: sold at that print.
    expect(result.fills.map((f) => [f.side, f.price, Date.parse(f.transaction_time)])).toEqual([
      ["buy", "100.00", START + HOUR],
      ["sell", "101.00", START + 3 * HOUR],
    ]);
    // What onBar reads of the open order: after bar 2's prints, the stop the mark 103 left it at.
    expect(stops).toEqual([null, null, 102, null, null]);
  });

  it("hands out the streaming indicators: an SMA kept in the strategy follows the closes", async () => {
    const closes = [100, 102, 104, 106];
    const bars = closes.map((c, i) => ({ t: START + i * HOUR, open: c, high: c + 1, low: c - 1, close: c, volume: 1 }));
    const seen: (number | null)[] = [];
    let sma: { update(x: number): number | null } | undefined;
    const strategy: Strategy = {
      onStart(ctx) {
        sma = ctx.indicators.sma(2);
      },
      onBar(bar) {
        seen.push(sma!.update(bar.close));
      },
    };
    await runBacktest({ strategy, bars, spec: STOCK, venue, cash: "1000" });
    expect(seen).toEqual([null, 101, 103, 105]);
  });
});

describe("the grid rule's fast path for numbers", () => {
  const specs = ["0.01", "0.05", "0.0001", "0.25", "1", "0.00000001"].map((tickSize) => ({ ...COIN, tickSize }));
  it("a number on the grid rounds to its own ticks, as the text rule says", () => {
    fc.assert(
      fc.property(fc.constantFrom(...specs), fc.integer({ min: 1, max: 2 ** 50 }), (spec, ticks) => {
        const price = ticksToNumber(ticks, spec);
        expect(roundPrice(price, spec)).toBe(ticks);
        expect(roundPrice(price, spec)).toBe(decimalToNearestTicks(String(price), spec) ?? 0);
      }),
      { numRuns: 2_000 },
    );
  });

  it("any number rounds exactly as the text rule does", () => {
    fc.assert(
      fc.property(fc.constantFrom(...specs), fc.double({ min: 1e-9, max: 1e9, noNaN: true }), (spec, price) => {
        const viaText = decimalToNearestTicks(String(price).includes("e") ? price.toFixed(20).replace(/0+$/, "") : String(price), spec) ?? 0;
        expect(roundPrice(price, spec)).toBe(viaText);
      }),
      { numRuns: 20_000 },
    );
  });
});

