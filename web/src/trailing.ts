import type { OrderView } from "../../shared/trading/orders";
import { dec, type Money } from "./format";

/**
 * Whether a trade at `price` moves an open trailing stop's mark: the venue then moves its
 * stop, and (as Alpaca) sends no trade update for that, so the terminal asks for its open
 * orders again to show where the stop now stands. A sell's mark is its highest trade, a
 * buy's its lowest.
 */
export function movesATrail(open: readonly Pick<OrderView, "symbol" | "type" | "side" | "hwm">[], symbol: string, price: Money): boolean {
  return open.some((o) => {
    if (o.symbol !== symbol || o.type !== "trailing_stop") return false;
    const mark = dec(o.hwm);
    return mark !== undefined && (o.side === "sell" ? price > mark : price < mark);
  });
}
