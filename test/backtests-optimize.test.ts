import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { combinations, rankRuns, rangeValues } from "../shared/strategy/optimize";
import { arrayCurve } from "../shared/strategy/metrics";
import { deepestIndex, drawdownSeries, reportSeries, thinnedIndices } from "../shared/strategy/series";
import { formatMoney, parseMoney } from "../shared/trading/money";

// The pure parts of optimizations and reports: which parameter sets run, how runs rank,
// how a long equity curve is thinned.

describe("parameter sets", () => {
  it("a grid is every combination over the base parameters, in a fixed order", () => {
    const out = combinations({ sizing: "all_in" }, { slow: { from: 20, to: 40, step: 10 }, fast: { values: [3, 5] } }, { mode: "grid", cap: 200 });
    expect(out).toEqual({
      ok: true,
      sets: [
        { sizing: "all_in", fast: 3, slow: 20 },
        { sizing: "all_in", fast: 3, slow: 30 },
        { sizing: "all_in", fast: 3, slow: 40 },
        { sizing: "all_in", fast: 5, slow: 20 },
        { sizing: "all_in", fast: 5, slow: 30 },
        { sizing: "all_in", fast: 5, slow: 40 },
      ],
    });
  });

  it("decimal steps do not drift", () => {
    expect(rangeValues({ from: 0.1, to: 0.5, step: 0.1 }, 100)).toEqual({ ok: true, values: [0.1, 0.2, 0.3, 0.4, 0.5] });
    // A step finer than the values' twelve digits gives one candidate, not a hundred copies of it (found in QA).
    expect(rangeValues({ from: 2, to: 2.0000000000001, step: 1e-15 }, 1000)).toEqual({ ok: true, values: [2] });
    // A span a double cannot count is more values than any cap, said in words (it read "Infinity values").
    expect(rangeValues({ from: -1e308, to: 1e308, step: 1e-300 }, 200)).toEqual({ ok: false, message: "the range has too many values; at most 200" });
  });

  it("a grid past the cap is refused with its size", () => {
    const out = combinations({}, { a: { from: 1, to: 20, step: 1 }, b: { from: 1, to: 20, step: 1 } }, { mode: "grid", cap: 200 });
    expect(out).toEqual({ ok: false, message: "the grid has 400 combinations; at most 200" });
  });

  it("a random sample is distinct sets of the grid, the same for the same seed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (samples, seed) => {
        const ranges = { a: { from: 1, to: 6, step: 1 }, b: { values: ["x", "y", "z"] } };
        const one = combinations({}, ranges, { mode: "random", samples, seed, cap: 200 });
        const two = combinations({}, ranges, { mode: "random", samples, seed, cap: 200 });
        expect(one).toEqual(two);
        if (!one.ok) throw new Error(one.message);
        expect(one.sets).toHaveLength(Math.min(samples, 18));
        expect(new Set(one.sets.map((s) => JSON.stringify(s))).size).toBe(one.sets.length);
      }),
    );
  });

  it("a value listed twice is one candidate, in a grid and a sample alike (found in QA: the same backtest ran thrice)", () => {
    const random = combinations({}, { a: { values: [2, 2, 2] } }, { mode: "random", samples: 3, seed: 1, cap: 200 });
    expect(random).toEqual({ ok: true, sets: [{ a: 2 }] });
    const grid = combinations({}, { a: { values: [1, 2, 1] }, b: { values: ["x", "x"] } }, { mode: "grid", cap: 200 });
    expect(grid).toEqual({ ok: true, sets: [{ a: 1, b: "x" }, { a: 2, b: "x" }] });
  });
});

describe("ranking", () => {
  it("larger first for returns, smaller first for drawdown, runs without a value last in their order", () => {
    const runs = [
      { id: "a", value: 0.1 },
      { id: "b", value: null },
      { id: "c", value: 0.3 },
      { id: "d", value: -0.2 },
      { id: "e", value: null },
    ];
    expect(rankRuns(runs, "total_return").map((r) => r.id)).toEqual(["c", "a", "d", "b", "e"]);
    expect(rankRuns(runs, "max_drawdown").map((r) => r.id)).toEqual(["d", "a", "c", "b", "e"]);
  });
});

describe("report series", () => {
  it("drawdown is the fall from the running peak", () => {
    const dd = drawdownSeries(arrayCurve([1, 2, 3, 4], ["100", "120", "90", "130"].map((e) => parseMoney(e)!)));
    expect(dd.map((p) => p.value)).toEqual([0, 0, 0.25, 0]);
    expect(deepestIndex(dd)).toBe(2);
  });

  it("thinning keeps at most the bound, the first and last points and the deepest one, in order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30_000 }), fc.integer({ min: 3, max: 5_000 }), fc.nat(), (length, max, deep) => {
        const keep = deep % length;
        const kept = thinnedIndices(length, max, keep);
        expect(kept.length).toBeLessThanOrEqual(Math.max(max, 1));
        expect(kept[0]).toBe(0);
        expect(kept.at(-1)).toBe(length - 1);
        expect(kept).toContain(keep);
        for (let i = 1; i < kept.length; i++) expect(kept[i]!).toBeGreaterThan(kept[i - 1]!);
      }),
    );
  });
});

describe("a report's series of a long curve", () => {
  // The definition spelled out: every point's drawdown, the deepest one, the thinned indices.
  const plainly = (t: number[], equity: bigint[], max: number) => {
    const dd = drawdownSeries(arrayCurve(t, equity));
    const kept = thinnedIndices(t.length, max, deepestIndex(dd));
    return { equity: kept.map((i) => [t[i], formatMoney(equity[i]!)]), drawdown: kept.map((i) => [t[i], dd[i]!.value]), total: t.length, downsampled: kept.length < t.length };
  };

  it("keeps exactly the points the definition keeps, with the same values, without a point object per bar", () => {
    const cents = fc.array(fc.integer({ min: -5_000, max: 5_000 }), { minLength: 1, maxLength: 3_000 });
    fc.assert(
      fc.property(cents, fc.integer({ min: 3, max: 400 }), fc.integer({ min: 0, max: 2_000_000 }), (moves, max, start) => {
        const t = moves.map((_, i) => 1_000 + i * 60_000);
        let e = BigInt(start) * 10n ** 16n;
        // Equity in hundredths of a dollar (money is scaled by 10^18): may fall through zero.
        const equity = moves.map((m) => (e += BigInt(m) * 10n ** 16n));
        expect(reportSeries(arrayCurve(t, equity), max)).toEqual(plainly(t, equity, max));
      }),
      { numRuns: 300 },
    );
  });
});
