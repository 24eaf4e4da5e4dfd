import { z } from "zod";
import { lotsToDecimal, ticksToDecimal, type InstrumentSpec } from "../market/instrument";
import { orderFee, type VenueConfig } from "../venue/venue";
import { trailsPastZero } from "../venue/trailing";
import { CENT, formatMoney, knownMoney, notional as notionalOf, quantityOf, roundHalfUp, ZERO, type Money } from "./money";
import type { OrderIntent } from "./orders";
import type { MarketPrice } from "./views";

// Pre-trade risk: every check has its own rule name and a message that says what limit was
// hit and by how much. Pure; the account's Durable Object supplies the context.

/** The decimal limits' size. */
export const LIMIT_DIGITS = 15;
export const LIMIT_DECIMALS = 8;
/** What stops trading on purpose, named where a limit of 0 is refused. */
const TO_HALT = "to stop trading, disable the user (PATCH /api/admin/users/{user_id}, status disabled) or make the asset not tradable (PATCH /api/admin/assets/{asset_id})";

/**
 * A decimal limit: above zero, since 0 would silently refuse everything the limit judges
 * (found in QA), and with a message saying which bound a too-long decimal breaks.
 */
function positiveLimit(zeroRefuses: string) {
  const shape = 'must be a decimal string like "100000"';
  return z.string({ error: shape }).superRefine((text, ctx) => {
    const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
    if (!match) return ctx.addIssue({ code: "custom", message: shape });
    const [whole, fraction = ""] = [match[1]!, match[2]];
    if (whole.length > LIMIT_DIGITS) return ctx.addIssue({ code: "custom", message: `at most ${LIMIT_DIGITS} digits before the decimal point (${whole.length} given)` });
    if (fraction.length > LIMIT_DECIMALS) return ctx.addIssue({ code: "custom", message: `at most ${LIMIT_DECIMALS} decimal places (${fraction.length} given)` });
    if (/^0*$/.test(whole + fraction)) ctx.addIssue({ code: "custom", message: `must be greater than 0: 0 would refuse ${zeroRefuses}; ${TO_HALT}` });
  });
}

export const RiskLimits = z.object({
  /** Largest quantity of one buy, in shares or coins (sells only reduce a position: not limited). */
  maxOrderQty: positiveLimit("every buy"),
  /** Largest value of one buy, in USD at its limit (or the market). */
  maxOrderNotional: positiveLimit("every buy"),
  /** Largest value held in one symbol, counting open buy orders, in USD at the last price. */
  maxPositionNotional: positiveLimit("every buy"),
  /** Limit and stop prices within this many percent of the last price; also a market order's protection. */
  priceBandPct: z.number().positive().max(100).multipleOf(0.01),
  ordersPerMinute: z.number().int().positive().max(100_000),
  /** Realized losses plus fees today (New York day) past which buys are refused. */
  dailyLossLimit: positiveLimit("every buy"),
  /** The most cash a reset may start the account with, in USD. */
  maxResetCash: positiveLimit("every reset"),
});
export type RiskLimits = z.infer<typeof RiskLimits>;

export const DEFAULT_LIMITS: RiskLimits = {
  maxOrderQty: "100000",
  maxOrderNotional: "1000000",
  maxPositionNotional: "2000000",
  priceBandPct: 10,
  ordersPerMinute: 200,
  dailyLossLimit: "50000",
  maxResetCash: "1000000",
};

export interface RiskContext {
  intent: OrderIntent;
  spec: InstrumentSpec;
  /** Last trade (or mid) in ticks. */
  reference: number;
  positionLots: number;
  /** Lots on the account's open buy orders in this symbol. */
  openBuyLots: number;
  ordersLastMinute: number;
  /** Realized losses plus fees today, positive when losing. */
  dailyLoss: Money;
  limits: RiskLimits;
}

export interface RiskReject {
  rule: "order_rate" | "price_band" | "max_order_qty" | "max_order_notional" | "max_position" | "daily_loss" | "invalid_order";
  message: string;
  /** The request field the rule judged; absent when it judged the request as a whole. */
  path?: string;
}

const bps = (pct: number) => BigInt(Math.round(pct * 100));

