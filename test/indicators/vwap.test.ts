import { VWAP as TiVWAP } from "technicalindicators";
import { VWAP as TsVWAP } from "trading-signals";
import { describe, expect, it } from "vitest";
import { VWAP } from "../../shared/indicators";
import { BARS, CLOSES, expectAgreement } from "./series";

const TOLERANCE = 1e-9;

describe("VWAP (cumulative typical price, with reset)", () => {
  it("agrees with both libraries from the first bar", () => {
    const vwap = new VWAP();
    const ours = BARS.map((b) => vwap.update(b.high, b.low, b.close, b.volume));
    const ti = TiVWAP.calculate({ high: BARS.map((b) => b.high), low: BARS.map((b) => b.low), close: CLOSES, volume: BARS.map((b) => b.volume) });
    const ts = new TsVWAP();
    const theirs = BARS.map((b) => ts.update(b, false));
    expectAgreement(ours, ti, 0, TOLERANCE);
    expectAgreement(ours, theirs, 0, TOLERANCE);
  });

  it("starts over after reset, as a fresh VWAP would", () => {
    const vwap = new VWAP();
    BARS.slice(0, 500).forEach((b) => vwap.update(b.high, b.low, b.close, b.volume));
    vwap.reset();
    expect(vwap.value).toBeNull();
    expect(vwap.ready).toBe(false);
    const fresh = new VWAP();
    for (const b of BARS.slice(500, 900)) {
      expect(vwap.update(b.high, b.low, b.close, b.volume)).toBe(fresh.update(b.high, b.low, b.close, b.volume));
    }
  });

  it("waits for volume and keeps its value through zero-volume bars", () => {
    const vwap = new VWAP();
    expect(vwap.update(11, 9, 10, 0)).toBeNull();
    expect(vwap.update(12, 9, 12, 3)).toBe(11);
    expect(vwap.update(50, 40, 45, 0)).toBe(11);
    expect(() => vwap.update(12, 9, 12, -1)).toThrow(RangeError);
  });
});
