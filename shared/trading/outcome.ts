import type { FieldProblem } from "./orders";

// What an account command answers: a value, or a refusal naming the rule that refused it.
// Engines speak in rules; the gateway alone maps a rule to an HTTP status
// (workers/lib/accounts.ts), so the same refusal reads the same in a backtest.

export const RULES = [
  // the request itself
  "invalid_order",
  "not_found",
  "not_open",
  "unchanged",
  "client_order_id",
  "replace_pending",
  "cancel_pending",
  // a watchlist change the account's watchlists do not allow (a name taken, an asset twice, too many)
  "watchlist",
  // an account configuration field that cannot change
  "configuration",
  // pre-trade risk
  "buying_power",
  "position",
  "price_band",
  "max_order_qty",
  "max_order_notional",
  "max_position",
  "daily_loss",
  "order_rate",
  "tradable",
  "session",
  "no_price",
  "stale_quote",
  "trading_blocked",
  "reset_limit",
] as const;
export type Rule = (typeof RULES)[number];

export interface Refusal {
  rule: Rule;
  message: string;
  /** The request fields the rule judged. */
  details: FieldProblem[];
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

export const accepted = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const refused = (rule: Rule, message: string, details: FieldProblem[] = []): { ok: false; refusal: Refusal } => ({ ok: false, refusal: { rule, message, details } });
