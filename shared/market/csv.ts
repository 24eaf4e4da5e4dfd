import { rfc3339Ms } from "../instant";
import { rfc3339 } from "./format";
import { type InstrumentSpec, decimalToLots, decimalTimesToNearestTicks, decimalToTicks, tooManySteps } from "./instrument";
import { type Timeframe, bucketStart } from "./timeframe";
import type { Bar } from "./types";

// History import: OHLCV rows from a CSV file become bars of one timeframe. All or nothing,
// so a half-imported history never reaches a chart or a backtest; every problem is
// reported with its 1-based file line (the header is line 1) so it can be fixed in one go.

export interface CsvError {
  line: number;
  message: string;
}

export type ParsedOhlcv = { ok: true; bars: Bar[] } | { ok: false; errors: CsvError[] };

export interface OhlcvCsvOptions {
  timeframe: Timeframe;
  /** The import's wall-clock time (epoch ms): a bar that has not started yet cannot have prices. */
  now: number;
  /** Data rows allowed (header not counted). */
  maxRows?: number;
}

const REQUIRED = ["timestamp", "open", "high", "low", "close", "volume"] as const;
const OPTIONAL = ["trade_count", "vwap"] as const;
type Column = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];
const KNOWN = new Set<string>([...REQUIRED, ...OPTIONAL]);

const MAX_ERRORS = 100;
const DEFAULT_MAX_ROWS = 100_000;
// Epoch numbers below this are seconds (up to the year 5138), above it milliseconds (from 1973).
const EPOCH_MS_FROM = 1e11;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The headline of a refused file, counting what it counts: the problems reported and the
 * lines they are on (one line may have several; line 1 is the header). The list stops at
 * MAX_ERRORS problems, so a full list says there may be more. `outcome` is what did not
 * happen, e.g. "nothing was imported".
 */
export function csvRejection(errors: readonly CsvError[], outcome: string): string {
  const lines = new Set(errors.map((e) => e.line)).size;
  const more = errors.length >= MAX_ERRORS ? ` (the first ${MAX_ERRORS} found; there may be more)` : "";
  return `CSV rejected: ${plural(errors.length, "problem")} on ${plural(lines, "line")}${more}; ${outcome}`;
}

class ErrorList {
  readonly errors: CsvError[] = [];
  add(line: number, message: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push({ line, message });
  }
  /** The one error that makes the others moot. */
  only(line: number, message: string): void {
    this.errors.splice(0, this.errors.length, { line, message });
  }
  get full(): boolean {
    return this.errors.length >= MAX_ERRORS;
  }
}

type Columns = Map<Column, number>;

/**
 * A line's fields, RFC 4180 quoting honoured (spreadsheets and pandas quote fields, headers
 * most often): a field wholly inside double quotes, `""` within it one quote. A field never
 * spans lines here (no OHLCV value holds a newline). Answers a message for a quote left open
 * or text after a closing quote.
 */
export function csvFields(line: string): string[] | string {
  if (!line.includes('"')) return line.split(",");
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    // Spaces before an opening quote are tolerated, as they are around unquoted fields.
    let start = at;
    while (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9) start++;
    if (line[start] !== '"') {
      const comma = line.indexOf(",", at);
      const field = line.slice(at, comma === -1 ? undefined : comma);
      if (field.includes('"')) return `field ${fields.length + 1} has a quote inside it; quote the whole field ("…") and double any quote within it`;
      fields.push(field);
      if (comma === -1) return fields;
      at = comma + 1;
      continue;
    }
    let value = "";
    let from = start + 1;
    for (;;) {
      const quote = line.indexOf('"', from);
      if (quote === -1) return `field ${fields.length + 1} opens a quote that the line never closes`;
      value += line.slice(from, quote);
      if (line[quote + 1] === '"') {
        value += '"';
        from = quote + 2;
        continue;
      }
      at = quote + 1;
      break;
    }
    while (line.charCodeAt(at) === 32 || line.charCodeAt(at) === 9) at++;
    fields.push(value);
    if (at >= line.length) return fields;
    if (line[at] !== ",") return `field ${fields.length} has text after its closing quote`;
    at += 1;
  }
}

const columnIndex = (columns: Columns): Record<Column, number> =>
  Object.fromEntries([...REQUIRED, ...OPTIONAL].map((name) => [name, columns.get(name) ?? -1])) as Record<Column, number>;

