// The US equity market calendar behind /v2/clock and /v2/calendar: NYSE regular hours
// 09:30–16:00 America/New_York (13:00 on early-close days) on weekdays that are not
// exchange holidays, extended session 04:00–20:00. Pure; DST-correct through Intl.
const ZONE = "America/New_York";

// NYSE full-day closures (nyse.com holiday calendar).
const HOLIDAYS = new Set([
  "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26", "2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25",
  "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19", "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25",
  "2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31", "2027-06-18", "2027-07-05", "2027-09-06", "2027-11-25", "2027-12-24",
]);

// NYSE early closes at 13:00 (the day after Thanksgiving, Christmas Eve and the eve of
// Independence Day when they are trading days; nyse.com). The extended session then ends at 17:00.
const EARLY_CLOSES = new Set(["2025-07-03", "2025-11-28", "2025-12-24", "2026-11-27", "2026-12-24", "2027-11-26"]);

/** The regular session's close on a trading day (HH:MM, New York). */
const closeOf = (date: string) => (EARLY_CLOSES.has(date) ? "13:00" : "16:00");

const partsFormat = new Intl.DateTimeFormat("en-US", {
  timeZone: ZONE,
  hourCycle: "h23",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

interface LocalParts {
  date: string;
  minutes: number;
  offsetMinutes: number;
}

function local(ms: number): LocalParts {
  const p = Object.fromEntries(partsFormat.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    minutes: Number(p.hour) * 60 + Number(p.minute),
    offsetMinutes: Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000),
  };
}

/** Epoch ms of a wall-clock time in New York on a date (YYYY-MM-DD). */
export function newYorkTime(date: string, hhmm: string): number {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  const [hh, mm] = hhmm.split(":").map(Number) as [number, number];
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  // The offset at the guess is right except within an hour of a DST switch; one
  // correction settles it because the market never opens at 2 a.m.
  return guess - local(guess).offsetMinutes * 60000;
}

export function isTradingDay(date: string): boolean {
  const weekday = new Date(`${date}T12:00:00Z`).getUTCDay();
  return weekday !== 0 && weekday !== 6 && !HOLIDAYS.has(date);
}

const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T12:00:00Z`) + days * 86400000).toISOString().slice(0, 10);

export interface CalendarDay {
  date: string;
  open: string;
  close: string;
  session_open: string;
  session_close: string;
  settlement_date: string;
}

/** Trading days from start to end inclusive (YYYY-MM-DD), at most 1000. */
export function calendar(start: string, end: string): CalendarDay[] {
  const days: CalendarDay[] = [];
  for (let d = start; d <= end && days.length < 1000; d = addDays(d, 1)) {
    if (!isTradingDay(d)) continue;
    let settlement = addDays(d, 1);
    while (!isTradingDay(settlement)) settlement = addDays(settlement, 1);
    const early = EARLY_CLOSES.has(d);
    days.push({ date: d, open: "09:30", close: closeOf(d), session_open: "0400", session_close: early ? "1700" : "2000", settlement_date: settlement });
  }
  return days;
}

/** RFC 3339 in New York time with a numeric offset and milliseconds (what ccxt parses). */
export function newYorkTimestamp(ms: number): string {
  const { offsetMinutes } = local(ms);
  const shifted = new Date(ms + offsetMinutes * 60000).toISOString().slice(0, 23);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${shifted}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

export interface Clock {
  timestamp: string;
  is_open: boolean;
  next_open: string;
  next_close: string;
}

export function clock(now: number): Clock {
  const today = local(now).date;
  const open = (d: string) => newYorkTime(d, "09:30");
  const close = (d: string) => newYorkTime(d, closeOf(d));
  const isOpen = isTradingDay(today) && now >= open(today) && now < close(today);
  let nextOpenDay = isTradingDay(today) && now < open(today) ? today : addDays(today, 1);
  while (!isTradingDay(nextOpenDay)) nextOpenDay = addDays(nextOpenDay, 1);
  let nextCloseDay = isTradingDay(today) && now < close(today) ? today : addDays(today, 1);
  while (!isTradingDay(nextCloseDay)) nextCloseDay = addDays(nextCloseDay, 1);
  return {
    timestamp: newYorkTimestamp(now),
    is_open: isOpen,
    next_open: newYorkTimestamp(open(nextOpenDay)),
    next_close: newYorkTimestamp(close(nextCloseDay)),
  };
}
