import type { FeedEvent } from "../market/feed";
import { lotsToDecimal, ticksToNumber, type InstrumentSpec } from "../market/instrument";
import { parseMoney, formatMoney } from "../trading/money";
import type { StrategyBar, StrategyQuote, StrategyTrade } from "./runtime";

// What the API and the app know of a live strategy: its run's configuration (set by the
// gateway from the owner's saved strategy), its status and its statistics since it started.

/** A strategy stops as errored after this many failed callbacks in a row (documented in docs/strategies.md). */
export const MAX_CONSECUTIVE_FAILURES = 3;

export interface LiveStrategyConfig {
  id: string;
  /** The user whose account the strategy trades (its orders' owner; never from the strategy). */
  owner: string;
  /** Each start is a new run: order ids carry it, so they never repeat across runs. */
  run: number;
  version: number;
  kind: "template" | "code";
  template: string | null;
  /** Compiled JavaScript, for kind "code". */
  code: string | null;
  params: Record<string, unknown>;
  timeframe: string;
}

export interface LiveCounters {
  callbacks: number;
  failures: number;
  consecutiveFailures: number;
  orders: number;
  fills: number;
  /** Account equity (decimal) when the strategy first looked, and at its last event. */
  startEquity: string | null;
  equity: string | null;
  startedAt: number;
}

export interface LiveStats {
  callbacks: number;
  failures: number;
  /** Share of callbacks that returned without throwing (null before the first). */
  success_rate: number | null;
  orders: number;
  fills: number;
  /** Change in the account's equity since the strategy started (decimal USD). */
  pnl: string | null;
  started_at: string;
}

export type LiveStatusName = "running" | "stopped" | "errored";

export interface LiveStrategyStatus {
  id: string;
  run: number;
  version: number;
  symbol: string;
  status: LiveStatusName;
  message: string | null;
  stats: LiveStats;
}

export function newCounters(startedAt: number): LiveCounters {
  return { callbacks: 0, failures: 0, consecutiveFailures: 0, orders: 0, fills: 0, startEquity: null, equity: null, startedAt };
}

export function liveStats(c: LiveCounters): LiveStats {
  const start = c.startEquity === null ? undefined : parseMoney(c.startEquity);
  const now = c.equity === null ? undefined : parseMoney(c.equity);
  return {
    callbacks: c.callbacks,
    failures: c.failures,
    success_rate: c.callbacks === 0 ? null : (c.callbacks - c.failures) / c.callbacks,
    orders: c.orders,
    fills: c.fills,
    pnl: start === undefined || now === undefined ? null : formatMoney(now - start),
    started_at: new Date(c.startedAt).toISOString(),
  };
}

/** What a live strategy does with one of its symbol's feed events. */
export type LiveStep =
  /** Nothing can change for it: only its cursor moves (no call to the account). */
  | { kind: "skip" }
  | { kind: "quote"; quote: StrategyQuote }
  | { kind: "trade"; trade: StrategyTrade }
  /** A completed bar: onBar runs, and its orders wait for the next print's quote (as in a backtest). */
  | { kind: "bar"; bar: StrategyBar };

export interface LiveStrategyShape {
  timeframe: string;
  wantsQuotes: boolean;
  wantsTrades: boolean;
  /** Commands held for the next print, or orders of its own not yet final. */
  busy: boolean;
}

/**
 * The rule for what a live strategy hears. Its bars are the completed bars of its timeframe
 * — on a replay feed the replayed bars themselves (in history time), elsewhere the bars
 * the feed closes. A quote or trade matters when it listens to them, or when it has
 * something to send or an order to hear about; otherwise the print is skipped.
 */
export function liveStep(event: FeedEvent, strategy: LiveStrategyShape, feedKind: string, spec: InstrumentSpec): LiveStep {
  switch (event.kind) {
    case "quote":
      if (!strategy.wantsQuotes && !strategy.busy) return { kind: "skip" };
      return { kind: "quote", quote: { t: event.quote.t, bid: ticksToNumber(event.quote.bidTicks, spec), ask: ticksToNumber(event.quote.askTicks, spec) } };
    case "trade":
      if (!strategy.wantsTrades && !strategy.busy) return { kind: "skip" };
      return { kind: "trade", trade: { t: event.trade.t, price: ticksToNumber(event.trade.priceTicks, spec) } };
    case "bar": {
      if (event.timeframe !== strategy.timeframe) return { kind: "skip" };
      if (event.replayed !== (feedKind === "replay")) return { kind: "skip" };
      const b = event.bar;
      return { kind: "bar", bar: { t: b.t, open: ticksToNumber(b.o, spec), high: ticksToNumber(b.h, spec), low: ticksToNumber(b.l, spec), close: ticksToNumber(b.c, spec), volume: Number(lotsToDecimal(b.v, spec)) } };
    }
    default: {
      const never: never = event;
      throw new Error(`unknown feed event ${JSON.stringify(never)}`);
    }
  }
}

/** The time of a feed event (ctx.now while a strategy handles it). */
export function eventTime(event: FeedEvent): number {
  return event.kind === "quote" ? event.quote.t : event.kind === "trade" ? event.trade.t : event.bar.t;
}

/** Counts an event's callbacks that returned; any callback run ends a failure streak. */
export function recordSuccess(c: LiveCounters, callbacksRun: number): void {
  c.callbacks += callbacksRun;
  if (callbacksRun > 0) c.consecutiveFailures = 0;
}

/** Counts a failed callback; answers whether the strategy must now stop as errored. */
export function recordFailure(c: LiveCounters, callbacksRun: number): boolean {
  c.callbacks += Math.max(1, callbacksRun);
  c.failures += 1;
  c.consecutiveFailures += 1;
  return c.consecutiveFailures >= MAX_CONSECUTIVE_FAILURES;
}
