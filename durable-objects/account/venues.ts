import type { VenueClient } from "../../shared/trading/ports";

/** The VenueClient port over the symbol objects' RPC: one object per symbol, addressed by name. */
export function symbolVenues(env: Env): VenueClient {
  const venue = (symbol: string) => env.MARKET.getByName(symbol);
  return {
    submit: (symbol, order, ackedSeq, traceparent = null, expected = null) => venue(symbol).venueSubmit(order, ackedSeq, traceparent, expected),
    cancel: (symbol, account, orderId, ackedSeq, traceparent = null, expected = null) => venue(symbol).venueCancel(account, orderId, ackedSeq, traceparent, expected),
    marketPrice: (symbol, traceparent = null) => venue(symbol).marketPrice(traceparent),
  };
}
