import { lotsToDecimal, ticksToDecimal, type InstrumentSpec } from "../market/instrument";
import type { Ledger, Position } from "./ledger";
import { formatMoney, notional, ZERO, type Money } from "./money";
import { averagePrice, isoTime, type AccountOrder } from "./orders";
import type { ClosingBalance, FillActivity } from "./ports";
import { newYorkDateOf } from "./trading-date";
import type { Report } from "../venue/venue";

// The account, its positions and its activities in Alpaca's shapes: money and quantities
// as decimal strings, computed exactly from the ledger.

/** What a symbol's venue says about its price, in ticks. */
export interface MarketPrice {
  symbol: string;
  reference: number;
  bid: number | null;
  ask: number | null;
  /** Previous day's close, if the symbol has one. */
  previousClose: number | null;
  t: number;
  /** The feed has said nothing for longer than its staleness limit: marketable orders are refused. */
  stale: boolean;
  /**
   * The last wall time at which this price is not yet stale: the feed's last message plus
   * its staleness limit (the bound `stale` is computed with). Until then an account may
   * check an order against this price without asking again (docs/order-path.md, "Calls").
   */
  freshUntil?: number;
}

/** A price the account may check an order against at `now` without asking the symbol again. */
export function stillFresh(price: MarketPrice | undefined, now: number): price is MarketPrice {
  return price !== undefined && !price.stale && price.freshUntil !== undefined && now <= price.freshUntil;
}

/** a ÷ b as a decimal string with 4 decimals, rounded half away from zero. */
/** Sixteen decimals, as Alpaca gives a ratio (found in QA: four hid a small P&L as "0.0000"). */
const RATIO_SCALE = 10n ** 16n;

