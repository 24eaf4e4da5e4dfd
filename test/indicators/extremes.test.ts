import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Highest, Lowest, indicators } from "../../shared/indicators";

// The naive O(n) scan the monotonic deque must agree with at every step.
function naive(values: readonly number[], period: number, pick: (...xs: number[]) => number): (number | null)[] {
  return values.map((_, i) => (i < period - 1 ? null : pick(...values.slice(i - period + 1, i + 1))));
}

describe("rolling highest/lowest (monotonic deque)", () => {
  it("equals a naive scan of the window at every update", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        (ticks, period) => {
          // A coarse integer range makes ties frequent, the case a deque gets wrong first.
          const values = ticks.map((t) => t / 4);
          const highest = new Highest(period);
          const lowest = new Lowest(period);
          expect(values.map((x) => highest.update(x))).toEqual(naive(values, period, Math.max));
          expect(values.map((x) => lowest.update(x))).toEqual(naive(values, period, Math.min));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("equals a naive scan on monotone runs, the deque's longest and shortest cases", () => {
    const up = Array.from({ length: 200 }, (_, i) => i);
    const down = [...up].reverse();
    for (const values of [up, down, [...up, ...down]]) {
      const highest = new Highest(17);
      const lowest = new Lowest(17);
      expect(values.map((x) => highest.update(x))).toEqual(naive(values, 17, Math.max));
      expect(values.map((x) => lowest.update(x))).toEqual(naive(values, 17, Math.min));
    }
  });
});

describe("the indicators factory and argument checks", () => {
  it("hands out fresh objects that are not ready before seeding", () => {
    for (const make of [() => indicators.sma(3), () => indicators.ema(3), () => indicators.rsi(), () => indicators.macd(), () => indicators.bollinger(), () => indicators.highest(2), () => indicators.lowest(2)]) {
      const a = make();
      expect(a.ready).toBe(false);
      expect(a.value).toBeNull();
      expect(a.update(100)).toBeNull();
      expect(make()).not.toBe(a);
    }
    for (const make of [() => indicators.atr(), () => indicators.stochastic(), () => indicators.donchian(2)]) {
      const a = make();
      expect(a.update(101, 99, 100)).toBeNull();
      expect(a.ready).toBe(false);
    }
    expect(indicators.vwap().ready).toBe(false);
  });

  it("refuses bad periods and non-finite inputs", () => {
    expect(() => indicators.sma(0)).toThrow(RangeError);
    expect(() => indicators.ema(2.5)).toThrow(RangeError);
    expect(() => indicators.macd(26, 12)).toThrow(RangeError);
    expect(() => indicators.sma(3).update(Number.NaN)).toThrow(RangeError);
    expect(() => indicators.highest(3).update(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
