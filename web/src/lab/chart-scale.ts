// The decimals a report chart's price scale shows: enough that its labels differ across
// the line's range. A drawdown of a thousandth of a percent (one share on a large account)
// drawn with two decimals is a curve against a scale that reads "0.00" everywhere.

const MIN_DIGITS = 2;
const MAX_DIGITS = 8;

/** Decimals for values spanning `values`' range: two, or more when the range is under one. */
export function precisionFor(values: readonly number[]): number {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  const range = high - low;
  if (!(range > 0)) return MIN_DIGITS;
  // Two significant digits of the range, as a scale with a handful of labels needs.
  return Math.min(MAX_DIGITS, Math.max(MIN_DIGITS, Math.ceil(-Math.log10(range)) + 1));
}
