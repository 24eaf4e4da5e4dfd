import { lotsToDecimal, ticksToNumber, type InstrumentSpec } from "../market/instrument";
import type { Ledger } from "../trading/ledger";
import { formatMoney, notional, quantityOf } from "../trading/money";
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
  const cap = protectionPrice("buy", lastTicks, limits.priceBandPct);
  const cost = (lots: number) => {
    const value = notional(cap, lots, spec);
    return value + worstFee(venue, value);
  };
  // The reservation grows with the quantity: binary search for the largest that fits.
  let lo = 0;
  let hi = Number((cash / notional(cap, 1, spec)) as bigint) + 1;
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2);
    if (cost(mid) <= cash) lo = mid;
    else hi = mid - 1;
  }
  return lotsToDecimal(lo, spec);
}
