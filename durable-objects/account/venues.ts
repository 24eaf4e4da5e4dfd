import type { VenueClient } from "../../shared/trading/ports";

/** The VenueClient port over the symbol objects' RPC: one object per symbol, addressed by name. */
export function symbolVenues(env: Env): VenueClient {
  const venue = (symbol: string) => env.MARKET.getByName(symbol);
  return {
    submit: (symbol, order, ackedSeq) => venue(symbol).venueSubmit(order, ackedSeq),
    cancel: (symbol, account, orderId, ackedSeq) => venue(symbol).venueCancel(account, orderId, ackedSeq),
    marketPrice: (symbol) => venue(symbol).marketPrice(),
  };
}
