// Alpaca's bar timeframes (docs/alpaca-compat.md §5: N{Min|T} 1–59, N{Hour|H} 1–23, 1{Day|D},
// 1{Week|W}, {1,2,3,4,6,12}{Month|M}) and the buckets they cut time into.
//
// Minute and hour buckets follow the UTC clock, as Alpaca's do; day, week and month
// buckets start at local midnight in the instrument's zone, so a New York daily bar
// starts at 00:00 New York time on both sides of a DST change.

export type TimeframeUnit = "minute" | "hour" | "day" | "week" | "month";

export interface Timeframe {
  amount: number;
  unit: TimeframeUnit;
  /** Canonical spelling: "5Min", "1Hour", "1Day", "1Week", "3Month". */
  label: string;
}

export type ParsedTimeframe = { ok: true; timeframe: Timeframe } | { ok: false; message: string };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// A Map, not an object literal: "1constructor" must not find Object.prototype.constructor.
const UNITS = new Map<string, TimeframeUnit>([
  ["min", "minute"],
  ["t", "minute"],
  ["hour", "hour"],
  ["h", "hour"],
  ["day", "day"],
  ["d", "day"],
  ["week", "week"],
  ["w", "week"],
  ["month", "month"],
  ["m", "month"],
]);

const LABELS: Record<TimeframeUnit, string> = { minute: "Min", hour: "Hour", day: "Day", week: "Week", month: "Month" };

const RANGE_MESSAGES: Record<TimeframeUnit, string> = {
  minute: "minute timeframes support 1Min to 59Min",
  hour: "hour timeframes support 1Hour to 23Hour",
  day: "day timeframes support only 1Day",
  week: "week timeframes support only 1Week",
  month: "month timeframes support 1, 2, 3, 4, 6 or 12 months (e.g. 3Month)",
};

// Month buckets must tile the year so that every year starts a bucket.
const MONTH_AMOUNTS = new Set([1, 2, 3, 4, 6, 12]);

