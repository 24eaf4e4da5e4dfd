import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newYorkDay } from "../../shared/calendar";
import { tradingDate } from "../../shared/trading/account-engine";
import { activityView } from "../../shared/trading/views";

// The account's day (daily loss limit, day-trade counts) is the New York date. tradingDate
// remembers the run of UTC hours that share the last answer; these check it against Intl
// asked afresh, in any order of calls, along a clock moving forward, across
// daylight-saving changes and midnights.
const newYork = new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York" });
const fresh = (ms: number) => newYork.format(new Date(ms));

describe("the trading date", () => {
  it("is New York's date at every instant, whatever was asked before", () => {
    const from = Date.UTC(1990, 0, 1);
    const to = Date.UTC(2090, 0, 1);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: from, max: to }), { minLength: 1, maxLength: 50 }), (instants) => {
        for (const ms of instants) expect(tradingDate(ms)).toBe(fresh(ms));
      }),
      { numRuns: 2_000 },
    );
  });

  it("is New York's date along a clock that moves forward, as a backtest's and a live account's do", () => {
    const from = Date.UTC(1990, 0, 1);
    const to = Date.UTC(2090, 0, 1);
    const step = fc.integer({ min: 1, max: 5 * 3_600_000 });
    fc.assert(
      fc.property(fc.integer({ min: from, max: to }), fc.array(step, { minLength: 1, maxLength: 200 }), (start, steps) => {
        let ms = start;
        for (const s of steps) {
          ms += s;
          expect(tradingDate(ms)).toBe(fresh(ms));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("changes at New York's midnight, in winter and summer and on the days the clocks change", () => {
    // 2026: clocks go forward on 8 March (07:00 UTC) and back on 1 November (06:00 UTC).
    const days = [Date.UTC(2026, 0, 15), Date.UTC(2026, 2, 8), Date.UTC(2026, 2, 9), Date.UTC(2026, 6, 4), Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 2)];
    for (const day of days) {
      // Every minute from 02:00 to 09:00 UTC, forwards then backwards.
      const minutes = Array.from({ length: 7 * 60 }, (_, i) => day + 2 * 3_600_000 + i * 60_000);
      for (const ms of [...minutes, ...minutes.reverse()]) expect(tradingDate(ms)).toBe(fresh(ms));
    }
    expect(tradingDate(Date.UTC(2026, 6, 4, 3, 59, 59, 999))).toBe("2026-07-03");
    expect(tradingDate(Date.UTC(2026, 6, 4, 4))).toBe("2026-07-04");
    expect(tradingDate(Date.UTC(2026, 0, 15, 4, 59, 59, 999))).toBe("2026-01-14");
    expect(tradingDate(Date.UTC(2026, 0, 15, 5))).toBe("2026-01-15");
  });
});

describe("a New York day", () => {
  it("runs from its midnight to the next, 23 or 25 hours across a clock change, and every instant in it has its date", () => {
    expect(newYorkDay("2026-01-15")).toEqual({ start: Date.UTC(2026, 0, 15, 5), end: Date.UTC(2026, 0, 16, 5) });
    const spring = newYorkDay("2026-03-08")!;
    expect(spring.end - spring.start).toBe(23 * 3_600_000);
    const fall = newYorkDay("2026-11-01")!;
    expect(fall.end - fall.start).toBe(25 * 3_600_000);
    for (const t of [fall.start, fall.start + 24 * 3_600_000, fall.end - 1]) expect(tradingDate(t)).toBe("2026-11-01");
    expect(tradingDate(fall.end)).toBe("2026-11-02");
    expect(tradingDate(fall.start - 1)).toBe("2026-10-31");
    for (const bad of ["2026-02-30", "2026-1-5", "20260105", "2026-01-05T00:00:00Z", "", "9999-12-31", "0050-06-01", "1969-12-31", "2100-01-01"]) expect(newYorkDay(bad), bad).toBeNull();
    expect(newYorkDay("2099-12-31")!.end).toBe(Date.UTC(2100, 0, 1, 5));
  });

  it("is the date a cash activity carries: New York's, not UTC's", () => {
    // 21:30 in New York on 5 January is 02:30 UTC on the 6th.
    const view = activityView({ id: "a", type: "CSD", t: Date.UTC(2026, 0, 6, 2, 30), data: { net_amount: "5.00", description: "x" } }, "acct");
    expect(view).toMatchObject({ date: "2026-01-05", transaction_time: "2026-01-06T02:30:00.000Z" });
  });
});
