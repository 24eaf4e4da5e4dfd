import { describe, expect, it } from "vitest";
import { ATR, Bollinger, Donchian, EMA, Highest, Lowest, MACD, RSI, SMA, Stochastic, VWAP, WilderAverage, indicators, type Indicator, type IndicatorState } from "../../shared/indicators";
import { BARS, CLOSES, type TestBar } from "./series";

// A live strategy's only memory across a restart is its JSON state: an indicator saved,
// sent through JSON and restored must go on exactly as if nothing had happened.

type Feed = (bar: TestBar, i: number) => unknown;
interface Case {
  name: string;
  make: () => Indicator<never[], unknown>;
  restore: (state: IndicatorState) => Indicator<never[], unknown>;
  feed: (indicator: Indicator<never[], unknown>) => Feed;
}

// Closes with a fraction of a tick sometimes, so the SMA's float part (and its periodic
// recompute) is exercised as well as its exact integer sum.
const cents = CLOSES.map((x) => Math.round(x * 100));
const mixed = CLOSES.map((x, i) => (i % 7 < 3 ? x + 0.001 : x));

const byClose = (values: readonly number[]) => (ind: Indicator<never[], unknown>) => (_b: TestBar, i: number) => (ind as unknown as Indicator<[number], unknown>).update(values[i]!);
const byBar = (ind: Indicator<never[], unknown>) => (b: TestBar) => (ind as unknown as Indicator<[number, number, number, number], unknown>).update(b.high, b.low, b.close, b.volume);

const as = <T>(f: (s: T) => unknown) => f as unknown as (state: IndicatorState) => Indicator<never[], unknown>;
const of = (ind: unknown) => ind as Indicator<never[], unknown>;

const CASES: Case[] = [
  { name: "SMA on integer ticks", make: () => of(new SMA(20)), restore: as(SMA.restore), feed: byClose(cents) },
  { name: "SMA on prices with fractions", make: () => of(new SMA(9)), restore: as(SMA.restore), feed: byClose(mixed) },
  { name: "EMA", make: () => of(new EMA(21)), restore: as(EMA.restore), feed: byClose(CLOSES) },
  { name: "Wilder's average", make: () => of(new WilderAverage(14)), restore: as(WilderAverage.restore), feed: byClose(CLOSES) },
  { name: "RSI", make: () => of(new RSI(14)), restore: as(RSI.restore), feed: byClose(CLOSES) },
  { name: "MACD", make: () => of(new MACD(12, 26, 9)), restore: as(MACD.restore), feed: byClose(CLOSES) },
  { name: "Bollinger", make: () => of(new Bollinger(20, 2)), restore: as(Bollinger.restore), feed: byClose(CLOSES) },
  { name: "Highest", make: () => of(new Highest(15)), restore: as(Highest.restore), feed: byClose(CLOSES) },
  { name: "Lowest", make: () => of(new Lowest(15)), restore: as(Lowest.restore), feed: byClose(CLOSES) },
  { name: "ATR", make: () => of(new ATR(14)), restore: as(ATR.restore), feed: byBar },
  { name: "Donchian", make: () => of(new Donchian(20)), restore: as(Donchian.restore), feed: byBar },
  { name: "Stochastic", make: () => of(new Stochastic(14, 3)), restore: as(Stochastic.restore), feed: byBar },
  { name: "VWAP", make: () => of(new VWAP()), restore: as(VWAP.restore), feed: byBar },
];

const N = 1_500;
// Before, at and after seeding, and deep into the run (past several SMA/Bollinger recomputes).
const SPLITS = [0, 1, 8, 9, 13, 14, 15, 20, 26, 34, 35, 97, 600, 1_499];

describe.each(CASES)("$name saved, sent through JSON and restored", ({ make, restore, feed }) => {
  const bars = BARS.slice(0, N);
  const uninterrupted = (() => {
    const ind = make();
    const update = feed(ind);
    return bars.map((b, i) => update(b, i));
  })();

  it.each(SPLITS)("goes on exactly as an uninterrupted run after a restart at input %i", (split) => {
    let ind = make();
    const values: unknown[] = [];
    for (let i = 0; i < N; i++) {
      if (i === split) {
        const text = JSON.stringify(ind.save());
        ind = restore(JSON.parse(text) as IndicatorState);
        // What the restored one saves is what was saved: a second restart changes nothing either.
        expect(JSON.stringify(ind.save())).toBe(text);
      }
      values.push(feed(ind)(bars[i]!, i));
    }
    // Object.is on every number: bit-for-bit the same values.
    expect(values).toStrictEqual(uninterrupted);
    expect(values.filter((v) => v !== null).length).toBeGreaterThan(N - 100);
  });

  it("restarting before every input still gives the same series", () => {
    let ind = make();
    const values = bars.slice(0, 300).map((b, i) => {
      ind = restore(JSON.parse(JSON.stringify(ind.save())) as IndicatorState);
      return feed(ind)(b, i);
    });
    expect(values).toStrictEqual(uninterrupted.slice(0, 300));
  });
});

describe("a saved state that save() cannot have written", () => {
  it("is refused with a RangeError naming the field", () => {
    const ema = new EMA(5);
    [1, 2, 3, 4, 5, 6].forEach((x) => ema.update(x));
    expect(() => EMA.restore({ ...ema.save(), value: Number.NaN })).toThrow(/EMA value/);
    expect(() => new EMA(6).load(ema.save())).toThrow(/period 5/);
    const sma = new SMA(3);
    expect(() => SMA.restore({ ...sma.save(), window: [1, 2] })).toThrow(/SMA window/);
    expect(() => SMA.restore({ ...sma.save(), intSum: "1.5" })).toThrow(/intSum/);
    expect(() => Highest.restore({ period: 2, values: [1, 2, 3], indices: [0, 1, 2], count: 3, value: 3 })).toThrow(RangeError);
    expect(() => RSI.restore({ ...new RSI(3).save(), previous: "7" as unknown as number })).toThrow(/RSI previous/);
  });
});

describe("ctx.indicators.restore", () => {
  it("hands user code the same restore for every indicator the factory makes", () => {
    const made = Object.keys(indicators).filter((k) => k !== "restore").sort();
    expect(Object.keys(indicators.restore).sort()).toEqual(made);
    const ema = indicators.ema(3);
    [1, 2, 3, 4].forEach((x) => ema.update(x));
    const again = indicators.restore.ema(JSON.parse(JSON.stringify(ema.save())) as ReturnType<EMA["save"]>);
    expect(again.update(10)).toBe(ema.update(10));
  });
});