function parseHeader(fields: string[], errors: ErrorList): Columns | undefined {
  const columns: Columns = new Map();
  fields.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    if (!KNOWN.has(name)) errors.add(1, `unknown column "${raw.trim()}"; expected ${REQUIRED.join(",")} and optionally ${OPTIONAL.join(",")}`);
    else if (columns.has(name as Column)) errors.add(1, `column "${name}" appears twice`);
    else columns.set(name as Column, index);
  });
  const missing = REQUIRED.filter((name) => !columns.has(name));
  if (missing.length > 0) errors.add(1, `missing column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; the header must name ${REQUIRED.join(",")}`);
  return errors.errors.length === 0 ? columns : undefined;
}

/** Epoch ms, or an error message: RFC 3339 (to the millisecond, a real date), or epoch seconds or milliseconds. */
export function parseTimestamp(text: string): number | string {
  if (/^\d{1,16}$/.test(text)) {
    const n = Number(text);
    return n < EPOCH_MS_FROM ? n * 1000 : n;
  }
  const ms = rfc3339Ms(text, "refuse");
  if (typeof ms === "number") return ms;
  if (ms === "finer_than_ms") return `timestamp "${text}" is finer than a millisecond`;
  if (ms === "no_such_time") return `timestamp "${text}" is not a valid date and time`;
  return `timestamp "${text}" is neither RFC 3339 (2024-01-02T15:04:00Z) nor epoch seconds or milliseconds`;
}

/** (sum × volume) / 3 rounded half up, as decimal digits: in doubles while they are exact, else in bigint. */
function roundedThird(sum: number, volume: number): string {
  const twice = 2 * sum * volume + 3;
  if (Number.isSafeInteger(twice)) return String((twice - (twice % 6)) / 6);
  return ((2n * BigInt(sum) * BigInt(volume) + 3n) / 6n).toString();
}

interface RowContext {
  spec: InstrumentSpec;
  timeframe: Timeframe;
  now: number;
  /** Each column's field index, -1 when the file has no such column. */
  index: Record<Column, number>;
  errors: ErrorList;
}

/** The trimmed field at `index`; undefined for a column the file does not have. */
function fieldAt(fields: string[], index: number): string | undefined {
  return index === -1 ? undefined : (fields[index] ?? "").trim();
}

/** What is wrong with a bar's price that has no count of ticks. */
export function priceProblem(name: string, text: string, tickSize: string): string {
  return tooManySteps(text, tickSize)
    ? `${name} "${text}" is more than 2^53 ticks of ${tickSize}: a price must be a count of ticks below that; use a coarser tick size`
    : `${name} "${text}" is not a positive price on the ${tickSize} tick grid`;
}

function priceAt(fields: string[], name: "open" | "high" | "low" | "close", line: number, context: RowContext): number | undefined {
  const text = fieldAt(fields, context.index[name]) ?? "";
  const ticks = decimalToTicks(text, context.spec);
  if (ticks === undefined) context.errors.add(line, priceProblem(name, text, context.spec.tickSize));
  return ticks;
}

