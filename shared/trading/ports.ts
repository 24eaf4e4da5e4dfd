import type { DomainEvent } from "../events";
import type { Report, VenueOrderRequest } from "../venue/venue";
import type { AssetInfo } from "./asset";
import type { Ledger } from "./ledger";
import type { AccountOrder, OrderRequestFields } from "./orders";
import type { PriceWindow } from "./price-window";
import type { RiskLimits } from "./risk";
import type { TradeUpdate } from "./stream";
import type { MarketPrice } from "./views";

// The account engine's ports. The engine reads its orders through an AccountBook and hands
// every change back in one AccountChanges, which the book commits atomically; it reaches
// venues only through the commands it emits, which a runner sends through a VenueClient.
// The Durable Object implements both over SQLite and RPC stubs; MemoryBook and
// InProcessVenues (memory.ts) implement them for tests, backtests and Node scripts.

/** A fill or cash movement in the account's history (Alpaca's activities). */
export interface ActivityRow {
  id: string;
  type: string;
  t: number;
  data: Record<string, unknown>;
}

/** The fill activity's data, as stored and as Alpaca's FILL activity shows it (a type, so it is an activity's data as it is). */
export type FillActivity = {
  transaction_time: string;
  type: "fill" | "partial_fill";
  price: string;
  qty: string;
  side: "buy" | "sell";
  symbol: string;
  leaves_qty: string;
  order_id: string;
  cum_qty: string;
  order_status: string;
  execution_id: string;
  fee: string;
  realized_pl: string;
  liquidity: "maker" | "taker";
};

/** A replace waiting for its venue to confirm the old order's cancel (the first of its two steps). */
export interface PendingReplacement {
  /** The id the new order will have. */
  id: string;
  clientOrderId: string;
  fields: OrderRequestFields;
  /** Whether the client gave qty; if not, the new order takes what is left unfilled when the cancel lands. */
  qtyGiven: boolean;
  /**
   * The order's total the client gave, in lots (filled part included): the new order is for
   * what it leaves once the cancel lands. Absent in replaces stored before it was kept, whose
   * given qty was the new order's own.
   */
  totalLots?: number;
  asset: AssetInfo;
  /** The reference price the replace was checked against. */
  reference: number;
  traceparent: string | null;
}

/** Balances at the close of the previous trading day, for last_equity. */
export interface ClosingBalance {
  cash: string;
  lots: Record<string, number>;
}

/** Everything about an account that is not an order or an activity. */
export interface AccountState {
  accountId: string;
  owner: string;
  createdAt: number;
  ledger: Ledger;
  /** Per-account overrides of the global limits. */
  limits: Partial<RiskLimits>;
  /** The trading day (a New York date), what was lost on it (realized losses + fees), and the previous close. */
  day: { date: string; loss: string; close: ClosingBalance };
  /** Per symbol: the last venue report applied. Reports at or below it are duplicates. */
  cursors: Record<string, number>;
  /** Per symbol: a report the account could not apply; the cursor waits below it. */
  held: Record<string, { seq: number; message: string }>;
  /** Replaces in flight, by the id of the order being replaced. */
  replacements: Record<string, PendingReplacement>;
  /** Numbers the account's events, so projections keep only the latest state of an order. */
  eventSeq: number;
  /**
   * Numbers the account's activities, so two of the same millisecond (a sweep's fills) list
   * in the order they happened. Absent in accounts stored before it was kept: from 0.
   */
  activitySeq?: number;
  anomalies: number;
  /** Why the account may not trade (its user is disabled), or null. */
  blocked: { reason: string; since: number } | null;
  /** The trader suspended new orders (`suspend_trade` in the account's configuration); absent: no. */
  suspended?: boolean;
  /**
   * How many times the account was reset (absent: never). Each order carries the count it
   * was placed under, so an order of an earlier account is told apart even when the reset
   * came in its millisecond (the clock moves only on I/O).
   */
  resets?: number;
}

/** Something that must never happen and did: the shell logs and counts it. */
export interface Anomaly {
  kind: "fill_refused" | "unknown_order" | "illegal_transition" | "foreign_report";
  symbol: string;
  orderId: string;
  seq: number | null;
  message: string;
}

/**
 * A call the account owes a venue. `window`: the command was checked against a price the
 * account held, and the venue takes it only if its own price is inside (price-window.ts).
 */