function inRange(amount: number, unit: TimeframeUnit): boolean {
  switch (unit) {
    case "minute":
      return amount >= 1 && amount <= 59;
    case "hour":
      return amount >= 1 && amount <= 23;
    case "day":
    case "week":
      return amount === 1;
    case "month":
      return MONTH_AMOUNTS.has(amount);
    default:
      return assertNever(unit);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected timeframe unit ${String(value)}`);
}

/** Case-insensitive, as ccxt sends "1min", "1H", "1D", "1W", "1M". */
export function parseTimeframe(text: string): ParsedTimeframe {
  const match = /^(\d{1,4})([a-z]+)$/i.exec(text);
  const unitText = match?.[2];
  const unit = unitText === undefined ? undefined : UNITS.get(unitText.toLowerCase());
  if (!match || unitText === undefined || unit === undefined) {
    return { ok: false, message: `"${text}" is not a timeframe; use e.g. 1Min, 15Min, 1Hour, 1Day, 1Week or 1Month` };
  }
  // A lone lower-case "m" reads as minutes to anyone used to ccxt's unified names ("1m"),
  // but is a month in Alpaca's grammar. Guessing either way returns the wrong bars.
  if (unitText === "m") {
    return { ok: false, message: `"${text}" is ambiguous; use ${match[1]}Min for minutes or ${match[1]}Month for months` };
  }
  const amount = Number(match[1]);
  if (!inRange(amount, unit)) return { ok: false, message: RANGE_MESSAGES[unit] };
  return { ok: true, timeframe: { amount, unit, label: `${amount}${LABELS[unit]}` } };
}

function mustParse(text: string): Timeframe {
  const parsed = parseTimeframe(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.timeframe;
}

/** What the live stream aggregates: bars (1Min), the higher frames, and daily bars. */
export const STREAM_TIMEFRAMES: readonly Timeframe[] = ["1Min", "5Min", "15Min", "1Hour", "1Day"].map(mustParse);

// --- local calendar arithmetic ---------------------------------------------------------
// Dates are carried as "date labels": epoch ms of that calendar date's midnight in UTC,
// so Date.UTC does the calendar arithmetic (month lengths, leap years, overflow).

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock reading in timeZone at instant ms, as if it were UTC. */
function wallClock(ms: number, timeZone: string): number {
  if (timeZone === "UTC") return ms;
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(ms))) parts[part.type] = Number(part.value);
  const { year = NaN, month = NaN, day = NaN, hour = NaN, minute = NaN, second = NaN } = parts;
  // Intl has no milliseconds here; offsets are whole seconds, so add them back.
  return Date.UTC(year, month - 1, day, hour, minute, second) + (((ms % 1000) + 1000) % 1000);
}

const offsetAt = (ms: number, timeZone: string) => wallClock(ms, timeZone) - ms;

const dateLabelOf = (ms: number, timeZone: string) => Math.floor(wallClock(ms, timeZone) / DAY) * DAY;

/** The first instant of a local calendar date. */
function startOfLocalDay(dateLabel: number, timeZone: string): number {
  // The offset at a first guess is right except near a transition; the second pass fixes that.
  let t = dateLabel - offsetAt(dateLabel, timeZone);
  t = dateLabel - offsetAt(t, timeZone);
  // Where clocks skip midnight itself (a few zones move at 00:00), t lands on the previous
  // evening; the day begins where the gap ends.
  const wall = wallClock(t, timeZone);
  return wall < dateLabel ? t + (dateLabel - wall) : t;
}

function mondayOf(dateLabel: number): number {
  const daysSinceMonday = (new Date(dateLabel).getUTCDay() + 6) % 7;
  return dateLabel - daysSinceMonday * DAY;
}

function monthBucketLabel(dateLabel: number, months: number, offset: number): number {
  const date = new Date(dateLabel);
  const first = Math.floor(date.getUTCMonth() / months) * months;
  return Date.UTC(date.getUTCFullYear(), first + offset * months, 1);
}

/** Start of a grid of `size` within each `period` (N minutes within the hour, N hours within the day). */
function gridBucket(tMs: number, size: number, period: number): { start: number; end: number } {
  const periodStart = Math.floor(tMs / period) * period;
  const start = periodStart + Math.floor((tMs - periodStart) / size) * size;
  // 7Min buckets end the hour with a short :56–:00 bucket rather than straddling it.
  return { start, end: Math.min(start + size, periodStart + period) };
}

/** Start (epoch ms) of the bucket of `timeframe` that contains tMs. */
export function bucketStart(tMs: number, timeframe: Timeframe, timeZone: string): number {
  switch (timeframe.unit) {
    case "minute":
      return gridBucket(tMs, timeframe.amount * MINUTE, HOUR).start;
    case "hour":
      return gridBucket(tMs, timeframe.amount * HOUR, DAY).start;
    case "day":
      return startOfLocalDay(dateLabelOf(tMs, timeZone), timeZone);
    case "week":
      return startOfLocalDay(mondayOf(dateLabelOf(tMs, timeZone)), timeZone);
    case "month":
      return startOfLocalDay(monthBucketLabel(dateLabelOf(tMs, timeZone), timeframe.amount, 0), timeZone);
    default:
      return assertNever(timeframe.unit);
  }
}

/** Start of the bucket after the one that contains tMs (that bucket's exclusive end). */
export function nextBucketStart(tMs: number, timeframe: Timeframe, timeZone: string): number {
  switch (timeframe.unit) {
    case "minute":
      return gridBucket(tMs, timeframe.amount * MINUTE, HOUR).end;
    case "hour":
      return gridBucket(tMs, timeframe.amount * HOUR, DAY).end;
    case "day":
      return startOfLocalDay(dateLabelOf(tMs, timeZone) + DAY, timeZone);
    case "week":
      return startOfLocalDay(mondayOf(dateLabelOf(tMs, timeZone)) + 7 * DAY, timeZone);
    case "month":
      return startOfLocalDay(monthBucketLabel(dateLabelOf(tMs, timeZone), timeframe.amount, 1), timeZone);
    default:
      return assertNever(timeframe.unit);
  }
}