/** The price band around `reference` in ticks: [low, high], both inclusive. */
export function priceBand(reference: number, pct: number): [number, number] {
  // Below 2^53 the product is exact in doubles, and so is the whole part of its quotient by
  // 10^4 (the quotient is at least 10^-4 from the next whole number, more than half a unit
  // in its last place there): the band without bigints (four an order's checks ask for).
  const hundredths = Math.round(pct * 100);
  const product = reference * hundredths;
  if (Number.isSafeInteger(reference) && Number.isSafeInteger(product) && product >= 0) {
    const span = Math.floor(product / 10_000);
    return [reference - span > 0 ? reference - span : 1, reference + span];
  }
  const ref = BigInt(reference);
  const width = (ref * bps(pct)) / 10_000n;
  return [Number(ref - width > 0n ? ref - width : 1n), Number(ref + width)];
}

/** The worst price a market (or stop) order may trade at: the band's edge on its side. */
export function protectionPrice(side: "buy" | "sell", reference: number, pct: number): number {
  const [low, high] = priceBand(reference, pct);
  return side === "buy" ? high : low;
}

/**
 * What a stop's protection price is set around: its stop price, or the reference when the
 * stop is already through it (a buy stop at or below the price, a sell stop at or above),
 * since then it triggers on arrival and trades near the reference, not near the stop.
 */
export function stopAnchor(side: "buy" | "sell", stop: number, reference: number): number {
  return side === "buy" ? Math.max(stop, reference) : Math.min(stop, reference);
}

export function checkRisk(ctx: RiskContext): RiskReject | null {
  const { intent, spec, limits, reference } = ctx;
  const symbol = spec.symbol;
  if (ctx.ordersLastMinute >= limits.ordersPerMinute)
    return { rule: "order_rate", message: `order rate limit reached: at most ${limits.ordersPerMinute} orders a minute per account` };
  // A stop already through the last price would trigger on arrival: a stop-loss typed on
  // the wrong side of the market became an immediate market sale (found in QA). Refused, as
  // Alpaca refuses it; a trailing stop's stop is set from the price, never through it.
  if (intent.stop !== null && !intent.trail && (intent.side === "buy" ? intent.stop <= reference : intent.stop >= reference)) {
    const where = intent.stop === reference ? "at" : intent.side === "buy" ? "below" : "above";
    return {
      rule: "invalid_order",
      path: "stop_price",
      message: `stop_price ${ticksToDecimal(intent.stop, spec)} is ${where} the last price ${ticksToDecimal(reference, spec)}: a ${intent.side} stop must be ${intent.side === "buy" ? "above" : "below"} it, or it would trigger at once (to trade now, send a market or limit order)`,
    };
  }
  // Only a limit that would trade through the band is refused: a buy above it or a sell
  // below it. A passive limit far from the market, or a protective stop, just waits. A stop
  // limit trades only once its stop triggers, so its band is around the stop (a stop through
  // the price was refused above; stopAnchor still picks the price, should one reach here): a
  // buy stop limit far above the market is accepted as Alpaca accepts it, and its limit may
  // not trade through the band at the stop.
  const center = intent.type === "stop_limit" ? stopAnchor(intent.side, intent.stop!, reference) : reference;
  const [low, high] = priceBand(center, limits.priceBandPct);
  if (intent.limit !== null && (intent.side === "buy" ? intent.limit > high : intent.limit < low))
    return {
      rule: "price_band",
      path: "limit_price",
      message: `limit_price ${ticksToDecimal(intent.limit, spec)} is ${intent.side === "buy" ? "above" : "below"} the ${limits.priceBandPct}% band around the ${center === reference ? "last price" : "stop price"} ${ticksToDecimal(center, spec)} (${ticksToDecimal(low, spec)} to ${ticksToDecimal(high, spec)})`,
    };
  // A notional that pays for no whole lot at the last price would end unfilled at the venue
  // (found in QA: $50 of a stock traded in whole shares came back canceled with no reason).
  if (intent.notional !== null && intent.notional < notionalOf(reference, 1, spec))
    return {
      rule: "invalid_order",
      path: "notional",
      message: `notional ${formatMoney(intent.notional)} USD is less than one lot of ${symbol} (${lotsToDecimal(1, spec)}) at the last price ${ticksToDecimal(reference, spec)}`,
    };
  // A sell's trail as wide as the price leaves its stop at the lowest tick, never reached
  // (found in QA: a trail of 500 on a 187 stock was accepted with stop_price 0.01).
  if (intent.trail && intent.side === "sell" && trailsPastZero(reference, intent.trail))
    return {
      rule: "price_band",
      path: "ticks" in intent.trail ? "trail_price" : "trail_percent",
      message: `the trail reaches below zero from the last price ${ticksToDecimal(reference, spec)}: a sell's trail must leave its stop above 0`,
    };
  // The order size limits judge buys. A sell only takes a long position down (there are no
  // short sales: a sell beyond the free position is refused for it), and a limit on its
  // size trapped a position grown past it, refusing even DELETE /v2/positions (found in QA).
  if (intent.side === "sell") return null;
  const price = intent.limit ?? intent.stop ?? reference;
  if (intent.qty !== null && quantityOf(intent.qty, spec) > knownMoney(limits.maxOrderQty)!)
    return { rule: "max_order_qty", path: "qty", message: `qty ${lotsToDecimal(intent.qty, spec)} exceeds the maximum order quantity ${limits.maxOrderQty}` };
  const value = intent.notional ?? notionalOf(price, intent.qty!, spec);
  if (value > knownMoney(limits.maxOrderNotional)!)
    return { rule: "max_order_notional", path: intent.notional === null ? "qty" : "notional", message: `order value ${formatMoney(roundHalfUp(value, CENT))} exceeds the maximum order notional ${limits.maxOrderNotional}` };
  // What the position would be worth at the last price once every open buy and this one
  // have filled: all their lots at that one price (the new order's lots valued at its own
  // limit, as they once were, let a far limit in that the same order, resting, then
  // refused itself and every other buy for); a notional buy adds its amount.
  const added = intent.notional ?? notionalOf(reference, intent.qty!, spec);
  const held = notionalOf(reference, ctx.positionLots + ctx.openBuyLots, spec) + added;
  if (held > knownMoney(limits.maxPositionNotional)!)
    return { rule: "max_position", path: intent.notional === null ? "qty" : "notional", message: `${symbol} position would be worth ${formatMoney(held)} with open orders, above the maximum position ${limits.maxPositionNotional}` };
  if (ctx.dailyLoss >= knownMoney(limits.dailyLossLimit)!)
    return { rule: "daily_loss", path: "side", message: `daily loss limit reached: lost ${formatMoney(roundHalfUp(ctx.dailyLoss, CENT))} today (limit ${limits.dailyLossLimit}); only sells are accepted until the next day` };
  return null;
}

