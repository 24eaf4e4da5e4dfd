import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CsvError, csvFields, csvRejection, MAX_LINE_CHARS, type OhlcvCsvOptions, OhlcvCsvReader, parseOhlcvCsv } from "../../shared/market/csv";
import type { Bar } from "../../shared/market/types";
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

  it("says a price on a grid too fine to count it has too many ticks, not that it is off the grid", () => {
    const fine = { ...AAPL, tickSize: "0.000000000000000001" };
    const result = parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", "2026-03-02T14:30:00Z,100,100,100,100.5,10", "2026-03-02T14:31:00Z,0.0000000000000000015,1,1,1,10"), fine, MINUTES);
    expect(result.ok).toBe(false);
    const messages = result.ok ? [] : result.errors.map((e) => `${e.line}: ${e.message}`);
    expect(messages).toContain('2: open "100" is more than 2^53 ticks of 0.000000000000000001: a price must be a count of ticks below that; use a coarser tick size');
    // Off the grid is still said so.
    expect(messages).toContain('3: open "0.0000000000000000015" is not a positive price on the 0.000000000000000001 tick grid');
  });

  it("counts a refused file's problems and the lines they are on, not one as the other", () => {
    // One row with three problems (found in QA as "3 bad lines").
    const one = parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", "yesterday,x,1,1,1,-1"), AAPL, MINUTES);
    expect(one.ok ? [] : one.errors.map((e) => e.line)).toEqual([2, 2, 2]);
    expect(csvRejection(one.ok ? [] : one.errors, "nothing was imported")).toBe("CSV rejected: 3 problems on 1 line; nothing was imported");
    const two = parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", "2026-03-02T14:30:00Z,1,1,1,1,1.5", "yesterday,x,1,1,1,1"), AAPL, MINUTES);
    expect(csvRejection(two.ok ? [] : two.errors, "nothing was run")).toBe("CSV rejected: 3 problems on 2 lines; nothing was run");
    expect(csvRejection([{ line: 1, message: "x" }], "nothing was imported")).toBe("CSV rejected: 1 problem on 1 line; nothing was imported");
    // The list stops at 100 problems: the count says there may be more.
    const many = csv("timestamp,open,high,low,close,volume", ...Array.from({ length: 60 }, () => "yesterday,x,1,1,1,1"));
    const capped = parseOhlcvCsv(many, AAPL, MINUTES);
    expect(capped.ok ? 0 : capped.errors.length).toBe(100);
    expect(csvRejection(capped.ok ? [] : capped.errors, "nothing was imported")).toBe("CSV rejected: 100 problems on 50 lines (the first 100 found; there may be more); nothing was imported");
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

  it("reads RFC 4180 quoted fields, as spreadsheets and pandas write them (found in QA: refused as unknown columns)", () => {
    const quoted = parseOhlcvCsv(csv('"timestamp","open","high","low","close","volume"', '"2026-03-02T14:30:00Z", "1.00" ,"1.03","0.99","1.01",10'), AAPL, MINUTES);
    const plain = parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", "2026-03-02T14:30:00Z,1.00,1.03,0.99,1.01,10"), AAPL, MINUTES);
    expect(quoted).toEqual(plain);
    expect(plain.ok).toBe(true);
    expect(parseOhlcvCsv(csv("timestamp,open,high,low,close,volume", '2026-03-02T14:30:00Z,"1.00,1.03,0.99,1.01,10', '2026-03-02T14:31:00Z,"1"x,1,1,1,1', '2026-03-02T14:32:00Z,1"5,1,1,1,1'), AAPL, MINUTES)).toEqual({
      ok: false,
      errors: [
        { line: 2, message: "field 2 opens a quote that the line never closes" },
        { line: 3, message: "field 2 has text after its closing quote" },
        { line: 4, message: 'field 2 has a quote inside it; quote the whole field ("…") and double any quote within it' },
      ],
    });
    expect(parseOhlcvCsv('timestamp,"open,high,low,close,volume', AAPL, MINUTES)).toEqual({ ok: false, errors: [{ line: 1, message: "field 2 opens a quote that the line never closes" }] });
  });

  it("splits any fields written the RFC 4180 way back into the same fields", () => {
    const field = fc.string({ unit: fc.constantFrom("a", "1", ".", ",", '"', " ", "-", ":"), maxLength: 8 });
    fc.assert(
      fc.property(fc.array(fc.tuple(field, fc.boolean()), { minLength: 1, maxLength: 8 }), (cells) => {
        // Quoted when asked, and always when it holds a comma or a quote.
        const line = cells.map(([text, quote]) => (quote || /[",]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text)).join(",");
        expect(csvFields(line)).toEqual(cells.map(([text]) => text));
      }),
      { numRuns: 2_000 },
    );
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
    // Lines ended by \r alone read as one line: said so, once (found in QA: 100 unknown columns).
    const mac = "timestamp,open,high,low,close,volume\r2026-03-02T14:30:00Z,1,1,1,1,1\r2026-03-02T14:31:00Z,1,1,1,1,1\r";
    expect(parseOhlcvCsv(mac, AAPL, MINUTES)).toEqual({ ok: false, errors: [{ line: 1, message: "the lines end with a carriage return alone (\\r, as old Mac files do); save the file with \\n or \\r\\n line endings" }] });
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

// ---- the reader: the same file in pieces -------------------------------------------------

const HEADER = "timestamp,open,high,low,close,volume";
const T0 = at("2026-03-02T14:30:00Z");
const EMPTY = "the file is empty; the first line must be the header timestamp,open,high,low,close,volume";
const BLANK = "blank line (only trailing blank lines are allowed)";
const badTime = (text: string) => `timestamp "${text}" is neither RFC 3339 (2024-01-02T15:04:00Z) nor epoch seconds or milliseconds`;
const BAD_TIME = badTime("x");
const FIELDS = "expected 6 fields like the header, found 2";

/** The bar of `${t},1,1.01,0.99,1,5` for AAPL: 5 lots at the typical price 100 ticks. */
const bar = (t: number): Bar => ({ t, o: 100, h: 101, l: 99, c: 100, v: 5, n: 0, pv: "500", firstT: t, lastT: t });

/** All of `text` in pieces cut at `cuts` (sorted; repeats give empty pieces), then end(). */
function readInPieces(text: string, cuts: number[], options: OhlcvCsvOptions) {
  const reader = new OhlcvCsvReader(AAPL, options);
  const bars: Bar[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    bars.push(...reader.push(text.slice(from, cut)));
    from = cut;
  }
  bars.push(...reader.end());
  return { bars, errors: reader.errors, stopped: reader.stopped, rows: reader.rows };
}

type HeaderKind = "good" | "missing" | "blank";
type RowKind = "good" | "badTime" | "fields" | "blank";
interface Line {
  kind: HeaderKind | RowKind;
  text: string;
  eol: string;
}

// Today's rules, restated line by line: what the file's lines should come to. `lengthFirst`
// is the whole-file parser as it was, which checked the length before reading anything;
// the reader finds the length on the way, so a file with MAX_ERRORS (100) errors above the
// limit stops at them and reports those instead of the limit.
function expected(lines: Line[], maxRows: number, lengthFirst: boolean): { bars: Bar[]; errors: CsvError[] } {
  const lastRow = lines.findLastIndex((l) => l.kind !== "blank");
  if (lastRow === -1) return { bars: [], errors: [{ line: 1, message: EMPTY }] };
  const tooLong = [{ line: maxRows + 2, message: `more than ${maxRows} rows; split the file` }];
  if (lastRow > maxRows && lengthFirst) return { bars: [], errors: tooLong };
  const upTo = Math.min(lastRow, maxRows);
  const lastAbove = lines.slice(0, upTo + 1).findLastIndex((l) => l.kind !== "blank");
  const bars: Bar[] = [];
  const errors: CsvError[] = [];
  const header = lines[0]?.kind;
  if (header === "missing") errors.push({ line: 1, message: "missing column volume; the header must name timestamp,open,high,low,close,volume" });
  if (header === "blank") {
    errors.push({ line: 1, message: 'unknown column ""; expected timestamp,open,high,low,close,volume and optionally trade_count,vwap' });
    errors.push({ line: 1, message: "missing columns timestamp, open, high, low, close, volume; the header must name timestamp,open,high,low,close,volume" });
  }
  for (let index = 1; header === "good" && index <= lastAbove && errors.length < 100; index++) {
    const kind = lines[index]?.kind;
    if (kind === "good") bars.push(bar(T0 + index * 60_000));
    else errors.push({ line: index + 1, message: kind === "blank" ? BLANK : kind === "badTime" ? badTime(lines[index]?.text.split(",")[0] ?? "") : FIELDS });
  }
  if (lastRow > maxRows && errors.length < 100) return { bars: [], errors: tooLong };
  return errors.length > 0 ? { bars: [], errors } : { bars, errors };
}

const eol = fc.constantFrom("\n", "\r\n");
const blankText = fc.constantFrom("", " ", "\t", "\r");
const headerLine: fc.Arbitrary<[HeaderKind, string]> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constant<HeaderKind>("good"), fc.constantFrom(HEADER, " Timestamp,OPEN, high,low,close,volume ")) },
  fc.tuple(fc.constant<HeaderKind>("missing"), fc.constant("timestamp,open,high,low,close")),
  fc.tuple(fc.constant<HeaderKind>("blank"), blankText),
);
// Rows are built knowing their file line, so good rows always rise in time.
const rowKind = fc.oneof({ weight: 6, arbitrary: fc.constant<RowKind>("good") }, fc.constantFrom<RowKind>("badTime", "fields", "blank"));
const rowText = (kind: RowKind, index: number, variant: number): string => {
  const t = T0 + index * 60_000;
  if (kind === "good") return `${variant % 2 ? new Date(t).toISOString() : t},1,1.01,0.99,1,5${["", " ", "\r"][variant % 3]}`;
  // Only the file's first U+FEFF is a BOM; one inside a line stays in its field.
  if (kind === "badTime") return `${["x", "x\uFEFFy"][variant % 2]},1,1,1,1,1`;
  if (kind === "fields") return "1,2";
  return ["", " ", "\t", "\r"][variant % 4] ?? "";
};
const file = fc
  .record({
    bom: fc.boolean(),
    header: headerLine,
    headerEol: eol,
    // Sometimes many bad rows, to reach the cap of 100 errors.
    rows: fc.oneof(fc.array(fc.tuple(rowKind, fc.nat(), eol), { maxLength: 20 }), fc.array(fc.tuple(fc.constantFrom<RowKind>("badTime", "fields", "blank", "good"), fc.nat(), eol), { minLength: 95, maxLength: 140 })),
    trailing: fc.array(fc.tuple(blankText, eol), { maxLength: 3 }),
    finalEol: fc.boolean(),
  })
  .map(({ bom, header: [headerKind, headerText], headerEol, rows, trailing, finalEol }) => {
    const lines: Line[] = [{ kind: headerKind, text: headerText, eol: headerEol }];
    rows.forEach(([kind, variant, end], i) => lines.push({ kind, text: rowText(kind, i + 1, variant), eol: end }));
    trailing.forEach(([text, end]) => lines.push({ kind: "blank", text, eol: end }));
    const text = (bom ? "\uFEFF" : "") + lines.map((l, i) => l.text + (i < lines.length - 1 || finalEol ? l.eol : "")).join("");
    return { lines, text };
  });
// undefined is the default of 100,000; 100 and up can meet the cap of errors first.
const maxRows = fc.option(fc.oneof(fc.nat({ max: 12 }), fc.integer({ min: 95, max: 140 })), { nil: undefined });
const cuts = (length: number) => fc.oneof(fc.array(fc.nat({ max: length })).map((c) => c.sort((a, b) => a - b)), fc.constant(Array.from({ length }, (_, i) => i)));

describe("OHLCV CSV reader, the file in pieces", () => {
  it("answers the bars and errors of the whole file, and of today's rules, wherever the pieces are cut", () => {
    fc.assert(
      fc.property(
        file.chain((f) => fc.tuple(fc.constant(f), cuts(f.text.length), maxRows)),
        ([{ lines, text }, cutPoints, max]) => {
          const options = { ...MINUTES, maxRows: max };
          const inPieces = readInPieces(text, cutPoints, options);
          const whole = readInPieces(text, [], options);
          expect(inPieces).toEqual(whole);
          const want = expected(lines, max ?? 100_000, false);
          expect(inPieces.errors).toEqual(want.errors);
          if (want.errors.length === 0) expect(inPieces.bars).toEqual(want.bars);
          expect(parseOhlcvCsv(text, AAPL, options)).toEqual(want.errors.length > 0 ? { ok: false, errors: want.errors } : { ok: true, bars: want.bars });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("answers each bar when its line ends, also when a piece ends between \\r and \\n", () => {
    const reader = new OhlcvCsvReader(AAPL, MINUTES);
    expect(reader.push(`${HEADER}\r\n${T0},1,1.01,0.99,1,5\r`)).toEqual([]);
    expect(reader.push(`\n${T0 + 60_000},1,1.01,0.99,1,5\r`)).toEqual([bar(T0)]);
    expect(reader.push("\n")).toEqual([bar(T0 + 60_000)]);
    expect(reader.end()).toEqual([]);
    expect(reader.errors).toEqual([]);
    expect(reader.rows).toBe(2);
  });

  it("reads a header and a BOM cut into pieces, and a last line without a newline at end()", () => {
    const reader = new OhlcvCsvReader(AAPL, MINUTES);
    for (const piece of ["", "\uFEFF", "times", "", "tamp,open,high,", "low,close,volume\n", `${T0},1,1.01,0.99,1,5`]) expect(reader.push(piece)).toEqual([]);
    expect(reader.end()).toEqual([bar(T0)]);
    expect(reader.errors).toEqual([]);
    expect(() => reader.push("x")).toThrow();
  });

  it("reports blank lines once a row follows them, and finds an empty file at end()", () => {
    const reader = new OhlcvCsvReader(AAPL, MINUTES);
    expect(reader.push(`${HEADER}\n${T0},1,1.01,0.99,1,5\n\n \r\n`)).toEqual([bar(T0)]);
    expect(reader.errors).toEqual([]);
    reader.push(`${T0 + 240_000},1,1.01,0.99,1,5\n\n`);
    expect(reader.errors).toEqual([
      { line: 3, message: BLANK },
      { line: 4, message: BLANK },
    ]);
    const empty = new OhlcvCsvReader(AAPL, MINUTES);
    expect(empty.push("\uFEFF \r\n\n")).toEqual([]);
    expect(empty.errors).toEqual([]);
    empty.end();
    expect(empty.errors).toEqual([{ line: 1, message: EMPTY }]);
  });

  it("takes a blank line 1 for the header once a later line has text, and counts the row limit from it", () => {
    const errorsOf = (text: string, maxRows: number) => {
      const reader = new OhlcvCsvReader(AAPL, { ...MINUTES, maxRows });
      reader.push(text);
      reader.end();
      return reader.errors;
    };
    expect(errorsOf("\n\nx", 2)).toEqual([
      { line: 1, message: 'unknown column ""; expected timestamp,open,high,low,close,volume and optionally trade_count,vwap' },
      { line: 1, message: "missing columns timestamp, open, high, low, close, volume; the header must name timestamp,open,high,low,close,volume" },
    ]);
    expect(errorsOf("\n\nx", 1)).toEqual([{ line: 3, message: "more than 1 rows; split the file" }]);
  });

  it("stops at the first row past the limit, reporting only that, as the whole-file check did", () => {
    const reader = new OhlcvCsvReader(AAPL, { ...MINUTES, maxRows: 2 });
    expect(reader.push(`${HEADER}\n${T0},1,1.01,0.99,1,5\nx,1,1,1,1,1\n`)).toEqual([bar(T0)]);
    expect(reader.errors).toEqual([{ line: 3, message: BAD_TIME }]);
    // Row 3 is on line 5; the error names line 4 (maxRows + 2), blank here, as before.
    expect(reader.push(`\n${T0 + 180_000},1,1.01,0.99,1,5\n`)).toEqual([]);
    expect(reader.errors).toEqual([{ line: 4, message: "more than 2 rows; split the file" }]);
    expect(reader.stopped).toBe(true);
    expect(reader.push(`${T0 + 240_000},1,1.01,0.99,1,5\n`)).toEqual([]);
    expect(reader.end()).toEqual([]);
    expect(reader.rows).toBe(2);
  });

  it("stops at 100 errors; so a file too long with 100 bad rows above the limit reports those, not the limit (the one difference from checking the length first)", () => {
    const text = csv(HEADER, ...Array.from({ length: 150 }, () => "x,1,1,1,1,1"));
    const reader = new OhlcvCsvReader(AAPL, { ...MINUTES, maxRows: 120 });
    // Lines 1 to 101 and part of 102: the 100th error is on line 101.
    expect(reader.push(text.slice(0, 1300))).toEqual([]);
    expect(reader.stopped).toBe(true);
    expect(reader.errors).toHaveLength(100);
    expect(reader.errors.at(-1)).toEqual({ line: 101, message: BAD_TIME });
    expect(reader.push(text.slice(1300))).toEqual([]);
    expect(reader.end()).toEqual([]);
    // Checking the length first, as parseOhlcvCsv did, answered the limit alone.
    const lines: Line[] = text.split("\n").map((line, i) => ({ kind: i === 0 ? "good" : "badTime", text: line, eol: "\n" }));
    expect(expected(lines, 120, true).errors).toEqual([{ line: 122, message: "more than 120 rows; split the file" }]);
    expect(parseOhlcvCsv(text, AAPL, { ...MINUTES, maxRows: 120 })).toEqual({ ok: false, errors: expected(lines, 120, false).errors });
  });

  it("refuses a line longer than MAX_LINE_CHARS without holding it, whole or arriving in pieces", () => {
    const long = "9".repeat(MAX_LINE_CHARS + 1);
    const error = [{ line: 3, message: `line longer than ${MAX_LINE_CHARS} characters` }];
    expect(parseOhlcvCsv(`${HEADER}\n${T0},1,1.01,0.99,1,5\n${long}\n${T0 + 60_000},1,1.01,0.99,1,5\n`, AAPL, MINUTES)).toEqual({ ok: false, errors: error });
    const reader = new OhlcvCsvReader(AAPL, MINUTES);
    expect(reader.push(`${HEADER}\n${T0},1,1.01,0.99,1,5\n`)).toEqual([bar(T0)]);
    // A body with no newline: refused once the line passes the bound, not at the end.
    for (let i = 0; i < 5 && !reader.stopped; i++) reader.push("9".repeat(1_000));
    expect(reader.stopped).toBe(true);
    expect(reader.end()).toEqual([]);
    expect(reader.errors).toEqual(error);
    // A line just within the bound is read (and fails as the row it is).
    expect(parseOhlcvCsv(`${HEADER}\n${"9".repeat(MAX_LINE_CHARS)}\n`, AAPL, MINUTES).ok).toBe(false);
  });
});
