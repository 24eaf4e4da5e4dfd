// When an instrument trades and when a day order ends. An instrument without a session
// trades around the clock (the demo instruments), and its day orders end at midnight in
// New York; one with a session trades on its days between open and close in its zone,
// and its day orders end at that day's close.

export interface TradingSession {
  timeZone: string;
  open: string;
  close: string;
  days: number[];
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(ms: number, timeZone: string): { y: number; m: number; d: number; weekday: number; minutes: number; seconds: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", weekday: "short", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return {
    y: Number(parts.year),
    m: Number(parts.month),
    d: Number(parts.day),
    weekday: WEEKDAYS.indexOf(parts.weekday!),
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
    seconds: Number(parts.second),
  };
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The instant when the wall clock in `timeZone` shows `minutes` past midnight on the day of `ms`. */
function atWallTime(ms: number, timeZone: string, minutes: number): number {
  const wall = wallClock(ms, timeZone);
  const sinceMidnight = (wall.minutes * 60 + wall.seconds) * 1000 + (ms % 1000);
  const guess = ms - sinceMidnight + minutes * 60_000;
  // Across a daylight-saving change the offset differs at the target time: correct once.
  const drift = wallClock(guess, timeZone).minutes - (minutes % 1440);
  return drift === 0 ? guess : guess - drift * 60_000;
}

export function sessionOpen(session: TradingSession | null, now: number): boolean {
  if (!session) return true;
  const wall = wallClock(now, session.timeZone);
  const open = minutesOf(session.open);
  const close = minutesOf(session.close);
  return session.days.includes(wall.weekday) && wall.minutes >= open && wall.minutes < close;
}

/** When a day order placed at `now` expires. */
export function dayOrderExpiry(session: TradingSession | null, now: number): number {
  // Noon plus a day is on the next day whatever daylight saving does (days last 23 to 25 hours).
  if (!session) return atWallTime(atWallTime(now, "America/New_York", 720) + 24 * 3_600_000, "America/New_York", 0);
  return atWallTime(now, session.timeZone, minutesOf(session.close));
}
