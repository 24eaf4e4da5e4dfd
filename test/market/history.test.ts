import { describe, expect, it } from "vitest";
import { boundsProblem, issuableCursor } from "../../shared/market/history";

// The page-token and bounds rules of the market-data history routes (workers/routes/market-data.ts).

describe("issuableCursor", () => {
  const t = Date.parse("2026-12-04T15:00:00Z");

  it("takes a row's time and tie-breaker within the bounds the client sent", () => {
    expect(issuableCursor([t, 0], {})).toBe(true);
    expect(issuableCursor([t, 123], { start: t, end: t })).toBe(true);
    // History imported from before 1970 pages with times before it, when the start says so.
    expect(issuableCursor([-86_400_000, 0], { start: Date.parse("1960-01-01T00:00:00Z") })).toBe(true);
  });

  it("refuses what no page ends at: negative, fractional, unsafe or out-of-bounds numbers, and other shapes", () => {
    for (const cursor of [null, [], [t], [t, 0, 0], [-1, -1], [-9e15, 0], [1e308, 0], [t + 0.5, 0], [t, 0.5], [t, -1], [Number.MAX_SAFE_INTEGER + 1, 0], [t, Number.NaN], ["1", 0]])
      expect(issuableCursor(cursor, {}), JSON.stringify(cursor)).toBe(false);
    expect(issuableCursor([t - 1, 0], { start: t })).toBe(false);
    expect(issuableCursor([t + 1, 0], { end: t })).toBe(false);
  });
});

describe("boundsProblem", () => {
  const at = { start: 2_000, end: 1_000, defaultStart: "the start of today in America/New_York, 1970-01-01T00:00:02.000Z" };

  it("is nothing when the bounds are in order", () => {
    expect(boundsProblem({ start: 1_000, end: 1_000, startGiven: true, endGiven: true, defaultStart: "" })).toBeUndefined();
  });

  it("names the bound the client sent and the default it ran into", () => {
    expect(boundsProblem({ ...at, startGiven: true, endGiven: true })).toEqual({ parameter: "end", detail: "must not be before start" });
    expect(boundsProblem({ ...at, startGiven: true, endGiven: false })).toEqual({ parameter: "start", detail: "is after end (now, when end is not given)" });
    expect(boundsProblem({ ...at, startGiven: false, endGiven: true })).toEqual({ parameter: "end", detail: `is before start (${at.defaultStart}, when start is not given)` });
  });
});
