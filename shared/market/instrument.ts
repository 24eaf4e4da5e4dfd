import { z } from "zod";

// Prices are stored as integer ticks and sizes as integer lots of an instrument. Decimals
// exist only at the edges (admin input, CSV import, JSON out), and every conversion
// between the two is exact arithmetic on decimal digits with bigint: a binary float never
// touches a stored price or size, so 0.1 + 0.2 cannot happen to money.

export type AssetClass = "us_equity" | "crypto";

export interface InstrumentSpec {
  symbol: string;
  assetClass: AssetClass;
  /** Price grid as a decimal string, e.g. "0.01". */
  tickSize: string;
  /** Size grid as a decimal string, e.g. "1" for shares or "0.0001" for bitcoin. */
  lotSize: string;
  /** Zone where day, week and month bars begin: "America/New_York" for equities, "UTC" for crypto. */
  timeZone: string;
}

/** value = units / 10^scale, never negative. */
interface Decimal {
  units: bigint;
  scale: number;
}

// Plain digits with an optional fraction; the exponent is there because String(number)
// writes 1e-7 and 1e+21. ".5", "5.", signs and spaces are refused.
const DECIMAL = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;
// No real price or size needs more digits; the cap keeps a hostile CSV field from
// turning into a megabyte-long bigint.
const MAX_DECIMAL_LENGTH = 64;
const MAX_EXPONENT = 64;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Powers of ten as exact doubles (from their literals), up to the scale the fast path takes. */
const MAX_EXACT_SCALE = 15;
const POWERS_OF_TEN = Array.from({ length: MAX_EXACT_SCALE + 1 }, (_, i) => Number(`1e${i}`));

/** The text parseDecimal reads for `value`. */
const decimalText = (value: string | number): string => (typeof value === "number" ? (Number.isFinite(value) ? String(value) : "") : value);

function parseDecimal(value: string | number): Decimal | undefined {
  const text = decimalText(value);
  if (text.length > MAX_DECIMAL_LENGTH) return undefined;
  const match = DECIMAL.exec(text);
  if (!match) return undefined;
  const [, whole = "", fraction = "", exponent = "0"] = match;
  const shift = Number(exponent);
  if (Math.abs(shift) > MAX_EXPONENT) return undefined;
  const scale = fraction.length - shift;
  const units = BigInt(whole + fraction);
  return scale >= 0 ? { units, scale } : { units: units * 10n ** BigInt(-scale), scale: 0 };
}

// A process sees a handful of grid sizes and converts on them constantly (every price and
// size written out): each is parsed once. Bounded, in case something odd streams new ones.
const GRID_CACHE = 256;
/** A grid's step, with its units also as a double when that is exact (NaN otherwise). */
type Grid = Decimal & { unitsNumber: number };
const grids = new Map<string, Grid>();

// An instrument's two grids (tick and lot) are asked for in turn, several times a bar in a
// backtest: the last two are held outside the map.
let lastSize: string | undefined;
let lastGrid: Grid | undefined;
let beforeSize: string | undefined;
let beforeGrid: Grid | undefined;

function gridStep(size: string): Grid {
  if (size === lastSize) return lastGrid!;
  if (size === beforeSize) return beforeGrid!;
  const grid = gridOf(size);
  beforeSize = lastSize;
  beforeGrid = lastGrid;
  lastSize = size;
  lastGrid = grid;
  return grid;
}

function gridOf(size: string): Grid {
  const known = grids.get(size);
  if (known) return known;
  const step = parseDecimal(size);
  // Specs are validated by InstrumentSpecSchema where they enter the system; a bad one
  // here is a programming error, not client input.
  if (!step || step.units === 0n) throw new RangeError(`grid size "${size}" is not a positive decimal`);
  const grid = { ...step, unitsNumber: step.units <= MAX_SAFE ? Number(step.units) : Number.NaN };
  if (grids.size >= GRID_CACHE) grids.clear();
  grids.set(size, grid);
  return grid;
}

