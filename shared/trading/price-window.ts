import type { VenueOrderRequest } from "../venue/venue";
import { priceBand, protectionPrice, stopAnchor } from "./risk";
import { trailingStop } from "../venue/trailing";
import type { MarketPrice } from "./views";

// An order the account checked against a price it already held (from its venue's last
// answer) travels with the window of reference prices over which the account's checks give
// the same answer: the venue takes it if its own price is inside, and declines it
// otherwise (docs/order-path.md, "Calls"). Inside the window the order is what asking for
// the price first would have placed: the checks accept at every price in it, the venue
// sets a market order's protection price from its own reference as the account would
// have, and the account's reservation is made at the window's worst edge, so it covers any
// fill the venue can make.

/** Reference prices in ticks, both ends inclusive, and the price band the protection price is set with. */
export interface PriceWindow {
  low: number;
  high: number;
  bandPct: number;
}

/**
 * The widest window around `reference`, inside its price band, over which `accepts` holds,
 * given that it holds at `reference` and at every price between it and any price where it
 * holds (true of the account's checks: each refuses only above or only below a bound).
 * Two calls when the whole band accepts; a binary search toward each edge that does not.
 */
export function priceWindow(reference: number, bandPct: number, accepts: (reference: number) => boolean): PriceWindow {
  const [low, high] = priceBand(reference, bandPct);
  return { low: edge(reference, low, accepts), high: edge(reference, high, accepts), bandPct };
}

/**
 * The window of a stop not yet through at `reference`: up to the stop, every reference
 * anchors the order's protection price at the stop, so the window ends there and the order
 * holds the stop's reservation rather than one a band above a price past it (a buy stop
 * held about 21 % over the market instead of 10 %). A price past the stop is declined and
 * the order checked again against it. A stop already through keeps its window.
 */
export function untriggeredStopWindow(window: PriceWindow, side: "buy" | "sell", stop: number, reference: number): PriceWindow {
  if (side === "buy" && reference <= stop && window.high > stop) return { ...window, high: stop };
  if (side === "sell" && reference >= stop && window.low < stop) return { ...window, low: stop };
  return window;
}

/**
 * The window of a trailing stop: its stop moves with the price it is placed at, so the
 * window ends at `reference` on its worse side (above, for a buy) and the order is placed,
 * and holds its reservation, where it was checked. At the band's far edge its stop, and the
 * protection price around it, sat a band further out: a trailing buy held about 21 % over
 * the market, and its new order showed that stop (found in QA). A price past the reference
 * is declined and the order checked again against it.
 */
export function trailingWindow(window: PriceWindow, side: "buy" | "sell", reference: number): PriceWindow {
  return side === "buy" ? { ...window, high: reference } : { ...window, low: reference };
}

/** The price nearest `far` from `near` (which accepts) up to which every price accepts. */
function edge(near: number, far: number, accepts: (reference: number) => boolean): number {
  if (near === far || accepts(far)) return far;
  let good = near;
  let bad = far;
  while (Math.abs(bad - good) > 1) {
    const mid = Math.floor((good + bad) / 2);
    if (accepts(mid)) good = mid;
    else bad = mid;
  }
  return good;
}

/**
 * What the venue takes for an order sent with `window`, at its own `price`: null (decline)
 * when it has no price, its price is stale, or the reference is outside the window;
 * otherwise the order, a market order's protection price (and a stop's already through
 * it) set from the venue's reference (never beyond the account's, which is set at the
 * window's worst edge).
 */
export function admit(order: VenueOrderRequest, window: PriceWindow, price: MarketPrice | null): VenueOrderRequest | null {
  if (!inWindow(window, price)) return null;
  if (order.cap === null) return order;
  const reference = price!.reference;
  if (order.type === "market") return { ...order, cap: protectionPrice(order.side, reference, window.bandPct) };
  // A trailing stop's stop starts from the venue's price: its protection price is set around that stop.
  if (order.type === "trailing_stop" && order.trail) {
    const cap = protectionPrice(order.side, stopAnchor(order.side, trailingStop(order.side, reference, order.trail), reference), window.bandPct);
    return cap === order.cap ? order : { ...order, cap };
  }
  // A stop already through the venue's price trades near it, as the account would have capped it.
  if (order.type !== "stop") return order;
  const cap = protectionPrice(order.side, stopAnchor(order.side, order.stop!, reference), window.bandPct);
  return cap === order.cap ? order : { ...order, cap };
}

/** Whether a cancel sent with `window` is taken at `price` (the same test as an order's). */
export function inWindow(window: PriceWindow, price: MarketPrice | null): boolean {
  return price !== null && !price.stale && price.reference >= window.low && price.reference <= window.high;
}
