import { describe, expect, it } from "vitest";
import { calendar, clock, newYorkTime, newYorkTimestamp, nyseHolidays } from "../shared/calendar";

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

  // NYSE's published holiday and early-close lists (nyse.com) for years on both sides of the
  // rules' edges: New Year's Day on a Saturday (2022, 2028: not observed), Juneteenth before
  // 2022 and on a Sunday, Independence Day and Christmas on weekends. The calendar used to
  // know 2025–2027 only, and listed 2024-12-25 and 2028-12-25 as trading days.
  const PUBLISHED: Record<number, { holidays: string[]; early: string[] }> = {
    2021: { holidays: ["01-01", "01-18", "02-15", "04-02", "05-31", "07-05", "09-06", "11-25", "12-24"], early: ["11-26"] },
    2022: { holidays: ["01-17", "02-21", "04-15", "05-30", "06-20", "07-04", "09-05", "11-24", "12-26"], early: ["11-25"] },
    2023: { holidays: ["01-02", "01-16", "02-20", "04-07", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"], early: ["07-03", "11-24"] },
    2024: { holidays: ["01-01", "01-15", "02-19", "03-29", "05-27", "06-19", "07-04", "09-02", "11-28", "12-25"], early: ["07-03", "11-29", "12-24"] },
    2025: { holidays: ["01-01", "01-09", "01-20", "02-17", "04-18", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25"], early: ["07-03", "11-28", "12-24"] },
    2026: { holidays: ["01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"], early: ["11-27", "12-24"] },
    2027: { holidays: ["01-01", "01-18", "02-15", "03-26", "05-31", "06-18", "07-05", "09-06", "11-25", "12-24"], early: ["11-26"] },
    2028: { holidays: ["01-17", "02-21", "04-14", "05-29", "06-19", "07-04", "09-04", "11-23", "12-25"], early: ["07-03", "11-24"] },
  };

  it("closes on NYSE's holidays and closes early on its early-close days, by its rules, in every year listed", () => {
    for (const [year, { holidays, early }] of Object.entries(PUBLISHED)) {
      const weekdays = calendar(`${year}-01-01`, `${year}-12-31`);
      const open = new Set(weekdays.map((d) => d.date));
      const missing: string[] = [];
      for (let t = Date.UTC(Number(year), 0, 1); t < Date.UTC(Number(year) + 1, 0, 1); t += 86_400_000) {
        const date = new Date(t).toISOString().slice(0, 10);
        const weekday = new Date(t).getUTCDay();
        if (weekday !== 0 && weekday !== 6 && !open.has(date)) missing.push(date.slice(5));
      }
      expect(missing, `${year}'s closed weekdays`).toEqual(holidays);
      expect(weekdays.filter((d) => d.close === "13:00").map((d) => d.date.slice(5)), `${year}'s early closes`).toEqual(early);
    }
    // Special closures no rule gives, and a year before Martin Luther King Jr. Day.
    expect(calendar("2012-10-29", "2012-10-31").map((d) => d.date)).toEqual(["2012-10-31"]);
    expect(nyseHolidays(1997).has("1997-01-20")).toBe(false);
  });
});
