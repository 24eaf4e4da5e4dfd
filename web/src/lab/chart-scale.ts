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

// lightweight-charts never draws points closer together than its `minBarSpacing` (half a
// pixel by default), so fitContent() on a run of more points than twice the plot's width
// keeps that spacing and shows only the end of the run: 3,500 points in a 600 px plot lost
// their first 2,300. A report's chart must show the whole run once fitted, on the
// narrowest plot the app draws (a phone's, less the price scale), and no closer than the
// library's default on short runs, where zooming out further would only shrink the line.
const NARROWEST_PLOT_PX = 150;
const LIBRARY_MIN_BAR_SPACING = 0.5;

/** The smallest spacing between points, in pixels, at which `points` of them fit the narrowest plot. */
export function minBarSpacingFor(points: number): number {
  return Math.min(LIBRARY_MIN_BAR_SPACING, NARROWEST_PLOT_PX / Math.max(1, points));
}
