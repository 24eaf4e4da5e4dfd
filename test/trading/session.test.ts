import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dayOrderExpiry, sessionOpen, sessionState, type TradingSession } from "../../shared/trading/session";
import { Venue } from "../../shared/venue/venue";
import { calendar, clock, newYorkTime, newYorkTimestamp } from "../../shared/calendar";
import { Session } from "../../shared/schemas/assets";

// When instruments trade and when day orders end.
const NYSE: TradingSession = { timeZone: "America/New_York", open: "09:30", close: "16:00", days: [1, 2, 3, 4, 5] };
const at = (iso: string) => Date.parse(iso);

describe("trading sessions", () => {
  it("an instrument without a session trades at any hour", () => {
    for (const t of ["2026-12-05T03:00:00Z", "2026-12-25T12:00:00Z", "2026-07-04T23:59:59Z"]) expect(sessionOpen(null, at(t))).toBe(true);
  });

  it("a session is open on its days between open and close, in its own zone", () => {
    expect(sessionOpen(NYSE, at("2026-12-01T14:30:00Z"))).toBe(true); // Tue 09:30 EST
    expect(sessionOpen(NYSE, at("2026-12-01T14:29:59Z"))).toBe(false);
    expect(sessionOpen(NYSE, at("2026-12-01T21:00:00Z"))).toBe(false); // 16:00 EST: closed
    expect(sessionOpen(NYSE, at("2026-12-05T15:00:00Z"))).toBe(false); // Saturday
    expect(sessionOpen(NYSE, at("2026-07-01T13:30:00Z"))).toBe(true); // 09:30 EDT
  });

  it("its state holds until the instant it names, and changes there (what a venue's prints are gated by)", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) }), (now) => {
        const state = sessionState(NYSE, now);
        expect(state.open).toBe(sessionOpen(NYSE, now));
        expect(state.until).toBeGreaterThan(now);
        expect(sessionOpen(NYSE, state.until - 1)).toBe(state.open);
        expect(sessionOpen(NYSE, state.until)).toBe(!state.open);
      }),
      { numRuns: 2_000 },
    );
    expect(sessionState(null, 0)).toEqual({ open: true, until: Infinity });
  });

  it("a day order in a session ends at that day's close", () => {
    expect(dayOrderExpiry(NYSE, at("2026-12-01T15:00:00Z"))).toBe(at("2026-12-01T21:00:00Z"));
    expect(dayOrderExpiry(NYSE, at("2026-07-01T15:00:00Z"))).toBe(at("2026-07-01T20:00:00Z"));
  });

  it("a day order on a round-the-clock instrument ends at the next midnight in New York", () => {
    expect(dayOrderExpiry(null, at("2026-12-01T15:00:00Z"))).toBe(at("2026-12-02T05:00:00Z"));
    expect(dayOrderExpiry(null, at("2026-12-02T04:59:59Z"))).toBe(at("2026-12-02T05:00:00Z"));
    // Across the change to daylight saving (8 March 2026): midnight EDT is 04:00 UTC.
    expect(dayOrderExpiry(null, at("2026-03-08T12:00:00Z"))).toBe(at("2026-03-09T04:00:00Z"));
    // And back (1 November 2026): midnight EST is 05:00 UTC.
    expect(dayOrderExpiry(null, at("2026-11-01T12:00:00Z"))).toBe(at("2026-11-02T05:00:00Z"));
  });
});

