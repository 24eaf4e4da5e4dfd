// The US equity market calendar behind /v2/clock and /v2/calendar: NYSE regular hours
// 09:30–16:00 America/New_York (13:00 on early-close days) on weekdays that are not
// exchange holidays, extended session 04:00–20:00. Pure; DST-correct through Intl.
const ZONE = "America/New_York";

// NYSE's holidays by its rules (nyse.com, Rule 7.2): New Year's Day, Martin Luther King Jr.
// Day (third Monday of January, from 1998), Washington's Birthday (third Monday of
// February), Good Friday, Memorial Day (last Monday of May), Juneteenth (from 2022),
// Independence Day, Labor Day (first Monday of September), Thanksgiving (fourth Thursday of
// November) and Christmas. A holiday on a Saturday is observed the Friday before, on a
// Sunday the Monday after, except New Year's Day on a Saturday, which is not observed.
// Plus the market's unscheduled closures since 2001, which no rule gives.
const SPECIAL_CLOSURES = new Set([
  "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14", // September 11
  "2004-06-11", // President Reagan's funeral
  "2007-01-02", // President Ford's funeral
  "2012-10-29", "2012-10-30", // Hurricane Sandy
  "2018-12-05", // President G. H. W. Bush's funeral
  "2025-01-09", // President Carter's funeral
]);

