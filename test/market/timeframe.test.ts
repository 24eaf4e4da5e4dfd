import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { STREAM_TIMEFRAMES, type Timeframe, bucketStart, nextBucketStart, parseTimeframe } from "../../shared/market/timeframe";

const NY = "America/New_York";
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

function tf(text: string): Timeframe {
  const parsed = parseTimeframe(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.timeframe;
}

describe("timeframe grammar", () => {
  it("accepts Alpaca's and ccxt's spellings in any case and names them canonically", () => {
    const cases: [string, string][] = [
      ["1Min", "1Min"],
      ["1min", "1Min"],
      ["1MIN", "1Min"],
      ["5Min", "5Min"],
      ["15Min", "15Min"],
      ["59T", "59Min"],
      ["1H", "1Hour"],
      ["1Hour", "1Hour"],
      ["23h", "23Hour"],
      ["1D", "1Day"],
      ["1Day", "1Day"],
      ["1W", "1Week"],
      ["1week", "1Week"],
      ["1M", "1Month"],
      ["12M", "12Month"],
      ["3Month", "3Month"],
    ];
    for (const [text, label] of cases) expect(parseTimeframe(text), text).toMatchObject({ ok: true, timeframe: { label } });
    expect(parseTimeframe("5Min")).toEqual({ ok: true, timeframe: { amount: 5, unit: "minute", label: "5Min" } });
    expect(parseTimeframe("1M")).toEqual({ ok: true, timeframe: { amount: 1, unit: "month", label: "1Month" } });
  });

  it("says which amounts a unit supports when one is out of range", () => {
    expect(parseTimeframe("3D")).toEqual({ ok: false, message: "day timeframes support only 1Day" });
    expect(parseTimeframe("2W")).toEqual({ ok: false, message: "week timeframes support only 1Week" });
    expect(parseTimeframe("60Min")).toEqual({ ok: false, message: "minute timeframes support 1Min to 59Min" });
    expect(parseTimeframe("0Min")).toEqual({ ok: false, message: "minute timeframes support 1Min to 59Min" });
    expect(parseTimeframe("24H")).toEqual({ ok: false, message: "hour timeframes support 1Hour to 23Hour" });
    expect(parseTimeframe("5M")).toMatchObject({ ok: false, message: expect.stringContaining("1, 2, 3, 4, 6 or 12") });
  });

  it("refuses a lone lower-case m rather than guess minutes or months", () => {
    expect(parseTimeframe("1m")).toEqual({ ok: false, message: '"1m" is ambiguous; use 1Min for minutes or 1Month for months' });
  });

  it("refuses what is not a timeframe", () => {
    for (const text of ["", "Min", "1", "1 Min", " 1Min", "1Sec", "1.5H", "-1Min", "1Minute", "1Mins", "1constructor", "1toString"]) {
      expect(parseTimeframe(text), text).toMatchObject({ ok: false, message: expect.stringContaining("is not a timeframe") });
    }
  });

  it("streams 1Min, 5Min, 15Min, 1Hour and 1Day", () => {
    expect(STREAM_TIMEFRAMES.map((t) => t.label)).toEqual(["1Min", "5Min", "15Min", "1Hour", "1Day"]);
  });
});

describe("buckets", () => {
  it("cuts minutes and hours on the UTC clock, whatever the instrument's zone", () => {
    const t = at("2026-03-02T14:37:42.500Z");
    expect(iso(bucketStart(t, tf("1Min"), NY))).toBe("2026-03-02T14:37:00.000Z");
    expect(iso(bucketStart(t, tf("5Min"), NY))).toBe("2026-03-02T14:35:00.000Z");
    expect(iso(nextBucketStart(t, tf("5Min"), NY))).toBe("2026-03-02T14:40:00.000Z");
    expect(iso(bucketStart(t, tf("15Min"), NY))).toBe("2026-03-02T14:30:00.000Z");
    expect(iso(bucketStart(t, tf("1Hour"), NY))).toBe("2026-03-02T14:00:00.000Z");
    expect(iso(bucketStart(t, tf("4Hour"), NY))).toBe("2026-03-02T12:00:00.000Z");
  });

  it("restarts N-minute buckets every hour and N-hour buckets every day", () => {
    // 7 does not divide 60: the hour ends with a short :56 bucket.
    expect(iso(bucketStart(at("2026-03-02T14:58:00Z"), tf("7Min"), "UTC"))).toBe("2026-03-02T14:56:00.000Z");
    expect(iso(nextBucketStart(at("2026-03-02T14:58:00Z"), tf("7Min"), "UTC"))).toBe("2026-03-02T15:00:00.000Z");
    expect(iso(bucketStart(at("2026-03-02T15:06:00Z"), tf("7Min"), "UTC"))).toBe("2026-03-02T15:00:00.000Z");
    expect(iso(bucketStart(at("2026-03-02T23:30:00Z"), tf("5H"), "UTC"))).toBe("2026-03-02T20:00:00.000Z");
    expect(iso(nextBucketStart(at("2026-03-02T23:30:00Z"), tf("5H"), "UTC"))).toBe("2026-03-03T00:00:00.000Z");
  });

  it("starts New York days at local midnight on both sides of the spring DST change", () => {
    const day = tf("1Day");
    // Saturday 23:30 EST and Sunday noon EDT around 2026-03-08 02:00.
    expect(iso(bucketStart(at("2026-03-08T04:30:00Z"), day, NY))).toBe("2026-03-07T05:00:00.000Z");
    expect(iso(bucketStart(at("2026-03-08T16:00:00Z"), day, NY))).toBe("2026-03-08T05:00:00.000Z");
    // That Sunday has 23 hours.
    expect(iso(nextBucketStart(at("2026-03-08T16:00:00Z"), day, NY))).toBe("2026-03-09T04:00:00.000Z");
    expect(iso(bucketStart(at("2026-03-09T04:00:00Z"), day, NY))).toBe("2026-03-09T04:00:00.000Z");
    expect(iso(bucketStart(at("2026-03-09T03:59:59.999Z"), day, NY))).toBe("2026-03-08T05:00:00.000Z");
  });

  it("gives the autumn DST day 25 hours", () => {
    const day = tf("1Day");
    expect(iso(bucketStart(at("2026-11-01T12:00:00Z"), day, NY))).toBe("2026-11-01T04:00:00.000Z");
    expect(iso(nextBucketStart(at("2026-11-01T12:00:00Z"), day, NY))).toBe("2026-11-02T05:00:00.000Z");
  });

  it("starts weeks on Monday and months on the 1st, at local midnight", () => {
    // Sunday 2026-03-08 belongs to the week of Monday 2026-03-02 (EST); the next starts in EDT.
    expect(iso(bucketStart(at("2026-03-08T16:00:00Z"), tf("1Week"), NY))).toBe("2026-03-02T05:00:00.000Z");
    expect(iso(nextBucketStart(at("2026-03-08T16:00:00Z"), tf("1Week"), NY))).toBe("2026-03-09T04:00:00.000Z");
    expect(iso(bucketStart(at("2026-05-15T12:00:00Z"), tf("1Month"), NY))).toBe("2026-05-01T04:00:00.000Z");
    expect(iso(bucketStart(at("2026-05-15T12:00:00Z"), tf("3Month"), NY))).toBe("2026-04-01T04:00:00.000Z");
    expect(iso(nextBucketStart(at("2026-05-15T12:00:00Z"), tf("3Month"), NY))).toBe("2026-07-01T04:00:00.000Z");
    expect(iso(nextBucketStart(at("2026-12-15T12:00:00Z"), tf("12Month"), "UTC"))).toBe("2027-01-01T00:00:00.000Z");
    // 00:30 UTC on March 1st is still February in New York.
    expect(iso(bucketStart(at("2026-03-01T00:30:00Z"), tf("1Month"), NY))).toBe("2026-02-01T05:00:00.000Z");
  });

  it("starts the day where the gap ends in zones whose clocks skip midnight", () => {
    // Chile and Cuba move from 00:00 straight to 01:00 when DST begins.
    expect(iso(bucketStart(at("2026-09-06T16:00:00Z"), tf("1Day"), "America/Santiago"))).toBe("2026-09-06T04:00:00.000Z"); // 01:00 -03
    expect(iso(bucketStart(at("2026-03-08T16:00:00Z"), tf("1Day"), "America/Havana"))).toBe("2026-03-08T05:00:00.000Z"); // 01:00 -04
  });

  it("tiles time: every instant lies in exactly one bucket, in any zone", () => {
    const timeframes = ["1Min", "7Min", "15Min", "1Hour", "5Hour", "1Day", "1Week", "1Month", "4Month", "12Month"].map(tf);
    // Zones with half-hour offsets, 30-minute DST steps, and DST changes at midnight.
    const zones = ["UTC", NY, "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "America/Santiago", "America/Havana"];
    fc.assert(
      fc.property(
        fc.integer({ min: at("2000-01-01T00:00:00Z"), max: at("2040-01-01T00:00:00Z") }),
        fc.constantFrom(...timeframes),
        fc.constantFrom(...zones),
        (t, timeframe, zone) => {
          const start = bucketStart(t, timeframe, zone);
          const next = nextBucketStart(t, timeframe, zone);
          expect(start).toBeLessThanOrEqual(t);
          expect(next).toBeGreaterThan(t);
          expect(bucketStart(start, timeframe, zone)).toBe(start);
          expect(bucketStart(next - 1, timeframe, zone)).toBe(start);
          expect(bucketStart(next, timeframe, zone)).toBe(next);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
