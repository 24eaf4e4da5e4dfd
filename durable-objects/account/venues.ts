import type { VenueClient } from "../../shared/trading/ports";

/** The VenueClient port over the symbol objects' RPC: one object per symbol, addressed by name. */
export function symbolVenues(env: Env): VenueClient {
  const venue = (symbol: string) => env.MARKET.getByName(symbol);
  return {
    submit: (symbol, order, ackedSeq, traceparent = null, window = null) => venue(symbol).venueSubmit(order, ackedSeq, traceparent, window),
    cancel: (symbol, account, orderId, ackedSeq, traceparent = null, window = null) => venue(symbol).venueCancel(account, orderId, ackedSeq, traceparent, window),
    marketPrice: (symbol, traceparent = null) => venue(symbol).marketPrice(traceparent),
  };
}
