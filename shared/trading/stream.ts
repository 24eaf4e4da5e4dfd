import { isoTime, type OrderView } from "./orders";

// Alpaca's trading stream (docs/alpaca-compat.md §6): trade_updates frames, with price, qty and
// position_qty as strings on fills only.

/**
 * The streams a user's trading socket can `listen` to: Alpaca's trade_updates, and the
 * platform's own updates (backtest progress, live strategies, the user's notifications) in
 * the same frame shape `{stream, data}`.
 */
export const USER_STREAMS = ["trade_updates", "backtest_updates", "strategy_updates", "notifications"] as const;
export type UserStream = (typeof USER_STREAMS)[number];
export const isUserStream = (name: unknown): name is UserStream => typeof name === "string" && (USER_STREAMS as readonly string[]).includes(name);

export type TradeEvent = "new" | "fill" | "partial_fill" | "canceled" | "expired" | "replaced" | "rejected";

export interface TradeUpdate {
  stream: "trade_updates";
  data: {
    event: TradeEvent;
    timestamp: string;
    order: OrderView;
    execution_id?: string;
    price?: string;
    qty?: string;
    position_qty?: string;
  };
}

export function tradeUpdate(event: TradeEvent, order: OrderView, fill?: { executionId: string; t: number; price: string; qty: string; positionQty: string }): TradeUpdate {
  // Two literals rather than a conditional spread, which V8 copies slowly (one per order).
  if (!fill) return { stream: "trade_updates", data: { event, timestamp: order.updated_at, order } };
  return {
    stream: "trade_updates",
    data: { event, timestamp: isoTime(fill.t), order, execution_id: fill.executionId, price: fill.price, qty: fill.qty, position_qty: fill.positionQty },
  };
}
