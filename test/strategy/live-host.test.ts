import { describe, expect, it } from "vitest";
import type { FeedEvent } from "../../shared/market/feed";
import { eventTime, liveStats, liveStep, MAX_CONSECUTIVE_FAILURES, newCounters, recordFailure, recordSuccess } from "../../shared/strategy/live-host";
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

  it("report P&L since the start from the equity first and last seen", () => {
    const c = { ...newCounters(0), startEquity: "100000.00", equity: "100012.34" };
    expect(liveStats(c).pnl).toBe("12.34");
    expect(liveStats(newCounters(0))).toMatchObject({ pnl: null, success_rate: null });
  });
});
