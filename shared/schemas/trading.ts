import { z } from "@hono/zod-openapi";
import { booleanParam, clientOrderId, wholeParam } from "./common";
import { INTRADAY_REPORTING, PNL_RESETS, PORTFOLIO_TIMEFRAMES } from "../trading/portfolio-history";

// Request and response shapes of the trading API (docs/alpaca-compat.md §3). Requests may carry
// numbers or decimal strings; responses carry decimal strings.

const POSITION_INTENTS = ["buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"] as const;

const Decimal = z.union([z.string().trim().max(40), z.number()], { error: (issue) => (issue.input === undefined ? "is required" : "must be a decimal, as a string (\"10.5\") or a number") }).openapi({ type: "string", example: "10" });
const NullableDecimal = Decimal.nullable().optional();

export const OrderRequest = z
  .object({
    symbol: z.string().trim().min(1).max(24).openapi({ example: "AAPL" }),
    qty: NullableDecimal,
    notional: NullableDecimal,
    side: z.enum(["buy", "sell"], { error: "side must be buy or sell" }),
    type: z.enum(["market", "limit", "stop", "stop_limit", "trailing_stop"], { error: "type must be market, limit, stop, stop_limit or trailing_stop" }),
    time_in_force: z.enum(["day", "gtc", "ioc", "fok"], { error: "time_in_force must be day, gtc, ioc or fok (opg and cls are not supported)" }),
    limit_price: NullableDecimal,
    stop_price: NullableDecimal,
    trail_price: NullableDecimal.openapi({ description: "trailing_stop: the stop trails the mark by this price distance" }),
    trail_percent: NullableDecimal.openapi({ description: "trailing_stop: the stop trails the mark by this percent (above 0, below 100, four decimals at most)" }),
    client_order_id: clientOrderId().optional().nullable(),
    extended_hours: z
      .boolean()
      .optional()
      .nullable()
      .openapi({ description: "Alpaca's: true only on a day limit order (422 otherwise). Instruments without a session trade around the clock; one with a session fills in it only, with or without the flag" }),
    order_class: z.enum(["simple", ""], { error: "only simple orders are supported" }).optional().nullable(),
    // Alpaca's, for options; checked rather than ignored (found in QA: any value was accepted).
    position_intent: z
      .enum(POSITION_INTENTS, { error: `position_intent must be ${POSITION_INTENTS.join(", ")}` })
      .optional()
      .nullable()
      .openapi({ description: "Optional; must agree with side, and the account holds no short positions: buy_to_open or sell_to_close" }),
  })
  .superRefine((o, ctx) => {
    // Alpaca's rule and words: extended hours are for day limit orders (an SDK's market order with it was accepted and the flag dropped).
    if (o.extended_hours === true && (o.type !== "limit" || o.time_in_force !== "day"))
      ctx.addIssue({ code: "custom", path: ["extended_hours"], message: "extended hours order must be DAY limit orders" });
    const intent = o.position_intent;
    if (!intent) return;
    if (!intent.startsWith(`${o.side}_`)) ctx.addIssue({ code: "custom", path: ["position_intent"], message: `position_intent ${intent} does not agree with side ${o.side}` });
    else if (intent === "sell_to_open" || intent === "buy_to_close") ctx.addIssue({ code: "custom", path: ["position_intent"], message: `position_intent ${intent} is for short positions, which this account does not hold (short sales are not supported)` });
  })
  .openapi("OrderRequest");

export const ReplaceRequest = z
  .strictObject(
    {
      qty: NullableDecimal,
      time_in_force: z.enum(["day", "gtc", "ioc", "fok"]).optional().nullable(),
      limit_price: NullableDecimal,
      stop_price: NullableDecimal,
      client_order_id: clientOrderId().optional().nullable(),
      // What a replace cannot change is refused by name rather than ignored (which answered
      // "order parameters are not changed").
      trail: NullableDecimal.openapi({ description: "A trailing stop's new trail, a price or a percent as it was placed with; its mark starts again from the current price" }),
    },
    { error: (issue) => (issue.code === "unrecognized_keys" ? `a replace cannot change ${issue.keys.join(", ")}: cancel the order and place a new one` : undefined) },
  )
  .openapi("ReplaceOrderRequest");

const Str = z.string();
const NStr = z.string().nullable();

export const Order = z
  .object({
    id: z.uuid(),
    client_order_id: Str,
    created_at: Str,
    updated_at: Str,
    submitted_at: Str,
    filled_at: NStr,
    expired_at: NStr,
    expires_at: NStr,
    canceled_at: NStr,
    failed_at: NStr,
    replaced_at: NStr,
    replaced_by: NStr,
    replaces: NStr,
    asset_id: Str,
    symbol: Str,
    asset_class: Str,
    notional: NStr,
    qty: NStr,
    filled_qty: Str,
    filled_avg_price: NStr,
    order_class: Str,
    order_type: Str,
    type: Str,
    side: Str,
    position_intent: Str,
    time_in_force: Str,
    limit_price: NStr,
    stop_price: NStr,
    status: Str,
    extended_hours: z.boolean(),
    legs: z.null(),
    trail_percent: NStr.openapi({ description: "A trailing stop's trail as a percent of its mark" }),
    trail_price: NStr.openapi({ description: "A trailing stop's trail as a price distance" }),
    hwm: NStr.openapi({ description: "A trailing stop's high-water mark: the highest trade since it was placed (a sell), the lowest (a buy); stop_price trails it" }),
    subtag: z.null(),
    source: z.null(),
    commission: Str,
  })
  .openapi("Order");