/** value ÷ step as an exact fraction num/den. */
function stepsOf(value: Decimal, step: Decimal): { num: bigint; den: bigint } {
  return { num: value.units * 10n ** BigInt(step.scale), den: step.units * 10n ** BigInt(value.scale) };
}

/** Digits in a plain decimal that doubles still hold exactly (10^15 < 2^53). */
const MAX_PLAIN_DIGITS = 15;

/**
 * exactSteps for the common shape, in doubles: digits with at most one point inside them
 * (no exponent), at most 15 digits, and value and step small enough that both sides of the
 * division are safe integers, where double arithmetic is exact. Answers the steps, or
 * undefined when off the grid; null when the text is not that shape (exactSteps decides
 * then). An import reads five of these a row, and bigint was most of a row's cost.
 */
function plainSteps(text: string, size: string): number | undefined | null {
  const length = text.length;
  if (length === 0 || length > MAX_PLAIN_DIGITS + 1) return null;
  let units = 0;
  let digits = 0;
  let point = -1;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      units = units * 10 + (c - 48);
      digits++;
    } else if (c === 46 && point === -1 && i > 0 && i < length - 1) point = i;
    else return null;
  }
  if (digits > MAX_PLAIN_DIGITS) return null;
  const scale = point === -1 ? 0 : length - point - 1;
  const step = gridStep(size);
  if (step.scale > MAX_EXACT_SCALE) return null;
  // value ÷ step = (units / 10^scale) ÷ (step units / 10^step scale), both sides divided by
  // the smaller power of ten, so a size of nine decimals on a nine-decimal grid stays small.
  const num = step.scale >= scale ? units * POWERS_OF_TEN[step.scale - scale]! : units;
  const den = step.scale >= scale ? step.unitsNumber : step.unitsNumber * POWERS_OF_TEN[scale - step.scale]!;
  if (!Number.isSafeInteger(num) || !Number.isSafeInteger(den)) return null;
  return num % den === 0 ? num / den : undefined;
}

function exactSteps(value: string | number, size: string): bigint | undefined {
  const decimal = parseDecimal(value);
  if (!decimal) return undefined;
  const { num, den } = stepsOf(decimal, gridStep(size));
  return num % den === 0n ? num / den : undefined;
}

/** num/den rounded half up; both non-negative. */
function roundHalfUp(num: bigint, den: bigint): bigint {
  const quotient = num / den;
  return 2n * (num % den) >= den ? quotient + 1n : quotient;
}

function safeNumber(n: bigint): number | undefined {
  return n <= MAX_SAFE ? Number(n) : undefined;
}

function formatUnits(units: bigint, scale: number): string {
  return formatDigits(units < 0n ? "-" : "", (units < 0n ? -units : units).toString(), scale);
}

/** A count's digits (no sign) as a decimal with `scale` of them after the point. */
function formatDigits(sign: string, abs: string, scale: number): string {
  const digits = abs.padStart(scale + 1, "0");
  const whole = digits.slice(0, digits.length - scale);
  return scale === 0 ? `${sign}${whole}` : `${sign}${whole}.${digits.slice(digits.length - scale)}`;
}

function formatSteps(count: number, size: string): string {
  if (!Number.isSafeInteger(count)) throw new RangeError(`${count} is not a whole number of grid steps`);
  const step = gridStep(size);
  // Written with the grid's own precision ("187.50" on a 0.01 grid), as Alpaca writes prices.
  // A product within 2^53 is exact in doubles and written the same by String (no exponent
  // below 10^21): no bigint then.
  const units = count * step.unitsNumber;
  if (Number.isSafeInteger(units)) return formatDigits(units < 0 ? "-" : "", String(units < 0 ? -units : units), step.scale);
  return formatUnits(BigInt(count) * step.units, step.scale);
}

/** A price in ticks as a decimal string with the tick size's precision. */
export const ticksToDecimal = (ticks: number, spec: InstrumentSpec): string => formatSteps(ticks, spec.tickSize);

/**
 * A price for JSON: the double nearest the exact decimal, never a product of floats. When
 * ticks × the step's digits and 10^scale are both exact doubles, one division gives it
 * (IEEE division rounds the exact quotient to nearest, as parsing the decimal text does);
 * otherwise the text is parsed.
 */
