import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type BarBook, type BarSource, aggregateTrades, applyTrade, closeDueBars, newBarBook, onTrade, rolledUpPage, rollupBars, vwap } from "../../shared/market/bars";
import { STREAM_TIMEFRAMES, type Timeframe, parseTimeframe } from "../../shared/market/timeframe";
import type { Bar, TakerSide, Trade } from "../../shared/market/types";

const NY = "America/New_York";
const at = Date.parse;

function tf(text: string): Timeframe {
  const parsed = parseTimeframe(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.timeframe;
}

const trade = (id: number, time: string, priceTicks: number, sizeLots: number, takerSide: TakerSide = "B"): Trade => ({ id, t: at(time), priceTicks, sizeLots, takerSide });

/** A bar written out by hand: bucket, OHLC in ticks, volume, count, Σ price·size, first and last trade times. */
const bar = (t: string, o: number, h: number, l: number, c: number, v: number, n: number, pv: number, firstT: string, lastT: string): Bar => ({
  t: at(t),
  o,
  h,
  l,
  c,
  v,
  n,
  pv: String(pv),
  firstT: at(firstT),
  lastT: at(lastT),
});

// Monday 2026-03-02, New York on EST (UTC-5). Minutes 14:32 and 14:33 have no trades;
// trade 10 is late: it happened at 14:30:20 but arrives after everything else.
const T1 = trade(1, "2026-03-02T14:30:05Z", 18750, 10);
const T2 = trade(2, "2026-03-02T14:30:40Z", 18755, 5, "S");
const T3 = trade(3, "2026-03-02T14:31:10Z", 18748, 20, "S");
const T4 = trade(4, "2026-03-02T14:31:50Z", 18752, 3);
const T5 = trade(5, "2026-03-02T14:34:59.999Z", 18760, 7);
const T6 = trade(6, "2026-03-02T14:35:00Z", 18758, 1, "S");
const T7 = trade(7, "2026-03-02T14:44:30Z", 18770, 2);
const T8 = trade(8, "2026-03-02T14:46:00Z", 18740, 4, "S");
const T9 = trade(9, "2026-03-02T15:29:00Z", 18800, 6);
const T11 = trade(11, "2026-03-03T04:59:59Z", 18810, 1); // still Monday in New York
const T12 = trade(12, "2026-03-03T05:00:00Z", 18820, 2); // Tuesday 00:00 New York
const T10 = trade(10, "2026-03-02T14:30:20Z", 18790, 2);
const TRADES = [T1, T2, T3, T4, T5, T6, T7, T8, T9, T11, T12, T10];

const EXPECTED: Record<string, Bar[]> = {
  "1Min": [
    // Late trade 10 sets the high but neither the open (05s) nor the close (40s).
    bar("2026-03-02T14:30:00Z", 18750, 18790, 18750, 18755, 17, 3, 318855, "2026-03-02T14:30:05Z", "2026-03-02T14:30:40Z"),
    bar("2026-03-02T14:31:00Z", 18748, 18752, 18748, 18752, 23, 2, 431216, "2026-03-02T14:31:10Z", "2026-03-02T14:31:50Z"),
    bar("2026-03-02T14:34:00Z", 18760, 18760, 18760, 18760, 7, 1, 131320, "2026-03-02T14:34:59.999Z", "2026-03-02T14:34:59.999Z"),
    bar("2026-03-02T14:35:00Z", 18758, 18758, 18758, 18758, 1, 1, 18758, "2026-03-02T14:35:00Z", "2026-03-02T14:35:00Z"),
    bar("2026-03-02T14:44:00Z", 18770, 18770, 18770, 18770, 2, 1, 37540, "2026-03-02T14:44:30Z", "2026-03-02T14:44:30Z"),
    bar("2026-03-02T14:46:00Z", 18740, 18740, 18740, 18740, 4, 1, 74960, "2026-03-02T14:46:00Z", "2026-03-02T14:46:00Z"),
    bar("2026-03-02T15:29:00Z", 18800, 18800, 18800, 18800, 6, 1, 112800, "2026-03-02T15:29:00Z", "2026-03-02T15:29:00Z"),
    bar("2026-03-03T04:59:00Z", 18810, 18810, 18810, 18810, 1, 1, 18810, "2026-03-03T04:59:59Z", "2026-03-03T04:59:59Z"),
    bar("2026-03-03T05:00:00Z", 18820, 18820, 18820, 18820, 2, 1, 37640, "2026-03-03T05:00:00Z", "2026-03-03T05:00:00Z"),
  ],
  "5Min": [
    bar("2026-03-02T14:30:00Z", 18750, 18790, 18748, 18760, 47, 6, 881391, "2026-03-02T14:30:05Z", "2026-03-02T14:34:59.999Z"),
    bar("2026-03-02T14:35:00Z", 18758, 18758, 18758, 18758, 1, 1, 18758, "2026-03-02T14:35:00Z", "2026-03-02T14:35:00Z"),
    bar("2026-03-02T14:40:00Z", 18770, 18770, 18770, 18770, 2, 1, 37540, "2026-03-02T14:44:30Z", "2026-03-02T14:44:30Z"),
    bar("2026-03-02T14:45:00Z", 18740, 18740, 18740, 18740, 4, 1, 74960, "2026-03-02T14:46:00Z", "2026-03-02T14:46:00Z"),
    bar("2026-03-02T15:25:00Z", 18800, 18800, 18800, 18800, 6, 1, 112800, "2026-03-02T15:29:00Z", "2026-03-02T15:29:00Z"),
    bar("2026-03-03T04:55:00Z", 18810, 18810, 18810, 18810, 1, 1, 18810, "2026-03-03T04:59:59Z", "2026-03-03T04:59:59Z"),
    bar("2026-03-03T05:00:00Z", 18820, 18820, 18820, 18820, 2, 1, 37640, "2026-03-03T05:00:00Z", "2026-03-03T05:00:00Z"),
  ],
  "15Min": [
    bar("2026-03-02T14:30:00Z", 18750, 18790, 18748, 18770, 50, 8, 937689, "2026-03-02T14:30:05Z", "2026-03-02T14:44:30Z"),
    bar("2026-03-02T14:45:00Z", 18740, 18740, 18740, 18740, 4, 1, 74960, "2026-03-02T14:46:00Z", "2026-03-02T14:46:00Z"),
    bar("2026-03-02T15:15:00Z", 18800, 18800, 18800, 18800, 6, 1, 112800, "2026-03-02T15:29:00Z", "2026-03-02T15:29:00Z"),
    bar("2026-03-03T04:45:00Z", 18810, 18810, 18810, 18810, 1, 1, 18810, "2026-03-03T04:59:59Z", "2026-03-03T04:59:59Z"),
    bar("2026-03-03T05:00:00Z", 18820, 18820, 18820, 18820, 2, 1, 37640, "2026-03-03T05:00:00Z", "2026-03-03T05:00:00Z"),
  ],
  "1Hour": [
    bar("2026-03-02T14:00:00Z", 18750, 18790, 18740, 18740, 54, 9, 1012649, "2026-03-02T14:30:05Z", "2026-03-02T14:46:00Z"),
    bar("2026-03-02T15:00:00Z", 18800, 18800, 18800, 18800, 6, 1, 112800, "2026-03-02T15:29:00Z", "2026-03-02T15:29:00Z"),
    bar("2026-03-03T04:00:00Z", 18810, 18810, 18810, 18810, 1, 1, 18810, "2026-03-03T04:59:59Z", "2026-03-03T04:59:59Z"),
    bar("2026-03-03T05:00:00Z", 18820, 18820, 18820, 18820, 2, 1, 37640, "2026-03-03T05:00:00Z", "2026-03-03T05:00:00Z"),
  ],
  "1Day": [
    // New York days: Monday runs 05:00Z to 05:00Z, so trade 11 (04:59:59Z Tuesday UTC) closes Monday.
    bar("2026-03-02T05:00:00Z", 18750, 18810, 18740, 18810, 61, 11, 1144259, "2026-03-02T14:30:05Z", "2026-03-03T04:59:59Z"),
    bar("2026-03-03T05:00:00Z", 18820, 18820, 18820, 18820, 2, 1, 37640, "2026-03-03T05:00:00Z", "2026-03-03T05:00:00Z"),
  ],
};

describe("bars from trades", () => {
  for (const [label, expected] of Object.entries(EXPECTED)) {
    it(`aggregates ${label} bars by hand-checked arithmetic, with gaps and a late trade`, () => {
      expect(aggregateTrades(TRADES, tf(label), NY)).toEqual(expected);
    });
  }

  it("does not let a late trade become the close, nor a later trade the open", () => {
    const first = applyTrade(undefined, T2, at("2026-03-02T14:30:00Z"));
    const withLate = applyTrade(first, T1, first.t);
    expect(withLate).toMatchObject({ o: 18750, c: 18755, firstT: T1.t, lastT: T2.t });
    expect(applyTrade(withLate, T10, first.t)).toMatchObject({ o: 18750, c: 18755, h: 18790, n: 3 });
  });

  it("refuses to put a trade into another bucket's bar", () => {
    const first = applyTrade(undefined, T1, at("2026-03-02T14:30:00Z"));
    expect(() => applyTrade(first, T3, at("2026-03-02T14:31:00Z"))).toThrow(RangeError);
  });

  it("weighs the VWAP by size", () => {
    const [minute] = EXPECTED["1Min"] ?? [];
    if (!minute) throw new Error("no bar");
    expect(vwap(minute)).toBeCloseTo(318855 / 17, 9);
    expect(vwap({ ...minute, v: 0, pv: "0" })).toBe(minute.c);
  });

  it("starts us_equity daily bars at New York midnight across the spring DST change, crypto at UTC midnight", () => {
    const trades = [
      trade(1, "2026-03-07T04:59:00Z", 100, 1), // Friday 23:59 EST
      trade(2, "2026-03-07T05:00:00Z", 101, 1), // Saturday 00:00 EST
      trade(3, "2026-03-09T03:59:59Z", 102, 1), // Sunday 23:59:59 EDT
      trade(4, "2026-03-09T04:00:00Z", 103, 1), // Monday 00:00 EDT
    ];
    expect(aggregateTrades(trades, tf("1Day"), NY).map((b) => [new Date(b.t).toISOString(), b.o])).toEqual([
      ["2026-03-06T05:00:00.000Z", 100],
      ["2026-03-07T05:00:00.000Z", 101],
      ["2026-03-08T05:00:00.000Z", 102],
      ["2026-03-09T04:00:00.000Z", 103],
    ]);
    expect(aggregateTrades(trades, tf("1Day"), "UTC").map((b) => [new Date(b.t).toISOString(), b.o, b.c])).toEqual([
      ["2026-03-07T00:00:00.000Z", 100, 101],
      ["2026-03-09T00:00:00.000Z", 102, 103],
    ]);
  });
});

// Random trades over a week around the DST change, with times drawn so that ties and
// bucket edges are common.
const BASE = at("2026-03-05T00:00:00Z");
const tradesArb = fc
  .array(
    fc.record({
      offset: fc.oneof(fc.integer({ min: 0, max: 7 * 86_400_000 }), fc.constantFrom(0, 59_999, 60_000, 3_599_999, 3_600_000, 18_000_000)),
      priceTicks: fc.integer({ min: 1, max: 1_000_000 }),
      sizeLots: fc.integer({ min: 1, max: 10_000 }),
      takerSide: fc.constantFrom<TakerSide>("B", "S"),
    }),
    { maxLength: 150 },
  )
  .map((rows) => rows.map((r, i): Trade => ({ id: i + 1, t: BASE + r.offset, priceTicks: r.priceTicks, sizeLots: r.sizeLots, takerSide: r.takerSide })));

describe("bar properties", () => {
  it("rolls 1Min bars up into exactly the bars aggregated directly, for every timeframe", () => {
    const targets = ["5Min", "7Min", "15Min", "1Hour", "4Hour", "1Day", "1Week", "1Month"].map(tf);
    fc.assert(
      fc.property(tradesArb, fc.constantFrom(NY, "UTC"), (trades, zone) => {
        const minutes = aggregateTrades(trades, tf("1Min"), zone);
        for (const target of targets) {
          expect(rollupBars(minutes, target, zone), target.label).toEqual(aggregateTrades(trades, target, zone));
        }
        // Chained roll-ups agree too: 1Min → 5Min → 15Min → 1Hour → 1Day.
        let chained = minutes;
        for (const next of ["5Min", "15Min", "1Hour", "1Day"].map(tf)) chained = rollupBars(chained, next, zone);
        expect(chained).toEqual(aggregateTrades(trades, tf("1Day"), zone));
      }),
      { numRuns: 150 },
    );
  });

  it("walks rolled-up pages in either direction to exactly the whole buckets starting in the range, each once, reading only past the cursor", () => {
    fc.assert(
      fc.property(
        tradesArb,
        fc.constantFrom(NY, "UTC"),
        fc.constantFrom("2Min", "7Min", "30Min", "4Hour", "1Week"),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 3 * 86_400_000 }),
        fc.integer({ min: 0, max: 8 * 86_400_000 }),
        (trades, zone, label, limit, startOffset, span) => {
          const target = tf(label);
          const base = target.unit === "week" ? tf("1Day") : tf("1Min");
          const stored = aggregateTrades(trades, base, zone);
          const [start, end] = [BASE + startOffset, BASE + startOffset + span];
          const reads: { from: number; to: number }[] = [];
          const source: BarSource = (from, to, sort, n) => {
            reads.push({ from, to });
            const inRange = stored.filter((b) => b.t >= from && b.t <= to);
            return (sort === "asc" ? inRange : inRange.reverse()).slice(0, n);
          };
          // Buckets are chosen by their start, as stored bars are, and each is whole: the one
          // holding `end` counts its source bars after `end` too.
          const expected = rollupBars(stored, target, zone).filter((b) => b.t >= start && b.t <= end);
          for (const sort of ["asc", "desc"] as const) {
            const walked: Bar[] = [];
            let cursor: [number, number] | undefined;
            for (let pages = 0; pages < 1000; pages++) {
              reads.length = 0;
              const page = rolledUpPage(source, target, zone, { start, end, limit, sort, ...(cursor ? { cursor } : {}) }, 1);
              expect(page.bars.length).toBeLessThanOrEqual(limit);
              // A page never reads source bars on the far side of its cursor.
              if (cursor) for (const r of reads) expect(sort === "asc" ? r.from > cursor[0] : r.to < cursor[0]).toBe(true);
              walked.push(...page.bars);
              if (!page.more) break;
              expect(page.bars).toHaveLength(limit);
              cursor = [page.bars[page.bars.length - 1]!.t, 0];
            }
            expect(walked, sort).toEqual(sort === "asc" ? expected : [...expected].reverse());
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("builds the same bars whatever order trades with distinct times arrive in", () => {
    const distinct = tradesArb.map((trades) => [...new Map(trades.map((t) => [t.t, t])).values()]);
    fc.assert(
      fc.property(
        distinct.chain((trades) => fc.tuple(fc.constant(trades), fc.shuffledSubarray(trades, { minLength: trades.length, maxLength: trades.length }))),
        ([trades, shuffled]) => {
          for (const timeframe of STREAM_TIMEFRAMES) expect(aggregateTrades(shuffled, timeframe, NY)).toEqual(aggregateTrades(trades, timeframe, NY));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("keeps every bar consistent: low ≤ open, close ≤ high; volume and count add up", () => {
    fc.assert(
      fc.property(tradesArb, (trades) => {
        for (const timeframe of STREAM_TIMEFRAMES) {
          const bars = aggregateTrades(trades, timeframe, NY);
          for (const b of bars) {
            expect(b.l).toBeLessThanOrEqual(Math.min(b.o, b.c));
            expect(b.h).toBeGreaterThanOrEqual(Math.max(b.o, b.c));
            expect(b.firstT).toBeGreaterThanOrEqual(b.t);
          }
          expect(bars.reduce((sum, b) => sum + b.v, 0)).toBe(trades.reduce((sum, t) => sum + t.sizeLots, 0));
          expect(bars.reduce((sum, b) => sum + b.n, 0)).toBe(trades.length);
          expect(bars.map((b) => b.t)).toEqual([...new Set(bars.map((b) => b.t))].sort((a, b) => a - b));
        }
      }),
    );
  });
});

describe("the live bar book", () => {
  const feed = (book: BarBook, trades: readonly Trade[]) => trades.reduce((b, t) => onTrade(b, t).book, book);

  it("closes a bar when a trade opens the next bucket, and amends it with an updatedBar when a trade comes late", () => {
    let book = newBarBook(STREAM_TIMEFRAMES, NY);
    book = feed(book, [T1, T2]);
    const opening = onTrade(book, T3);
    expect(opening.closed).toEqual([{ timeframe: "1Min", bar: bar("2026-03-02T14:30:00Z", 18750, 18755, 18750, 18755, 15, 2, 281275, "2026-03-02T14:30:05Z", "2026-03-02T14:30:40Z") }]);
    expect(opening.updates.map((u) => [u.timeframe, u.kind])).toEqual([
      ["1Min", "bar"],
      ["5Min", "bar"],
      ["15Min", "bar"],
      ["1Hour", "bar"],
      ["1Day", "bar"],
    ]);

    const late = onTrade(opening.book, T10);
    expect(late.closed).toEqual([]);
    expect(late.updates[0]).toEqual({ timeframe: "1Min", kind: "updatedBar", bar: EXPECTED["1Min"]?.[0] });
    expect(late.updates.slice(1).every((u) => u.kind === "bar")).toBe(true);

    // A trade older than the last closed bar is left to history backfill.
    const afterGap = feed(late.book, [T4, T5, T6]);
    const tooLate = onTrade(afterGap, trade(13, "2026-03-02T14:30:30Z", 18700, 1));
    expect(tooLate.stale).toEqual(["1Min"]);
    expect(tooLate.updates.map((u) => [u.timeframe, u.kind])).toEqual([
      ["5Min", "updatedBar"],
      ["15Min", "bar"],
      ["1Hour", "bar"],
      ["1Day", "bar"],
    ]);
  });

  it("closes bars on a timer once their bucket has ended, and still takes a late trade for them", () => {
    const book = feed(newBarBook(STREAM_TIMEFRAMES, NY), [T12]);
    expect(closeDueBars(book, at("2026-03-03T05:00:59.999Z")).closed).toEqual([]);
    const due = closeDueBars(book, at("2026-03-03T05:05:00Z"));
    expect(due.closed.map((c) => c.timeframe)).toEqual(["1Min", "5Min"]);

    const late = onTrade(due.book, trade(14, "2026-03-03T05:00:30Z", 18830, 1));
    expect(late.updates.map((u) => [u.timeframe, u.kind])).toEqual([
      ["1Min", "updatedBar"],
      ["5Min", "updatedBar"],
      ["15Min", "bar"],
      ["1Hour", "bar"],
      ["1Day", "bar"],
    ]);
    const next = onTrade(late.book, trade(15, "2026-03-03T05:06:00Z", 18840, 1));
    expect(next.closed).toEqual([]); // the timer already closed them
    expect(next.updates.map((u) => u.kind)).toEqual(["bar", "bar", "bar", "bar", "bar"]);
  });

  it("survives JSON between trades", () => {
    const book = feed(newBarBook(STREAM_TIMEFRAMES, NY), [T1, T2, T3]);
    const restored = JSON.parse(JSON.stringify(book)) as BarBook;
    expect(onTrade(restored, T4)).toEqual(onTrade(book, T4));
  });

  it("emits exactly the aggregated bars of the trades it accepted, as closed bars, amendments and the open bar", () => {
    fc.assert(
      fc.property(tradesArb, (trades) => {
        let book = newBarBook(STREAM_TIMEFRAMES, NY);
        const emitted = new Map<string, Map<number, Bar>>(STREAM_TIMEFRAMES.map((t) => [t.label, new Map()]));
        const accepted = new Map<string, Trade[]>(STREAM_TIMEFRAMES.map((t) => [t.label, []]));
        for (const t of trades) {
          const step = onTrade(book, t);
          book = step.book;
          for (const { timeframe, bar: b } of step.closed) emitted.get(timeframe)?.set(b.t, b);
          for (const { timeframe, kind, bar: b } of step.updates) {
            accepted.get(timeframe)?.push(t);
            if (kind === "updatedBar") emitted.get(timeframe)?.set(b.t, b);
          }
          for (const label of step.stale) expect(step.updates.some((u) => u.timeframe === label)).toBe(false);
        }
        for (const frame of book.frames) {
          const bars = emitted.get(frame.timeframe.label) ?? new Map<number, Bar>();
          if (frame.current) bars.set(frame.current.t, frame.current);
          const got = [...bars.values()].sort((a, b) => a.t - b.t);
          expect(got).toEqual(aggregateTrades(accepted.get(frame.timeframe.label) ?? [], frame.timeframe, NY));
        }
      }),
      { numRuns: 150 },
    );
  });
});