// ---- an oracle that does not use Intl ----------------------------------------------------
// New York follows the US rule since 2007: daylight saving from 02:00 on the second Sunday of
// March to 02:00 on the first Sunday of November. UTC has no transitions. These let the tests
// below check every day's answer against arithmetic that shares nothing with the code.
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const iso = (t: number) => new Date(t).toISOString();
const sundayOf = (y: number, month: number, n: number) => 1 + ((7 - new Date(Date.UTC(y, month, 1)).getUTCDay()) % 7) + 7 * (n - 1);
const dstStart = (y: number) => Date.UTC(y, 2, sundayOf(y, 2, 2), 7); // 02:00 EST
const dstEnd = (y: number) => Date.UTC(y, 10, sundayOf(y, 10, 1), 6); // 02:00 EDT
function nyOffset(t: number): number {
  const y = new Date(t).getUTCFullYear();
  return t >= dstStart(y) && t < dstEnd(y) ? -4 * HOUR : -5 * HOUR;
}

interface Local {
  /** The local calendar date as a UTC midnight, so that adding days is plain arithmetic. */
  date: number;
  /** Milliseconds since local midnight. */
  time: number;
  weekday: number;
}
function localIn(offsetOf: (t: number) => number, t: number): Local {
  const wall = t + offsetOf(t);
  const date = Math.floor(wall / DAY) * DAY;
  return { date, time: wall - date, weekday: new Date(date).getUTCDay() };
}
/** The instant the New York wall clock reads `minutes` past midnight on `date`; only for times that exist once. */
function nyInstant(date: number, minutes: number): number {
  const wall = date + minutes * MINUTE;
  const found = [wall + 4 * HOUR, wall + 5 * HOUR].filter((t) => t + nyOffset(t) === wall);
  if (found.length !== 1) throw new Error(`${iso(wall)} is not a unique New York time`);
  return found[0]!;
}
const utcOffset = () => 0;

/** Instants on every calendar day from 2024 to 2030: listed local times read with either New York offset (so the skipped and repeated hours are covered), and the moments around each clock change. */
function everyDay(): number[] {
  const times = [30_000, 90 * MINUTE, 150 * MINUTE, 12 * HOUR, DAY - 30_000];
  const out: number[] = [];
  for (let date = Date.UTC(2024, 0, 1); date <= Date.UTC(2030, 11, 31); date += DAY) {
    for (const time of times) out.push(date + time + 4 * HOUR, date + time + 5 * HOUR);
  }
  for (let y = 2024; y <= 2030; y++) for (const change of [dstStart(y), dstEnd(y)]) out.push(change - 1, change);
  return out;
}

/** Runs `check` on every instant and returns the first few failures, so a broken day reads as a list of dates. */
function failuresOf(instants: number[], check: (t: number) => string | null): string[] {
  const failures: string[] = [];
  for (const t of instants) {
    const problem = check(t);
    if (problem) failures.push(`${iso(t)}: ${problem}`);
    if (failures.length >= 5) break;
  }
  return failures;
}

const ROUND_THE_CLOCK_UTC: TradingSession = { timeZone: "UTC", open: "00:00", close: "00:00", days: [0, 1, 2, 3, 4, 5, 6] };
const UTC_TO_MIDNIGHT: TradingSession = { timeZone: "UTC", open: "08:00", close: "00:00", days: [1, 2, 3, 4, 5] };