export type VenueCommand = { kind: "submit"; symbol: string; request: VenueOrderRequest; window?: PriceWindow } | { kind: "cancel"; symbol: string; orderId: string; window?: PriceWindow };

/** The order a venue command is about. */
export const commandOrderId = (c: VenueCommand): string => (c.kind === "submit" ? c.request.id : c.orderId);

/** What one engine command changed, for the book to commit in one transaction. */
export interface AccountChanges {
  /** The new state, or null when it did not change. */
  state: AccountState | null;
  /** Orders created or changed (upserts), in the order they changed. */
  orders: AccountOrder[];
  activities: ActivityRow[];
  /** Domain events for the outbox. */
  events: DomainEvent[];
  /** Frames for the account's trade_updates sockets. */
  tradeUpdates: TradeUpdate[];
  /** Calls the runner makes once the changes are committed. */
  venue: VenueCommand[];
  /**
   * Orders withdrawn before any venue took them (their venue declined them): deleted with
   * their events not yet sent, as if never placed. Their reservations are released in `state`.
   */
  withdrawn: string[];
  anomalies: Anomaly[];
}

export interface OrderQuery {
  open: boolean | null;
  after: number | null;
  until: number | null;
  direction: "asc" | "desc";
  limit: number;
  symbols: string[] | null;
  side: "buy" | "sell" | null;
}

export interface ActivityQuery {
  types: string[] | null;
  after: number | null;
  until: number | null;
  direction: "asc" | "desc";
  pageSize: number;
  pageToken: string | null;
}

/** The account's storage, as the engine reads it. Reads are synchronous (SQLite in a Durable Object is). */
export interface AccountBook {
  state(): AccountState | undefined;
  order(id: string): AccountOrder | undefined;
  orderByClientId(clientOrderId: string): AccountOrder | undefined;
  openOrders(): AccountOrder[];
  /**
   * Lots left on the open orders of `symbol` and `side` (qty less filled; a notional order
   * counts none), except the orders in `except`: a sum the store keeps indexed, so an
   * order's risk check does not read every resting order.
   */
  openLotsOf(symbol: string, side: "buy" | "sell", except: readonly string[]): number;
  /** Open orders the venue has not confirmed yet: not received, or a cancel pending. */
  unsettledOrders(): AccountOrder[];
  /** Orders created after `t`. */
  ordersSince(t: number): number;
  /** The newest order in `symbol`, for its instrument spec. */
  latestOrderOf(symbol: string): AccountOrder | undefined;
  orders(q: OrderQuery): AccountOrder[];
  activities(q: ActivityQuery): ActivityRow[];
  /** Stores all of it or none of it. */
  commit(changes: AccountChanges): void;
}

/**
 * A venue's answer: the account's reports not yet acknowledged, and the symbol's price as
 * it stands now, which the account holds for its next order's checks. `declined`: the
 * call carried a window of prices and the symbol's is outside it, so the venue did not
 * take it (a submit: the id is tombstoned and never fills; a cancel: nothing
 * was canceled); also the answer to any later resend of a declined order id.
 */
export interface VenueAnswer {
  reports: Report[];
  price: MarketPrice | null;
  declined?: boolean;
}

/** The account's way to its venues (one per symbol). `traceparent`: the caller's span, which the venue's span continues. */
/**
 * A symbol's venue as an account calls it: another Durable Object (a promise), or a venue
 * in the same process, which may answer at once (a backtest's), and the runner then goes on
 * without awaiting.
 */
export interface VenueClient {
  /**
   * Hands over an order (a resent id is ignored) and answers the account's reports above
   * `ackedSeq`. With a `window`, the venue takes the order only if its own price is inside
   * (admit, in price-window.ts), and declines it otherwise.
   */
  submit(symbol: string, order: VenueOrderRequest, ackedSeq: number, traceparent?: string | null, window?: PriceWindow | null): VenueAnswer | Promise<VenueAnswer>;
  /** Cancels an order (one never received is refused for good) and answers the reports above `ackedSeq`; `window` as for submit. */
  cancel(symbol: string, account: string, orderId: string, ackedSeq: number, traceparent?: string | null, window?: PriceWindow | null): VenueAnswer | Promise<VenueAnswer>;
  /** The reference price and quote, or null when the symbol has none. */
  marketPrice(symbol: string, traceparent?: string | null): MarketPrice | null | Promise<MarketPrice | null>;
}
