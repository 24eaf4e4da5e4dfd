import { type InstrumentSpec, averageTicksToNumber, lotsToNumber, ticksToNumber } from "./instrument";
import type { Bar, Quote, TakerSide, Trade } from "./types";

// The edge where ticks and lots become Alpaca's market-data JSON (docs/alpaca-compat.md §5):
// numbers, not strings, each the double nearest an exact decimal.

// A VWAP is not on the tick grid; Alpaca prints it with a few more decimals than prices.
const VWAP_EXTRA_DIGITS = 4;

/** RFC 3339 UTC with exactly three fraction digits, e.g. 2024-01-02T15:04:05.123Z. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString();

/** Exchange and tape codes on stock records; our simulated venue is "V" on tape "C". */
export interface Venue {
  exchange: string;
  tape: string;
}

export const SIMULATED_VENUE: Venue = { exchange: "V", tape: "C" };

export interface AlpacaBar {
  t: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
  vw: number;
}

export interface AlpacaStockTrade {
  t: string;
  x: string;
  p: number;
  s: number;
  c: string[];
  i: number;
  z: string;
}

export interface AlpacaCryptoTrade {
  t: string;
  p: number;
  s: number;
  i: number;
  tks: TakerSide;
}

export interface AlpacaStockQuote {
  t: string;
  bx: string;
  bp: number;
  bs: number;
  ax: string;
  ap: number;
  as: number;
  c: string[];
  z: string;
}

export interface AlpacaCryptoQuote {
  t: string;
  bp: number;
  bs: number;
  ap: number;
  as: number;
}

function assertNever(value: never): never {
  throw new Error(`unexpected asset class ${String(value)}`);
}

export function barToAlpaca(bar: Bar, spec: InstrumentSpec): AlpacaBar {
  const price = (ticks: number) => ticksToNumber(ticks, spec);
  // With no volume (imported history can say 0) there is nothing to weight: report the close.
  const vw = bar.v <= 0 ? price(bar.c) : averageTicksToNumber(BigInt(bar.pv), bar.v, spec, VWAP_EXTRA_DIGITS);
  return { t: rfc3339(bar.t), o: price(bar.o), h: price(bar.h), l: price(bar.l), c: price(bar.c), v: lotsToNumber(bar.v, spec), n: bar.n, vw };
}

export function tradeToAlpaca(trade: Trade, spec: InstrumentSpec, venue: Venue = SIMULATED_VENUE): AlpacaStockTrade | AlpacaCryptoTrade {
  const t = rfc3339(trade.t);
  const p = ticksToNumber(trade.priceTicks, spec);
  const s = lotsToNumber(trade.sizeLots, spec);
  switch (spec.assetClass) {
    case "us_equity":
      return { t, x: venue.exchange, p, s, c: [], i: trade.id, z: venue.tape } satisfies AlpacaStockTrade;
    case "crypto":
      return { t, p, s, i: trade.id, tks: trade.takerSide } satisfies AlpacaCryptoTrade;
    default:
      return assertNever(spec.assetClass);
  }
}

export function quoteToAlpaca(quote: Quote, spec: InstrumentSpec, venue: Venue = SIMULATED_VENUE): AlpacaStockQuote | AlpacaCryptoQuote {
  const t = rfc3339(quote.t);
  const bp = ticksToNumber(quote.bidTicks, spec);
  const ap = ticksToNumber(quote.askTicks, spec);
  const bs = lotsToNumber(quote.bidLots, spec);
  const as = lotsToNumber(quote.askLots, spec);
  switch (spec.assetClass) {
    case "us_equity":
      return { t, bx: venue.exchange, bp, bs, ax: venue.exchange, ap, as, c: [], z: venue.tape } satisfies AlpacaStockQuote;
    case "crypto":
      return { t, bp, bs, ap, as } satisfies AlpacaCryptoQuote;
    default:
      return assertNever(spec.assetClass);
  }
}

// Types, not interfaces: a stream message must fit MarketEvent's Record<string, unknown>.
export type AlpacaBookLevel = { p: number; s: number };

export type AlpacaOrderbook = { t: string; b: AlpacaBookLevel[]; a: AlpacaBookLevel[] };

/** A quote as a one-level crypto order book (Alpaca's "o" message and latest order book). */
export function orderbookToAlpaca(quote: Quote, spec: InstrumentSpec): AlpacaOrderbook {
  return {
    t: rfc3339(quote.t),
    b: [{ p: ticksToNumber(quote.bidTicks, spec), s: lotsToNumber(quote.bidLots, spec) }],
    a: [{ p: ticksToNumber(quote.askTicks, spec), s: lotsToNumber(quote.askLots, spec) }],
  };
}

/**
 * Alpaca's stream message for an order book, always a whole book marked `r: true` (a
 * reset: clients such as ccxt pro replace their book with it; `r: false` would make them
 * merge it level by level). Our book is the current quote, one level a side, so a whole
 * book costs no more than a delta (which would carry the new level and the old one at
 * size 0), and it needs no per-subscriber state: a subscriber's first book, a frame
 * published while its snapshot was being read, or a frame it missed can never leave it
 * with stale levels, and so never with a crossed book.
 */
export const orderbookMessage = (book: AlpacaOrderbook): AlpacaOrderbookMessage => ({ T: "o", ...book, r: true });

export type AlpacaOrderbookMessage = AlpacaOrderbook & { T: "o"; r: true };
