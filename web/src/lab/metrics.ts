import type { MetricName } from "../../../shared/schemas/backtests";
import { dec, usd } from "../format";

// Metric names and how they read: the fractions as percentages, money in cents (rounded
// exactly from the engine's decimal strings, which the CSV and JSON downloads keep whole),
// other numbers with a few decimals; a number too large for that (a CAGR over a few days)
// with three significant digits and its exponent.

// The API's metric names, in the order shown; the type checks keep the two lists equal (a
// value import of the schema would bundle zod).
export const METRICS = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration", "calmar", "annualized_volatility", "trades", "wins", "win_rate", "profit_factor", "expectancy", "average_trade", "gross_profit", "gross_loss", "exposure", "fees", "end_equity"] as const satisfies readonly MetricName[];
type Missing = Exclude<MetricName, (typeof METRICS)[number]>;
export const everyMetricShown: [Missing] extends [never] ? true : Missing = true;

const FRACTIONS = new Set(["total_return", "cagr", "annualized_volatility", "max_drawdown", "win_rate", "exposure"]);
const COUNTS = new Set(["trades", "wins", "bars"]);
const MONEY = new Set(["expectancy", "average_trade", "gross_profit", "gross_loss", "fees", "start_equity", "end_equity"]);
/** Abbreviations that a label keeps in capitals (the rest read as words, capitalised by CSS). */
const ACRONYMS: Record<string, string> = { cagr: "CAGR" };
const FIXED_LIMIT = 1e9;
const decimals = (x: number, digits: number) => (Math.abs(x) < FIXED_LIMIT ? x.toFixed(digits) : x.toExponential(2));

/**
 * A fraction as a percentage with two decimals; one too small for them (a drawdown of a
 * thousandth of a percent), with two significant digits rather than a "0.00%" that reads
 * as none.
 */
function percent(fraction: number): string {
  const p = fraction * 100;
  return p !== 0 && Math.abs(p) < 0.005 ? `${p.toPrecision(2)}%` : `${decimals(p, 2)}%`;
}

/** A span in ms as days, hours and minutes ("1d 2h", "45m"). */
function span(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d && `${d}d`, h && `${h}h`, (m || minutes === 0) && `${m}m`].filter(Boolean).join(" ");
}

export const metricLabel = (name: string) => ACRONYMS[name] ?? name.replace(/_/g, " ");

export function formatMetric(name: string, value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string") {
    const money = MONEY.has(name) ? dec(value) : undefined;
    return money === undefined ? value : usd(money);
  }
  if (!Number.isFinite(value)) return String(value);
  if (FRACTIONS.has(name)) return percent(value);
  if (COUNTS.has(name)) return String(value);
  if (name === "max_drawdown_duration") return span(value);
  return decimals(value, 3);
}

/**
 * One metric of a run's set as the tables print it. The API's profit factor is null when
 * no trade lost (gross profit over a zero gross loss): with a profit, that is "∞", which
 * fits the table's column, rather than a dash that reads as "not computed".
 */
export function formatMetricOf(metrics: Partial<Record<string, number | string | null>> | null | undefined, name: string): string {
  const value = metrics?.[name];
  const profit = metrics?.gross_profit;
  if (name === "profit_factor" && value === null && typeof profit === "string" && (dec(profit) ?? 0n) > 0n) return "∞";
  return formatMetric(name, value);
}

/** A metric as a number for ranking and colouring (money strings parse; nulls do not). */
export function metricNumber(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}