describe("day-order expiry on every day from 2024 to 2030", () => {
  const instants = everyDay();

  it("without a session: exactly the next midnight in New York, strictly later and at most 25 hours away", () => {
    const failures = failuresOf(instants, (t) => {
      const expiry = dayOrderExpiry(null, t);
      const want = nyInstant(localIn(nyOffset, t).date + DAY, 0);
      if (expiry !== want) return `expires ${iso(expiry)}, want ${iso(want)}`;
      if (expiry <= t || expiry - t > 25 * HOUR) return `expires ${iso(expiry)}, out of range`;
      return null;
    });
    expect(failures).toEqual([]);
  });

  it("in a New York session 09:30–16:00 on weekdays: open exactly then, and orders end at that day's close (or the next weekday's once closed)", () => {
    const failures = failuresOf(instants, (t) => {
      const local = localIn(nyOffset, t);
      const weekday = local.weekday >= 1 && local.weekday <= 5;
      const open = weekday && local.time >= 570 * MINUTE && local.time < 960 * MINUTE;
      if (sessionOpen(NYSE, t) !== open) return `sessionOpen ${!open}, want ${open}`;
      let date = local.date;
      if (!weekday || local.time >= 960 * MINUTE) do date += DAY; while ([0, 6].includes(new Date(date).getUTCDay()));
      const want = nyInstant(date, 960);
      const expiry = dayOrderExpiry(NYSE, t);
      if (expiry !== want) return `expires ${iso(expiry)}, want ${iso(want)}`;
      if (expiry <= t || (open && expiry - t > 7 * HOUR)) return `expires ${iso(expiry)}, out of range`;
      return null;
    });
    expect(failures).toEqual([]);
  });

  it("in a round-the-clock UTC session (crypto): always open, orders end at the next UTC midnight", () => {
    const failures = failuresOf(instants, (t) => {
      if (!sessionOpen(ROUND_THE_CLOCK_UTC, t)) return "session closed";
      const expiry = dayOrderExpiry(ROUND_THE_CLOCK_UTC, t);
      const want = localIn(utcOffset, t).date + DAY;
      return expiry === want && expiry > t && expiry - t <= DAY ? null : `expires ${iso(expiry)}, want ${iso(want)}`;
    });
    expect(failures).toEqual([]);
  });

  it("in a UTC session that closes at midnight: open from 08:00 to the end of each weekday, orders end at that midnight", () => {
    const failures = failuresOf(instants, (t) => {
      const local = localIn(utcOffset, t);
      const weekday = local.weekday >= 1 && local.weekday <= 5;
      const open = weekday && local.time >= 8 * HOUR;
      if (sessionOpen(UTC_TO_MIDNIGHT, t) !== open) return `sessionOpen ${!open}, want ${open}`;
      let date = local.date;
      while (![1, 2, 3, 4, 5].includes(new Date(date).getUTCDay())) date += DAY;
      const want = date + DAY;
      const expiry = dayOrderExpiry(UTC_TO_MIDNIGHT, t);
      return expiry === want && expiry > t ? null : `expires ${iso(expiry)}, want ${iso(want)}`;
    });
    expect(failures).toEqual([]);
  });
});

