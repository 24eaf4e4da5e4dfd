import { ATR as TiATR, BollingerBands as TiBollinger, Highest as TiHighest, Lowest as TiLowest } from "technicalindicators";
import { ATR as TsATR, BollingerBands as TsBollinger, DonchianChannels as TsDonchian } from "trading-signals";
import { describe, expect, it } from "vitest";
import { ATR, Bollinger, Donchian } from "../../shared/indicators";
import { BARS, CLOSES, alignToEnd, expectAgreement, firstValueIndex } from "./series";

const N = CLOSES.length;
const TOLERANCE = 1e-9;
const highs = BARS.map((b) => b.high);
const lows = BARS.map((b) => b.low);

describe("Bollinger (population standard deviation)", () => {
  it.each([
    [20, 2],
    [5, 1.5],
    [100, 3],
  ])("agrees with both libraries from its first value (%i, %f)", (period, multiplier) => {
    const bands = new Bollinger(period, multiplier);
    const ours = CLOSES.map((x) => bands.update(x));
    const ti = alignToEnd(TiBollinger.calculate({ period, stdDev: multiplier, values: CLOSES }), N);
    const ts = new TsBollinger(period, multiplier);
    const theirs = CLOSES.map((x) => ts.update(x, false));
    expect(firstValueIndex(ours)).toBe(period - 1);
    for (const key of ["middle", "upper", "lower"] as const) {
      expectAgreement(ours.map((v) => v?.[key]), ti.map((v) => v?.[key]), period - 1, TOLERANCE);
      expectAgreement(ours.map((v) => v?.[key]), theirs.map((v) => v?.[key]), period - 1, TOLERANCE);
    }
  });

  it("has zero width on a constant window", () => {
    const bands = new Bollinger(4, 2);
    for (let i = 0; i < 10; i++) bands.update(101.37);
    const v = bands.value!;
    expect(v.upper - v.lower).toBeCloseTo(0, 12);
  });
});

describe("ATR (Wilder; first true range = high − low; seeded with the mean of the first n)", () => {
  it.each([1, 14, 30])("agrees with trading-signals (same seeding) from its first value (period %i)", (period) => {
    const atr = new ATR(period);
    const ours = BARS.map((b) => atr.update(b.high, b.low, b.close));
    const ts = new TsATR(period);
    const theirs = BARS.map((b) => ts.update(b, false));
    expect(firstValueIndex(ours)).toBe(period - 1);
    expectAgreement(ours, theirs, period - 1, TOLERANCE);
  });

  // technicalindicators gives the first bar no true range, so its seed is the mean of bars
  // 2..n+1: shifted by one bar at first, the gap decays as (1 − 1/n)^t; compared after it.
  it.each([1, 14, 30])("agrees with technicalindicators once the seeds' gap has decayed (period %i)", (period) => {
    const atr = new ATR(period);
    const ours = BARS.map((b) => atr.update(b.high, b.low, b.close));
    const ti = alignToEnd(TiATR.calculate({ period, high: highs, low: lows, close: CLOSES }), N);
    expectAgreement(ours, ti, 40 * period, TOLERANCE);
  });
});

describe("Donchian (upper, lower, middle over n bars, current bar included)", () => {
  // technicalindicators has no Donchian channel: its rolling Highest/Lowest stand in.
  it.each([1, 20, 55])("agrees with both libraries from its first value (period %i)", (period) => {
    const channel = new Donchian(period);
    const ours = BARS.map((b) => channel.update(b.high, b.low));
    const ts = new TsDonchian(period);
    const theirs = BARS.map((b) => ts.update(b, false));
    const upper = alignToEnd(TiHighest.calculate({ period, values: highs }), N);
    const lower = alignToEnd(TiLowest.calculate({ period, values: lows }), N);
    expect(firstValueIndex(ours)).toBe(period - 1);
    for (const key of ["upper", "lower", "middle"] as const) {
      expectAgreement(ours.map((v) => v?.[key]), theirs.map((v) => v?.[key]), period - 1, 0);
    }
    expectAgreement(ours.map((v) => v?.upper), upper, period - 1, 0);
    expectAgreement(ours.map((v) => v?.lower), lower, period - 1, 0);
  });
});
