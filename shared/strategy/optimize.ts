import { seededRandom } from "../market/random";

// Parameter optimization, the pure part: which parameter sets to run (a grid, or a seeded
// random sample of it) and how to rank the finished runs by one metric. The platform runs
// each set as its own backtest; nothing here knows about jobs or storage.

/** A parameter's candidate values: listed, or an inclusive arithmetic range. */
export type ParamRange = { values: (number | string | boolean)[] } | { from: number; to: number; step: number };

export type Combinations = { ok: true; sets: Record<string, unknown>[] } | { ok: false; message: string };

/** Values of one range. Range steps are counted as integers (from + i·step) so 0.1 steps do not drift; each value is rounded to 12 significant digits. */
export function rangeValues(range: ParamRange, cap: number): { ok: true; values: unknown[] } | { ok: false; message: string } {
  if ("values" in range) {
    if (range.values.length === 0) return { ok: false, message: "values must not be empty" };
    // A value listed twice is one candidate: repeated, it ran the same backtests twice (found in QA).
    return { ok: true, values: [...new Set(range.values)] };
  }
  const { from, to, step } = range;
  if (!(step > 0)) return { ok: false, message: "step must be positive" };
  if (to < from) return { ok: false, message: "to must not be below from" };
  const count = Math.floor((to - from) / step + 1e-9) + 1;
  // (to − from) / step can overflow a double: such a range has more values than any cap.
  if (!Number.isFinite(count) || count > cap) return { ok: false, message: `the range has ${Number.isFinite(count) ? count : "too many"} values; at most ${cap}` };
  // Each value written to twelve significant digits (no float noise); a step finer than
  // that makes several the same value, which is one candidate (found in QA: a step of 1e-15
  // ran one parameter set a hundred times).
  return { ok: true, values: [...new Set(Array.from({ length: count }, (_, i) => Number((from + i * step).toPrecision(12))))] };
}

/**
 * Every combination of the ranges over `base` (grid), or `samples` distinct combinations
 * drawn with a seeded generator (random; the same seed draws the same sets). Fails when
 * the count would pass `cap`, so a client learns the size before anything runs.
 */
export function combinations(base: Record<string, unknown>, ranges: Record<string, ParamRange>, options: { mode: "grid" | "random"; samples?: number; seed?: number; cap: number }): Combinations {
  const names = Object.keys(ranges).sort();
  const axes: unknown[][] = [];
  for (const name of names) {
    const values = rangeValues(ranges[name]!, options.cap);
    if (!values.ok) return { ok: false, message: `${name}: ${values.message}` };
    axes.push(values.values);
  }
  const size = axes.reduce((n, axis) => n * axis.length, 1);
  const at = (index: number): Record<string, unknown> => {
    const set: Record<string, unknown> = { ...base };
    let rest = index;
    for (let a = axes.length - 1; a >= 0; a--) {
      const axis = axes[a]!;
      set[names[a]!] = axis[rest % axis.length];
      rest = Math.floor(rest / axis.length);
    }
    return set;
  };
  if (options.mode === "grid") {
    if (size > options.cap) return { ok: false, message: `the grid has ${size} combinations; at most ${options.cap}` };
    return { ok: true, sets: Array.from({ length: size }, (_, i) => at(i)) };
  }
  const samples = options.samples ?? 0;
  if (samples < 1) return { ok: false, message: "random mode needs samples ≥ 1" };
  if (samples > options.cap) return { ok: false, message: `${samples} samples; at most ${options.cap}` };
  const rand = seededRandom(options.seed ?? 1);
  const picked = new Set<number>();
  // Without replacement: asking for more samples than the grid holds gives the whole grid.
  const wanted = Math.min(samples, size);
  while (picked.size < wanted) picked.add(rand.int(0, size - 1));
  return { ok: true, sets: [...picked].sort((a, b) => a - b).map(at) };
}

/** Metrics where smaller is better; every other metric ranks larger first. */
const LOWER_IS_BETTER = new Set(["max_drawdown", "max_drawdown_duration", "annualized_volatility", "fees", "gross_loss"]);

export const isLowerBetter = (metric: string): boolean => LOWER_IS_BETTER.has(metric);

/**
 * Runs ordered best first by `metric`; runs without a value (not finished, failed, or a
 * null metric) come last, in their original order. Decimal strings (money metrics) are
 * compared as numbers for ranking only.
 */
export function rankRuns<R extends { value: number | string | null }>(runs: readonly R[], metric: string): R[] {
  const sign = isLowerBetter(metric) ? 1 : -1;
  const keyed = runs.map((run, index) => ({ run, index, key: run.value === null ? null : Number(run.value) }));
  keyed.sort((a, b) => {
    const ka = a.key !== null && Number.isFinite(a.key) ? a.key : null;
    const kb = b.key !== null && Number.isFinite(b.key) ? b.key : null;
    if (ka === null || kb === null) return ka === kb ? a.index - b.index : ka === null ? 1 : -1;
    return ka === kb ? a.index - b.index : sign * (ka - kb);
  });
  return keyed.map((k) => k.run);
}
