import { type Timeframe, bucketStart, nextBucketStart } from "./timeframe";
import type { HistoryQuery } from "./history";
import type { Bar, Trade } from "./types";

// Bars from trades, for history (aggregateTrades, rollupBars) and for the live stream
// (the bar book). Both paths go through applyTrade, so a live bar and a bar rebuilt from
// stored trades cannot disagree. Buckets without trades produce no bar, as Alpaca's don't.
//
// Order within a bar is by trade time; trades with equal times keep arrival order (the
// first to arrive opens, the last closes), which a stable sort by time preserves.

/** The bar after one more trade; `bucketT` is the trade's bucket start. */
export function applyTrade(bar: Bar | undefined, trade: Trade, bucketT: number): Bar {
  const { t, priceTicks: price, sizeLots: size } = trade;
  if (!bar) return { t: bucketT, o: price, h: price, l: price, c: price, v: size, n: 1, pv: (BigInt(price) * BigInt(size)).toString(), firstT: t, lastT: t };
  if (bar.t !== bucketT) throw new RangeError(`a trade in bucket ${bucketT} cannot update the bar of bucket ${bar.t}`);
  const opens = t < bar.firstT;
  const closes = t >= bar.lastT;
  return {
    t: bar.t,
    o: opens ? price : bar.o,
    h: Math.max(bar.h, price),
    l: Math.min(bar.l, price),
    c: closes ? price : bar.c,
    v: bar.v + size,
    n: bar.n + 1,
    pv: (BigInt(bar.pv) + BigInt(price) * BigInt(size)).toString(),
    firstT: opens ? t : bar.firstT,
    lastT: closes ? t : bar.lastT,
  };
}

/** One bar per bucket that has trades, sorted by time; input order does not matter. */
export function aggregateTrades(trades: readonly Trade[], timeframe: Timeframe, timeZone: string): Bar[] {
  const bars: Bar[] = [];
  let bar: Bar | undefined;
  let bucketEnd = -Infinity;
  // Sorted, each bucket's trades are contiguous and the zone arithmetic runs once per bucket.
  for (const trade of [...trades].sort((a, b) => a.t - b.t)) {
    if (!bar || trade.t >= bucketEnd) {
      if (bar) bars.push(bar);
      bar = applyTrade(undefined, trade, bucketStart(trade.t, timeframe, timeZone));
      bucketEnd = nextBucketStart(trade.t, timeframe, timeZone);
    } else {
      bar = applyTrade(bar, trade, bar.t);
    }
  }
  if (bar) bars.push(bar);
  return bars;
}

/** Two bars of one bucket as one; `b` is the later of the two when times tie. */
function mergeBars(a: Bar, b: Bar): Bar {
  const bOpens = b.firstT < a.firstT;
  const bCloses = b.lastT >= a.lastT;
  return {
    t: a.t,
    o: bOpens ? b.o : a.o,
    h: Math.max(a.h, b.h),
    l: Math.min(a.l, b.l),
    c: bCloses ? b.c : a.c,
    v: a.v + b.v,
    n: a.n + b.n,
    pv: (BigInt(a.pv) + BigInt(b.pv)).toString(),
    firstT: bOpens ? b.firstT : a.firstT,
    lastT: bCloses ? b.lastT : a.lastT,
  };
}

/**
 * Bars of a higher timeframe from bars of a lower one. The lower buckets must nest in the
 * higher ones (1Min into anything; 1Hour into 1Day for whole-hour zone offsets): a bar is
 * assigned whole, by its start.
 */
export function rollupBars(bars: readonly Bar[], timeframe: Timeframe, timeZone: string): Bar[] {
  const rolled: Bar[] = [];
  let bucketEnd = -Infinity;
  // As in aggregateTrades: zone arithmetic once per higher bucket, not once per bar.
  for (const bar of [...bars].sort((a, b) => a.t - b.t)) {
    const last = rolled.at(-1);
    if (last && bar.t < bucketEnd) {
      rolled[rolled.length - 1] = mergeBars(last, bar);
    } else {
      rolled.push({ ...bar, t: bucketStart(bar.t, timeframe, timeZone) });
      bucketEnd = nextBucketStart(bar.t, timeframe, timeZone);
    }
  }
  return rolled;
}

/** Up to `limit` stored bars with from <= t <= to: the oldest first ("asc") or the newest first ("desc"). */
export type BarSource = (from: number, to: number, sort: "asc" | "desc", limit: number) => Bar[];

/** The most source bars one read of a roll-up page holds in memory. */
export const ROLLUP_READ_LIMIT = 50_000;

/**
 * One page of a rolled-up timeframe, read from a finer one (`source`, about `perBucket`
 * of its bars to a bucket) as far as the page needs and no further: ascending from the
 * bucket after the cursor's, descending from the bucket before it (or from `end`).
 * Buckets that start before `start` are left out (they would be partial); `end` selects
 * buckets by their start, as it selects stored bars by theirs, and the bucket holding it is
 * whole (its source bars after `end` counted too, as a stored bar of that time would hold
 * them). A bucket is complete once a source bar of the next one has been read, so the page
 * ends there and says there is `more`.
 */
