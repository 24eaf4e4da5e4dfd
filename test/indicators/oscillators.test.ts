import { RSI as TiRSI, Stochastic as TiStochastic } from "technicalindicators";
import { RSI as TsRSI, StochasticOscillator as TsStochastic } from "trading-signals";
import { describe, expect, it } from "vitest";
import { RSI, Stochastic } from "../../shared/indicators";
import { BARS, CLOSES, alignToEnd, expectAgreement, firstValueIndex } from "./series";

const N = CLOSES.length;
const TOLERANCE = 1e-9;
const highs = BARS.map((b) => b.high);
const lows = BARS.map((b) => b.low);

describe("RSI (Wilder, seeded with the simple means of the first n changes)", () => {
  it.each([2, 14, 30])("agrees with trading-signals (same seeding) from its first value (period %i)", (period) => {
    const rsi = new RSI(period);
    const ours = CLOSES.map((x) => rsi.update(x));
    const ts = new TsRSI(period);
    const theirs = CLOSES.map((x) => ts.update(x, false));
    expect(firstValueIndex(ours)).toBe(period);
    expectAgreement(ours, theirs, period, TOLERANCE);
  });

  // technicalindicators rounds every RSI to 2 decimals (toFixed(2)): agreement within 0.005.
  it.each([2, 14, 30])("agrees with technicalindicators to its 2-decimal rounding (period %i)", (period) => {
    const rsi = new RSI(period);
    const ours = CLOSES.map((x) => rsi.update(x));
    const ti = alignToEnd(TiRSI.calculate({ period, values: CLOSES }), N);
    expectAgreement(ours, ti, period, 0.005 + TOLERANCE);
  });

  it("reads 100 when nothing fell and 50 on a flat window", () => {
    const rising = new RSI(3);
    [1, 2, 3, 4].forEach((x) => rising.update(x));
    expect(rising.value).toBe(100);
    const flat = new RSI(3);
    [5, 5, 5, 5].forEach((x) => flat.update(x));
    expect(flat.value).toBe(50);
  });
});

describe("Stochastic (fast %K, %D = SMA of %K)", () => {
  it.each([
    [14, 3],
    [5, 1],
    [21, 5],
  ])("agrees with both libraries from its first value (%i, %i)", (kPeriod, dPeriod) => {
    const stochastic = new Stochastic(kPeriod, dPeriod);
    const ours = BARS.map((b) => stochastic.update(b.high, b.low, b.close));
    const ti = alignToEnd(TiStochastic.calculate({ period: kPeriod, signalPeriod: dPeriod, high: highs, low: lows, close: CLOSES }), N);
    // trading-signals' kSlowingPeriod 1 is the fast (unsmoothed) %K.
    const ts = new TsStochastic({ kPeriod, kSlowingPeriod: 1, dPeriod });
    const theirs = BARS.map((b) => ts.update(b, false));
    const first = kPeriod + dPeriod - 2;
    expect(firstValueIndex(ours)).toBe(first);
    expectAgreement(ours.map((v) => v?.k), ti.map((v) => v?.k), first, TOLERANCE);
    expectAgreement(ours.map((v) => v?.d), ti.map((v) => v?.d), first, TOLERANCE);
    expectAgreement(ours.map((v) => v?.k), theirs.map((v) => v?.stochK), first, TOLERANCE);
    expectAgreement(ours.map((v) => v?.d), theirs.map((v) => v?.stochD), first, TOLERANCE);
  });

  // Both libraries give %K = 0 on a zero-width range; ours gives the middle, 50.
  it("reads %K 50 on a flat window", () => {
    const stochastic = new Stochastic(3, 2);
    for (let i = 0; i < 4; i++) stochastic.update(10, 10, 10);
    expect(stochastic.value).toEqual({ k: 50, d: 50 });
  });
});