export const Position = z
  .object({
    asset_id: Str,
    symbol: Str,
    exchange: Str,
    asset_class: Str,
    asset_marginable: z.boolean(),
    qty: Str,
    qty_available: Str,
    avg_entry_price: NStr,
    side: Str,
    market_value: Str,
    cost_basis: Str,
    unrealized_pl: Str,
    unrealized_plpc: Str,
    unrealized_intraday_pl: Str,
    unrealized_intraday_plpc: Str,
    current_price: NStr,
    lastday_price: NStr,
    change_today: Str,
    realized_pl: Str,
  })
  .openapi("Position");

const Money = Str.openapi({ example: "100000.00" });
export const Account = z
  .object({
    id: Str,
    account_number: Str,
    status: Str.openapi({ description: "ACTIVE, or INACTIVE while its user is disabled" }),
    crypto_status: Str.openapi({ description: "as status" }),
    currency: Str.openapi({ example: "USD" }),
    cash: Money,
    buying_power: Money,
    regt_buying_power: Money,
    effective_buying_power: Money,
    non_marginable_buying_power: Money,
    options_buying_power: Str,
    daytrading_buying_power: Str.openapi({ description: "0: a cash account has no day-trading margin" }),
    bod_dtbp: Str.openapi({ description: "0, as daytrading_buying_power" }),
    portfolio_value: Money,
    equity: Money,
    last_equity: Money,
    long_market_value: Money,
    short_market_value: Str,
    position_market_value: Money,
    initial_margin: Str,
    maintenance_margin: Str,
    last_maintenance_margin: Str,
    sma: Str,
    multiplier: Str,
    accrued_fees: Str,
    pending_transfer_in: Str,
    pending_transfer_out: Str,
    reserved_cash: Money,
    fees_paid: Money,
    deposits: Money,
    pattern_day_trader: z.boolean(),
    trading_blocked: z.boolean(),
    transfers_blocked: z.boolean(),
    account_blocked: z.boolean(),
    trade_suspended_by_user: z.boolean(),
    shorting_enabled: z.boolean(),
    daytrade_count: z.number().int(),
    intraday_adjustments: Str,
    pending_reg_taf_fees: Str,
    options_approved_level: z.number().int().openapi({ description: "0: no options" }),
    options_trading_level: z.number().int().openapi({ description: "0: no options" }),
    crypto_tier: z.number().int(),
    admin_configurations: z.object({}).openapi({ description: "Always empty" }),
    user_configurations: z.null(),
    balance_asof: Str.openapi({ description: "The account's trading date, New York's (YYYY-MM-DD)" }),
    created_at: Str,
  })
  .openapi("Account", { description: "Alpaca's account shape, money as decimal strings (a cash account: no margin, no shorting)" });

const FillActivity = z
  .object({
    id: Str,
    account_id: Str,
    activity_type: z.literal("FILL"),
    transaction_time: Str,
    type: z.enum(["fill", "partial_fill"]),
    price: Str,
    qty: Str,
    side: z.enum(["buy", "sell"]),
    symbol: Str,
    leaves_qty: Str,
    order_id: Str,
    cum_qty: Str,
    order_status: Str,
    execution_id: Str,
    fee: Str,
    realized_pl: Str,
    liquidity: z.enum(["maker", "taker"]),
  })
  .openapi("FillActivity");

const CashActivity = z
  .object({
    id: Str,
    account_id: Str,
    activity_type: Str.openapi({ description: "CSD (deposit) or JNLC (a reset's journal)" }),
    date: Str.openapi({ description: "The account's trading date, New York's (YYYY-MM-DD)" }),
    transaction_time: Str,
    net_amount: Str,
    description: Str,
    status: z.literal("executed"),
    symbol: z.null(),
    qty: z.null(),
    per_share_amount: z.null(),
  })
  .openapi("CashActivity");

export const Activity = z.union([FillActivity, CashActivity]).openapi("Activity");

export const OrderQueryParams = z.object({
  status: z.enum(["open", "closed", "all"]).default("open"),
  limit: wholeParam("limit", 1, 500).default(50),
  after: z.string().max(40).optional(),
  until: z.string().max(40).optional(),
  direction: z.enum(["asc", "desc"]).default("desc"),
  // Orders are simple (no legs), so nesting changes nothing; a value that is not a boolean is still refused, as the SDKs send one.
  nested: booleanParam("nested").optional(),
  symbols: z.string().max(4000).optional(),
  side: z.enum(["buy", "sell"]).optional(),
});

