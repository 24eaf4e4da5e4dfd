import { describe, expect, it } from "vitest";
import { type OhlcvCsvOptions, parseOhlcvCsv } from "../../shared/market/csv";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { type Timeframe, parseTimeframe } from "../../shared/market/timeframe";

const AAPL: InstrumentSpec = { symbol: "AAPL", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
const BTC: InstrumentSpec = { symbol: "BTC/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.0001", timeZone: "UTC" };
const at = Date.parse;

function tf(text: string): Timeframe {
  const parsed = parseTimeframe(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.timeframe;
}

// Well after every bar below, so only the test of future bars meets the clock.
const NOW = at("2026-06-01T00:00:00Z");
const MINUTES: OhlcvCsvOptions = { timeframe: tf("1Min"), now: NOW };
const csv = (...lines: string[]) => lines.join("\n");

describe("OHLCV CSV import", () => {
  it("reads bars in ticks and lots, with optional columns in any order, CRLF, a BOM and trailing blank lines", () => {
    const text = "\uFEFFVolume,Timestamp,vwap,open,high,low,close,trade_count\r\n" + "0.5,2026-03-02T14:30:00Z,67250.105,67250.00,67251.00,67249.50,67250.50,12\r\n" + "1.2345,2026-03-02T14:31:00.000Z,67252.00,67252.00,67252.00,67252.00,67252.00,1\r\n\r\n\n";
    expect(parseOhlcvCsv(text, BTC, MINUTES)).toEqual({
      ok: true,
      bars: [
        // pv = vwap in ticks × volume in lots = 6725010.5 × 5000
        { t: at("2026-03-02T14:30:00Z"), o: 6725000, h: 6725100, l: 6724950, c: 6725050, v: 5000, n: 12, pv: "33625052500", firstT: at("2026-03-02T14:30:00Z"), lastT: at("2026-03-02T14:30:00Z") },
        { t: at("2026-03-02T14:31:00Z"), o: 6725200, h: 6725200, l: 6725200, c: 6725200, v: 12345, n: 1, pv: String(6725200 * 12345), firstT: at("2026-03-02T14:31:00Z"), lastT: at("2026-03-02T14:31:00Z") },
      ],
    });
  });

  it("accepts RFC 3339 with an offset, epoch seconds and epoch milliseconds alike", () => {
    const t = at("2026-03-02T14:30:00Z");
    const result = parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", "2026-03-02T09:30:00-05:00,1,1,1,1,1", `${t / 1000 + 60},1,1,1,1,1`, `${t + 120_000},1,1,1,1,1`), AAPL, MINUTES);
    expect(result.ok && result.bars.map((b) => b.t)).toEqual([t, t + 60_000, t + 120_000]);
  });

  it("stands in the typical price (h + l + c) / 3 for a missing VWAP, and counts no trades", () => {
    const result = parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", "2026-03-02T14:30:00Z,1.00,1.03,0.99,1.01,10"), AAPL, MINUTES);
    // (103 + 99 + 101) / 3 = 101 ticks × 10 lots
    expect(result).toMatchObject({ ok: true, bars: [{ pv: "1010", n: 0 }] });
  });

  it("reports every bad line with its file line number and imports nothing", () => {
    const text = csv(
      "timestamp,open,high,low,close,volume", // 1
      "2026-03-02T14:30:00Z,187.50,187.60,187.40,187.55,100", // 2 fine
      "2026-03-02T14:31:00Z,187.505,187.60,187.40,187.55,100", // 3 open off the tick grid
      "2026-03-02T14:32:30Z,187.50,187.60,187.40,187.55,100", // 4 not on a minute
      "2026-03-02T14:32:00Z,187.50,187.60,187.40,187.55,100", // 5 earlier than line 4
      "2026-03-02T14:33:00Z,187.50,187.50,187.40,187.55,100", // 6 high below close
      "2026-03-02T14:34:00Z,187.50,187.60,187.40,187.55,-5", // 7 negative volume
      "", // 8 blank in the middle
      "2026-03-02T14:36:00Z,187.50,187.60,187.40", // 9 too few fields
      "2026-03-02T14:36:00Z,187.50,187.60,187.40,187.55,100", // 10 fine
      "2026-03-02T14:36:00Z,187.50,187.60,187.40,187.55,100", // 11 duplicate of line 10
      "2026-02-30T14:37:00Z,187.50,187.60,187.40,187.55,100", // 12 no such date
      "yesterday,187.50,187.60,187.55,187.50,1.5", // 13 bad timestamp, low above open, fractional share
      "",
      "",
    );
    const result = parseOhlcvCsv(text, AAPL, MINUTES);
    expect(result).toEqual({
      ok: false,
      errors: [
        { line: 3, message: 'open "187.505" is not a positive price on the 0.01 tick grid' },
        { line: 4, message: "timestamp 2026-03-02T14:32:30.000Z is not the start of a 1Min bucket (that bucket starts at 2026-03-02T14:32:00.000Z)" },
        { line: 5, message: "timestamp 2026-03-02T14:32:00.000Z is earlier than a row above it; rows must be in strictly increasing time" },
        { line: 6, message: "high is below open, close or low" },
        { line: 7, message: 'volume "-5" is not a size >= 0 on the 1 lot grid' },
        { line: 8, message: "blank line (only trailing blank lines are allowed)" },
        { line: 9, message: "expected 6 fields like the header, found 4" },
        { line: 11, message: "timestamp 2026-03-02T14:36:00.000Z is a duplicate; rows must be in strictly increasing time" },
        { line: 12, message: 'timestamp "2026-02-30T14:37:00Z" is not a valid date and time' },
        { line: 13, message: 'timestamp "yesterday" is neither RFC 3339 (2024-01-02T15:04:00Z) nor epoch seconds or milliseconds' },
        { line: 13, message: 'volume "1.5" is not a size >= 0 on the 1 lot grid' },
      ],
    });
  });

  it("keeps refusing rows until time passes the latest row so far", () => {
    const text = csv(
      "timestamp,open,high,low,close,volume",
      "2026-03-02T14:30:00Z,1,1,1,1,1",
      "2026-03-02T14:35:00Z,1,1,1,1,1",
      "2026-03-02T14:31:00Z,1,1,1,1,1", // before 14:35
      "2026-03-02T14:32:00Z,1,1,1,1,1", // after the bad row, still before 14:35
      "2026-03-02T14:36:00Z,1,1,1,1,1",
    );
    expect(parseOhlcvCsv(text, AAPL, MINUTES)).toMatchObject({ ok: false, errors: [{ line: 4 }, { line: 5 }] });
  });

  it("checks low against open and close, and the VWAP against the range", () => {
    const text = csv("timestamp,open,high,low,close,volume,vwap", "2026-03-02T14:30:00Z,1.00,1.10,1.05,1.06,10,1.06", "2026-03-02T14:31:00Z,1.00,1.10,0.90,1.06,10,1.20");
    expect(parseOhlcvCsv(text, AAPL, MINUTES)).toEqual({
      ok: false,
      errors: [
        { line: 2, message: "low is above open or close" },
        { line: 3, message: "vwap 1.20 is outside the bar's low..high" },
      ],
    });
  });

  it("needs daily equity bars at New York midnight and daily crypto bars at UTC midnight", () => {
    const days = { timeframe: tf("1Day"), now: NOW };
    const newYork = csv("timestamp,open,high,low,close,volume", "2026-03-06T05:00:00Z,1,1,1,1,1", "2026-03-09T04:00:00Z,1,1,1,1,1");
    expect(parseOhlcvCsv(newYork, AAPL, days).ok).toBe(true);
    expect(parseOhlcvCsv(newYork, BTC, days)).toMatchObject({ ok: false, errors: [{ line: 2 }, { line: 3 }] });
    expect(parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", "2026-03-09T00:00:00Z,1,1,1,1,1"), BTC, days).ok).toBe(true);
  });

  it("names header problems on line 1", () => {
    expect(parseOhlcvCsv(csv("timestamp,open,high,close,volume,symbol,open", "x"), AAPL, MINUTES)).toEqual({
      ok: false,
      errors: [
        { line: 1, message: 'unknown column "symbol"; expected timestamp,open,high,low,close,volume and optionally trade_count,vwap' },
        { line: 1, message: 'column "open" appears twice' },
        { line: 1, message: "missing column low; the header must name timestamp,open,high,low,close,volume" },
      ],
    });
    expect(parseOhlcvCsv("\n\n", AAPL, MINUTES)).toEqual({ ok: false, errors: [{ line: 1, message: "the file is empty; the first line must be the header timestamp,open,high,low,close,volume" }] });
  });

  it("reports at most 100 errors", () => {
    const rows = Array.from({ length: 150 }, () => "bad,1,1,1,1,1");
    const result = parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", ...rows), AAPL, MINUTES);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toHaveLength(100);
      expect(result.errors.at(-1)?.line).toBe(101);
    }
  });

  it("refuses more rows than allowed, naming the first row too many", () => {
    const rows = Array.from({ length: 4 }, (_, i) => `${at("2026-03-02T14:30:00Z") + i * 60_000},1,1,1,1,1`);
    const text = csv("timestamp,open,high,low,close,volume", ...rows);
    expect(parseOhlcvCsv(text, AAPL, { ...MINUTES, maxRows: 4 }).ok).toBe(true);
    expect(parseOhlcvCsv(text, AAPL, { ...MINUTES, maxRows: 3 })).toEqual({ ok: false, errors: [{ line: 5, message: "more than 3 rows; split the file" }] });
  });

  it("refuses timestamps finer than a millisecond but accepts zero nanoseconds", () => {
    const header = "timestamp,open,high,low,close,volume";
    expect(parseOhlcvCsv(csv(header, "2026-03-02T14:30:00.000000000Z,1,1,1,1,1"), AAPL, MINUTES).ok).toBe(true);
    expect(parseOhlcvCsv(csv(header, "2026-03-02T14:30:00.0000001Z,1,1,1,1,1"), AAPL, MINUTES)).toEqual({
      ok: false,
      errors: [{ line: 2, message: 'timestamp "2026-03-02T14:30:00.0000001Z" is finer than a millisecond' }],
    });
  });

  it("refuses bars that start after the import's now, naming their lines; a bar that has started is fine", () => {
    const now = at("2026-03-02T14:31:30Z");
    const text = csv(
      "timestamp,open,high,low,close,volume",
      "2026-03-02T14:30:00Z,1,1,1,1,1", // 2 past
      "2026-03-02T14:31:00Z,1,1,1,1,1", // 3 in progress: started before now
      "2026-03-02T14:32:00Z,1,1,1,1,1", // 4 starts after now
      "2027-01-04T14:30:00Z,1,1,1,1,1", // 5 next year
    );
    expect(parseOhlcvCsv(text, AAPL, { ...MINUTES, now })).toEqual({
      ok: false,
      errors: [
        { line: 4, message: "timestamp 2026-03-02T14:32:00.000Z is in the future (the import ran at 2026-03-02T14:31:30.000Z); only bars that have started can be imported" },
        { line: 5, message: "timestamp 2027-01-04T14:30:00.000Z is in the future (the import ran at 2026-03-02T14:31:30.000Z); only bars that have started can be imported" },
      ],
    });
    expect(parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", "2026-03-02T14:31:00Z,1,1,1,1,1"), AAPL, { ...MINUTES, now: at("2026-03-02T14:31:00Z") }).ok).toBe(true);
  });
});
