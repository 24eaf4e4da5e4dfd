import { rolledUpPage, rollupBars, type BarSource } from "../../shared/market/bars";
import { barToAlpaca, orderbookToAlpaca, quoteToAlpaca, tradeToAlpaca, type AlpacaOrderbook } from "../../shared/market/format";
import type { HistoryPage, HistoryQuery } from "../../shared/market/history";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { bucketStart, nextBucketStart, parseTimeframe, STREAM_TIMEFRAMES, type Timeframe } from "../../shared/market/timeframe";
import type { Bar, Quote, Trade } from "../../shared/market/types";
import type { MarketStore } from "./store";

// The symbol's history as the market-data endpoints read it, in Alpaca's shapes, and the
// admin's import of bars. Timeframes other than the stored ones roll up on demand.

const STORED = new Map(STREAM_TIMEFRAMES.map((tf) => [tf.label, tf]));
const UNIT_RANK = { minute: 1, hour: 60, day: 1440, week: 10080, month: 43200 } as const;
const durationRank = (tf: Timeframe) => UNIT_RANK[tf.unit] * tf.amount;

export function barsPage(store: MarketStore, spec: InstrumentSpec, timeframe: string, q: HistoryQuery): HistoryPage<ReturnType<typeof barToAlpaca>> {
  const parsed = parseTimeframe(timeframe);
  if (!parsed.ok) throw new RangeError(parsed.message);
  const tf = parsed.timeframe;
  let bars: Bar[];
  let more: boolean;
  if (STORED.has(tf.label)) {
    ({ items: bars, more } = oneMore(store.bars(tf.label, { ...q, limit: q.limit + 1 }), q.limit));
  } else {
    // Rolled up from the finest stored timeframe that divides this one.
    const base = STORED.get(tf.unit === "minute" ? "1Min" : tf.unit === "hour" ? "1Hour" : "1Day")!;
    const source: BarSource = (from, to, sort, limit) => store.barRange(base.label, from, to, limit, sort);
    ({ bars, more } = rolledUpPage(source, tf, spec.timeZone, q, durationRank(tf) / durationRank(base)));
  }
  const last = bars[bars.length - 1];
  return { items: bars.map((b) => barToAlpaca(b, spec)), next: more && last ? [last.t, 0] : null };
}

/**
 * A page from rows read with one more than the page's limit: the extra row only says that
 * more follow, so a page that is exactly full at the end of the data has no token (no empty
 * page after it).
 */
function oneMore<T>(rows: T[], limit: number): { items: T[]; more: boolean } {
  return rows.length > limit ? { items: rows.slice(0, limit), more: true } : { items: rows, more: false };
}

export function tradesPage(store: MarketStore, spec: InstrumentSpec, q: HistoryQuery): HistoryPage<ReturnType<typeof tradeToAlpaca>> {
  const { items: trades, more } = oneMore(store.trades({ ...q, limit: q.limit + 1 }), q.limit);
  const last = trades[trades.length - 1];
  return { items: trades.map((t) => tradeToAlpaca(t, spec)), next: more && last ? [last.t, last.id] : null };
}

export function quotesPage(store: MarketStore, spec: InstrumentSpec, q: HistoryQuery): HistoryPage<ReturnType<typeof quoteToAlpaca>> {
  const { items: quotes, more } = oneMore(store.quotes({ ...q, limit: q.limit + 1 }), q.limit);
  const last = quotes[quotes.length - 1];
  return { items: quotes.map((x) => quoteToAlpaca(x, spec)), next: more && last ? [last.t, last.seq] : null };
}

/** The previous day's close: the close of the daily bar before the latest one. */
export function previousClose(store: MarketStore): number | null {
  const daily = store.latestBar("1Day");
  return (daily ? store.latestBar("1Day", daily.t - 1) : undefined)?.c ?? null;
}

export function snapshotOf(store: MarketStore, spec: InstrumentSpec, last: { lastTrade?: Trade; lastQuote?: Quote }) {
  const daily = store.latestBar("1Day");
  const prevDaily = daily ? store.latestBar("1Day", daily.t - 1) : undefined;
  const minute = store.latestBar("1Min");
  return {
    latestTrade: last.lastTrade ? tradeToAlpaca(last.lastTrade, spec) : null,
    latestQuote: last.lastQuote ? quoteToAlpaca(last.lastQuote, spec) : null,
    minuteBar: minute ? barToAlpaca(minute, spec) : null,
    dailyBar: daily ? barToAlpaca(daily, spec) : null,
    prevDailyBar: prevDaily ? barToAlpaca(prevDaily, spec) : null,
  };
}

export function orderbookOf(spec: InstrumentSpec, quote: Quote | undefined): AlpacaOrderbook | null {
  return quote ? orderbookToAlpaca(quote, spec) : null;
}

/**
 * Replaces stored bars of one timeframe over the imported range and rebuilds the coarser
 * stored timeframes over it from the finest data there is. Call inside a transaction.
 */
export function importBars(store: MarketStore, spec: InstrumentSpec, timeframe: string, bars: Bar[]): { imported: number; rebuilt: string[] } {
  const tf = STORED.get(timeframe);
  if (!tf) throw new RangeError(`history can be imported as ${[...STORED.keys()].join(", ")}`);
  if (bars.length === 0) return { imported: 0, rebuilt: [] };
  const first = bars[0]!.t;
  const last = bars[bars.length - 1]!.t;
  const coarser = STREAM_TIMEFRAMES.filter((c) => durationRank(c) > durationRank(tf));
  store.deleteBars(tf.label, first, last);
  for (const bar of bars) store.putBar(tf.label, bar);
  for (const c of coarser) {
    const from = bucketStart(first, c, spec.timeZone);
    const to = nextBucketStart(last, c, spec.timeZone) - 1;
    const rolled = rollupBars(store.barRange(tf.label, from, to, 10_000_000), c, spec.timeZone);
    store.deleteBars(c.label, from, to);
    for (const bar of rolled) store.putBar(c.label, bar);
  }
  return { imported: bars.length, rebuilt: coarser.map((c) => c.label) };
}
