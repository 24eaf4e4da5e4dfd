import { ApiError, unprocessable } from "../../shared/errors";
import { parseInstant } from "../../shared/instant";
import type { AssetInfo } from "../../shared/trading/asset";
import type { Outcome, Refusal, Rule } from "../../shared/trading/outcome";
import { assetInfo, findAsset } from "../../platform/assets";
import { log } from "../../platform/log";
import { tracedStub } from "../../platform/trace";

// The gateway's side of the account objects: one per user, addressed by the user id from
// the credential (never from the URL), and their outcomes turned into the error envelope.

export const accountOf = (env: Env, userId: string) => env.ACCOUNT.getByName(userId);

/**
 * The user's object for calls whose methods take no traceparent (activities, limits, a
 * changed identity, a notification): each call logs a client-side span of `traceparent`,
 * through `logger` (the caller's service).
 */
export const tracedAccountOf = (env: Env, userId: string, traceparent: string | null, logger = log) => tracedStub(accountOf(env, userId), logger, "call.account", traceparent, { account: userId });

/** The instrument an order names, from the asset registry (cached per isolate; with `ctx`, refreshed behind the answer). */
export async function tradableAsset(env: Env, symbol: string, ctx?: { waitUntil(work: Promise<unknown>): void }): Promise<AssetInfo> {
  const row = await findAsset(env, symbol.trim(), ctx && ((work) => ctx.waitUntil(work)));
  if (!row) throw unprocessable(`Invalid symbol: asset ${symbol} is not found`, [{ path: "symbol", message: "unknown symbol" }]);
  return assetInfo(row);
}

/** The HTTP status of each rule an account can refuse with: the one place rules meet HTTP. */
const STATUS: Record<Rule, 403 | 404 | 409 | 422 | 429> = {
  invalid_order: 422,
  not_found: 404,
  not_open: 422,
  unchanged: 422,
  client_order_id: 422,
  replace_pending: 409,
  cancel_pending: 409,
  watchlist: 422,
  configuration: 422,
  // Alpaca answers a shortfall with 403 "insufficient balance", which ccxt maps to InsufficientFunds.
  buying_power: 403,
  position: 403,
  daily_loss: 403,
  price_band: 422,
  max_order_qty: 422,
  max_order_notional: 422,
  max_position: 422,
  order_rate: 429,
  tradable: 422,
  session: 422,
  no_price: 422,
  stale_quote: 422,
  trading_blocked: 403,
  reset_limit: 422,
};

// Rules the gateway names in the envelope: the field-level and request-level problems
// (invalid_order, not_found, ...) read fine without one.
const NAMED = new Set<Rule>(["buying_power", "position", "daily_loss", "price_band", "max_order_qty", "max_order_notional", "max_position", "order_rate", "tradable", "session", "no_price", "stale_quote", "trading_blocked", "watchlist", "configuration"]);

export const statusOf = (refusal: Refusal) => STATUS[refusal.rule];

export function refusalError(refusal: Refusal): ApiError {
  const { rule, message, details } = refusal;
  const status = STATUS[rule];
  const headers: Record<string, string> = status === 429 ? { "Retry-After": "60" } : {};
  // A risk rule names itself in every detail, so clients can tell the checks apart.
  const named = NAMED.has(rule) ? (details.length > 0 ? details : [{ path: "", message }]).map((d) => ({ ...d, rule })) : details;
  return new ApiError(status, message, named, 10000, headers);
}

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw refusalError(outcome.refusal);
}

/** RFC-3339 with an offset, a date, epoch milliseconds (some clients send `after` as ms) or epoch seconds (ten digits). */
/**
 * `after` and `until` of a list, each as instantParam reads it, refused when they leave no
 * time between them (found in QA: answered an empty list, where the calendar and the
 * portfolio history refuse bounds the wrong way round).
 */
export function timeRange(after: string | undefined, until: string | undefined): { after: number | null; until: number | null } {
  const range = { after: instantParam("after", after), until: instantParam("until", until) };
  if (range.after !== null && range.until !== null && range.after >= range.until)
    throw unprocessable("after must be before until", [{ path: "after", message: "not before until" }]);
  return range;
}

export function instantParam(name: string, value: string | undefined): number | null {
  if (value === undefined || value === "") return null;
  // Ten digits are epoch seconds (as the portfolio history's timestamps are): as milliseconds they would all be in 1970's first months.
  const ms = /^\d{10}$/.test(value) ? Number(value) * 1000 : /^\d{11,16}$/.test(value) ? Number(value) : parseInstant(value);
  if (ms === undefined) throw unprocessable(`Invalid format for parameter ${name}: ${JSON.stringify(value)} is not an RFC-3339 time with an offset, a date that exists, epoch milliseconds or epoch seconds (ten digits)`, [{ path: name, message: "not a time" }]);
  return ms;
}
