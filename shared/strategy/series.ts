import { parseMoney } from "../trading/money";

// The series a finished backtest keeps for its report: the equity curve and its drawdown,
// thinned to a bounded number of points so a long run's report stays a small document.

export interface SeriesPoint<V> {
  t: number;
  value: V;
}

/**
 * Drawdown at every point: 1 − E_t / max_{s≤t} E_s (0 at a new peak), the same definition
 * as the max-drawdown metric; computed from the exact decimal equity with bigints, as a
 * number. A curve that has not been positive yet has no drawdown (0).
 */
export function drawdownSeries(equity: readonly { t: number; equity: string }[]): SeriesPoint<number>[] {
  let peak = 0n;
  return equity.map(({ t, equity: text }) => {
    const e = parseMoney(text) ?? 0n;
    if (e > peak) peak = e;
    const value = peak > 0n ? Number(((peak - e) * 10n ** 15n) / peak) / 1e15 : 0;
    return { t, value };
  });
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
