import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type InstrumentSpec,
  InstrumentSpecSchema,
  averageTicksToNumber,
  decimalToLots,
  decimalToNearestTicks,
  decimalToTicks,
  lotsToDecimal,
  lotsToNumber,
  ticksToDecimal,
  ticksToNumber,
} from "../../shared/market/instrument";

const GRIDS = ["0.01", "0.05", "0.0001", "1", "0.5", "0.00000001"];
const spec = (tickSize: string, lotSize = tickSize): InstrumentSpec => ({ symbol: "TEST", assetClass: "crypto", tickSize, lotSize, timeZone: "UTC" });
const AAPL = spec("0.01", "1");
const BTC = spec("0.01", "0.0001");

describe("prices in ticks", () => {
  it("writes ticks with the tick size's precision", () => {
    expect(ticksToDecimal(18750, AAPL)).toBe("187.50");
    expect(ticksToDecimal(1, AAPL)).toBe("0.01");
    expect(ticksToDecimal(0, AAPL)).toBe("0.00");
    expect(ticksToDecimal(-5, AAPL)).toBe("-0.05");
    expect(ticksToDecimal(3, spec("0.05"))).toBe("0.15");
    expect(ticksToDecimal(3, spec("0.5"))).toBe("1.5");
    expect(ticksToDecimal(42, spec("1"))).toBe("42");
    expect(ticksToDecimal(1, spec("0.00000001"))).toBe("0.00000001");
  });

  it("gives JSON the double nearest the exact decimal, not a product of floats", () => {
    // 0.1 + 0.2 style damage: 3 × 0.1 is 0.30000000000000004 in binary floating point.
    expect(ticksToNumber(3, spec("0.1"))).toBe(0.3);
    expect(ticksToNumber(18750, AAPL)).toBe(187.5);
    expect(ticksToNumber(6725000, BTC)).toBe(67250);
    expect(lotsToNumber(3, spec("0.1"))).toBe(0.3);
  });

  it("gives the same double by its one-division shortcut as by parsing the exact decimal text", () => {
    // ticksToNumber and lotsToNumber divide when they can; the reference parses the exact text.
    const grids = [...GRIDS, "0.25", "0.000000001", "0.000000000000001", "0.0000000000000001", "12.5", "0.0003"];
    fc.assert(
      fc.property(fc.constantFrom(...grids), fc.oneof(fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }), fc.maxSafeInteger(), fc.integer({ min: 0, max: 2 ** 40 })), (grid, ticks) => {
        const s = spec(grid);
        expect(ticksToNumber(ticks, s)).toBe(Number(ticksToDecimal(ticks, s)));
        expect(lotsToNumber(ticks, s)).toBe(Number(lotsToDecimal(ticks, s)));
      }),
      { numRuns: 20_000 },
    );
  });

  it("reads a price only when it is positive and exactly on the tick grid", () => {
    expect(decimalToTicks("187.50", AAPL)).toBe(18750);
    expect(decimalToTicks("187.5", AAPL)).toBe(18750);
    expect(decimalToTicks(187.5, AAPL)).toBe(18750);
    expect(decimalToTicks(0.3, spec("0.1"))).toBe(3);
    expect(decimalToTicks("0.15", spec("0.05"))).toBe(3);
    expect(decimalToTicks(1e-8, spec("0.00000001"))).toBe(1); // String(1e-8) is "1e-8"
    expect(decimalToTicks(1e21, spec("1"))).toBeUndefined(); // beyond safe integers
    for (const bad of ["187.505", "0.16", "0", "0.00", "-1", "+1", "1e", ".5", "5.", " 1", "1 ", "", "abc", "Infinity", "NaN", "0x10"]) {
      expect(decimalToTicks(bad, bad === "0.16" ? spec("0.05") : AAPL), bad).toBeUndefined();
    }
    expect(decimalToTicks(Number.NaN, AAPL)).toBeUndefined();
    expect(decimalToTicks(Number.POSITIVE_INFINITY, AAPL)).toBeUndefined();
    expect(decimalToTicks(-1, AAPL)).toBeUndefined();
    expect(decimalToTicks("1".repeat(80), AAPL)).toBeUndefined();
  });

  it("reads plain decimals by its doubles shortcut exactly as exact decimal arithmetic does, prices and sizes", () => {
    // An independent reading in bigint: value ÷ step, whole or nothing, within 2^53.
    const exact = (text: string, grid: string): number | undefined => {
      const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text);
      if (!m || text.length > 64) return undefined;
      const shift = Number(m[3] ?? "0");
      const [gw, gf = ""] = grid.split(".");
      let num = BigInt(m[1]! + (m[2] ?? "")) * 10n ** BigInt(gf.length);
      let den = BigInt(gw! + gf) * 10n ** BigInt((m[2] ?? "").length);
      if (shift >= 0) num *= 10n ** BigInt(shift);
      else den *= 10n ** BigInt(-shift);
      if (num % den !== 0n) return undefined;
      const steps = num / den;
      return steps <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(steps) : undefined;
    };
    const grids = [...GRIDS, "0.25", "0.000000001", "12.5", "0.0003", "5"];
    const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
    const text = fc.oneof(
      fc.tuple(digits(1, 18), fc.option(digits(1, 12), { nil: undefined })).map(([w, f]) => (f === undefined ? w : `${w}.${f}`)),
      fc.tuple(digits(1, 3), fc.constantFrom("", ".5", ".05"), fc.constantFrom("e2", "e-2", "E+1", "e-9")).map(([w, f, e]) => `${w}${f}${e}`),
      fc.constantFrom("", ".", "1.", ".1", "1..2", "1.2.3", " 1", "1 ", "+1", "-1", "0", "0.000", "00012.50", "9007199254740993", "1.00000000000000000001"),
    );
    fc.assert(
      fc.property(fc.constantFrom(...grids), text, (grid, value) => {
        const s = spec(grid);
        const steps = exact(value, grid);
        expect(decimalToTicks(value, s), value).toBe(steps !== undefined && steps > 0 ? steps : undefined);
        expect(decimalToLots(value, s), value).toBe(steps);
      }),
      { numRuns: 20_000 },
    );
  });

  it("rounds to the nearest tick when asked, half up, and can scale by a volume", () => {
    expect(decimalToNearestTicks("187.504", AAPL)).toBe(18750);
    expect(decimalToNearestTicks("187.505", AAPL)).toBe(18751);
    expect(decimalToNearestTicks("0.07", spec("0.05"))).toBe(1);
    expect(decimalToNearestTicks("0.075", spec("0.05"))).toBe(2);
    // A VWAP of 187.5049 over 10 lots: 18750.49 × 10 = 187504.9 → 187505.
    expect(decimalToNearestTicks("187.5049", AAPL, 10)).toBe(187505);
    expect(decimalToNearestTicks("x", AAPL)).toBeUndefined();
  });

  it("averages ticks exactly with extra decimals", () => {
    // (18750·1 + 18751·2) / 3 = 18750.666… ticks = 187.506666… → 187.506667 (2 + 4 decimals)
    expect(averageTicksToNumber(18750 + 2 * 18751, 3, AAPL, 4)).toBe(187.506667);
    expect(averageTicksToNumber(10, 4, spec("1"), 4)).toBe(2.5);
    expect(() => averageTicksToNumber(10, 0, AAPL, 4)).toThrow(RangeError);
  });

  it("round-trips any number of ticks on every grid", () => {
    fc.assert(
      fc.property(fc.constantFrom(...GRIDS), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (tickSize, ticks) => {
        const s = spec(tickSize);
        expect(decimalToTicks(ticksToDecimal(ticks, s), s)).toBe(ticks);
      }),
    );
  });

  it("round-trips ticks through JSON numbers when the decimal fits a double", () => {
    fc.assert(
      fc.property(fc.constantFrom(...GRIDS), fc.integer({ min: 1, max: 10 ** 12 }), (tickSize, ticks) => {
        const s = spec(tickSize);
        expect(decimalToTicks(ticksToNumber(ticks, s), s)).toBe(ticks);
      }),
    );
  });
});