function ratio(a: Money, b: Money): string {
  if (b === ZERO) return "0";
  const scaled = (a * RATIO_SCALE * 2n + (a < 0n ? -b : b)) / (b * 2n);
  if (scaled === 0n) return "0";
  const negative = scaled < 0n;
  const abs = negative ? -scaled : scaled;
  const decimals = (abs % RATIO_SCALE).toString().padStart(16, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${abs / RATIO_SCALE}${decimals ? `.${decimals}` : ""}`;
}

export function positionView(p: Position, spec: InstrumentSpec, assetId: string, price: MarketPrice | undefined) {
  const current = price?.reference ?? null;
  const marketValue = current === null ? p.costBasis : notional(current, p.qty, spec);
  const unrealized = marketValue - p.costBasis;
  const lastday = price?.previousClose ?? null;
  const lastdayValue = lastday === null ? null : notional(lastday, p.qty, spec);
  return {
    asset_id: assetId,
    symbol: spec.symbol,
    exchange: spec.assetClass === "crypto" ? "CRYPTO" : "REDFIRE",
    asset_class: spec.assetClass,
    asset_marginable: false,
    qty: lotsToDecimal(p.qty, spec),
    qty_available: lotsToDecimal(p.qty - p.reserved, spec),
    avg_entry_price: averagePrice(p.costBasis, p.qty, spec),
    side: "long" as const,
    market_value: formatMoney(marketValue),
    cost_basis: formatMoney(p.costBasis),
    unrealized_pl: formatMoney(unrealized),
    unrealized_plpc: ratio(unrealized, p.costBasis),
    unrealized_intraday_pl: lastdayValue === null ? formatMoney(unrealized) : formatMoney(marketValue - lastdayValue),
    unrealized_intraday_plpc: lastdayValue === null ? ratio(unrealized, p.costBasis) : ratio(marketValue - lastdayValue, lastdayValue),
    current_price: current === null ? null : ticksToDecimal(current, spec),
    lastday_price: lastday === null ? null : ticksToDecimal(lastday, spec),
    change_today: lastday === null || current === null ? "0" : ratio(BigInt(current - lastday), BigInt(lastday)),
    realized_pl: formatMoney(p.realizedPl),
  };
}

export function marketValueOf(ledger: Ledger, specs: (symbol: string) => InstrumentSpec | undefined, prices: Record<string, MarketPrice | undefined>): Money {
  let total = ZERO;
  for (const [symbol, p] of Object.entries(ledger.positions)) {
    if (p.qty === 0) continue;
    const spec = specs(symbol);
    const price = prices[symbol]?.reference;
    total += spec && price !== undefined ? notional(price, p.qty, spec) : p.costBasis;
  }
  return total;
}

/**
 * Alpaca's account. `lastEquity` is the equity at the previous trading day's close and
 * `balanceAsOf` the account's trading date (New York).
 */
export function accountView(id: string, createdAt: number, ledger: Ledger, longMarketValue: Money, lastEquity: string, balanceAsOf: string, blocked = false, suspended = false) {
  const cash = ledger.cash + ledger.reservedCash;
  const equity = cash + longMarketValue;
  const money = formatMoney;
  return {
    id,
    account_number: `RF${id.replace(/-/g, "").slice(0, 10).toUpperCase()}`,
    status: blocked ? "INACTIVE" : "ACTIVE",
    crypto_status: blocked ? "INACTIVE" : "ACTIVE",
    currency: "USD",
    cash: money(cash),
    buying_power: money(ledger.cash),
    regt_buying_power: money(ledger.cash),
    effective_buying_power: money(ledger.cash),
    non_marginable_buying_power: money(ledger.cash),
    options_buying_power: "0",
    // A cash account has no day-trading margin; typed clients require the fields (found in QA).
    daytrading_buying_power: "0",
    bod_dtbp: "0",
    portfolio_value: money(equity),
    equity: money(equity),
    last_equity: lastEquity,
    long_market_value: money(longMarketValue),
    short_market_value: "0",
    position_market_value: money(longMarketValue),
    initial_margin: "0",
    maintenance_margin: "0",
    last_maintenance_margin: "0",
    sma: "0",
    multiplier: "1",
    accrued_fees: "0",
    pending_transfer_in: "0",
    pending_transfer_out: "0",
    reserved_cash: money(ledger.reservedCash),
    fees_paid: money(ledger.fees),
    deposits: money(ledger.deposits),
    pattern_day_trader: false,
    trading_blocked: blocked,
    transfers_blocked: false,
    account_blocked: blocked,
    trade_suspended_by_user: suspended,
    shorting_enabled: false,
    daytrade_count: 0,
    intraday_adjustments: "0",
    pending_reg_taf_fees: "0",
    options_approved_level: 0,
    options_trading_level: 0,
    crypto_tier: 1,
    admin_configurations: {},
    user_configurations: null,
    balance_asof: balanceAsOf,
    created_at: new Date(createdAt).toISOString(),
  };
}

/** The equity at the previous close: its cash, and the lots it held valued at each symbol's previous close (else its last price). */
export function closingEquity(close: ClosingBalance, specOf: (symbol: string) => InstrumentSpec | undefined, prices: Record<string, MarketPrice | undefined>): Money {
  let equity = BigInt(close.cash);
  for (const [symbol, lots] of Object.entries(close.lots)) {
    const spec = specOf(symbol);
    const price = prices[symbol]?.previousClose ?? prices[symbol]?.reference;
    if (spec && price !== undefined && price !== null) equity += notional(price, lots, spec);
  }
  return equity;
}

/**
 * A fill as numbers, as it stood once applied to its order: what its FILL activity says
 * before the decimal text is made. A backtest keeps these (a few numbers and two bigints
 * rather than nine strings each) and makes the activity when the result is read.
 */
export interface FillRecord {
  readonly t: number;
  readonly priceTicks: number;
  readonly lots: number;
  readonly fee: Money;
  readonly realized: Money;
  readonly side: "buy" | "sell";
  readonly orderId: string;
  readonly executionId: string;
  readonly orderStatus: AccountOrder["status"];
  /** Lots the order had left, or null for a notional order (its activity says "0"). */
  readonly leavesLots: number | null;
  readonly cumLots: number;
  readonly liquidity: "maker" | "taker";
  readonly spec: InstrumentSpec;
}

/** The fill `r` as it stands after it was applied to `order`. */
export function fillRecord(order: AccountOrder, r: Extract<Report, { kind: "fill" }>, realized: Money): FillRecord {
  return {
    t: r.t,
    priceTicks: r.price,
    lots: r.qty,
    fee: BigInt(r.fee),
    realized,
    side: order.side,
    orderId: order.id,
    executionId: r.executionId,
    orderStatus: order.status,
    leavesLots: order.qty === null ? null : order.qty - order.filledQty,
    cumLots: order.filledQty,
    liquidity: r.liquidity,
    spec: order.spec,
  };
}

/** formatMoney(0n): most fills' fee and every buy's realized P&L. */
const ZERO_MONEY_TEXT = formatMoney(ZERO);

/** A fill's FILL activity, as stored and as Alpaca shows it. */
export function fillView(f: FillRecord): FillActivity {
  const { spec } = f;
  // Most fills fill their order whole: its quantity written once serves as the fill's and the order's.
  const qty = lotsToDecimal(f.lots, spec);
  return {
    transaction_time: isoTime(f.t),
    type: f.orderStatus === "filled" ? "fill" : "partial_fill",
    price: ticksToDecimal(f.priceTicks, spec),
    qty,
    side: f.side,
    symbol: spec.symbol,
    leaves_qty: f.leavesLots === null || f.leavesLots === 0 ? "0" : lotsToDecimal(f.leavesLots, spec),
    order_id: f.orderId,
    cum_qty: f.cumLots === f.lots ? qty : lotsToDecimal(f.cumLots, spec),
    order_status: f.orderStatus,
    execution_id: f.executionId,
    fee: f.fee === ZERO ? ZERO_MONEY_TEXT : formatMoney(f.fee),
    realized_pl: f.realized === ZERO ? ZERO_MONEY_TEXT : formatMoney(f.realized),
    liquidity: f.liquidity,
  };
}

export function activityView(a: { id: string; type: string; t: number; data: Record<string, unknown> }, accountId: string) {
  if (a.type === "FILL") return { id: a.id, account_id: accountId, activity_type: "FILL", ...a.data };
  return {
    id: a.id,
    account_id: accountId,
    activity_type: a.type,
    // The account's day, the New York date (as balance_asof and day orders count), not UTC's.
    date: newYorkDateOf(a.t),
    transaction_time: new Date(a.t).toISOString(),
    net_amount: a.data.net_amount,
    description: a.data.description,
    status: "executed",
    symbol: null,
    qty: null,
    per_share_amount: null,
  };
}
