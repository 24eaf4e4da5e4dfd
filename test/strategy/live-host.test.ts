import { describe, expect, it } from "vitest";
import type { FeedEvent } from "../../shared/market/feed";
import { eventTime, liveStats, liveStep, MAX_CONSECUTIVE_FAILURES, newCounters, orderEnded, recordFailure, recordFill, recordSuccess, type LiveCounters } from "../../shared/strategy/live-host";
import { COIN } from "./helpers";

// The rules of a live strategy's host, without the symbol object: what it hears of the
// feed, and when failures stop it.

const quote: FeedEvent = { kind: "quote", quote: { t: 5, bidTicks: 9_999, askTicks: 10_001, bidLots: 1, askLots: 1 } };
const trade: FeedEvent = { kind: "trade", trade: { t: 6, id: 1, priceTicks: 10_000, sizeLots: 1, takerSide: "B" } };
const bar = (timeframe: string, replayed: boolean): FeedEvent => ({ kind: "bar", timeframe, replayed, bar: { t: 60_000, o: 10_000, h: 10_050, l: 9_950, c: 10_020, v: 2_000_000_000, n: 4, pv: "20000000000000", firstT: 60_000, lastT: 119_000 } });
const shape = (over: Partial<{ wantsQuotes: boolean; wantsTrades: boolean; busy: boolean }> = {}) => ({ timeframe: "1Min", wantsQuotes: false, wantsTrades: false, busy: false, ...over });

describe("what a live strategy hears", () => {
  it("skips prints it does not listen to while it has nothing to send or hear about", () => {
    expect(liveStep(quote, shape(), "sim", COIN).kind).toBe("skip");
    expect(liveStep(trade, shape(), "sim", COIN).kind).toBe("skip");
  });

  it("hears every print while it holds orders or has one unfinished, and those it listens to", () => {
    expect(liveStep(quote, shape({ busy: true }), "sim", COIN)).toEqual({ kind: "quote", quote: { t: 5, bid: 99.99, ask: 100.01 } });
    expect(liveStep(trade, shape({ busy: true }), "sim", COIN)).toEqual({ kind: "trade", trade: { t: 6, price: 100 } });
    expect(liveStep(quote, shape({ wantsQuotes: true }), "sim", COIN).kind).toBe("quote");
    expect(liveStep(trade, shape({ wantsTrades: true }), "sim", COIN).kind).toBe("trade");
    expect(liveStep(trade, shape({ wantsQuotes: true }), "sim", COIN).kind).toBe("skip");
  });

  it("hears the bars of its timeframe: the replayed ones on a replay, the closed ones elsewhere", () => {
    const heard = liveStep(bar("1Min", false), shape(), "sim", COIN);
    expect(heard).toEqual({ kind: "bar", bar: { t: 60_000, open: 100, high: 100.5, low: 99.5, close: 100.2, volume: 2 } });
    expect(liveStep(bar("1Min", true), shape(), "sim", COIN).kind).toBe("skip");
    expect(liveStep(bar("1Min", true), shape(), "replay", COIN).kind).toBe("bar");
    expect(liveStep(bar("1Min", false), shape(), "replay", COIN).kind).toBe("skip");
    expect(liveStep(bar("5Min", false), shape(), "sim", COIN).kind).toBe("skip");
  });

  it("runs at the event's own time", () => {
    expect([quote, trade, bar("1Min", false)].map(eventTime)).toEqual([5, 6, 60_000]);
  });
});

describe("failures", () => {
  it(`stop a strategy after ${MAX_CONSECUTIVE_FAILURES} failed callbacks in a row, and only then`, () => {
    const c = newCounters(0);
    expect(recordFailure(c, 1)).toBe(false);
    expect(recordFailure(c, 1)).toBe(false);
    recordSuccess(c, 1);
    expect(recordFailure(c, 1)).toBe(false);
    expect(recordFailure(c, 1)).toBe(false);
    expect(recordFailure(c, 1)).toBe(true);
    expect(liveStats(c)).toMatchObject({ callbacks: 6, failures: 5, success_rate: 1 / 6 });
  });

  it("events that ran no callback neither count nor end a streak", () => {
    const c = newCounters(0);
    recordFailure(c, 1);
    recordFailure(c, 1);
    recordSuccess(c, 0);
    expect(recordFailure(c, 1)).toBe(true);
    expect(c.callbacks).toBe(3);
  });

  it("report the strategy's own P&L: its fills' cash, fees included, and what they left at the last price", () => {
    // It was the account's equity change, so every strategy of an account (and the owner's
    // own trades) showed the same figure.
    const c = newCounters(0);
    expect(liveStats(c)).toMatchObject({ pnl: "0.00", success_rate: null });
    // Two fills of one buy (commission 0.10, then 0.25 in all), then a sell of part.
    recordFill(c, { orderId: "b", side: "buy", price: "100.00", qty: "1.5", commission: "0.10", final: false });
    expect(liveStats(c).pnl).toBeNull(); // a quantity held and no price seen
    recordFill(c, { orderId: "b", side: "buy", price: "101.00", qty: "0.5", commission: "0.25", final: true });
    c.mark = "102.00";
    // cash −150 − 50.5 − 0.25 = −200.75; 2 × 102 = 204
    expect(liveStats(c).pnl).toBe("3.25");
    recordFill(c, { orderId: "s", side: "sell", price: "103.00", qty: "1", commission: "0.05", final: true });
    // cash −200.75 + 103 − 0.05 = −97.80; 1 × 102 = 102
    expect(liveStats(c).pnl).toBe("4.20");
    expect(c.flow!.commissions).toEqual({});
    // A partial fill followed by a cancel forgets the order's commission.
    recordFill(c, { orderId: "p", side: "buy", price: "102.00", qty: "0.1", commission: "0.01", final: false });
    expect(c.flow!.commissions).toEqual({ p: "0.01" });
    orderEnded(c, "p");
    expect(c.flow!.commissions).toEqual({});
    // A run stored before fills were counted starts counting at its first.
    const legacy: LiveCounters = { callbacks: 0, failures: 0, consecutiveFailures: 0, orders: 0, fills: 0, startedAt: 0 };
    expect(liveStats(legacy).pnl).toBeNull();
    // Nor were refused orders: none so far.
    expect(liveStats(legacy).refused).toBe(0);
    recordFill(legacy, { orderId: "x", side: "sell", price: "10", qty: "1", commission: "0", final: true });
    expect(liveStats(legacy).pnl).toBeNull();
    legacy.mark = "10";
    expect(liveStats(legacy).pnl).toBe("0.00");
  });
});
