import type { InstrumentSpec } from "../market/instrument";

// Money in RedFire: a bigint count of 10^-18 dollars. Every notional is price × quantity,
// and with tick and lot sizes of at most nine decimals each the product has at most
// eighteen, so cash, reservations and P&L are exact sums with no rounding anywhere except
// where a rule says so (fees round half up to the cent). On the wire money is a decimal
// string; nothing else may touch this representation.
export type Money = bigint;

export const SCALE = 18;
const ONE = 10n ** BigInt(SCALE);
/** One dollar in money units: a product of two amounts divides by it. */
export const MONEY_ONE: Money = ONE;
export const ZERO: Money = 0n;
export const CENT: Money = ONE / 100n;

const DECIMAL = /^(-)?(\d{1,20})(?:\.(\d{1,18}))?$/;
const ZEROS = "0".repeat(SCALE);

/**
 * A decimal string ("1234.5", "-0.01") as money, or undefined if it is not one: an optional
 * minus, 1–20 digits, and optionally a point and 1–18 more; spaces around it are ignored.
 * Text without surrounding space (every amount the engine writes) is read by one scan of
 * its characters rather than the pattern: a backtest parses several per order.
 */
export function parseMoney(input: string | number): Money | undefined {
  const text = typeof input === "number" ? String(input) : input;
  const end = text.length;
  if (end === 0) return undefined;
  const first = text.charCodeAt(0);
  const lastChar = text.charCodeAt(end - 1);
  if (!isAsciiDigit(lastChar) || !(isAsciiDigit(first) || first === 45)) return parsePadded(text);
  const start = first === 45 ? 1 : 0;
  let point = -1;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && point < 0) point = i;
    else if (!isAsciiDigit(c)) return undefined;
  }
  const whole = (point < 0 ? end : point) - start;
  const fraction = point < 0 ? 0 : end - point - 1;
  if (whole < 1 || whole > 20 || (point >= 0 && (fraction < 1 || fraction > SCALE))) return undefined;
  // The digits with the fraction padded to the scale are the units: one bigint parse.
  const digits = point < 0 ? text.slice(start) + ZEROS : text.slice(start, point) + text.slice(point + 1) + ZEROS.slice(fraction);
  const value = BigInt(digits);
  return start === 1 ? -value : value;
}

const isAsciiDigit = (c: number): boolean => c >= 48 && c <= 57;

/** parseMoney of text that may have spaces around it (or is not money): by the pattern. */
function parsePadded(text: string): Money | undefined {
  const match = DECIMAL.exec(text.trim());
  if (!match) return undefined;
  const value = BigInt(match[2]! + (match[3] ?? "").padEnd(SCALE, "0"));
  return match[1] ? -value : value;
}

/**
 * Decimal string with at least `minDecimals` and no trailing zeros beyond them. The units'
 * digits are written once and cut at the scale (a division and a remainder of bigints cost
 * twice as much; every order view and fill writes a few of these).
 */
export function formatMoney(value: Money, minDecimals = 2): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString();
  const cut = digits.length - SCALE;
  const whole = cut > 0 ? digits.slice(0, cut) : "0";
  const fraction = cut >= 0 ? digits.slice(cut) : digits.padStart(SCALE, "0");
  let end = SCALE;
  while (end > minDecimals && fraction.charCodeAt(end - 1) === 48) end--;
  const kept = end < minDecimals ? fraction.padEnd(minDecimals, "0") : fraction.slice(0, end);
  return `${negative ? "-" : ""}${whole}${kept ? `.${kept}` : ""}`;
}

/**
 * A configured amount (a grid step, a risk limit, a minimum fee) as money: a handful of
 * strings read on every order, each parsed once. Bounded, in case something odd streams
 * new ones; text that is not money is parsed (and refused) every time.
 */
const KNOWN_AMOUNTS = 1024;
const knownAmounts = new Map<string, Money>();
export function knownMoney(text: string): Money | undefined {
  let amount = knownAmounts.get(text);
  if (amount === undefined) {
    amount = parseMoney(text);
    if (amount === undefined) return undefined;
    if (knownAmounts.size >= KNOWN_AMOUNTS) knownAmounts.clear();
    knownAmounts.set(text, amount);
  }
  return amount;
}

function stepOf(step: string): Money {
  const units = knownMoney(step);
  if (units === undefined || units <= 0n) throw new RangeError(`not a positive step: ${step}`);
  return units;
}

/** The price of `ticks` as money per one unit of quantity. */
export const priceOf = (ticks: number, spec: InstrumentSpec): Money => BigInt(ticks) * stepOf(spec.tickSize);

/** Quantity of `lots` as money-scaled units (1 share = 10^18). */
export const quantityOf = (lots: number, spec: InstrumentSpec): Money => BigInt(lots) * stepOf(spec.lotSize);

/**
 * The money of one tick times one lot, times ONE: notional's constant, remembered for the
 * last grid asked (an account or a backtest asks for the same one over and over).
 */
let unitTick = "";
let unitLot = "";
let unitProduct: Money = 0n;
/** unitProduct ÷ ONE when one tick of one lot is a whole number of money units (every real grid), else null. */
let unitMoney: Money | null = null;
function tickLotProduct(spec: InstrumentSpec): Money {
  if (spec.tickSize !== unitTick || spec.lotSize !== unitLot) {
    unitProduct = stepOf(spec.tickSize) * stepOf(spec.lotSize);
    unitMoney = unitProduct % ONE === 0n ? unitProduct / ONE : null;
    unitTick = spec.tickSize;
    unitLot = spec.lotSize;
  }
  return unitProduct;
}

/** price × quantity, exact. */
export function notional(priceTicks: number, lots: number, spec: InstrumentSpec): Money {
  const product = tickLotProduct(spec);
  // A whole tick-lot: nothing to divide, and a product of ticks and lots within 2^53 is exact
  // as a number (integers only: anything else takes BigInt's throw below, as it did).
  if (unitMoney !== null) {
    const ticksTimesLots = priceTicks * lots;
    return Number.isSafeInteger(ticksTimesLots) && Number.isInteger(priceTicks) && Number.isInteger(lots) ? BigInt(ticksTimesLots) * unitMoney : BigInt(priceTicks) * BigInt(lots) * unitMoney;
  }
  return (BigInt(priceTicks) * BigInt(lots) * product) / ONE;
}

/**
 * A fee rate in basis points with at most two decimals ("0.29", 0.29, 25) as an exact
 * count of hundredths of a basis point. Parsed from its decimal text: 0.29 * 100 is
 * 28.999999999999996 in binary floating point.
 */
export function bpsHundredths(bps: number | string): bigint {
  const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(bps).trim());
  if (!match) throw new RangeError(`fee rate must be a non-negative number of basis points with at most two decimals: ${bps}`);
  return BigInt(match[1]!) * 100n + BigInt((match[2] ?? "").padEnd(2, "0"));
}

/** amount × bps / 10,000, rounded half up to the cent (fees are charged in cents). */
export function basisPoints(amount: Money, bps: number | string): Money {
  return roundHalfUp((amount * bpsHundredths(bps)) / 1_000_000n, CENT);
}

/** Rounds to a multiple of `unit`, halves away from zero. */
export function roundHalfUp(value: Money, unit: Money): Money {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const rounded = ((abs + unit / 2n) / unit) * unit;
  return negative ? -rounded : rounded;
}

export const max = (a: Money, b: Money): Money => (a > b ? a : b);
export const min = (a: Money, b: Money): Money => (a < b ? a : b);
