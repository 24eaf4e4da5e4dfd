import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_STALE_AFTER_MS, FeedEngine, feedClock, staleAfterMs, upstreamRetryDelay, type FeedHistory, type Instrument } from "../../shared/market/feed";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { SimParamsSchema } from "../../shared/market/simulator";
import type { Bar } from "../../shared/market/types";
import type { FeedConfig } from "../../shared/schemas/assets";

// The feed engine without a Durable Object: the shell's storage is a Map.

const SPEC: InstrumentSpec = { symbol: "FEED", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
const at = Date.parse;
const UPSTREAM: FeedConfig = { kind: "upstream", url: "wss://example.test/stream", staleAfterMs: 10_000 };

function instrument(feed: FeedConfig): Instrument {
  const sim = feed.kind === "sim" ? SimParamsSchema.parse(feed.params) : undefined;
  return { spec: SPEC, kind: "stocks", feed, sim, fingerprint: JSON.stringify([SPEC, feed]) };
}

/** Stored bars, as the shell keeps them: what the engine drained is written back. */
class MemoryHistory implements FeedHistory {
  readonly bars = new Map<string, Bar>();
  bar(timeframe: string, t: number) {
    return this.bars.get(`${timeframe}:${t}`);
  }
  firstBar(timeframe: string, from: number, to: number) {
    return [...this.bars.entries()]
      .filter(([key, bar]) => key.startsWith(`${timeframe}:`) && bar.t >= from && bar.t <= to)
      .map(([, bar]) => bar)
      .sort((a, b) => a.t - b.t)[0];
  }
  store(changes: { bars: { timeframe: string; bar: Bar }[] }) {
    for (const { timeframe, bar } of changes.bars) this.bars.set(`${timeframe}:${bar.t}`, bar);
  }
}

const trade = (time: string, price: string, size = "1") => ({ t: at(time), price, size });

describe("the feed engine", () => {
  it("stores trades and quotes, publishes them, and closes a minute bar with the day's bar", () => {
    const history = new MemoryHistory();
    const now = at("2026-01-05T15:00:00Z");
    const feed = new FeedEngine(instrument(UPSTREAM), undefined, history, now, 0);
    expect(feed.upstreamTrade(now, trade("2026-01-05T15:00:10Z", "100"))).toBe(true);
    expect(feed.upstreamQuote(now, { t: at("2026-01-05T15:00:20Z"), bid: "99.99", ask: "100.01", bidSize: "5", askSize: "6" })).toBe(true);
    expect(feed.upstreamTrade(now, trade("2026-01-05T15:01:05Z", "101", "2"))).toBe(true);
    const changes = feed.drain();
    expect(changes.prints.map((p) => (p.trade ? `t${p.trade.id}` : "q"))).toEqual(["t1", "q", "t2"]);
    expect(changes.events.map((e) => e.msg.T)).toEqual(["t", "q", "t", "b", "d"]);
    expect(changes.events.find((e) => e.msg.T === "b")!.msg).toMatchObject({ t: "2026-01-05T15:00:00.000Z", o: 100, c: 100, v: 1 });
    expect(changes.bars.filter((b) => b.timeframe === "1Min").map((b) => b.bar.t)).toEqual([at("2026-01-05T15:00:00Z"), at("2026-01-05T15:01:00Z")]);
    // One put per bucket, the latest version: the day's bar holds both trades.
    expect(changes.bars.filter((b) => b.timeframe === "1Day")).toHaveLength(1);
    expect(changes.bars.find((b) => b.timeframe === "1Day")!.bar).toMatchObject({ v: 3, n: 2 });
    expect(feed.drain()).toMatchObject({ prints: [], bars: [], events: [] });
  });

  it("amends a stored bar with a trade too late for the bar book, reading the bar it is about to store", () => {
    const history = new MemoryHistory();
    const now = at("2026-01-05T15:10:00Z");
    const feed = new FeedEngine(instrument(UPSTREAM), undefined, history, now, 0);
    feed.upstreamTrade(now, trade("2026-01-05T15:00:10Z", "100"));
    feed.upstreamTrade(now, trade("2026-01-05T15:01:10Z", "101"));
    feed.upstreamTrade(now, trade("2026-01-05T15:02:10Z", "102"));
    // Two minutes late: the book has only 15:01 closed and 15:02 open. Not yet stored.
    feed.upstreamTrade(now, trade("2026-01-05T15:00:30Z", "98", "4"));
    let changes = feed.drain();
    const minute = changes.bars.find((b) => b.timeframe === "1Min" && b.bar.t === at("2026-01-05T15:00:00Z"))!.bar;
    expect(minute).toMatchObject({ o: 10_000, l: 9_800, c: 9_800, v: 5, n: 2 });
    expect(changes.events.filter((e) => e.msg.T === "u").at(-1)!.msg).toMatchObject({ t: "2026-01-05T15:00:00.000Z", l: 98, v: 5 });
    history.store(changes);
    // Stored now: a later amendment reads it through the port.
    feed.upstreamTrade(now, trade("2026-01-05T15:00:40Z", "97"));
    changes = feed.drain();
    expect(changes.bars.find((b) => b.timeframe === "1Min")!.bar).toMatchObject({ t: at("2026-01-05T15:00:00Z"), l: 9_700, v: 6, n: 3 });
  });

  it("closes bars on the feed's own clock while an upstream replays the past", () => {
    expect(feedClock(at("2026-01-05T15:00:30Z"), at("2026-01-05T15:00:00Z"))).toBe(at("2026-01-05T15:00:30Z"));
    expect(feedClock(at("2026-01-06T00:00:00Z"), at("2026-01-05T15:00:00Z"))).toBe(at("2026-01-05T15:00:00Z"));
  });

  it("plays stored bars as four prints each, paced by the speed, and loops over its source only", () => {
    const history = new MemoryHistory();
    const t0 = at("2024-01-02T14:30:00Z");
    history.bars.set(`1Min:${t0}`, { t: t0, o: 10_000, h: 10_100, l: 9_950, c: 10_050, v: 100, n: 0, pv: "1005000", firstT: t0, lastT: t0 });
    const now = at("2026-01-05T15:00:00Z");
    const feed = new FeedEngine(instrument({ kind: "replay", timeframe: "1Min", speed: 60, loop: true }), undefined, history, now, 0);
    // At 60× a minute bar lasts one second: its prints are 250 ms apart.
    expect(feed.replayStep(now)).toBe(now + 250);
    // The end of the source: the next pass starts a second later, from the same bar.
    expect(feed.replayStep(now + 800)).toBe(now + 1800);
    const first = feed.drain();
    const prints = first.prints;
    expect(prints.map((p) => p.trade!.priceTicks)).toEqual([10_000, 9_950, 10_100, 10_050]);
    expect(prints.map((p) => p.trade!.t)).toEqual([now, now + 250, now + 500, now + 750]);
    expect(feed.state.replay).toMatchObject({ barT: t0, print: 0, wallAnchor: now + 800 });
    // Its own prints (stored from now on) are never its source.
    history.store(first);
    expect(history.bars.size).toBeGreaterThan(1);
    feed.replayStep(now + 1800);
    expect(feed.drain().prints.map((p) => p.trade!.priceTicks)).toEqual([10_000, 9_950, 10_100, 10_050]);
  });

  it("starts a simulated feed with its initial quote, received now", () => {
    const now = 1_000_000;
    const feed = new FeedEngine(instrument({ kind: "sim", params: { seed: 3, startPrice: "50.00" } }), undefined, new MemoryHistory(), now, 0);
    const changes = feed.drain();
    expect(changes.prints).toHaveLength(1);
    expect(changes.prints[0]!.quote).toMatchObject({ t: now });
    expect(changes.state.receivedAt).toBe(now);
    expect(feed.price(now, null)).toMatchObject({ reference: expect.any(Number), stale: false });
    expect(Math.abs(feed.price(now, null)!.reference - 5_000)).toBeLessThanOrEqual(1);
    // Reopened from its stored state, it does not print the seed again.
    const reopened = new FeedEngine(feed.instrument, changes.state, new MemoryHistory(), now + 5, 0);
    expect(reopened.drain().prints).toEqual([]);
  });
});

describe("a simulated feed given new parameters", () => {
  it("carries on from its price (a new size or volatility), and starts over only when its start price changed", () => {
    const params = { seed: 7, startPrice: "50.00", volatility: 3, tickIntervalMs: 1_000 };
    let now = 1_000_000;
    const feed = new FeedEngine(instrument({ kind: "sim", params }), undefined, new MemoryHistory(), now, 0);
    // A long walk at a high volatility takes it well away from 50.00.
    for (let i = 0; i < 20_000; i++) now = feed.simStep(now);
    const state = feed.drain().state;
    const mid = (q: { bidTicks: number; askTicks: number }) => (q.bidTicks + q.askTicks) / 2;
    const moved = mid(state.lastQuote!);
    expect(Math.abs(moved - 5_000)).toBeGreaterThan(100);
    // New sizes: the first quote is where the market was, at the new sizes.
    const resized = new FeedEngine(instrument({ kind: "sim", params: { ...params, displayedLots: { min: 500, max: 900 } } }), state, new MemoryHistory(), now + 1, 0);
    const first = resized.drain().prints[0]!.quote!;
    expect(Math.abs(mid(first) - moved)).toBeLessThanOrEqual(2);
    expect(first.bidLots).toBeGreaterThanOrEqual(500);
    // A new start price starts the market over there.
    const restarted = new FeedEngine(instrument({ kind: "sim", params: { ...params, startPrice: "60.00" } }), state, new MemoryHistory(), now + 1, 0);
    expect(Math.abs(mid(restarted.drain().prints[0]!.quote!) - 6_000)).toBeLessThanOrEqual(2);
  });
});

describe("staleness", () => {
  it("is five intervals of the feed's own pace, never under five seconds; an upstream's is configured", () => {
    const sim = (tickIntervalMs: number) => SimParamsSchema.parse({ tickIntervalMs });
    expect(staleAfterMs({ kind: "sim", params: {} }, sim(200))).toBe(5_000);
    expect(staleAfterMs({ kind: "sim", params: {} }, sim(3_000))).toBe(15_000);
    expect(staleAfterMs(UPSTREAM)).toBe(10_000);
    // A daily bar at 60×: prints 6 minutes apart.
    expect(staleAfterMs({ kind: "replay", timeframe: "1Day", speed: 60, loop: true })).toBe(5 * 360_000);
    expect(staleAfterMs({ kind: "replay", timeframe: "1Min", speed: 60, loop: true })).toBe(5_000);
    expect(staleAfterMs({ kind: "none" })).toBe(DEFAULT_STALE_AFTER_MS);
  });

  it("counts from when data was received, not from its timestamps, and survives a restart in the state", () => {
    const now = at("2026-01-05T15:00:00Z");
    const feed = new FeedEngine(instrument(UPSTREAM), undefined, new MemoryHistory(), now, 0);
    expect(feed.stale(now)).toBe(true);
    expect(feed.price(now, null)).toBeNull();
    // History from 2020, received now: fresh.
    feed.upstreamQuote(now, { t: at("2020-01-01T00:00:00Z"), bid: "1.00", ask: "1.01", bidSize: "1", askSize: "1" });
    expect(feed.price(now + 10_000, 90)).toMatchObject({ bid: 100, ask: 101, reference: 101, previousClose: 90, stale: false });
    const stored = JSON.parse(JSON.stringify(feed.drain().state));
    const restarted = new FeedEngine(feed.instrument, stored, new MemoryHistory(), now + 20_000, 0);
    expect(restarted.stale(now + 10_001)).toBe(true);
    expect(restarted.price(now + 10_001, null)!.stale).toBe(true);
  });
});

describe("the upstream back-off", () => {
  it("doubles from half a second up to thirty, jittered over its upper half by the injected random", () => {
    expect(upstreamRetryDelay(1, 0)).toBe(250);
    expect(upstreamRetryDelay(1, 0.999)).toBeCloseTo(500, 0);
    expect(upstreamRetryDelay(3, 0.5)).toBe(1_500);
    expect(upstreamRetryDelay(20, 0)).toBe(15_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (failures, random) => {
        const delay = upstreamRetryDelay(failures, random);
        const cap = Math.min(30_000, 500 * 2 ** (failures - 1));
        expect(delay).toBeGreaterThanOrEqual(cap / 2);
        expect(delay).toBeLessThanOrEqual(cap);
      }),
    );
  });

  it("schedules attempts through the engine: connect when due, wait after a failure, reset on success", () => {
    const now = 1_000_000;
    const feed = new FeedEngine(instrument(UPSTREAM), undefined, new MemoryHistory(), now, 0);
    expect(feed.upstreamDue(now, undefined, false)).toMatchObject({ connect: true });
    expect(feed.upstreamDue(now, undefined, true)).toMatchObject({ connect: false, next: now + 1000 });
    const retry = feed.upstreamFailed(now, 0.5);
    expect(retry).toBe(now + 375);
    expect(feed.upstreamDue(now + 100, undefined, false)).toEqual({ connect: false, next: retry, wentStale: false });
    expect(feed.upstreamFailed(retry, 0)).toBe(retry + 500);
    feed.upstreamConnected();
    expect(feed.state.upstream).toMatchObject({ failures: 0, nextAttemptAt: 0, connects: 1 });
    expect(feed.upstreamDue(now + 5_000, { lastMessageAt: now }, false)).toMatchObject({ connect: false, wentStale: false });
    expect(feed.upstreamDue(now + 10_001, { lastMessageAt: now }, false)).toMatchObject({ wentStale: true });
    expect(feed.upstreamDue(now + 10_002, { lastMessageAt: now }, false)).toMatchObject({ wentStale: false });
    expect(feed.state.upstream!.stale).toBe(true);
  });
});
