// Numbers on screen. Money and quantities stay exact (the platform's own bigint money
// module, 10^-18 USD); market-data prices arrive as JSON numbers and are read back as the
// decimal text they print as, never multiplied as floats.
import { formatMoney, parseMoney, type Money } from "../../shared/trading/money";

export type { Money };
const ONE = 10n ** 18n;

/** A decimal string or a JSON number as exact money; undefined if it is not one. */
export function dec(value: string | number | null | undefined): Money | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  return parseMoney(typeof value === "number" ? String(value) : value);
}

export const times = (a: Money, b: Money): Money => (a * b) / ONE;

/** 1234567.5 → "1,234,567.50" (at least `decimals` places, more if the value has them). */
export function num(value: Money | undefined, decimals = 2, maxDecimals = 8): string {
  if (value === undefined) return "—";
  const text = formatMoney(roundTo(value, maxDecimals), decimals);
  const [whole, fraction] = text.split(".");
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction ? `${grouped}.${fraction}` : grouped;
}

export const usd = (value: Money | undefined) => num(value, 2, 2);

function roundTo(value: Money, decimals: number): Money {
  const unit = 10n ** BigInt(18 - decimals);
  const half = unit / 2n;
  return value < 0n ? -((-value + half) / unit) * unit : ((value + half) / unit) * unit;
}

/**
 * part ÷ whole as a percentage with two decimals ("+1.25%"). A change too small to show keeps
 * its sign ("-0.00%"), as its colour does.
 */
export function pct(part: Money | undefined, whole: Money | undefined, signed = true): string {
  if (part === undefined || whole === undefined || whole === 0n) return "—";
  const exact = (part * 100n * ONE) / whole;
  const bp = roundTo(exact, 2);
  // formatMoney writes the minus of a change that rounds to a hundredth or more.
  const sign = signed && exact > 0n ? "+" : signed && exact < 0n && bp === 0n ? "-" : "";
  return `${sign}${formatMoney(bp, 2)}%`;
}

export const signed = (value: Money | undefined) => (value === undefined ? "—" : `${value > 0n ? "+" : ""}${usd(value)}`);
export const tone = (value: Money | undefined) => (value === undefined || value === 0n ? "" : value > 0n ? "up" : "down");

export const time = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "—");
