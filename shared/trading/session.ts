// When an instrument trades and when a day order ends. An instrument without a session
// trades around the clock (the demo instruments), and its day orders end at the next
// midnight in New York. One with a session trades on its days between open and close in
// its zone; a day order ends at the close of the session it was placed in, or, placed
// outside a session, at the close of the next one.
//
// Opens and closes are wall-clock times, so the instants move with daylight saving. Every
// wall time becomes an instant from its local calendar date, never by adding hours to an
// instant: a local day lasts 23 to 25 hours, and some zones skip or repeat midnight itself.
//
// A session on the NYSE calendar (`calendar: "nyse"`, New York time) also keeps the
// exchange's closures and early closes (shared/calendar.ts, what /v2/clock and
// /v2/calendar answer): no session on a holiday, and on an early-close day the core
// session ends at 13:00 and the late one at 17:00 (a close at or before 16:00 moves to
// 13:00, a later one to 17:00, when it is later than that).

import { isEarlyClose, isTradingDay } from "../calendar";

export interface TradingSession {
  timeZone: string;
  /** HH:MM, local. */
  open: string;
  /** HH:MM, local. At or before `open` (e.g. "00:00") it is on the next day: the session runs past midnight. "24:00" is the end of the day. */
  close: string;
  /** The days a session opens on: 0 = Sunday … 6 = Saturday. */
  days: number[];
  /** "nyse": no session on the exchange's holidays, and early closes kept (the zone must be America/New_York). */
  calendar?: "nyse" | null;
}

/** The zone a session on the NYSE calendar must be in. */
export const NYSE_ZONE = "America/New_York";
const EARLY_CORE_CLOSE = 13 * 60;
const CORE_CLOSE = 16 * 60;
const EARLY_LATE_CLOSE = 17 * 60;

const MINUTE = 60_000;
const DAY = 86_400_000;
const ROUND_THE_CLOCK: TradingSession = { timeZone: "America/New_York", open: "00:00", close: "00:00", days: [0, 1, 2, 3, 4, 5, 6] };
const formatters = new Map<string, Intl.DateTimeFormat>();
const instants = new Map<string, number>();

/** The wall clock in `timeZone` at the instant `ms`, written as if it were a UTC instant. */
function wallAt(ms: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    formatters.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const second = Math.floor(ms / 1000) * 1000;
  return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second)) + (ms - second);
}

/**
 * The instant at which the wall clock in `timeZone` first reads `wall` (a local date and
 * time written as if it were UTC). A time the clock shows twice (set back) is taken at its
 * first showing; a time it skips (set forward) is reached at the jump past it.
 */
function instantOfWall(wall: number, timeZone: string): number {
  const key = `${timeZone} ${wall}`;
  let instant = instants.get(key);
  if (instant === undefined) {
    // Bounded: the same few closes and midnights are asked for again and again.
    if (instants.size >= 4096) instants.clear();
    instant = firstShowing(wall, timeZone);
    instants.set(key, instant);
  }
  return instant;
}

function firstShowing(wall: number, timeZone: string): number {
  // Whatever instant shows `wall` is `wall` minus the offset in force then; the offsets a day
  // either side, and the one at the naive guess, are the candidates (this assumes a zone
  // does not change its offset twice within two days, true of every current tz rule).
  const offsets = [...new Set([wall - DAY, wall, wall + DAY].map((t) => wallAt(t, timeZone) - t))];
  const showings = offsets.map((o) => wall - o).filter((t) => wallAt(t, timeZone) === wall);
  if (showings.length > 0) return Math.min(...showings);
  // Skipped: between these instants the clock jumps from before `wall` to after it. Clock
  // changes fall on whole seconds, so bisect on seconds to the first instant past the jump.
  let before = wall - Math.max(...offsets);
  let after = wall - Math.min(...offsets);
  while (after - before > 1000) {
    const mid = before + Math.floor((after - before) / 2000) * 1000;
    if (wallAt(mid, timeZone) < wall) before = mid;
    else after = mid;
  }
  return after;
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * The session `now` falls in, or else the next one: the first whose close is after `now`.
 * Sessions never overlap, so walking the opening dates in order finds it; a week ahead
 * reaches every session day, and yesterday's session may still run past midnight.
 */
function sessionAround(session: TradingSession, now: number): { openAt: () => number; closeAt: number } | null {
  const { timeZone } = session;
  const open = minutesOf(session.open);
  const close = minutesOf(session.close);
  const closesNextDay = close <= open;
  const today = Math.floor(wallAt(now, timeZone) / DAY) * DAY;
  // A week ahead reaches every session day, and the longest run of exchange closures
  // (September 2001: four weekdays and a weekend) ends within it too.
  for (let k = closesNextDay ? -1 : 0; k <= 8; k++) {
    const date = today + k * DAY;
    if (!session.days.includes(new Date(date).getUTCDay())) continue;
    const closing = session.calendar === "nyse" ? nyseClose(new Date(date).toISOString().slice(0, 10), open, close) : close;
    if (closing === null) continue;
    const closeAt = instantOfWall(date + (closesNextDay ? DAY : 0) + closing * MINUTE, timeZone);
    if (closeAt > now) return { openAt: () => instantOfWall(date + open * MINUTE, timeZone), closeAt };
  }
  return null;
}

/**
 * The close (minutes) of a session opening on `date` on the NYSE calendar: null on a day
 * the exchange is closed, or when an early close comes before the session opens.
 */
function nyseClose(date: string, open: number, close: number): number | null {
  if (!isTradingDay(date)) return null;
  if (!isEarlyClose(date) || close <= open) return close;
  const early = Math.min(close, close <= CORE_CLOSE ? EARLY_CORE_CLOSE : EARLY_LATE_CLOSE);
  return early > open ? early : null;
}

/**
 * Whether the session is open at `now`, and the instant that stops being so (its close, or
 * its next open): a caller asking for many instants in order (a venue's prints) asks again
 * only past it. No session: open for good; one that never opens: closed for good.
 */
export function sessionState(session: TradingSession | null, now: number): { open: boolean; until: number } {
  if (!session) return { open: true, until: Infinity };
  const around = sessionAround(session, now);
  if (!around) return { open: false, until: Infinity };
  const openAt = around.openAt();
  return openAt <= now ? { open: true, until: around.closeAt } : { open: false, until: openAt };
}

export function sessionOpen(session: TradingSession | null, now: number): boolean {
  if (!session) return true;
  const around = sessionAround(session, now);
  return around !== null && around.openAt() <= now;
}

/** When a day order placed at `now` expires: always after `now`. */
export function dayOrderExpiry(session: TradingSession | null, now: number): number {
  if (!session) return sessionAround(ROUND_THE_CLOCK, now)!.closeAt;
  // A session with no days never opens, so no order is placed in it; end the day anyway.
  return (sessionAround(session, now) ?? sessionAround({ ...ROUND_THE_CLOCK, timeZone: session.timeZone }, now)!).closeAt;
}
