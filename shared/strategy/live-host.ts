import type { FeedEvent } from "../market/feed";
import { lotsToDecimal, ticksToNumber, type InstrumentSpec } from "../market/instrument";
import { MONEY_ONE, parseMoney, formatMoney } from "../trading/money";
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
  /** Orders the account took. */
  orders: number;
  /** Orders refused, by the runtime's checks or the account's (absent on a run stored before they were counted). */
  refused?: number;
  fills: number;
  /**
   * What the strategy's own fills since it started moved (money units as integer text, so
   * the stored row stays JSON): cash (sells less buys less fees) and the net quantity left;
   * and each open order's commission so far, so a fill's fee is the order's increase. Absent
   * on a run stored before these were counted: its P&L counts from the first fill seen.
   */
  flow?: { cash: string; qty: string; commissions: Record<string, string> };
  /** The symbol's last price (decimal) when the strategy last looked: what its net quantity is worth. */
  mark?: string | null;
  startedAt: number;
}

/** A fill of one of the strategy's orders, from its trade update. */
export interface StrategyFill {
  orderId: string;
  side: "buy" | "sell";
  /** Decimal strings, as the update carries them; `commission` is the order's total so far. */
  price: string;
  qty: string;
  commission: string;
  /** The order's last fill (it is filled, or ended after it). */
  final: boolean;
}

export interface LiveStats {
  callbacks: number;
  failures: number;
  /** Share of callbacks that returned without throwing (null before the first). */
  success_rate: number | null;
  /** Orders the account took. */
  orders: number;
  /** Orders refused (each also a line of the log): by the runtime's checks or the account's. */
  refused: number;
  fills: number;
  /**
   * The strategy's own P&L since it started (decimal USD): what its fills moved in cash,
   * fees included, plus what the quantity they left is worth at the last price. Null while
   * it holds a quantity and no price has been seen.
   */
  pnl: string | null;
  started_at: string;
}

export type LiveStatusName = "running" | "stopped" | "errored";

/**
 * One of a user's strategies runs at a time on a symbol. A strategy trades its owner's
 * account, and ctx.position is the account's position in the symbol: two strategies on one
 * symbol each saw the other's holdings as their own, and one's exit sold what the other had
 * bought (found in QA), so neither traded as its backtest does. (It used to be five, the
 * security review's bound on what one user runs beside a symbol's venue; one bounds that too.)
 */
export const MAX_LIVE_PER_OWNER_PER_SYMBOL = 1;

/** Why a start is refused, given how many of the owner's other strategies run on the symbol; null when it may start. */
export function liveStartRefusal(othersRunning: number, symbol: string): string | null {
  return othersRunning >= MAX_LIVE_PER_OWNER_PER_SYMBOL
    ? `another of your strategies is running on ${symbol}: one runs at a time on a symbol, since a strategy trades the account's position in it (a second would sell the first's holdings); stop it first`
    : null;
}

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
  return { callbacks: 0, failures: 0, consecutiveFailures: 0, orders: 0, refused: 0, fills: 0, flow: { cash: "0", qty: "0", commissions: {} }, mark: null, startedAt };
}

/** Counts one of the strategy's fills into its P&L. */
export function recordFill(c: LiveCounters, fill: StrategyFill): void {
  const flow = (c.flow ??= { cash: "0", qty: "0", commissions: {} });
  const price = parseMoney(fill.price);
  const qty = parseMoney(fill.qty);
  const commission = parseMoney(fill.commission) ?? 0n;
  if (price === undefined || qty === undefined) return;
  const fee = commission - (parseMoney(flow.commissions[fill.orderId] ?? "0") ?? 0n);
  const value = (price * qty) / MONEY_ONE;
  flow.cash = (BigInt(flow.cash) + (fill.side === "sell" ? value : -value) - fee).toString();
  flow.qty = (BigInt(flow.qty) + (fill.side === "buy" ? qty : -qty)).toString();
  if (fill.final) delete flow.commissions[fill.orderId];
  else flow.commissions[fill.orderId] = fill.commission;
}

/** An order of the strategy ended without a last fill (canceled, expired, rejected, replaced): its commission is no longer followed. */
export function orderEnded(c: LiveCounters, orderId: string): void {
  if (c.flow) delete c.flow.commissions[orderId];
}

/** The strategy's P&L: its fills' cash plus their net quantity at `mark`; null without a price for a quantity held. */
function strategyPnl(c: LiveCounters): string | null {
  const flow = c.flow;
  if (!flow) return null;
  const qty = BigInt(flow.qty);
  const mark = c.mark == null ? undefined : parseMoney(c.mark);
  if (qty !== 0n && mark === undefined) return null;
  return formatMoney(BigInt(flow.cash) + (qty === 0n ? 0n : (qty * mark!) / MONEY_ONE));
}

export function liveStats(c: LiveCounters): LiveStats {
  return {
    callbacks: c.callbacks,
    failures: c.failures,
    success_rate: c.callbacks === 0 ? null : (c.callbacks - c.failures) / c.callbacks,
    orders: c.orders,
    refused: c.refused ?? 0,
    fills: c.fills,
    pnl: strategyPnl(c),
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
