import { formatMoney, type Money } from "../trading/money";
import type { EquityCurve } from "./metrics";

// The series a finished backtest keeps for its report: the equity curve and its drawdown,
// thinned to a bounded number of points so a long run's report stays a small document.

export interface SeriesPoint<V> {
  t: number;
  value: V;
}

/**
 * Drawdown at one point: 1 − E / peak (0 at a new peak), the same definition as the
 * max-drawdown metric, from the exact equity with bigints, as a number. A curve that has
 * not been positive yet has no drawdown (0).
 */
const drawdownAt = (equity: Money, peak: Money): number => (peak > 0n && equity < peak ? Number(((peak - equity) * 10n ** 15n) / peak) / 1e15 : 0);

/** Drawdown at every point of a curve: 1 − E_t / max_{s≤t} E_s. */
export function drawdownSeries(curve: EquityCurve): SeriesPoint<number>[] {
  let peak = 0n;
  return Array.from(curve.t, (t, i) => {
    const e = curve.at(i);
    if (e > peak) peak = e;
    return { t, value: drawdownAt(e, peak) };
  });
}

/** What a finished backtest keeps of its curve: both series thinned to at most `max` points. */
export interface ReportSeries {
  /** [time, equity as a decimal string] */
  equity: [number, string][];
  /** [time, drawdown] at the same times */
  drawdown: [number, number][];
  /** Points of the full curve (one per bar). */
  total: number;
  downsampled: boolean;
}

/**
 * The report's series of a curve of any length, with no object per bar: one pass finds the
 * deepest drawdown (and each kept point's peak), then only the kept points are made.
 */
export function reportSeries(curve: EquityCurve, max: number): ReportSeries {
  const n = curve.t.length;
  let peak = 0n;
  let deepest: number | undefined;
  let deepestValue = -1;
  // The first point of the deepest drawdown. Below a peak the drawdown deepens only at a new
  // low since it, so it is divided out there alone, not at every point (a bigint division a
  // point was most of a million-point report's time).
  let low = 0n;
  for (let i = 0; i < n; i++) {
    const e = curve.at(i);
    if (e > peak) {
      peak = e;
      low = e;
      if (deepestValue < 0) {
        deepestValue = 0;
        deepest = i;
      }
      continue;
    }
    if (i > 0 && e >= low) continue;
    low = e;
    const value = drawdownAt(e, peak);
    if (value > deepestValue) {
      deepestValue = value;
      deepest = i;
    }
  }
  const kept = thinnedIndices(n, max, deepest);
  const equity: [number, string][] = [];
  const drawdown: [number, number][] = [];
  peak = 0n;
  let k = 0;
  for (let i = 0; i < n && k < kept.length; i++) {
    const e = curve.at(i);
    if (e > peak) peak = e;
    if (kept[k] !== i) continue;
    k++;
    equity.push([curve.t[i]!, formatMoney(e)]);
    drawdown.push([curve.t[i]!, drawdownAt(e, peak)]);
  }
  return { equity, drawdown, total: n, downsampled: kept.length < n };
}

/**
 * The indices kept when a series of `length` points is thinned to at most `max`: every
 * k-th point (k = ⌈length / max⌉) from the first, plus the last, so the curve's start, end
 * and shape survive; nothing is averaged (every kept point is a real bar close). Also
 * keeps the deepest drawdown point when `keep` names one, so the chart shows the worst
 * moment that the metric reports.
 */
export function thinnedIndices(length: number, max: number, keep?: number): number[] {
  if (length <= max) return Array.from({ length }, (_, i) => i);
  // Room for the last point and the kept one within the bound.
  const stride = Math.ceil(length / Math.max(1, max - 2));
  const out = new Set<number>();
  for (let i = 0; i < length; i += stride) out.add(i);
  if (keep !== undefined && keep >= 0 && keep < length) out.add(keep);
  out.add(length - 1);
  return [...out].sort((a, b) => a - b);
}

/** The index of the deepest point of a drawdown series (the first one on a tie), or undefined when empty. */
export function deepestIndex(drawdown: readonly SeriesPoint<number>[]): number | undefined {
  let best: number | undefined;
  drawdown.forEach((p, i) => {
    if (best === undefined || p.value > drawdown[best]!.value) best = i;
  });
  return best;
}
