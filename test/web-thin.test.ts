import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { thinned } from "../web/src/lab/thin";

// The report's price chart draws a long upload's closes thinned: bounded, real points only,
// the first and last kept, and every bar a trade marker points at.

describe("a long price series thinned for the chart", () => {
  it("keeps at most about max points, the ends, and every kept time, in order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000 }), fc.integer({ min: 2, max: 3_000 }), fc.array(fc.nat(), { maxLength: 40 }), (n, max, picks) => {
        const points = Array.from({ length: n }, (_, i) => ({ time: 1_000 + i * 60, value: i }));
        const keep = new Set(picks.map((p) => 1_000 + (p % n) * 60));
        const out = thinned(points, max, keep);
        if (n <= max) {
          expect(out).toEqual(points);
          return;
        }
        expect(out.length).toBeLessThanOrEqual(max + keep.size);
        expect(out[0]).toBe(points[0]);
        expect(out.at(-1)).toBe(points.at(-1));
        for (const time of keep) expect(out.some((p) => p.time === time)).toBe(true);
        for (let i = 1; i < out.length; i++) expect(out[i]!.time).toBeGreaterThan(out[i - 1]!.time);
        // Only real points, untouched.
        for (const p of out) expect(points[(p.time - 1_000) / 60]).toBe(p);
      }),
      { numRuns: 200 },
    );
  });
});
