// A reproducible market for the indicator tests: a random walk on a 0.01 price grid from a
// seeded generator (the simulator's), so every run compares the same few thousand bars.
import { expect } from "vitest";
import { seededRandom } from "../../shared/market/random";

export interface TestBar {
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** `count` bars of a walk in cents around 100.00, prices as numbers on the 0.01 grid. */
export function seededBars(count: number, seed = 42): TestBar[] {
  const random = seededRandom(seed);
  const int = (min: number, max: number) => random.int(min, max);
  let close = 10_000;
  const bars: TestBar[] = [];
  for (let i = 0; i < count; i++) {
    const open = close;
    close = Math.max(100, open + int(-25, 25));
    const high = Math.max(open, close) + int(0, 15);
    const low = Math.min(open, close) - int(0, 15);
    bars.push({ high: high / 100, low: low / 100, close: close / 100, volume: int(1, 1_000) });
  }
  return bars;
}

export const BARS = seededBars(3_000);
export const CLOSES = BARS.map((bar) => bar.close);

/** technicalindicators' batch results end at the last input: pad the front to align them. */
export function alignToEnd<T>(results: readonly T[], length: number): (T | undefined)[] {
  return [...new Array<undefined>(length - results.length), ...results];
}

/**
 * From index `from` on, both series have a value and agree within `tolerance`, relative to
 * the magnitude (absolute below 1). Before `from` nothing is asserted: that is the warm-up.
 */
export function expectAgreement(
  ours: readonly (number | null | undefined)[],
  theirs: readonly (number | null | undefined)[],
  from: number,
  tolerance: number,
): void {
  expect(ours.length).toBe(theirs.length);
  let worst = 0;
  for (let i = from; i < ours.length; i++) {
    const a = ours[i];
    const b = theirs[i];
    if (a == null || b == null) throw new Error(`no value at index ${i}: ours ${a}, theirs ${b}`);
    worst = Math.max(worst, Math.abs(a - b) / Math.max(1, Math.abs(b)));
  }
  expect(worst).toBeLessThanOrEqual(tolerance);
}

/** Index of the first non-null value (the seeding point). */
export function firstValueIndex(values: readonly (unknown | null | undefined)[]): number {
  return values.findIndex((v) => v != null);
}
