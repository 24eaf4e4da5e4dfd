import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeMetrics, type EquityPoint, type MetricFill } from "../../shared/strategy/metrics";
import { parseMoney } from "../../shared/trading/money";

const YEAR = 365.25 * 24 * 3_600_000;
const usd = (text: string) => parseMoney(text)!;
const curve = (values: string[], spacing = YEAR / 3): EquityPoint[] => values.map((v, i) => ({ t: i * spacing, equity: usd(v) }));
const fill = (side: "buy" | "sell", qty: string, value: string, fee: string): MetricFill => ({ side, qty: usd(qty), value: usd(value), fee: usd(fee) });

describe("backtest metrics", () => {
  it("compute CAGR to the same last bit in the Workers runtime as in Node (the researcher CLI)", () => {
    // 100,000.00 → 102,109.57 over 500 hours: (g ** (1 / years)) − 1 is 0.44195914022789196
    // here and 0.44195914022789173 in Node 20 (found in QA: a platform run's cagr and calmar
    // one unit in the last place from the CLI's). test/cli/backtest.mjs pins the same value in Node.
    const m = computeMetrics(curve(["100000.00", "102109.57"], 500 * 3_600_000), [], { exposedBars: 0 });
    expect(m.cagr).toBe(0.44195914022789173);
  });

  it("match hand-computed values on a four-point curve spanning one year", () => {
    // r = 0.1, −0.1, 121/99 − 1 = 2/9; P = 3 returns a year.
    const fills = [fill("buy", "10", "1000", "1"), fill("sell", "10", "1100", "1"), fill("buy", "5", "500", "1"), fill("sell", "5", "450", "1")];
    const m = computeMetrics(curve(["100", "110", "99", "121"]), fills, { exposedBars: 2 });
    const r = [0.1, -0.1, 2 / 9];
    const mean = (0.1 - 0.1 + 2 / 9) / 3;
    const sd = Math.sqrt(r.reduce((s, x) => s + (x - mean) ** 2, 0) / 2);
    expect(m.totalReturn).toBe(0.21); // exactly the nearest double, not 1.21 − 1's 0.20999999999999996
    expect(m.cagr).toBeCloseTo(0.21, 12); // one year: CAGR is the total return
    expect(sd).toBeCloseTo(0.16266808337776115, 12);
    expect(m.volatility).toBeCloseTo(0.16266808337776115 * Math.sqrt(3), 12);
    expect(m.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(3), 12);
    expect(m.sortino).toBeCloseTo((mean / Math.sqrt(0.01 / 3)) * Math.sqrt(3), 12); // 2.2222…
    expect(m.maxDrawdown).toBeCloseTo(0.1, 12); // 110 → 99
    expect(m.maxDrawdownDuration).toBe((2 * YEAR) / 3); // peak at 110 (t1), back above at 121 (t3)
    expect(m.calmar).toBeCloseTo(2.1, 12);
    // Round trips: +100 − 2 fees = 98; −50 − 2 fees = −52.
    expect(m.trades).toBe(2);
    expect(m.wins).toBe(1);
    expect(m.winRate).toBe(0.5);
    expect(m.grossProfit).toBe("98.00");
    expect(m.grossLoss).toBe("52.00");
    expect(m.profitFactor).toBeCloseTo(98 / 52, 12);
    expect(m.expectancy).toBe("23.00");
    expect(m.exposure).toBe(0.5);
    expect(m.fees).toBe("4.00");
  });

  it("a drawdown never recovered lasts to the last bar", () => {
    const m = computeMetrics(curve(["100", "120", "90", "100"], 1000), [], { exposedBars: 0 });
    expect(m.maxDrawdown).toBeCloseTo(0.25, 12);
    expect(m.maxDrawdownDuration).toBe(2000);
  });

  it("an open round trip at the end is not a closed trade", () => {
    const m = computeMetrics(curve(["100", "101"]), [fill("buy", "1", "50", "0"), fill("sell", "1", "60", "0"), fill("buy", "1", "60", "0")], { exposedBars: 1 });
    expect(m.trades).toBe(1);
    expect(m.profitFactor).toBeNull(); // no loss
    expect(m.winRate).toBe(1);
  });

  it("undefined values are null, never NaN or Infinity", () => {
    const flat = computeMetrics(curve(["100", "100", "100"]), [], { exposedBars: 0 });
    expect(flat).toMatchObject({ totalReturn: 0, cagr: 0, volatility: 0, sharpe: null, sortino: null, maxDrawdown: 0, maxDrawdownDuration: 0, calmar: null, trades: 0, winRate: null, profitFactor: null, expectancy: null, exposure: 0, fees: "0.00" });
    const single = computeMetrics(curve(["100"]), [], { exposedBars: 0 });
    expect(single).toMatchObject({ totalReturn: 0, cagr: null, volatility: null, sharpe: null, sortino: null, calmar: null });
    const empty = computeMetrics([], [], { exposedBars: 0 });
    expect(empty).toMatchObject({ bars: 0, totalReturn: null, cagr: null, maxDrawdown: null, maxDrawdownDuration: null, exposure: null, startEquity: null });
    const ruined = computeMetrics(curve(["100", "0", "0"]), [], { exposedBars: 0 });
    for (const m of [flat, single, empty, ruined]) for (const v of Object.values(m)) if (typeof v === "number") expect(Number.isFinite(v)).toBe(true);
  });

  it("equal, bit for bit, the definitions written plainly (a return and a fall from its peak per bar) on random curves", () => {
    // The implementation keeps the returns in a typed column and divides once per peak
    // (a fall is deepest at the lowest value after its peak); both must change nothing.
    const ratio = (a: bigint, b: bigint) => Number(a) / Number(b);
    const plain = (points: EquityPoint[]) => {
      const returns: number[] = [];
      for (let i = 1; i < points.length; i++) {
        const before = points[i - 1]!.equity;
        const now = points[i]!.equity;
        returns.push(before > 0n ? (now === before ? 0 : ratio(now - before, before)) : NaN);
      }
      const mean = returns.reduce((s, r) => s + r, 0) / returns.length;
      const sd = Math.sqrt(returns.reduce((s, r) => s + (r - mean) ** 2, 0) / (returns.length - 1));
      const downside = Math.sqrt(returns.reduce((s, r) => s + Math.min(r, 0) ** 2, 0) / returns.length);
      let peak = points[0]!.equity;
      let drawdown = 0;
      for (const { equity } of points) {
        if (equity >= peak) peak = equity;
        else if (peak > 0n) drawdown = Math.max(drawdown, ratio(peak - equity, peak));
      }
      return { returns, mean, sd, downside, drawdown };
    };
    // Equity in money units (10^18 a dollar) around 10^23, with flat runs, new peaks, deep falls and ruin.
    const step = fc.oneof(fc.constant(0n), fc.bigInt({ min: -(10n ** 21n), max: 10n ** 21n }), fc.bigInt({ min: -(10n ** 23n), max: 10n ** 23n }));
    fc.assert(
      fc.property(fc.array(step, { minLength: 3, maxLength: 200 }), (steps) => {
        let equity = 10n ** 23n;
        const points = steps.map((s, i) => {
          equity = equity + s < 0n ? 0n : equity + s;
          return { t: i * 60_000, equity };
        });
        const m = computeMetrics(points, [], { exposedBars: 0 });
        const p = plain(points);
        const years = (points.at(-1)!.t - points[0]!.t) / YEAR;
        const annual = p.returns.every(Number.isFinite) ? Math.sqrt(p.returns.length / years) : null;
        expect(m.maxDrawdown).toBe(p.drawdown);
        expect(m.volatility).toBe(annual === null || !Number.isFinite(p.sd) ? null : p.sd * annual);
        expect(m.sharpe).toBe(annual === null || !(p.sd > 0) ? null : (p.mean / p.sd) * annual);
        expect(m.sortino).toBe(annual === null || !(p.downside > 0) ? null : (p.mean / p.downside) * annual);
      }),
      { numRuns: 2_000 },
    );
  });

  it("are the same when a curve names its runs of equal points (a backtest's flat bars), whichever runs it names", () => {
    // A run's points are skipped: its zero returns are the column's zeros, and the drawdown
    // hears its last point only. Long flat runs, new peaks and falls inside and after them, ruin.
    const step = fc.oneof(fc.constant(0n), fc.constant(0n), fc.bigInt({ min: -(10n ** 21n), max: 10n ** 21n }), fc.bigInt({ min: -(10n ** 23n), max: 2n * 10n ** 22n }));
    fc.assert(
      fc.property(fc.array(fc.tuple(step, fc.integer({ min: 1, max: 30 })), { minLength: 1, maxLength: 60 }), fc.array(fc.nat(), { maxLength: 20 }), (segments, cuts) => {
        let equity = 10n ** 23n;
        const values: bigint[] = [];
        for (const [s, length] of segments) {
          equity = equity + s < 0n ? 0n : equity + s;
          for (let i = 0; i < length; i++) values.push(equity);
        }
        const t = values.map((_, i) => i * 60_000 + (i % 7) * 1_000);
        // Each run ends at its last equal point, or earlier where a cut says (a curve need not name a whole run).
        const sameUntil = (i: number) => {
          let j = i;
          while (j + 1 < values.length && values[j + 1] === values[i] && !cuts.includes(j + 1)) j++;
          return j;
        };
        const points = values.map((equity, i) => ({ t: t[i]!, equity }));
        expect(computeMetrics({ t, at: (i) => values[i]!, sameUntil }, [], { exposedBars: 3 })).toEqual(computeMetrics(points, [], { exposedBars: 3 }));
      }),
      { numRuns: 2_000 },
    );
  });
});
