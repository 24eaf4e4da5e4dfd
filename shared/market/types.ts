import type { Channel } from "../stream/protocol";

// Market-data records as the core stores them: prices in integer ticks, sizes in integer
// lots of the instrument (see instrument.ts), times in epoch milliseconds. Conversion to
// Alpaca's JSON shapes happens only in format.ts.

/** Top of book. Invariants: 1 <= bidTicks < askTicks; bidLots, askLots >= 1. */
export interface Quote {
  t: number;
  bidTicks: number;
  askTicks: number;
  bidLots: number;
  askLots: number;
}

export type TakerSide = "B" | "S";

export interface Trade {
  t: number;
  /** Per-symbol sequence, starting at 1. */
  id: number;
  priceTicks: number;
  sizeLots: number;
  /** "B": a buyer lifted the ask; "S": a seller hit the bid. */
  takerSide: TakerSide;
}

/**
 * OHLCV over one timeframe bucket. `firstT`/`lastT` are the times of the trades that set
 * the open and the close, so a late trade (earlier than the close but arriving after it)
 * amends high, low and volume without becoming the close.
 */
export interface Bar {
  /** Bucket start, epoch ms. */
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  /** Volume in lots. */
  v: number;
  /** Trade count (0 when imported history did not say). */
  n: number;
  /**
   * Σ priceTicks·sizeLots as a decimal integer string, so the VWAP is pv / v. Exact: at
   * fine lot sizes (1e-9 of a coin) the sum passes 2^53 within a few trades.
   */
  pv: string;
  firstT: number;
  lastT: number;
}

/** One market-data message bound for the stream subscribers of (channel, symbol). */
export interface MarketEvent {
  channel: Channel;
  msg: Record<string, unknown>;
}