const iso = (y: number, m: number, d: number) => `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
const weekdayOf = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).getUTCDay();

/** The n-th `weekday` (0 Sunday) of a month, or with n = -1 its last. */
function nthWeekday(y: number, m: number, weekday: number, n: number): string {
  if (n > 0) return iso(y, m, 1 + ((weekday - weekdayOf(y, m, 1) + 7) % 7) + (n - 1) * 7);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return iso(y, m, last - ((weekdayOf(y, m, last) - weekday + 7) % 7));
}

/** Easter Sunday (the Gregorian computus, Meeus/Jones/Butcher) as [month, day]. */
function easter(y: number): [number, number] {
  const a = y % 19;
  const b = Math.floor(y / 100);
  const c = y % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  return [Math.floor((h + l - 7 * m + 114) / 31), ((h + l - 7 * m + 114) % 31) + 1];
}

/** A fixed-date holiday's observed day: Saturday → Friday, Sunday → Monday. */
function observed(y: number, m: number, d: number): string {
  const weekday = weekdayOf(y, m, d);
  const shift = weekday === 6 ? -1 : weekday === 0 ? 1 : 0;
  const t = new Date(Date.UTC(y, m - 1, d + shift));
  return iso(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

const holidayYears = new Map<number, ReadonlySet<string>>();

/** NYSE's full-day closures in year `y` by its rules (memoized per year). */
export function nyseHolidays(y: number): ReadonlySet<string> {
  let days = holidayYears.get(y);
  if (days) return days;
  const [em, ed] = easter(y);
  const goodFriday = new Date(Date.UTC(y, em - 1, ed - 2));
  const list = [
    // New Year's Day on a Saturday is not observed (the Friday before closes the year).
    weekdayOf(y, 1, 1) === 6 ? null : observed(y, 1, 1),
    y >= 1998 ? nthWeekday(y, 1, 1, 3) : null,
    nthWeekday(y, 2, 1, 3),
    iso(y, goodFriday.getUTCMonth() + 1, goodFriday.getUTCDate()),
    nthWeekday(y, 5, 1, -1),
    y >= 2022 ? observed(y, 6, 19) : null,
    observed(y, 7, 4),
    nthWeekday(y, 9, 1, 1),
    nthWeekday(y, 11, 4, 4),
    observed(y, 12, 25),
  ];
  days = new Set(list.filter((d): d is string => d !== null));
  holidayYears.set(y, days);
  return days;
}

const isHoliday = (date: string) => SPECIAL_CLOSURES.has(date) || nyseHolidays(Number(date.slice(0, 4))).has(date);

/**
 * NYSE's early closes at 13:00 (the extended session then ends at 17:00): the eve of
 * Independence Day (July 3), the day after Thanksgiving and Christmas Eve, when each is a
 * trading day.
 */
export function isEarlyClose(date: string): boolean {
  const y = Number(date.slice(0, 4));
  const md = date.slice(5);
  if (md !== "07-03" && md !== "12-24" && (md < "11-23" || md > "11-29" || date !== addDays(nthWeekday(y, 11, 4, 4), 1))) return false;
  return isTradingDay(date);
}

/** The regular session's close on a trading day (HH:MM, New York). */
const closeOf = (date: string) => (isEarlyClose(date) ? "13:00" : "16:00");

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

/**
 * The instants a New York date runs between, its midnight and the next (23 to 25 hours
 * apart across a clock change); null for text that is not a real YYYY-MM-DD date within
 * the calendar's years (9999-12-31 has no next day in this form, and Date.UTC reads the
 * years 0 to 99 as 1900 to 1999).
 */
export function newYorkDay(date: string): { start: number; end: number } | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || date < CALENDAR_FIRST || date > CALENDAR_LAST) return null;
  const utc = Date.parse(`${date}T00:00:00Z`);
  if (!Number.isFinite(utc) || new Date(utc).toISOString().slice(0, 10) !== date) return null;
  return { start: newYorkTime(date, "00:00"), end: newYorkTime(new Date(utc + 86_400_000).toISOString().slice(0, 10), "00:00") };
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
  return weekday !== 0 && weekday !== 6 && !isHoliday(date);
}

/** A date (YYYY-MM-DD) moved by whole days. */
export const addDays = (date: string, days: number): string => new Date(Date.parse(`${date}T12:00:00Z`) + days * 86400000).toISOString().slice(0, 10);

export interface CalendarDay {
  date: string;
  open: string;
  close: string;
  session_open: string;
  session_close: string;
  settlement_date: string;
}

/** The first and last dates the calendar answers for (Alpaca's starts in 1970 too). */
export const CALENDAR_FIRST = "1970-01-01";
export const CALENDAR_LAST = "2099-12-31";

/**
 * Trading days from start to end inclusive (YYYY-MM-DD), within CALENDAR_FIRST and
 * CALENDAR_LAST. One pass over the days (a date's text made once): the whole range is
 * about 33,000 days, and the default request lists sixty years.
 */
export function calendar(start: string, end: string): CalendarDay[] {
  const first = start < CALENDAR_FIRST ? CALENDAR_FIRST : start;
  const last = end > CALENDAR_LAST ? CALENDAR_LAST : end;
  const days: CalendarDay[] = [];
  if (last < first) return days;
  // The date walked as numbers (a Date a day cost most of the time).
  let [y, m, d] = first.split("-").map(Number) as [number, number, number];
  let weekday = weekdayOf(y, m, d);
  let monthDays = new Date(Date.UTC(y, m, 0)).getUTCDate();
  // Past the last day until its settlement date is found (a week covers any run of closures).
  for (let extra = 0; extra < 10; ) {
    const date = `${y}-${TWO[m]}-${TWO[d]}`;
    const past = date > last;
    if (past) extra++;
    if (weekday !== 0 && weekday !== 6 && !isHoliday(date)) {
      const before = days[days.length - 1];
      if (before && before.settlement_date === "") before.settlement_date = date;
      if (past) break;
      const early = isEarlyClose(date);
      days.push({ date, open: "09:30", close: early ? "13:00" : "16:00", session_open: "0400", session_close: early ? "1700" : "2000", settlement_date: "" });
    }
    weekday = (weekday + 1) % 7;
    if (++d > monthDays) {
      d = 1;
      if (++m > 12) {
        m = 1;
        y++;
      }
      monthDays = new Date(Date.UTC(y, m, 0)).getUTCDate();
    }
  }
  return days;
}

/** "01" … "31". */
const TWO = Array.from({ length: 32 }, (_, i) => String(i).padStart(2, "0"));

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
