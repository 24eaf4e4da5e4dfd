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
