import type { MetricName } from "../../../shared/schemas/backtests";
import type { Point } from "./series-chart";
import { toTime } from "./series-chart";

// Metric names and how they read: the fractions as percentages, money as it came (decimal
// strings from the exact engine), other numbers with a few decimals.

// The API's metric names, in the order shown; the type checks keep the two lists equal (a
// value import of the schema would bundle zod).
export const METRICS = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration", "calmar", "annualized_volatility", "trades", "wins", "win_rate", "profit_factor", "expectancy", "average_trade", "gross_profit", "gross_loss", "exposure", "fees", "end_equity"] as const satisfies readonly MetricName[];
type Missing = Exclude<MetricName, (typeof METRICS)[number]>;
export const everyMetricShown: [Missing] extends [never] ? true : Missing = true;

const FRACTIONS = new Set(["total_return", "cagr", "annualized_volatility", "max_drawdown", "win_rate", "exposure"]);
const COUNTS = new Set(["trades", "wins", "bars"]);

/** A span in ms as days, hours and minutes ("1d 2h", "45m"). */
function span(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d && `${d}d`, h && `${h}h`, (m || minutes === 0) && `${m}m`].filter(Boolean).join(" ");
}

export const metricLabel = (name: string) => name.replace(/_/g, " ");

export function formatMetric(name: string, value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return String(value);
  if (FRACTIONS.has(name)) return `${(value * 100).toFixed(2)}%`;
  if (COUNTS.has(name)) return String(value);
  if (name === "max_drawdown_duration") return span(value);
  return value.toFixed(3);
}

/** A metric as a number for ranking and colouring (money strings parse; nulls do not). */
export function metricNumber(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Bars of an uploaded CSV (timestamp,open,high,low,close,volume) as close prices to draw. */
export function csvCloses(text: string): Point[] {
  const out: Point[] = [];
  for (const line of text.split(/\r?\n/).slice(1)) {
    const [t, , , , close] = line.split(",");
    if (!t || close === undefined) continue;
    const time = /^\d+$/.test(t.trim()) ? (Math.floor(Number(t) / (t.trim().length > 10 ? 1000 : 1)) as Point["time"]) : toTime(t.trim());
    const value = Number(close);
    if (Number.isFinite(time) && Number.isFinite(value)) out.push({ time, value });
  }
  return out;
}

/** An uploaded CSV's rows as bars for a JSON body (the optimization takes no file upload). */
export function csvBars(text: string): { t: string; open: number; high: number; low: number; close: number; volume: number }[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0]?.split(",").map((h) => h.trim().toLowerCase()) ?? [];
  const at = (name: string) => header.indexOf(name);
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    const n = (name: string) => Number(cells[at(name)]);
    return { t: (cells[at("timestamp")] ?? "").trim(), open: n("open"), high: n("high"), low: n("low"), close: n("close"), volume: at("volume") < 0 ? 0 : n("volume") };
  });
}