/** One data line's bar, or only its time after reporting what is wrong; `previousT` is the latest time above it. */
function parseRow(fields: string[], line: number, previousT: number | undefined, context: RowContext): { bar?: Bar; t?: number } {
  const { spec, timeframe, now, index, errors } = context;
  const before = errors.errors.length;

  const stamp = parseTimestamp(fieldAt(fields, index.timestamp) ?? "");
  const t = typeof stamp === "number" ? stamp : undefined;
  if (typeof stamp === "string") errors.add(line, stamp);
  if (t !== undefined) {
    const start = bucketStart(t, timeframe, spec.timeZone);
    if (start !== t) errors.add(line, `timestamp ${rfc3339(t)} is not the start of a ${timeframe.label} bucket (that bucket starts at ${rfc3339(start)})`);
    // A future bar would become the snapshot's daily bar and previous close.
    if (t > now) errors.add(line, `timestamp ${rfc3339(t)} is in the future (the import ran at ${rfc3339(now)}); only bars that have started can be imported`);
    if (previousT !== undefined && t <= previousT) {
      errors.add(line, `timestamp ${rfc3339(t)} is ${t === previousT ? "a duplicate" : "earlier than a row above it"}; rows must be in strictly increasing time`);
    }
  }
  const o = priceAt(fields, "open", line, context);
  const h = priceAt(fields, "high", line, context);
  const l = priceAt(fields, "low", line, context);
  const c = priceAt(fields, "close", line, context);
  const volumeText = fieldAt(fields, index.volume) ?? "";
  const v = decimalToLots(volumeText, spec);
  if (v === undefined) errors.add(line, `volume "${volumeText}" is not a size >= 0 on the ${spec.lotSize} lot grid`);
  const countText = fieldAt(fields, index.trade_count);
  const n = countText === undefined ? 0 : /^\d{1,15}$/.test(countText) ? Number(countText) : undefined;
  if (n === undefined) errors.add(line, `trade_count "${countText}" is not a whole number >= 0`);

  if (t === undefined || o === undefined || h === undefined || l === undefined || c === undefined || v === undefined || n === undefined) return { t };
  if (h < Math.max(o, c, l)) errors.add(line, "high is below open, close or low");
  if (l > Math.min(o, c)) errors.add(line, "low is above open or close");

  const vwapText = fieldAt(fields, index.vwap);
  // Without a VWAP column, the typical price (h + l + c) / 3 stands in for one (never
  // outside low..high). Exact: Σ price·size passes 2^53 at fine lot sizes.
  let pv: string | undefined;
  if (vwapText === undefined) pv = roundedThird(h + l + c, v);
  else {
    const exact = decimalTimesToNearestTicks(vwapText, spec, v);
    if (exact === undefined) errors.add(line, `vwap "${vwapText}" is not a decimal price`);
    else if (v > 0 && (exact < BigInt(l) * BigInt(v) || exact > BigInt(h) * BigInt(v))) errors.add(line, `vwap ${vwapText} is outside the bar's low..high`);
    pv = exact?.toString();
  }

  if (errors.errors.length > before || pv === undefined) return { t };
  return { t, bar: { t, o, h, l, c, v, n, pv, firstT: t, lastT: t } };
}

const EMPTY_FILE = `the file is empty; the first line must be the header ${REQUIRED.join(",")}`;
const BLANK_LINE = "blank line (only trailing blank lines are allowed)";
/** Longer than any OHLCV row or header: a streamed line past it is refused rather than held (a body without newlines would otherwise sit whole in memory). */
export const MAX_LINE_CHARS = 4_096;

/**
 * parseOhlcvCsv for a file that arrives in pieces (a streamed upload), holding one line at a
 * time: push answers the bars of the lines it completes, end() those of the last line. A
 * later line can still fail the file, so only `errors` after end() decides. Non-empty
 * `errors` already means it fails, though reaching the row limit replaces them with that
 * one error (the whole file's length was checked first, so nothing else was reported).
 *
 * The one outcome that differs from that whole-file check: a file that is too long and has
 * MAX_ERRORS errors above the limit stops at those and reports them, not the row limit.
 */
export class OhlcvCsvReader {
  /** Non-blank lines below the header read so far. */
  rows = 0;
  private readonly list = new ErrorList();
  private readonly maxRows: number;
  private line = 0; // lines completed so far
  private rest = ""; // the line not completed yet
  private started = false; // a first character arrived: a BOM can only lead the file
  private blanks = 0; // blank lines above the next line: an error if a row follows, fine at the end
  private header: "pending" | "bad" | { context: RowContext; width: number } = "pending";
  private previousT: number | undefined;
  private halted = false;
  private ended = false;

  constructor(
    private readonly spec: InstrumentSpec,
    private readonly options: OhlcvCsvOptions,
  ) {
    this.maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  }

  get errors(): CsvError[] {
    return this.list.errors;
  }

  /** Nothing more can change the result: push and end answer [] and read nothing. */
  get stopped(): boolean {
    return this.halted || this.list.full;
  }