export const ticksToNumber = (ticks: number, spec: InstrumentSpec): number => stepsToNumber(ticks, spec.tickSize);

function stepsToNumber(count: number, size: string): number {
  return gridNumber(count, gridStep(size), size);
}

function gridNumber(count: number, step: Grid, size: string): number {
  // unitsNumber is NaN for a step past 2^53, and so is the product then.
  if (Number.isSafeInteger(count) && step.scale <= MAX_EXACT_SCALE) {
    const scaled = count * step.unitsNumber;
    if (Number.isSafeInteger(scaled)) return scaled / POWERS_OF_TEN[step.scale]!;
  }
  return Number(formatSteps(count, size));
}

/**
 * gridNumber(count, step, size) === value, answered as a boolean: the number made and
 * compared in one place is not boxed on the heap (found in an allocation profile: 48 MB a
 * million-bar backtest, five prices a bar).
 */
function readsBackAs(count: number, step: Grid, size: string, value: number): boolean {
  if (Number.isSafeInteger(count) && step.scale <= MAX_EXACT_SCALE) {
    const scaled = count * step.unitsNumber;
    if (Number.isSafeInteger(scaled)) return scaled / POWERS_OF_TEN[step.scale]! === value;
  }
  return Number(formatSteps(count, size)) === value;
}

/** Counts of ticks below this span at least four units in the last place of their price. */
const MAX_GRID_TICKS = 2 ** 50;

/**
 * ticksOnGrid on one tick size, its grid looked up once: for a caller that reads many prices
 * of one instrument (a backtest reads four a bar).
 */
export function ticksOnGridOf(tickSize: string): (value: number) => number | undefined {
  const step = gridStep(tickSize);
  return (value) => gridTicks(value, step, tickSize);
}

/**
 * The ticks of a price already on the grid (every bar's), read without its text: the count
 * nearest value ÷ tick, if its exact decimal reads back as `value`. Under 2^50 ticks a tick
 * spans at least four units in the last place of the price, so no other grid decimal reads
 * back as that number and its shortest text is the grid's decimal: parsing the text gives
 * the same ticks. Undefined for anything else (off the grid, not positive, too fine), which
 * the text decides.
 */
export function ticksOnGrid(value: number, spec: InstrumentSpec): number | undefined {
  return gridTicks(value, gridStep(spec.tickSize), spec.tickSize);
}

/** ticksOnGrid on a grid already looked up. */
function gridTicks(value: number, step: Grid, size: string): number | undefined {
  if (!(value > 0) || step.scale > MAX_EXACT_SCALE) return undefined;
  const candidate = Math.round((value * POWERS_OF_TEN[step.scale]!) / step.unitsNumber);
  return candidate > 0 && candidate <= MAX_GRID_TICKS && readsBackAs(candidate, step, size, value) ? candidate : undefined;
}

/**
 * A quantity as a decimal string without trailing zeros ("1", "0.5", "12"), as Alpaca writes
 * quantities; prices keep the tick size's precision ("187.50"). Padded to the lot size, one
 * bitcoin read "1.000000000" (found in QA).
 */
export const lotsToDecimal = (lots: number, spec: InstrumentSpec): string => withoutTrailingZeros(formatSteps(lots, spec.lotSize));

