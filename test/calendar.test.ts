import { describe, expect, it } from "vitest";
import { calendar, clock, newYorkTime, newYorkTimestamp } from "../shared/calendar";

describe("US equity calendar", () => {
  it("opens at 09:30 New York time in winter and summer", () => {
    expect(new Date(newYorkTime("2026-01-15", "09:30")).toISOString()).toBe("2026-01-15T14:30:00.000Z");
    expect(new Date(newYorkTime("2026-07-15", "09:30")).toISOString()).toBe("2026-07-15T13:30:00.000Z");
  });

  it("formats the clock with a numeric offset and milliseconds", () => {
    expect(newYorkTimestamp(Date.parse("2026-11-23T14:30:00.000Z"))).toBe("2026-11-23T09:30:00.000-05:00");
    expect(newYorkTimestamp(Date.parse("2026-06-01T13:30:00.123Z"))).toBe("2026-06-01T09:30:00.123-04:00");
  });

  it("is open during regular hours only", () => {
    expect(clock(Date.parse("2026-11-23T15:00:00Z"))).toEqual({
      timestamp: "2026-11-23T10:00:00.000-05:00",
      is_open: true,
      next_open: "2026-11-24T09:30:00.000-05:00",
      next_close: "2026-11-23T16:00:00.000-05:00",
    });
    // Friday evening: next open is Monday; Thanksgiving (Thursday 2026-11-26) is skipped.
    expect(clock(Date.parse("2026-11-25T22:00:00Z"))).toMatchObject({ is_open: false, next_open: "2026-11-27T09:30:00.000-05:00" });
    expect(clock(Date.parse("2026-11-28T15:00:00Z"))).toMatchObject({ is_open: false, next_open: "2026-11-30T09:30:00.000-05:00" });
  });

  it("lists trading days with their settlement dates", () => {
    const days = calendar("2026-11-24", "2026-11-30");
    expect(days.map((d) => d.date)).toEqual(["2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"]);
    expect(days[1]).toEqual({ date: "2026-11-25", open: "09:30", close: "16:00", session_open: "0400", session_close: "2000", settlement_date: "2026-11-27" });
  });

  it("closes at 13:00 on NYSE's early-close days, in the calendar and the clock", () => {
    const days = calendar("2026-11-25", "2026-12-31");
    const early = days.filter((d) => d.close !== "16:00").map((d) => [d.date, d.close, d.session_close]);
    expect(early).toEqual([
      ["2026-11-27", "13:00", "1700"],
      ["2026-12-24", "13:00", "1700"],
    ]);
    expect(calendar("2025-07-03", "2025-07-03")[0]!.close).toBe("13:00");
    // The day after Thanksgiving, 14:00 New York: closed, and it had closed at 13:00.
    expect(clock(Date.parse("2026-11-27T19:00:00Z"))).toMatchObject({ is_open: false, next_open: "2026-11-30T09:30:00.000-05:00" });
    expect(clock(Date.parse("2026-11-27T17:00:00Z"))).toMatchObject({ is_open: true, next_close: "2026-11-27T13:00:00.000-05:00" });
  });
});