describe("grids asked for in turn", () => {
  it("read each grid as its own, however many alternate, and refuse a bad one after good ones", () => {
    // The last two grids are held outside the cache: three in rotation pass through both.
    fc.assert(
      fc.property(fc.array(fc.constantFrom("0.01", "0.0001", "0.5", "1", "0.000000001"), { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 10 ** 9 }), (sizes, count) => {
        for (const size of sizes) {
          const [whole, fraction = ""] = size.split(".");
          const units = (BigInt(count) * BigInt(whole! + fraction)).toString().padStart(fraction.length + 1, "0");
          const cut = units.length - fraction.length;
          expect(ticksToDecimal(count, spec(size))).toBe(fraction ? `${units.slice(0, cut)}.${units.slice(cut)}` : units);
        }
      }),
      { numRuns: 500 },
    );
    expect(ticksToDecimal(1, AAPL)).toBe("0.01");
    expect(() => ticksToDecimal(1, spec(""))).toThrow(RangeError);
    expect(() => ticksToDecimal(1, spec("0"))).toThrow(RangeError);
    expect(ticksToDecimal(1, AAPL)).toBe("0.01");
  });
});

describe("sizes in lots", () => {
  it("writes and reads lots exactly", () => {
    expect(lotsToDecimal(1234, BTC)).toBe("0.1234");
    expect(lotsToNumber(1234, BTC)).toBe(0.1234);
    expect(decimalToLots("0.1234", BTC)).toBe(1234);
    expect(decimalToLots("0.12345", BTC)).toBeUndefined();
    expect(decimalToLots("10", AAPL)).toBe(10);
    expect(decimalToLots("1.5", AAPL)).toBeUndefined();
  });

  it("accepts a zero size but no negative one", () => {
    expect(decimalToLots("0", AAPL)).toBe(0);
    expect(decimalToLots("-1", AAPL)).toBeUndefined();
  });

  it("round-trips any number of lots on every grid, as strings and as numbers", () => {
    fc.assert(
      fc.property(fc.constantFrom(...GRIDS), fc.integer({ min: 0, max: 10 ** 12 }), (lotSize, lots) => {
        const s = spec("0.01", lotSize);
        expect(decimalToLots(lotsToDecimal(lots, s), s)).toBe(lots);
        expect(decimalToLots(lotsToNumber(lots, s), s)).toBe(lots);
      }),
    );
  });
});

describe("instrument specs", () => {
  it("accepts the demo instruments and refuses bad grids and zones", () => {
    expect(InstrumentSpecSchema.safeParse({ symbol: "BTC/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.0001", timeZone: "UTC" }).success).toBe(true);
    expect(InstrumentSpecSchema.safeParse({ ...AAPL, tickSize: "0" }).success).toBe(false);
    expect(InstrumentSpecSchema.safeParse({ ...AAPL, lotSize: "-1" }).success).toBe(false);
    expect(InstrumentSpecSchema.safeParse({ ...AAPL, timeZone: "Mars/Olympus" }).success).toBe(false);
  });

  it("treats a malformed grid as a programming error", () => {
    expect(() => ticksToDecimal(1, spec("0"))).toThrow(RangeError);
    expect(() => ticksToDecimal(1.5, AAPL)).toThrow(RangeError);
  });
});