describe("day-order expiry around clock changes", () => {
  it("an order placed on the day before daylight saving begins lives until that midnight", () => {
    // Saturday 8 March 2025; midnight into Sunday is still EST.
    for (const t of ["2025-03-08T05:00:30Z", "2025-03-08T17:00:00Z", "2025-03-09T04:59:30Z"]) expect(iso(dayOrderExpiry(null, at(t)))).toBe("2025-03-09T05:00:00.000Z");
    // And on the day clocks go back: a 25-hour day ends at midnight EST.
    expect(iso(dayOrderExpiry(null, at("2025-11-02T04:30:00Z")))).toBe("2025-11-03T05:00:00.000Z");
  });

  it("a close at 24:00 is the next local midnight, also on a 25-hour day", () => {
    const late: TradingSession = { timeZone: "America/New_York", open: "09:30", close: "24:00", days: [0, 1, 2, 3, 4, 5, 6] };
    expect(iso(dayOrderExpiry(late, at("2025-11-02T04:30:00Z")))).toBe("2025-11-03T05:00:00.000Z"); // 00:30 EDT
    expect(iso(dayOrderExpiry(late, at("2025-11-02T17:00:00Z")))).toBe("2025-11-03T05:00:00.000Z");
    expect(iso(dayOrderExpiry(late, at("2025-03-09T17:00:00Z")))).toBe("2025-03-10T04:00:00.000Z");
    expect(sessionOpen(late, at("2025-11-03T04:59:59Z"))).toBe(true);
  });

  it("a close the clock skips is reached when the clock jumps past it", () => {
    const skipped: TradingSession = { timeZone: "America/New_York", open: "01:00", close: "02:30", days: [0, 1, 2, 3, 4, 5, 6] };
    // 9 March 2025: 01:59:59 EST is followed by 03:00 EDT (07:00Z).
    expect(iso(dayOrderExpiry(skipped, at("2025-03-09T06:30:00Z")))).toBe("2025-03-09T07:00:00.000Z");
    expect(sessionOpen(skipped, at("2025-03-09T06:59:59Z"))).toBe(true);
    expect(sessionOpen(skipped, at("2025-03-09T07:00:00Z"))).toBe(false);
  });

  it("a close the clock shows twice is its first showing; the repeated hour after it is closed", () => {
    const repeated: TradingSession = { timeZone: "America/New_York", open: "00:30", close: "01:30", days: [0, 1, 2, 3, 4, 5, 6] };
    // 2 November 2025: 01:30 EDT is 05:30Z, 01:30 EST is 06:30Z.
    expect(iso(dayOrderExpiry(repeated, at("2025-11-02T05:00:00Z")))).toBe("2025-11-02T05:30:00.000Z");
    expect(sessionOpen(repeated, at("2025-11-02T05:29:59Z"))).toBe(true);
    expect(sessionOpen(repeated, at("2025-11-02T06:00:00Z"))).toBe(false); // 01:00 EST, after the close
  });

  it("a session that closes after midnight belongs to the day it opened", () => {
    const overnight: TradingSession = { timeZone: "America/New_York", open: "18:00", close: "17:00", days: [0, 1, 2, 3, 4] };
    expect(sessionOpen(overnight, at("2026-12-06T23:30:00Z"))).toBe(true); // Sunday 18:30
    expect(sessionOpen(overnight, at("2026-12-07T15:00:00Z"))).toBe(true); // Monday 10:00
    expect(iso(dayOrderExpiry(overnight, at("2026-12-07T15:00:00Z")))).toBe("2026-12-07T22:00:00.000Z");
    expect(sessionOpen(overnight, at("2026-12-07T22:30:00Z"))).toBe(false); // Monday 17:30
    expect(sessionOpen(overnight, at("2026-12-11T22:30:00Z"))).toBe(false); // Friday 17:30
    expect(sessionOpen(overnight, at("2026-12-12T15:00:00Z"))).toBe(false); // Saturday
  });

  it("zones whose midnight is skipped or repeated", () => {
    // Santiago, 8 September 2024: 23:59:59 −04 is followed by 01:00 −03 (04:00Z).
    const santiago: TradingSession = { timeZone: "America/Santiago", open: "08:00", close: "00:00", days: [0, 1, 2, 3, 4, 5, 6] };
    expect(iso(dayOrderExpiry(santiago, at("2024-09-07T16:00:00Z")))).toBe("2024-09-08T04:00:00.000Z");
    // Beirut, 27 October 2024: at 00:00 +03 (21:00Z) the clock goes back to 23:00 +02; it reads 00:00 once, at 22:00Z.
    const beirut: TradingSession = { timeZone: "Asia/Beirut", open: "00:00", close: "00:00", days: [0, 1, 2, 3, 4, 5, 6] };
    for (const t of ["2024-10-26T20:30:00Z", "2024-10-26T21:30:00Z"]) expect(iso(dayOrderExpiry(beirut, at(t)))).toBe("2024-10-26T22:00:00.000Z");
  });
});

