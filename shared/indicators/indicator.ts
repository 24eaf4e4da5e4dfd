// The shape every streaming indicator shares, and the argument checks they all need.
//
// An indicator is fed one input at a time and answers in O(1) (amortized for the rolling
// extremes): a strategy calls `update` once per bar, and a backtest replays millions of
// bars through the same objects, so nothing here rescans a window.

export interface Indicator<Args extends unknown[], Out> {
  /** Feeds one input; returns the new value, or null while the indicator is seeding. */
  update(...args: Args): Out | null;
  /** The value after the last update, or null while seeding. */
  readonly value: Out | null;
  /** True once the seeding is over (value is then never null again). */
  readonly ready: boolean;
  /** The whole internal state as plain JSON; the class's static `restore` continues from it exactly. */
  save(): IndicatorState;
}

/** A look-back length: a positive safe integer. */
export function checkPeriod(name: string, period: number): number {
  if (!Number.isSafeInteger(period) || period < 1) {
    throw new RangeError(`${name}: period must be a positive integer, got ${period}`);
  }
  return period;
}

// A NaN or an infinity would poison every later value of a running sum or a smoothing,
// with no way back short of a new object: refuse it at the door.
export function checkFinite(name: string, x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`${name}: input must be a finite number, got ${x}`);
  return x;
}

// Saved state. A live strategy's only memory across a restart is its JSON state, and an
// indicator with infinite memory (EMA, RSI, MACD, ATR) cannot be rebuilt from a window of
// bars, so every indicator answers `save()` with its whole internal state as plain JSON and
// has a static `restore(state)` (and `load(state)` on a fresh instance) that continues
// exactly where it stopped: JSON writes a double as its shortest round-trip text, so
// numbers come back bit for bit.

export type IndicatorJson = null | boolean | number | string | IndicatorJson[] | { [key: string]: IndicatorJson };
export type IndicatorState = { [key: string]: IndicatorJson };

/** A saved state is read back from storage: refuse one that save() cannot have written. */
export function savedNumber(name: string, x: unknown): number {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new RangeError(`${name}: saved state is not a finite number (${JSON.stringify(x)})`);
  return x;
}

export function savedNumberOrNull(name: string, x: unknown): number | null {
  return x === null ? null : savedNumber(name, x);
}

export function savedCount(name: string, x: unknown): number {
  if (!Number.isSafeInteger(x) || (x as number) < 0) throw new RangeError(`${name}: saved state is not a count (${JSON.stringify(x)})`);
  return x as number;
}

export function savedNumbers(name: string, x: unknown, length: number): number[] {
  if (!Array.isArray(x) || x.length !== length) throw new RangeError(`${name}: saved state needs ${length} numbers`);
  return x.map((v, i) => savedNumber(`${name}[${i}]`, v));
}

/** The period an instance was built with must be the saved one (a state is not portable across periods). */
export function samePeriod(name: string, period: number, saved: unknown): void {
  if (saved !== period) throw new RangeError(`${name}: saved state is for period ${JSON.stringify(saved)}, this instance has ${period}`);
}
