import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Random, fromState, seededRandom } from "../../shared/market/random";

const draws = (random: Random, count: number) => Array.from({ length: count }, () => [random.next(), random.normal(), random.poisson(2.5), random.int(1, 6)]);

describe("seeded random numbers", () => {
  it("repeats the same sequence for the same seed and differs between seeds", () => {
    expect(draws(seededRandom(42), 50)).toEqual(draws(seededRandom(42), 50));
    expect(draws(seededRandom(42), 5)).not.toEqual(draws(seededRandom(43), 5));
  });

  it("resumes exactly from a state that went through JSON", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 200 }), (seed, before) => {
        const original = seededRandom(seed);
        draws(original, before);
        const stored = JSON.parse(JSON.stringify(original.state())) as number[];
        expect(draws(fromState(stored), 20)).toEqual(draws(original, 20));
      }),
    );
  });

  it("keeps uniform draws in [0, 1) and integers within their bounds", () => {
    const random = seededRandom(7);
    for (let i = 0; i < 10_000; i++) {
      const u = random.next();
      expect(u >= 0 && u < 1).toBe(true);
      const k = random.int(-2, 2);
      expect(Number.isInteger(k) && k >= -2 && k <= 2).toBe(true);
    }
  });

  it("draws normals with mean 0 and variance 1, and Poisson counts with their mean", () => {
    const random = seededRandom(2024);
    const n = 50_000;
    const normals = Array.from({ length: n }, () => random.normal());
    const mean = normals.reduce((a, b) => a + b, 0) / n;
    const variance = normals.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
    for (const lambda of [0.01, 3, 50]) {
      const counts = Array.from({ length: 20_000 }, () => random.poisson(lambda));
      const average = counts.reduce((a, b) => a + b, 0) / counts.length;
      expect(Math.abs(average - lambda) / lambda, `λ=${lambda}`).toBeLessThan(0.15);
      expect(counts.every((k) => Number.isInteger(k) && k >= 0)).toBe(true);
    }
    expect(random.poisson(0)).toBe(0);
  });

  it("refuses seeds and states it cannot represent", () => {
    expect(() => seededRandom(-1)).toThrow(RangeError);
    expect(() => seededRandom(1.5)).toThrow(RangeError);
    expect(() => fromState([1, 2, 3])).toThrow(RangeError);
    expect(() => fromState([1, 2, 3, 4, 5])).toThrow(RangeError);
    expect(() => fromState([1, 2, 3, 2 ** 32])).toThrow(RangeError);
  });
});
