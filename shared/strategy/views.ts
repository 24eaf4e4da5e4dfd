import { lotsToDecimal, ticksToNumber, type InstrumentSpec } from "../market/instrument";
import type { Ledger } from "../trading/ledger";
import { formatMoney, notional, quantityOf, type Money } from "../trading/money";
import type { AccountOrder } from "../trading/orders";
import { protectionPrice, worstFee, type RiskLimits } from "../trading/risk";
import type { VenueConfig } from "../venue/venue";
import type { AccountSummary, OpenOrder, PositionView } from "./runtime";

// What a strategy may read of its account (ctx.position, ctx.account, ctx.openOrders,
// ctx.maxBuyQty), computed from the ledger and the symbol's last trade. One definition,
// used in-process by backtests and by the account object for a live strategy, so the two
// see the same numbers.

export function positionView(ledger: Ledger, spec: InstrumentSpec, lastTicks: number | null): PositionView {
  const p = ledger.positions[spec.symbol];
  if (!p || p.qty === 0) return { qty: "0", avgPrice: null, unrealizedPl: "0", realizedPl: formatMoney(p?.realizedPl ?? 0n) };
  const value = lastTicks === null ? p.costBasis : notional(lastTicks, p.qty, spec);
  const qty = quantityOf(p.qty, spec);
  return {
    qty: lotsToDecimal(p.qty, spec),
    avgPrice: Number(formatMoney((p.costBasis * 10n ** 18n) / qty, 2)),
    unrealizedPl: formatMoney(value - p.costBasis),
    realizedPl: formatMoney(p.realizedPl),
  };
}

/** Cash includes what open orders reserve; buying power is what is free; equity values this symbol's long position at the last trade. */
export function accountSummary(ledger: Ledger, spec: InstrumentSpec, lastTicks: number | null): AccountSummary {
  const p = ledger.positions[spec.symbol];
  const held = p && p.qty > 0 ? (lastTicks === null ? p.costBasis : notional(lastTicks, p.qty, spec)) : 0n;
  return { cash: formatMoney(ledger.cash + ledger.reservedCash), buyingPower: formatMoney(ledger.cash), equity: formatMoney(ledger.cash + ledger.reservedCash + held) };
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
 * free cash. "0" before the symbol has traded.
 */
export function maxBuyQty(ledger: Ledger, spec: InstrumentSpec, lastTicks: number | null, limits: RiskLimits, venue: VenueConfig): string {
  if (lastTicks === null) return "0";
  const cash = ledger.cash;
  if (cash <= 0n) return lotsToDecimal(0, spec);
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
  return lotsToDecimal(lo, spec);
}
