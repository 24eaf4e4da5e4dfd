import { log } from "../../platform/log";
import { tracedStub } from "../../platform/trace";

// The gateway's stubs of the objects whose methods take no traceparent: every call through
// one logs a client-side span, a child of the request's (docs/tracing.md). The order path
// does not use these: its calls carry the traceparent and the objects log their own spans.

/** A symbol's object, for market data, strategies and the venue's admin views. */
export const marketOf = (env: Env, symbol: string, traceparent: string | null) => tracedStub(env.MARKET.getByName(symbol), log, "call.symbol", traceparent, { symbol });

/** A backtest's object. */
export const jobOf = (env: Env, id: string, traceparent: string | null) => tracedStub(env.BACKTEST.getByName(id), log, "call.backtest", traceparent, { backtest: id });
