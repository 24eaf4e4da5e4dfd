import type { InstrumentSpec } from "../market/instrument";
import type { Rule } from "../trading/outcome";
import type { TradeUpdate } from "../trading/stream";
import type { StrategyCommand, StrategyView } from "./invoke";

// The protocol between a live strategy (in its symbol's object) and its owner's account
// object: the strategy's orders carry client order ids `sx-<strategy>-<run>-<n>`, which is
// how the account knows them, and their trade updates are kept for the strategy to collect
// in sequence. Plain JSON both ways (Durable Object RPC).

/** Every order id a strategy's runs make starts with this. */
export const strategyOrderPrefix = (strategyId: string): string => `sx-${strategyId}-`;

/** The order ids of one run (a restart keeps its run; a new start makes a new one, so ids never repeat). */
export const strategyRunPrefix = (strategyId: string, run: number): string => `${strategyOrderPrefix(strategyId)}${run}-`;

/** The strategy an order id belongs to (its prefix), or null for an order a strategy did not make. */
export function strategyPrefixOf(clientOrderId: string): string | null {
  const match = /^(sx-.+-)\d+-\d+$/.exec(clientOrderId);
  return match ? match[1]! : null;
}

export interface StrategyViewRequest {
  spec: InstrumentSpec;
  /** The symbol's last trade in ticks, or null before it has traded. */
  lastTicks: number | null;
  prefix: string;
  /** The last update the strategy has collected (0 for none). */
  afterSeq: number;
}

export interface StrategyViewReply {
  view: StrategyView;
  updates: TradeUpdate[];
  /** The sequence of the last update in `updates` (afterSeq when there are none). */
  seq: number;
}

export interface StrategySendReply {
  refusal: { rule: Rule; message: string } | null;
}

export type { StrategyCommand };