export function rolledUpPage(source: BarSource, timeframe: Timeframe, timeZone: string, q: HistoryQuery, perBucket: number): { bars: Bar[]; more: boolean } {
  const first = bucketStart(q.start, timeframe, timeZone) === q.start ? q.start : nextBucketStart(q.start, timeframe, timeZone);
  const readLimit = Math.min(ROLLUP_READ_LIMIT, (q.limit + 1) * Math.max(1, Math.ceil(perBucket)));
  const cursor = q.cursor?.[0];
  // The last source bar the page may read: the end of the bucket holding `end`.
  const last = nextBucketStart(q.end, timeframe, timeZone) - 1;
  const buckets: Bar[] = [];
  if (q.sort === "asc") {
    let from = cursor === undefined ? first : Math.max(first, nextBucketStart(cursor, timeframe, timeZone));
    let bucketEnd = -Infinity;
    while (from <= last) {
      const read = source(from, last, "asc", readLimit);
      for (const bar of read) {
        if (bar.t < bucketEnd) {
          buckets[buckets.length - 1] = mergeBars(buckets[buckets.length - 1]!, bar);
          continue;
        }
        if (buckets.length === q.limit) return { bars: buckets, more: true };
        buckets.push({ ...bar, t: bucketStart(bar.t, timeframe, timeZone) });
        bucketEnd = nextBucketStart(bar.t, timeframe, timeZone);
      }
      if (read.length < readLimit) break;
      from = read[read.length - 1]!.t + 1;
    }
    return { bars: buckets, more: false };
  }
  let to = cursor === undefined ? last : Math.min(last, bucketStart(cursor, timeframe, timeZone) - 1);
  let bucketT = Infinity;
  while (to >= first) {
    const read = source(first, to, "desc", readLimit);
    for (const bar of read) {
      if (bar.t >= bucketT) {
        // Read backwards: the bucket so far holds the later bars.
        buckets[buckets.length - 1] = mergeBars({ ...bar, t: bucketT }, buckets[buckets.length - 1]!);
        continue;
      }
      if (buckets.length === q.limit) return { bars: buckets, more: true };
      bucketT = bucketStart(bar.t, timeframe, timeZone);
      buckets.push({ ...bar, t: bucketT });
    }
    if (read.length < readLimit) break;
    to = read[read.length - 1]!.t - 1;
  }
  return { bars: buckets, more: false };
}

/** Volume-weighted average price in ticks (fractional, for analysis); the close when nothing traded. */
export const vwap = (bar: Bar): number => (bar.v > 0 ? Number(BigInt(bar.pv)) / bar.v : bar.c);

// --- the live path ---------------------------------------------------------------------
// A bar book holds, per timeframe, the open bar and the last closed one, as plain JSON so a
// Durable Object can store it. Alpaca's stream sends a bar when its bucket closes ("b"),
// and an "updatedBar" ("u") when a late trade amends a bar already sent.

export interface BarFrame {
  timeframe: Timeframe;
  /** The bar of the newest bucket, not yet sent as closed. */
  current: Bar | null;
  /** The last closed bar: the only one a late trade can still amend. */
  previous: Bar | null;
}

export interface BarBook {
  timeZone: string;
  frames: BarFrame[];
}

export interface BarUpdate {
  timeframe: string;
  /** "bar": the trade went into the open bar (new or not); "updatedBar": it amended a closed bar. */
  kind: "bar" | "updatedBar";
  bar: Bar;
}

export interface ClosedBar {
  timeframe: string;
  bar: Bar;
}

export interface BarBookStep {
  book: BarBook;
  updates: BarUpdate[];
  /** Bars whose bucket this trade ended by opening a newer one. */
  closed: ClosedBar[];
  /** Timeframes where the trade was older than the last closed bar; history backfill owns those. */
  stale: string[];
}

export function newBarBook(timeframes: readonly Timeframe[], timeZone: string): BarBook {
  return { timeZone, frames: timeframes.map((timeframe) => ({ timeframe, current: null, previous: null })) };
}

export function onTrade(book: BarBook, trade: Trade): BarBookStep {
  const updates: BarUpdate[] = [];
  const closed: ClosedBar[] = [];
  const stale: string[] = [];
  const frames = book.frames.map((frame): BarFrame => {
    const { timeframe, current, previous } = frame;
    const label = timeframe.label;
    const bucketT = bucketStart(trade.t, timeframe, book.timeZone);
    if (current && bucketT === current.t) {
      const bar = applyTrade(current, trade, bucketT);
      updates.push({ timeframe: label, kind: "bar", bar });
      return { ...frame, current: bar };
    }
    if (previous && bucketT === previous.t) {
      const bar = applyTrade(previous, trade, bucketT);
      updates.push({ timeframe: label, kind: "updatedBar", bar });
      return { ...frame, previous: bar };
    }
    const newest = current?.t ?? previous?.t ?? -Infinity;
    if (bucketT < newest) {
      stale.push(label);
      return frame;
    }
    const bar = applyTrade(undefined, trade, bucketT);
    updates.push({ timeframe: label, kind: "bar", bar });
    if (!current) return { ...frame, current: bar };
    closed.push({ timeframe: label, bar: current });
    return { timeframe, current: bar, previous: current };
  });
  return { book: { ...book, frames }, updates, closed, stale };
}

/** Closes open bars whose bucket has ended by nowMs, for a timer to call when no trade comes. */
export function closeDueBars(book: BarBook, nowMs: number): { book: BarBook; closed: ClosedBar[] } {
  const closed: ClosedBar[] = [];
  const frames = book.frames.map((frame): BarFrame => {
    const { current, timeframe } = frame;
    if (!current || nextBucketStart(current.t, timeframe, book.timeZone) > nowMs) return frame;
    closed.push({ timeframe: timeframe.label, bar: current });
    return { timeframe, current: null, previous: current };
  });
  return { book: { ...book, frames }, closed };
}
