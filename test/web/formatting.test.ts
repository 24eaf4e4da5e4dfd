import { describe, expect, it } from "vitest";
import { dec, pct } from "../../web/src/format";
import { minBarSpacingFor, precisionFor } from "../../web/src/lab/chart-scale";
import { withoutLocation } from "../../web/src/lab/compile-message";
import { formatMetric, formatMetricOf, metricLabel } from "../../web/src/lab/metrics";
import { compileStrategy } from "../../shared/strategy/compile";

// How the app prints figures, against values worked out by hand: a backtest run's metrics
// (web/src/lab/metrics.ts: the API's exact money strings in cents, fractions as percentages,
// numbers too large for fixed notation with an exponent) and changes as percentages
// (web/src/format.ts).

describe("a backtest's metrics on screen", () => {
  it("prints money in cents, rounded half away from zero from the exact decimal", () => {
    expect(formatMetric("expectancy", "28962.46799559254761194")).toBe("28,962.47");
    expect(formatMetric("end_equity", "2040485.35570470069")).toBe("2,040,485.36");
    expect(formatMetric("gross_loss", "0.005")).toBe("0.01");
    expect(formatMetric("average_trade", "-1.995")).toBe("-2.00");
    expect(formatMetric("fees", "0")).toBe("0.00");
  });

  it("leaves a string it cannot read as money as it came", () => {
    expect(formatMetric("expectancy", "n/a")).toBe("n/a");
  });

  it("prints fractions as percentages (tiny ones with two significant digits) and huge ratios with three significant digits", () => {
    expect(formatMetric("total_return", 0.0005)).toBe("0.05%");
    // Too small for two decimals, and not nothing: two significant digits.
    expect(formatMetric("max_drawdown", 0.0000123)).toBe("0.0012%");
    expect(formatMetric("max_drawdown", -0.000049)).toBe("-0.0049%");
    expect(formatMetric("annualized_volatility", 1.5e-9)).toBe("1.5e-7%");
    expect(formatMetric("max_drawdown", 0.00005)).toBe("0.01%");
    expect(formatMetric("max_drawdown", 0)).toBe("0.00%");
    expect(formatMetric("cagr", 5.000811149750068e229)).toBe("5.00e+231%");
    expect(formatMetric("calmar", 9.939212176351412e230)).toBe("9.94e+230");
    expect(formatMetric("sharpe", 51.96712)).toBe("51.967");
    expect(formatMetric("trades", 5)).toBe("5");
    expect(formatMetric("max_drawdown_duration", 26 * 3_600_000)).toBe("1d 2h");
    expect(formatMetric("profit_factor", null)).toBe("—");
  });

  it("labels CAGR in capitals and the other names as words", () => {
    expect(metricLabel("cagr")).toBe("CAGR");
    expect(metricLabel("max_drawdown_duration")).toBe("max drawdown duration");
  });
});

describe("a change as a percentage", () => {
  it("keeps the sign of a change too small to show, as its colour does", () => {
    expect(pct(dec("-0.02"), dec("415.21"))).toBe("-0.00%");
    expect(pct(dec("0.02"), dec("415.21"))).toBe("+0.00%");
    expect(pct(dec("0"), dec("415.21"))).toBe("0.00%");
    expect(pct(dec("-4.15"), dec("415.00"))).toBe("-1.00%");
    expect(pct(dec("4.15"), dec("415.00"))).toBe("+1.00%");
    expect(pct(dec("-0.02"), dec("415.21"), false)).toBe("0.00%");
  });
});

describe("a compile error under the code editor", () => {
  it("says its line once: the badge has it, the API's message loses its own \"at line, column\"", () => {
    const compiled = compileStrategy("export default {\n  onBar(bar, ctx) {\n    const = ;\n  },\n};\n", "ts");
    if (compiled.ok) throw new Error("the source compiled");
    const { message, line, column } = compiled.error;
    expect(line).toBe(3);
    expect(message).toContain(`at line 3, column ${column}`);
    const shown = withoutLocation({ message, line, column });
    expect(shown).toMatch(/^syntax error: /);
    expect(shown).not.toMatch(/line 3/);
    expect(shown).toContain('near "const = ;"');
  });

  it("keeps a message that has no location as it is", () => {
    expect(withoutLocation({ message: "source does not compile: out of memory" })).toBe("source does not compile: out of memory");
  });
});

describe("a profit factor with no losing trade", () => {
  it("is infinite when there was a profit, and a dash when there was none (no trade, or only break-even ones)", () => {
    expect(formatMetricOf({ profit_factor: null, trades: 5, gross_profit: "38.25" }, "profit_factor")).toBe("∞");
    expect(formatMetricOf({ profit_factor: null, trades: 0, gross_profit: "0" }, "profit_factor")).toBe("—");
    expect(formatMetricOf({ profit_factor: null, trades: 2, gross_profit: "0" }, "profit_factor")).toBe("—");
    expect(formatMetricOf({ profit_factor: 1.5, trades: 5, gross_profit: "3" }, "profit_factor")).toBe("1.500");
    expect(formatMetricOf(null, "profit_factor")).toBe("—");
  });
});

describe("a report chart's scale", () => {
  it("shows two decimals for ranges of a unit or more and enough to tell a tiny range's labels apart", () => {
    expect(precisionFor([100000, 100046.52])).toBe(2);
    expect(precisionFor([0, -1.66])).toBe(2);
    expect(precisionFor([0, -0.0012, -0.0009])).toBe(4);
    expect(precisionFor([0, -0.00001])).toBe(6);
    expect(precisionFor([5, 5, 5])).toBe(2);
    expect(precisionFor([])).toBe(2);
    expect(precisionFor([0, -1e-15])).toBe(8);
  });

  it("lets a fitted chart show every point of a long run, and keeps the library's spacing for short ones", () => {
    // 3,500 points in a 150 px plot: the default half pixel would show the last 300 only.
    expect(minBarSpacingFor(3500) * 3500).toBeCloseTo(150);
    expect(minBarSpacingFor(20_000) * 20_000).toBeCloseTo(150);
    expect(minBarSpacingFor(240)).toBe(0.5);
    expect(minBarSpacingFor(0)).toBe(0.5);
  });
});
