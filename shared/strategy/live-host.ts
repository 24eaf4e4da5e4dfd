import { parseMoney, formatMoney } from "../trading/money";

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