  /** The next piece of the file's text, cut anywhere; the bars of the lines it completes. */
  push(text: string): Bar[] {
    if (this.ended) throw new Error("OhlcvCsvReader: push after end");
    const bars: Bar[] = [];
    if (this.stopped || text === "") return bars;
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let newline = text.indexOf("\n");
    if (newline === -1) {
      // A rope, so a line that arrives a character at a time is not copied once per character.
      this.rest += text;
      if (this.rest.length > MAX_LINE_CHARS) this.tooLong();
      return bars;
    }
    let line = this.rest + text.slice(0, newline);
    let from = 0;
    for (;;) {
      this.read(line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line, bars);
      if (this.stopped) {
        this.rest = "";
        return bars;
      }
      from = newline + 1;
      newline = text.indexOf("\n", from);
      if (newline === -1) break;
      line = text.slice(from, newline);
    }
    this.rest = text.slice(from);
    if (this.rest.length > MAX_LINE_CHARS) this.tooLong();
    return bars;
  }

  /** The line being read is past MAX_LINE_CHARS, whether whole or still arriving: the file fails there. */
  private tooLong(): void {
    this.list.add(this.line + 1, `line longer than ${MAX_LINE_CHARS} characters`);
    this.rest = "";
    this.halted = true;
  }

  /** The file is complete: the bars of its last line (a newline after it is optional). */
  end(): Bar[] {
    if (this.ended) throw new Error("OhlcvCsvReader: end twice");
    this.ended = true;
    const bars: Bar[] = [];
    if (this.stopped) return bars;
    // As in a split on \r?\n, a \r without a \n after it stays in the line.
    this.read(this.rest, bars);
    this.rest = "";
    if (this.header === "pending" && !this.stopped) this.list.add(1, EMPTY_FILE);
    return bars;
  }

  private read(raw: string, bars: Bar[]): void {
    if (raw.length > MAX_LINE_CHARS) return this.tooLong();
    const line = ++this.line;
    // A line that starts with a printable ASCII character is not blank (trim only the rest).
    const first = raw.charCodeAt(0);
    if (!(first > 32 && first < 127) && raw.trim() === "") {
      this.blanks++;
      return;
    }
    // Blank lines count as rows here, as they did when the limit was checked on the whole file.
    if (line - 1 > this.maxRows) {
      this.list.only(this.maxRows + 2, `more than ${this.maxRows} rows; split the file`);
      this.halted = true;
      return;
    }
    if (line > 1) this.rows++;
    if (this.header === "pending") {
      // A carriage return left inside the header: the file's lines end in \r alone, and it
      // reads as one line (found in QA: "100 problems on 1 line", each an unknown column).
      if (line === 1 && raw.includes("\r")) {
        this.list.add(1, "the lines end with a carriage return alone (\\r, as old Mac files do); save the file with \\n or \\r\\n line endings");
        this.header = "bad";
        return;
      }
      // Line 1 is the header even when blank, now that the file is not empty.
      const names = csvFields(line === 1 ? raw : "");
      if (typeof names === "string") this.list.add(1, names);
      const columns = typeof names === "string" ? undefined : parseHeader(names, this.list);
      this.header = columns && typeof names !== "string" ? { context: { spec: this.spec, timeframe: this.options.timeframe, now: this.options.now, index: columnIndex(columns), errors: this.list }, width: names.length } : "bad";
      if (line === 1) return;
    }
    // Past a bad header, lines are only counted, for the row limit.
    if (this.header === "bad") return;
    for (; this.blanks > 0 && !this.list.full; this.blanks--) this.list.add(line - this.blanks, BLANK_LINE);
    this.blanks = 0;
    if (this.list.full) return;
    const fields = csvFields(raw);
    if (typeof fields === "string") {
      this.list.add(line, fields);
      return;
    }
    if (fields.length !== this.header.width) {
      this.list.add(line, `expected ${this.header.width} fields like the header, found ${fields.length}`);
      return;
    }
    const row = parseRow(fields, line, this.previousT, this.header.context);
    // The latest time so far, so one row out of place does not hide the next.
    if (row.t !== undefined) this.previousT = Math.max(row.t, this.previousT ?? row.t);
    if (row.bar) bars.push(row.bar);
  }
}

export function parseOhlcvCsv(text: string, spec: InstrumentSpec, options: OhlcvCsvOptions): ParsedOhlcv {
  const reader = new OhlcvCsvReader(spec, options);
  const bars = reader.push(text);
  bars.push(...reader.end());
  return reader.errors.length > 0 ? { ok: false, errors: reader.errors } : { ok: true, bars };
}
