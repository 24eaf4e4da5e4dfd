import type { SpanScopes, Spanned } from "../../platform/trace";
import type { VenueAnswer, VenueClient } from "../../shared/trading/ports";

/**
 * The VenueClient port over the symbol objects' RPC: one object per symbol, addressed by
 * name. A venue call's answer carries the symbol's span; it goes to the scope of the
 * account span that made the call (logged in the request's line), or is logged at once.
 */
export function symbolVenues(env: Env, spans: SpanScopes): VenueClient {
  const venue = (symbol: string) => env.MARKET.getByName(symbol);
  const adopt = (traceparent: string | null, { span, ...answer }: VenueAnswer & Spanned): VenueAnswer => {
    spans.add(traceparent, span);
    return answer;
  };
  return {
    submit: async (symbol, order, ackedSeq, traceparent = null, window = null) => adopt(traceparent, await venue(symbol).venueSubmit(order, ackedSeq, traceparent, window)),
    cancel: async (symbol, account, orderId, ackedSeq, traceparent = null, window = null) => adopt(traceparent, await venue(symbol).venueCancel(account, orderId, ackedSeq, traceparent, window)),
    marketPrice: (symbol, traceparent = null) => venue(symbol).marketPrice(traceparent),
  };
}