export const ActivityQueryParams = z.object({
  activity_types: z.string().max(200).optional(),
  // Alpaca's two groups (found in QA: ignored, every activity was listed).
  category: z
    .enum(["trade_activity", "non_trade_activity"], { error: "category must be trade_activity or non_trade_activity" })
    .optional()
    .openapi({ description: "trade_activity (fills) or non_trade_activity (cash: deposits, a reset's journal); not with activity_types" }),
  date: z.string().max(40).optional(),
  after: z.string().max(40).optional(),
  until: z.string().max(40).optional(),
  direction: z.enum(["asc", "desc"]).default("desc"),
  page_size: wholeParam("page_size", 1, 100).default(100),
  // An activity id (time stamp :: id), as the last page answered: anything else would page from an arbitrary place.
  page_token: z
    .string()
    .regex(/^\d{17}::[0-9a-fA-F-]{36}$/, "page_token must be the id of an activity from a previous page")
    .optional(),
});

/**
 * USD as a decimal string, for the bodies that move cash (a deposit, a reset). A JSON number
 * is refused: parsed, it is a binary double, which may not be the amount written (QA).
 */
export const decimalAmount = (name: string) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `${name} is required`
          : typeof issue.input === "number"
            ? `${name} must be sent as a decimal string, e.g. "1000.00": a JSON number can lose precision`
            : `${name} must be a decimal string, e.g. "1000.00"`,
    })
    .trim()
    .max(24, `${name} must be at most 24 characters`)
    .openapi({ example: "1000.00", description: "USD as a decimal string, at most two decimals (a JSON number is refused)" });

/** Alpaca's account configurations (shared/trading/configuration.ts): `suspend_trade` is the trader's; the rest describe a cash paper account. */
export const AccountConfigurations = z
  .object({
    dtbp_check: z.string(),
    pdt_check: z.string(),
    trade_confirm_email: z.string(),
    suspend_trade: z.boolean(),
    no_shorting: z.boolean(),
    fractional_trading: z.boolean(),
    max_margin_multiplier: z.string(),
    max_options_trading_level: z.number().int(),
    ptp_no_exception_entry: z.boolean(),
    disable_overnight_trading: z.boolean(),
  })
  .openapi("AccountConfigurations");

/** A PATCH: any of the fields; the fixed ones only with the account's own value (SDKs send back what they read). */
export const AccountConfigurationsPatch = z
  .object({
    dtbp_check: z.enum(["both", "entry", "exit"]),
    pdt_check: z.enum(["both", "entry", "exit"]),
    trade_confirm_email: z.enum(["all", "none"]),
    suspend_trade: z.boolean(),
    no_shorting: z.boolean(),
    fractional_trading: z.boolean(),
    max_margin_multiplier: z.enum(["1", "2", "4"]),
    max_options_trading_level: z.number().int().min(0).max(3),
    ptp_no_exception_entry: z.boolean(),
    disable_overnight_trading: z.boolean(),
  })
  .partial()
  .strict()
  .openapi("AccountConfigurationsPatch");

/** `GET /v2/account/portfolio/history`'s query, as Alpaca names it (shared/trading/portfolio-history.ts reads it). */
export const PortfolioHistoryQuery = z.object({
  period: z.string().max(8).optional().openapi({ description: "A number and D, W, M or A (1D, 2W, 3M, 1A); default 1M", example: "1M" }),
  timeframe: z
    .enum(PORTFOLIO_TIMEFRAMES, { error: `timeframe must be one of ${PORTFOLIO_TIMEFRAMES.join(", ")}` })
    .optional()
    .openapi({ description: "Default: 1Min under 7 days, 15Min under 30, else 1D; intraday ones cover at most 30 days" }),
  intraday_reporting: z
    .enum(INTRADAY_REPORTING, { error: `intraday_reporting must be one of ${INTRADAY_REPORTING.join(", ")}` })
    .optional()
    .openapi({ description: "Which windows to report: the regular session (default), 04:00 to the session's close, or every one (24/7, also for 1D)" }),
  pnl_reset: z.enum(PNL_RESETS, { error: `pnl_reset must be one of ${PNL_RESETS.join(", ")}` }).optional().openapi({ description: "Intraday P&L from each New York day's start (default) or from the span's start (or the account's opening, if later)" }),
  start: z.string().max(40).optional(),
  end: z.string().max(40).optional(),
  date_end: z.string().max(40).optional().openapi({ description: "A date (YYYY-MM-DD) the period ends with; not with end" }),
  extended_hours: booleanParam("extended_hours").optional().openapi({ description: "Older spelling: true reports extended hours unless intraday_reporting says otherwise" }),
  cashflow_types: z.string().max(200).optional(),
});

export const PortfolioHistory = z
  .object({
    timestamp: z.array(z.number().int()).openapi({ description: "Each window's start, in epoch seconds" }),
    equity: z.array(z.number()).openapi({ description: "Equity in USD at each window's end (or now)" }),
    profit_loss: z.array(z.number()),
    profit_loss_pct: z.array(z.number()).openapi({ description: "equity ÷ base − 1" }),
    base_value: z.number(),
    base_value_asof: z.string().optional(),
    timeframe: z.string(),
  })
  .openapi("PortfolioHistory");