/** "1.500" → "1.5", "2.000" → "2"; a whole number without a point stays as it is. */
function withoutTrailingZeros(text: string): string {
  if (!text.includes(".")) return text;
  let end = text.length;
  while (text.charCodeAt(end - 1) === 48) end--;
  if (text.charCodeAt(end - 1) === 46) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** A size for JSON: the double nearest the exact decimal, as ticksToNumber gives a price. */
export const lotsToNumber = (lots: number, spec: InstrumentSpec): number => stepsToNumber(lots, spec.lotSize);

/** Ticks in a price, or undefined unless it is a positive decimal exactly on the tick grid. */
export function decimalToTicks(value: string | number, spec: Pick<InstrumentSpec, "tickSize">): number | undefined {
  const plain = plainSteps(decimalText(value), spec.tickSize);
  if (plain !== null) return plain !== undefined && plain > 0 ? plain : undefined;
  const ticks = exactSteps(value, spec.tickSize);
  return ticks !== undefined && ticks > 0n ? safeNumber(ticks) : undefined;
}

/**
 * Whether a decimal on a grid gives no count of steps because it has more than a count
 * holds exactly (2^53, as a price of 100 on a grid of 10^-18 has); false when that is not
 * the reason (off the grid, not a number). For messages: "not on the grid" would be untrue.
 */
export function tooManySteps(value: string | number, size: string): boolean {
  const steps = exactSteps(value, size);
  return steps !== undefined && steps > MAX_SAFE;
}

/**
 * Lots in a size, or undefined unless it is a decimal exactly on the lot grid. Zero is a
 * real size (a bar with no volume, an unfilled order); callers that need a positive
 * quantity check for it.
 */
export function decimalToLots(value: string | number, spec: Pick<InstrumentSpec, "lotSize">): number | undefined {
  const plain = plainSteps(decimalText(value), spec.lotSize);
  if (plain !== null) return plain;
  const lots = exactSteps(value, spec.lotSize);
  return lots !== undefined ? safeNumber(lots) : undefined;
}

/**
 * value × times in ticks, rounded half up to the nearest tick: for prices that need not be
 * on the grid (an upstream feed's price, a VWAP times a volume in lots). A value below half
 * a tick gives 0, which is no price: callers that need one check for it.
 */
export function decimalToNearestTicks(value: string | number, spec: InstrumentSpec, times = 1): number | undefined {
  const ticks = decimalTimesToNearestTicks(value, spec, times);
  return ticks === undefined ? undefined : safeNumber(ticks);
}

/** decimalToNearestTicks without the 2^53 bound: Σ price·size of a bar at a fine lot size passes it. */
export function decimalTimesToNearestTicks(value: string | number, spec: InstrumentSpec, times: number): bigint | undefined {
  const decimal = parseDecimal(value);
  if (!decimal || !Number.isSafeInteger(times) || times < 0) return undefined;
  const { num, den } = stepsOf(decimal, gridStep(spec.tickSize));
  return roundHalfUp(num * BigInt(times), den);
}

/**
 * The price of an average in ticks (e.g. a VWAP: Σ price·size over Σ size) as a JSON number
 * with `extraDigits` more decimals than the tick size, rounded half up.
 */
export function averageTicksToNumber(sumTicks: number | bigint, count: number, spec: InstrumentSpec, extraDigits: number): number {
  if ((typeof sumTicks === "number" && !Number.isSafeInteger(sumTicks)) || sumTicks < 0 || !Number.isSafeInteger(count) || count <= 0) {
    throw new RangeError(`cannot average ${sumTicks} ticks over ${count}`);
  }
  const step = gridStep(spec.tickSize);
  // price·10^(scale+extra) = (sum/count)·(units/10^scale)·10^(scale+extra) = sum·units·10^extra/count
  const units = roundHalfUp(BigInt(sumTicks) * step.units * 10n ** BigInt(extraDigits), BigInt(count));
  return Number(formatUnits(units, step.scale + extraDigits));
}

const isPositiveDecimal = (text: string) => (parseDecimal(text)?.units ?? 0n) > 0n;

/** A positive decimal written with digits only ("0.01", "187.50"). */
export const PositiveDecimalString = z
  .string()
  .max(32)
  .regex(/^\d+(\.\d+)?$/, 'must be a decimal string like "0.01"')
  .refine(isPositiveDecimal, "must be greater than zero");

export const InstrumentSpecSchema = z.object({
  symbol: z.string().min(1),
  assetClass: z.enum(["us_equity", "crypto"]),
  tickSize: PositiveDecimalString,
  lotSize: PositiveDecimalString,
  timeZone: z.string().refine((timeZone) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone });
      return true;
    } catch {
      return false;
    }
  }, "is not a known time zone"),
}) satisfies z.ZodType<InstrumentSpec>;