describe("day-order expiry at random instants", () => {
  const instant = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) });

  it("New York without a session and in its weekday session agree with the US daylight-saving rule", () => {
    // The rule in the oracle holds from 2007 on.
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2008, 0, 1), max: Date.UTC(2040, 0, 1) }), (t) => {
        const local = localIn(nyOffset, t);
        expect(dayOrderExpiry(null, t)).toBe(nyInstant(local.date + DAY, 0));
        const weekday = local.weekday >= 1 && local.weekday <= 5;
        expect(sessionOpen(NYSE, t)).toBe(weekday && local.time >= 570 * MINUTE && local.time < 960 * MINUTE);
        if (weekday && local.time < 960 * MINUTE) expect(dayOrderExpiry(NYSE, t)).toBe(nyInstant(local.date, 960));
      }),
      { numRuns: 2_000 },
    );
  });

  it("a UTC session with any hours and days ends day orders at its next close", () => {
    const hhmm = fc.integer({ min: 0, max: 1439 }).map((m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`);
    const days = fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 7 });
    fc.assert(
      fc.property(instant, hhmm, hhmm, days, (t, open, close, days) => {
        const session: TradingSession = { timeZone: "UTC", open, close, days };
        const minutes = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3));
        const length = (minutes(close) <= minutes(open) ? DAY : 0) + (minutes(close) - minutes(open)) * MINUTE;
        // The sessions opened yesterday, today and on the next week's days, in order.
        const today = localIn(utcOffset, t).date;
        const windows = [-1, 0, 1, 2, 3, 4, 5, 6, 7]
          .map((k) => today + k * DAY)
          .filter((date) => days.includes(new Date(date).getUTCDay()))
          .map((date) => ({ openAt: date + minutes(open) * MINUTE, closeAt: date + minutes(open) * MINUTE + length }));
        const current = windows.find((w) => w.closeAt > t)!;
        expect(dayOrderExpiry(session, t)).toBe(current.closeAt);
        expect(sessionOpen(session, t)).toBe(current.openAt <= t);
      }),
      { numRuns: 2_000 },
    );
  });

  it("where the clock is set back across midnight, the date that began first is the session's: its day orders end at its end", () => {
    // St. John's set its clocks back at 00:01 until 2011: on 27 October 2002 the clock read
    // 00:00 on the 27th at 02:30 UTC, then went from 00:01 back to 23:01 on the 26th. As
    // with any close the clock shows twice, the 26th's session closed at the first showing
    // of midnight; an order placed in the repeated hour is in the 27th's and ends with it.
    const roundTheClock: TradingSession = { timeZone: "America/St_Johns", open: "00:00", close: "00:00", days: [0, 1, 2, 3, 4, 5, 6] };
    expect(iso(dayOrderExpiry(roundTheClock, at("2002-10-27T02:00:00Z")))).toBe("2002-10-27T02:30:00.000Z");
    expect(iso(dayOrderExpiry(roundTheClock, at("2002-10-27T03:14:25.678Z")))).toBe("2002-10-28T03:30:00.000Z");
  });

  it("in any zone, a round-the-clock session ends day orders when the local date next changes", () => {
    const zones = ["America/New_York", "UTC", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago", "America/Havana", "Asia/Beirut", "Asia/Tehran", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"];
    const formats = new Map(zones.map((zone) => [zone, new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })]));
    const dateOf = (zone: string, t: number) => formats.get(zone)!.format(new Date(t));
    fc.assert(
      fc.property(instant, fc.constantFrom(...zones), (t, timeZone) => {
        const expiry = dayOrderExpiry({ timeZone, open: "00:00", close: "00:00", days: [0, 1, 2, 3, 4, 5, 6] }, t);
        expect(expiry).toBeGreaterThan(t);
        expect(expiry - t).toBeLessThanOrEqual(26 * HOUR);
        // The session's date: the latest the clock has shown. It is t's own date except in the
        // hour after a clock set back across midnight, when the date read earlier is later
        // (St. John's until 2011: the test above); every clock change is within two hours.
        let date = dateOf(timeZone, t);
        for (let back = MINUTE; back <= 2 * HOUR; back += MINUTE) if (dateOf(timeZone, t - back) > date) date = dateOf(timeZone, t - back);
        const nextDate = new Date(Date.parse(date) + DAY).toISOString().slice(0, 10);
        expect(dateOf(timeZone, expiry)).toBe(nextDate);
        expect(dateOf(timeZone, expiry - 1)).toBe(date);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("day orders at the venue", () => {
  const spec = { symbol: "DAY", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" } as const;
  const config = { makerBps: 10, takerBps: 25, minFee: "0.01", depthLevels: 1, slippageTicks: 1, crossUsers: false };
  const order = (id: string, expiresAt: number | null) => ({ id, account: "a", side: "buy" as const, type: "limit" as const, tif: expiresAt === null ? ("gtc" as const) : ("day" as const), qty: 5, notional: null, maxLots: null, limit: 9_900, stop: null, cap: null, expiresAt });

  it("expire at their time and not before; gtc orders stay", () => {
    const venue = new Venue(spec, config);
    venue.onQuote({ t: 0, bidTicks: 9_990, askTicks: 10_000, bidLots: 10, askLots: 10 }, 0);
    venue.submit(order("day", 1_000), 1);
    venue.submit(order("gtc", null), 2);
    venue.drain();
    venue.expire(999);
    expect(venue.drain().reports).toEqual([]);
    venue.onQuote({ t: 1_000, bidTicks: 9_990, askTicks: 10_000, bidLots: 10, askLots: 10 }, 1_000);
    const { reports } = venue.drain();
    expect(reports).toMatchObject([{ kind: "done", orderId: "day", reason: "expired" }]);
    expect([...venue.orders].map((o) => o.id)).toEqual(["gtc"]);
    // Gone from the book too: an ask at its price now fills only the gtc order.
    venue.onQuote({ t: 2_000, bidTicks: 9_890, askTicks: 9_900, bidLots: 10, askLots: 10 }, 2_000);
    expect(venue.drain().reports.filter((r) => r.kind === "fill").map((r) => r.orderId)).toEqual(["gtc"]);
  });
});

// ---- sessions on the NYSE calendar ----------------------------------------------------------
// Reconciled against the calendar behind /v2/clock and /v2/calendar (shared/calendar.ts): a
// session engine that traded on Thanksgiving while the clock said closed was found in QA.
const NYSE_CORE: TradingSession = { ...NYSE, calendar: "nyse" };
const NYSE_EXTENDED: TradingSession = { timeZone: "America/New_York", open: "04:00", close: "20:00", days: [1, 2, 3, 4, 5], calendar: "nyse" };
const nyDate = (t: number) => newYorkTimestamp(t).slice(0, 10);

describe("a session on the NYSE calendar", () => {
  it("is closed on the exchange's holidays and ends early on its early-close days", () => {
    // Thanksgiving 2026 (Thursday 26 November): closed all day.
    expect(sessionOpen(NYSE_CORE, at("2026-11-26T15:00:00Z"))).toBe(false);
    expect(sessionOpen(NYSE, at("2026-11-26T15:00:00Z"))).toBe(true); // without the calendar, a weekday like any other
    // The day after closes at 13:00 EST (18:00 UTC); the late session at 17:00.
    expect(sessionOpen(NYSE_CORE, at("2026-11-27T17:59:59Z"))).toBe(true);
    expect(sessionOpen(NYSE_CORE, at("2026-11-27T18:00:00Z"))).toBe(false);
    expect(sessionOpen(NYSE_EXTENDED, at("2026-11-27T21:59:59Z"))).toBe(true);
    expect(sessionOpen(NYSE_EXTENDED, at("2026-11-27T22:00:00Z"))).toBe(false);
    // Christmas 2026 is a Friday; Christmas Eve closes early. Good Friday 2027 (26 March) is closed.
    expect(sessionOpen(NYSE_CORE, at("2026-12-25T15:00:00Z"))).toBe(false);
    expect(sessionOpen(NYSE_CORE, at("2026-12-24T18:00:00Z"))).toBe(false);
    expect(sessionOpen(NYSE_CORE, at("2027-03-26T15:00:00Z"))).toBe(false);
    // An unscheduled closure the rules do not give: President Carter's funeral, 9 January 2025.
    expect(sessionOpen(NYSE_CORE, at("2025-01-09T15:00:00Z"))).toBe(false);
  });

  it("ends a day order at the next session's close, past holidays and at an early close", () => {
    // Placed after Wednesday's close before Thanksgiving: it lives until Friday's 13:00 close.
    expect(dayOrderExpiry(NYSE_CORE, at("2026-11-25T22:00:00Z"))).toBe(at("2026-11-27T18:00:00Z"));
    // Placed on Christmas Day: Monday the 28th's close.
    expect(dayOrderExpiry(NYSE_CORE, at("2026-12-25T15:00:00Z"))).toBe(at("2026-12-28T21:00:00Z"));
    // September 2001: closed Tuesday 11th to Friday 14th, opened again Monday 17th.
    expect(dayOrderExpiry(NYSE_CORE, at("2001-09-11T15:00:00Z"))).toBe(at("2001-09-17T20:00:00Z"));
  });

  it("a session that would open after an early close does not open that day", () => {
    const afternoon: TradingSession = { timeZone: "America/New_York", open: "14:00", close: "16:00", days: [1, 2, 3, 4, 5], calendar: "nyse" };
    expect(sessionOpen(afternoon, at("2026-11-27T19:30:00Z"))).toBe(false);
    expect(sessionOpen(afternoon, at("2026-11-30T19:30:00Z"))).toBe(true);
  });

  it("09:30–16:00 is open exactly when /v2/clock says the market is, and 04:00–20:00 when /v2/calendar's session is", () => {
    const instants = fc.sample(fc.integer({ min: Date.UTC(1995, 0, 1), max: Date.UTC(2040, 0, 1) }), 4_000);
    // Around every open and close of a few years, where a wrong minute would show.
    for (const day of calendar("2024-01-01", "2027-12-31")) {
      for (const hhmm of [day.open, day.close]) for (const d of [-1, 0, 1]) instants.push(newYorkTime(day.date, hhmm) + d);
    }
    const failures = failuresOf(instants, (t) => {
      const core = sessionOpen(NYSE_CORE, t);
      if (core !== clock(t).is_open) return `core session ${core}, clock ${clock(t).is_open}`;
      const date = nyDate(t);
      const [day] = calendar(date, date);
      const hhmm = (s: string) => `${s.slice(0, 2)}:${s.slice(2)}`;
      const extended = day !== undefined && t >= newYorkTime(date, hhmm(day.session_open)) && t < newYorkTime(date, hhmm(day.session_close));
      return sessionOpen(NYSE_EXTENDED, t) === extended ? null : `extended session ${!extended}, calendar ${extended}`;
    });
    expect(failures).toEqual([]);
  });

  it("holds each state until the instant it names", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2035, 0, 1) }), (now) => {
        const state = sessionState(NYSE_CORE, now);
        expect(state.open).toBe(sessionOpen(NYSE_CORE, now));
        expect(sessionOpen(NYSE_CORE, state.until - 1)).toBe(state.open);
        expect(sessionOpen(NYSE_CORE, state.until)).toBe(!state.open);
      }),
      { numRuns: 2_000 },
    );
  });

  it("is refused in any zone but New York's", () => {
    const parsed = Session.safeParse({ timeZone: "Europe/London", open: "08:00", close: "16:30", days: [1, 2, 3, 4, 5], calendar: "nyse" });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([["calendar", "the NYSE calendar is kept in America/New_York time: set timeZone to America/New_York"]]);
    expect(Session.safeParse({ ...NYSE_CORE }).success).toBe(true);
    expect(Session.safeParse({ ...NYSE, calendar: null }).success).toBe(true);
    expect(Session.safeParse({ ...NYSE, calendar: "lse" }).success).toBe(false);
  });
});