/**
 * The largest fee an order of `value` can pay: all of it made or all of it taken,
 * whichever rate is higher, and never less than the minimum fee. (The fee is linear in
 * the maker/taker split before rounding, so a mix never exceeds both extremes.)
 */
export function worstFee(venue: VenueConfig, value: Money): Money {
  const asMaker = orderFee(venue, value, ZERO);
  const asTaker = orderFee(venue, ZERO, value);
  return asMaker > asTaker ? asMaker : asTaker;
}

/** Cash a buy holds for its worst case: value at its worst price plus the largest fee. */
export function buyReservation(intent: OrderIntent, worstPrice: number, spec: InstrumentSpec, venue: VenueConfig): Money {
  const value = intent.notional ?? notionalOf(worstPrice, intent.qty!, spec);
  return value + worstFee(venue, value);
}

/**
 * Cash a sell holds for its fee. The rate part of a fee never exceeds what the sell raises
 * (rates are at most 10 %), but a minimum fee can: one lot of a coin at a 1e-9 lot size
 * raises less than a cent. So a sell holds the minimum fee, and pays its fee from that first.
 */
export function sellFeeReservation(venue: VenueConfig): Money {
  const minimum = knownMoney(venue.minFee) ?? ZERO;
  return minimum > ZERO ? minimum : ZERO;
}

/** Lots a notional sell may need at its worst price (the band's low), at most `available`. */
export function notionalSellLots(amount: Money, worstPrice: number, available: number, spec: InstrumentSpec): number {
  const oneLot = notionalOf(worstPrice, 1, spec);
  const lots = (amount + oneLot - 1n) / oneLot;
  return Number(lots < BigInt(available) ? lots : BigInt(available));
}

/** Whether an order would trade on arrival against `market`'s quote: what a stale quote must not price. */
export function marketableOnArrival(intent: OrderIntent, market: MarketPrice): boolean {
  if (intent.type === "market") return true;
  // Its stop trails the price by a positive distance: never through it on arrival.
  if (intent.type === "trailing_stop") return false;
  const through = (price: number) => (intent.side === "buy" ? market.ask !== null && price >= market.ask : market.bid !== null && price <= market.bid);
  if (intent.type === "limit") return through(intent.limit!);
  // A stop already through the last price triggers at once.
  const triggered = intent.side === "buy" ? market.reference >= intent.stop! : market.reference <= intent.stop!;
  return triggered && (intent.type === "stop" || through(intent.limit!));
}

