import { lotsToDecimal, ticksToNumber, type InstrumentSpec } from "../market/instrument";
import type { Ledger } from "../trading/ledger";
import { formatMoney, knownMoney, MONEY_ONE, notional, priceOf, quantityOf, type Money } from "../trading/money";
import { openLots, type AccountOrder } from "../trading/orders";
import { protectionPrice, worstFee, type RiskLimits } from "../trading/risk";
import type { VenueConfig } from "../venue/venue";
import type { AccountSummary, OpenOrder, PositionView } from "./runtime";

// What a strategy may read of its account (ctx.position, ctx.account, ctx.openOrders,
// ctx.maxBuyQty), computed from the ledger and the symbol's last trade. One definition,
// used in-process by backtests and by the account object for a live strategy, so the two
// see the same numbers.

export function positionView(ledger: Ledger, spec: InstrumentSpec, lastTicks: number | null): PositionView {
  const p = ledger.positions[spec.symbol];
  if (!p || p.qty === 0) return { qty: "0", qtyAvailable: "0", avgPrice: null, unrealizedPl: "0", realizedPl: realizedText(p?.realizedPl ?? 0n) };
  const qty = quantityOf(p.qty, spec);
  const held = lotsToDecimal(p.qty, spec);
  return {
    qty: held,
    // Nothing held by open sells (most of the time): all of it is available, the same text.
    qtyAvailable: p.reserved === 0 ? held : lotsToDecimal(p.qty - p.reserved, spec),
    avgPrice: Number(formatMoney((p.costBasis * MONEY_SCALE) / qty, 2)),
    unrealizedPl: unrealizedPl(ledger, spec, lastTicks),
    realizedPl: realizedText(p.realizedPl),
  };
}

/** 10^18: a price per one (money-scaled) unit of quantity. */
const MONEY_SCALE = 10n ** 18n;
// The realized P&L changes only when a sell fills, and a strategy reads its position far
// more often: the last amount written is remembered.
let realizedFor: Money | undefined;
let realizedFormatted = "";
const realizedText = (amount: Money): string => {
  if (amount !== realizedFor) {
    realizedFormatted = formatMoney(amount);
    realizedFor = amount;
  }
  return realizedFormatted;
};

/** The position view's `unrealizedPl` alone: its value at the last trade less its cost (its cost when nothing has traded). */
export function unrealizedPl(ledger: Ledger, spec: InstrumentSpec, lastTicks: number | null): string {
  const p = ledger.positions[spec.symbol];
  if (!p || p.qty === 0) return "0";
  const value = lastTicks === null ? p.costBasis : notional(lastTicks, p.qty, spec);
  return formatMoney(value - p.costBasis);
}

/** Cash includes what open orders reserve; buying power is what is free; equity values this symbol's long position at the last trade. */
export function accountSummary(ledger: Ledger, spec: InstrumentSpec, lastTicks: number | null): AccountSummary {
  const p = ledger.positions[spec.symbol];
  const held = p && p.qty > 0 ? (lastTicks === null ? p.costBasis : notional(lastTicks, p.qty, spec)) : 0n;
  return { cash: formatMoney(ledger.cash + ledger.reservedCash), buyingPower: formatMoney(ledger.cash), equity: formatMoney(ledger.cash + ledger.reservedCash + held) };
}

/** Unfilled lots of the account's open buys in `symbol` (a notional buy counts none, as the account's position check counts it by its amount). */
export function openBuyLots(orders: readonly AccountOrder[], symbol: string): number {
  let lots = 0;
  for (const o of orders) if (o.side === "buy" && o.spec.symbol === symbol) lots += openLots(o);
  return lots;
}

/** The strategy's own open orders on its symbol (those whose client order id it made). */
export function openOrdersView(orders: AccountOrder[], spec: InstrumentSpec, tagOf: (clientOrderId: string) => string | null | undefined): OpenOrder[] {
  const out: OpenOrder[] = [];
  for (const o of orders) {
    if (o.spec.symbol !== spec.symbol) continue;
    const tag = tagOf(o.clientOrderId);
    if (tag === undefined) continue;
    out.push({
      id: o.clientOrderId,
      tag,
      side: o.side,
      type: o.type,
      qty: o.qty === null ? null : lotsToDecimal(o.qty, spec),
      filledQty: lotsToDecimal(o.filledQty, spec),
      limit: o.limit === null ? null : ticksToNumber(o.limit, spec),
      stop: o.stop === null ? null : ticksToNumber(o.stop, spec),
      status: o.status,
    });
  }
  return out;
}

