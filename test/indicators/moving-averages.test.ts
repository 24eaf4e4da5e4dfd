import { MACD as TiMACD, EMA as TiEMA, SMA as TiSMA } from "technicalindicators";
import { EMA as TsEMA, MACD as TsMACD, SMA as TsSMA } from "trading-signals";
import { describe, expect, it } from "vitest";
import { EMA, MACD, SMA } from "../../shared/indicators";
import { CLOSES, alignToEnd, expectAgreement, firstValueIndex } from "./series";

const N = CLOSES.length;
const TOLERANCE = 1e-9;

describe("SMA", () => {
  it.each([1, 10, 50])("agrees with both libraries from its first value (period %i)", (period) => {
    const sma = new SMA(period);
    const ours = CLOSES.map((x) => sma.update(x));
    const ts = new TsSMA(period);
    const theirs = CLOSES.map((x) => ts.update(x, false));
    const ti = alignToEnd(TiSMA.calculate({ period, values: CLOSES }), N);
    expect(firstValueIndex(ours)).toBe(period - 1);
    expectAgreement(ours, theirs, period - 1, TOLERANCE);
    expectAgreement(ours, ti, period - 1, TOLERANCE);
    expect(sma.value).toBe(ours[N - 1]);
    expect(sma.ready).toBe(true);
  });

  it("is exact on integer ticks: the bigint sum over 100,000 updates equals a bigint reference", () => {
    const period = 37;
    const sma = new SMA(period);
    let state = 7;
    const ticks: number[] = [];
    let reference = 0n;
    // Ticks up to 2^50, so the window's sum passes 2^53 where a float running sum would round.
    for (let i = 0; i < 100_000; i++) {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      const tick = state * 2 ** 18 + (i % 262_144);
      ticks.push(tick);
      reference += BigInt(tick);
      if (i >= period) reference -= BigInt(ticks[i - period]!);
      const value = sma.update(tick);
      if (i < period - 1) {
        expect(value).toBeNull();
        continue;
      }
      if (sma.exactSum !== reference) throw new Error(`sum differs at update ${i}: ${sma.exactSum} vs ${reference}`);
      if (value !== Number(reference) / period) throw new Error(`value differs at update ${i}`);
    }
  });

  it("keeps a float window within rounding of the true mean and returns to exact once only integers remain", () => {
    const sma = new SMA(20);
    for (let i = 0; i < 50_000; i++) sma.update(CLOSES[i % N]!);
    const window = Array.from({ length: 20 }, (_, j) => CLOSES[(50_000 - 20 + j) % N]!);
    const cents = window.reduce((s, x) => s + Math.round(x * 100), 0);
    expect(Math.abs(sma.value! - cents / 100 / 20)).toBeLessThan(1e-10);
    expect(sma.exactSum).toBeNull();
    for (let i = 0; i < 20; i++) sma.update(1_000 + i);
    expect(sma.exactSum).toBe(20_190n);
    expect(sma.value).toBe(1_009.5);
  });
});

describe("EMA (seeded with the SMA of the first n values)", () => {
  it.each([5, 12, 26])("agrees with technicalindicators from the seed (period %i)", (period) => {
    const ema = new EMA(period);
    const ours = CLOSES.map((x) => ema.update(x));
    const ti = alignToEnd(TiEMA.calculate({ period, values: CLOSES }), N);
    expect(firstValueIndex(ours)).toBe(period - 1);
    expect(ours[period - 1]).toBeCloseTo(CLOSES.slice(0, period).reduce((s, x) => s + x, 0) / period, 10);
    expectAgreement(ours, ti, period - 1, TOLERANCE);
  });

  // trading-signals 8 starts its EMA at the first price instead of the SMA of the first n:
  // the two differ by (1 − α)^t times the seeds' gap, which is below 1e-12 after 40·period.
  it.each([5, 12, 26])("agrees with trading-signals once its first-price seed has decayed (period %i)", (period) => {
    const ema = new EMA(period);
    const ours = CLOSES.map((x) => ema.update(x));
    const ts = new TsEMA(period);
    const theirs = CLOSES.map((x) => ts.update(x, false));
    expectAgreement(ours, theirs, 40 * period, TOLERANCE);
  });
});

describe("MACD (12, 26, 9)", () => {
  it("agrees with technicalindicators (both seed every EMA with an SMA) from its first value", () => {
    const macd = new MACD(12, 26, 9);
    const ours = CLOSES.map((x) => macd.update(x));
    const ti = alignToEnd(TiMACD.calculate({ fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, values: CLOSES, SimpleMAOscillator: false, SimpleMASignal: false }), N);
    const first = 26 + 9 - 2;
    expect(firstValueIndex(ours)).toBe(first);
    expectAgreement(ours.map((v) => v?.macd), ti.map((v) => v?.MACD), first, TOLERANCE);
    expectAgreement(ours.map((v) => v?.signal), ti.map((v) => v?.signal), first, TOLERANCE);
    expectAgreement(ours.map((v) => v?.histogram), ti.map((v) => v?.histogram), first, TOLERANCE);
  });

  // trading-signals seeds its EMAs (and the signal EMA) with the first input: compared
  // after the seeds have decayed.
  it("agrees with trading-signals once its first-price seeds have decayed", () => {
    const macd = new MACD(12, 26, 9);
    const ours = CLOSES.map((x) => macd.update(x));
    const ts = new TsMACD(new TsEMA(12), new TsEMA(26), new TsEMA(9));
    const theirs = CLOSES.map((x) => ts.update(x, false));
    expectAgreement(ours.map((v) => v?.macd), theirs.map((v) => v?.macd), 1_000, TOLERANCE);
    expectAgreement(ours.map((v) => v?.signal), theirs.map((v) => v?.signal), 1_000, TOLERANCE);
    expectAgreement(ours.map((v) => v?.histogram), theirs.map((v) => v?.histogram), 1_000, TOLERANCE);
  });

  it("exposes the line before the signal is seeded", () => {
    const macd = new MACD(3, 5, 4);
    for (let i = 0; i < 4; i++) macd.update(CLOSES[i]!);
    expect(macd.line).toBeNull();
    macd.update(CLOSES[4]!);
    expect(macd.line).not.toBeNull();
    expect(macd.value).toBeNull();
  });
});