/**
 * The largest quantity (decimal string) of a market buy the account accepts now: its
 * reservation, the value at the price band's edge plus the worst-case fee, fits in the
 * free cash, and it is within the order's limits (quantity, value, and the position it
 * makes with `openBuyLots`, the open buys' unfilled lots) at any price up to the band's
 * edge above the last trade. "0" before the symbol has traded.
 */
export function maxBuyQty(ledger: Ledger, spec: InstrumentSpec, lastTicks: number | null, limits: RiskLimits, venue: VenueConfig, openBuyLots = 0): string {
  if (lastTicks === null) return "0";
  const cash = ledger.cash;
  if (cash <= 0n) return lotsToDecimal(0, spec);
  // The order's own limits, as the account checks them (risk.ts): its quantity, its value,
  // and the position it would make with the open buys. Values are taken at the band's edge
  // above the last trade, not at it: live, the account checks a held order at the price
  // of the print that sends it, which may be a tick or more higher.
  const edge = protectionPrice("buy", lastTicks, limits.priceBandPct);
  const held = ledger.positions[spec.symbol]?.qty ?? 0;
  const room = knownMoney(limits.maxPositionNotional)! - notional(edge, held + openBuyLots, spec);
  let lots = Math.min(buyingPowerLots(cash, spec, lastTicks, limits, venue), lotsOfQty(limits.maxOrderQty, spec));
  // notional() grows with the lots: a quantity whose value fits a limit is within the most
  // lots that fit it (lotsWorth), which is worked out only for a limit the quantity exceeds.
  for (const money of [knownMoney(limits.maxOrderNotional)!, room]) if (notional(edge, lots, spec) > money) lots = Math.min(lots, lotsWorth(money, edge, spec));
  return lotsToDecimal(lots, spec);
}

/**
 * The largest quantity (decimal string) of a market sell the account accepts now: the
 * position no open sell holds (the order size limits judge buys only).
 */
export function maxSellQty(ledger: Ledger, spec: InstrumentSpec): string {
  const p = ledger.positions[spec.symbol];
  const free = p ? p.qty - p.reserved : 0;
  // The order size limits judge buys only (shared/trading/risk.ts): all of it.
  return lotsToDecimal(Math.max(0, free), spec);
}

/** Lots in a quantity limit (a decimal string), rounded down to the lot grid. */
const lotsOfQty = (qty: string, spec: InstrumentSpec): number => safeLots(knownMoney(qty)! / quantityOf(1, spec));

/** The most lots whose notional at `priceTicks` (rounded down, as notional() is) is at most `money`. */
function lotsWorth(money: Money, priceTicks: number, spec: InstrumentSpec): number {
  if (money < 0n) return 0;
  // notional(p, n) = ⌊n·K / ONE⌋ with K the money of one lot at p, times ONE; it is at most
  // `money` exactly when n·K < (money + 1)·ONE.
  const perLot = priceOf(priceTicks, spec) * quantityOf(1, spec);
  return safeLots(((money + 1n) * MONEY_ONE - 1n) / perLot);
}

const safeLots = (lots: bigint): number => Number(lots > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : lots);

/** The most lots a market buy's reservation (at the band's edge, with its worst-case fee) fits in `cash` for. */
function buyingPowerLots(cash: Money, spec: InstrumentSpec, lastTicks: number, limits: RiskLimits, venue: VenueConfig): number {
  const cap = protectionPrice("buy", lastTicks, limits.priceBandPct);
  const fee = (lots: number) => worstFee(venue, notional(cap, lots, spec));
  const fits = (lots: number) => notional(cap, lots, spec) + fee(lots) <= cash;
  // notional() rounds down, so n lots are worth at least n times one lot: more than `m`
  // for any n above `within(m)`, which makes it an upper bound.
  const unit = notional(cap, 1, spec);
  const within = (money: Money) => (money <= 0n ? 0 : Math.min(Number.MAX_SAFE_INTEGER, Number(money / unit)));
  // The reservation grows with the quantity, and so does the fee. The answer lies between
  // a quantity that fits (`lo`, checked) and one past which nothing fits (`hi`): the fee
  // at a quantity that fits bounds the fee of any larger one from below, so each pass
  // narrows the range by about the fee's rate; a binary search finishes it.
  let lo = 0;
  let hi = within(cash);
  for (let pass = 0; pass < 3 && lo < hi; pass++) {
    const candidate = Math.min(hi, within(cash - fee(hi)));
    if (candidate > lo && fits(candidate)) lo = candidate;
    hi = Math.max(lo, Math.min(hi, within(cash - fee(lo))));
  }
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
