import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { type SimParams, SimParamsSchema, type SimState, SimStateSchema, initialSimState, stepSimulator } from "../../shared/market/simulator";
import type { Quote, Trade } from "../../shared/market/types";

const AAPL: InstrumentSpec = { symbol: "AAPL", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
const BTC: InstrumentSpec = { symbol: "BTC/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.0001", timeZone: "UTC" };
const START = Date.parse("2026-03-02T14:30:00Z");
const MINUTE = 60_000;
const YEAR = 365.25 * 24 * 60 * MINUTE;

const params = (overrides: Record<string, unknown> = {}): SimParams => SimParamsSchema.parse(overrides);

interface Run {
  quotes: Quote[];
  trades: Trade[];
  states: SimState[];
  /** The quote of the step that printed each trade. */
  quoteOfTrade: Quote[];
}

function run(p: SimParams, spec: InstrumentSpec, times: readonly number[], from = initialSimState(p, spec, START)): Run {
  const result: Run = { quotes: [], trades: [], states: [], quoteOfTrade: [] };
  let state = from;
  for (const t of times) {
    const step = stepSimulator(state, p, spec, t);
    state = step.state;
    result.quotes.push(step.quote);
    if (step.trade) {
      result.trades.push(step.trade);
      result.quoteOfTrade.push(step.quote);
    }
    result.states.push(state);
  }
  return result;
}

const everySecond = (count: number) => Array.from({ length: count }, (_, i) => START + (i + 1) * 1000);

describe("simulator parameters", () => {
  it("fills the demo instruments' partial feed params with defaults", () => {
    // As seeded by d1/migrations/0002_demo_instruments.sql for TSLA.
    const tsla = params({ seed: 104, startPrice: "245.00", volatility: 0.55, jumpIntensity: 12, spreadTicks: 2 });
    expect(tsla).toEqual({
      seed: 104,
      startPrice: "245.00",
      drift: 0,
      volatility: 0.55,
      jumpIntensity: 12,
      jumpMean: 0,
      jumpStdDev: 0.02,
      spreadTicks: 2,
      displayedLots: { min: 1, max: 100 },
      tickIntervalMs: 1000,
      tradeProbability: 0.3,
    });
  });

  it("refuses unknown keys, a zero spread, inverted size bounds and a non-decimal start price", () => {
    for (const bad of [{ volatilty: 0.2 }, { spreadTicks: 0 }, { displayedLots: { min: 5, max: 2 } }, { startPrice: "1e3" }, { startPrice: "0" }, { tradeProbability: 1.5 }]) {
      expect(SimParamsSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe("simulated market", () => {
  it("opens around the start price", () => {
    const { quote } = initialSimState(params({ startPrice: "187.50" }), AAPL, START);
    expect(quote.t).toBe(START);
    expect(quote.bidTicks).toBeLessThanOrEqual(18750);
    expect(quote.askTicks).toBeGreaterThanOrEqual(18750);
    expect(quote.askTicks - quote.bidTicks).toBe(1);
  });

  it("produces identical quotes and trades for the same params and step times", () => {
    const p = params({ seed: 7, jumpIntensity: 50 });
    const times = everySecond(500);
    const first = run(p, BTC, times);
    expect(run(p, BTC, times)).toEqual(first);
    expect(first.trades.length).toBeGreaterThan(0);
    expect(run(params({ seed: 8, jumpIntensity: 50 }), BTC, times).quotes).not.toEqual(first.quotes);
  });

  it("resumes exactly from a state stored as JSON mid-run", () => {
    const p = params({ seed: 3, jumpIntensity: 100 });
    const times = everySecond(200);
    const whole = run(p, AAPL, times);
    const middle = whole.states[99];
    if (!middle) throw new Error("run too short");
    const restored = SimStateSchema.parse(JSON.parse(JSON.stringify(middle)));
    const rest = run(p, AAPL, times.slice(100), restored);
    expect(rest.quotes).toEqual(whole.quotes.slice(100));
    expect(rest.trades).toEqual(whole.trades.filter((t) => t.t > (times[99] ?? 0)));
  });

  it("stands still without volatility, drift or jumps", () => {
    const p = params({ volatility: 0, startPrice: "187.50" });
    const { quote } = initialSimState(p, AAPL, START);
    const { quotes } = run(p, AAPL, everySecond(100));
    expect(new Set(quotes.map((q) => `${q.bidTicks}/${q.askTicks}`))).toEqual(new Set([`${quote.bidTicks}/${quote.askTicks}`]));
  });

  it("grows at the drift rate", () => {
    // σ = 0 and no jumps: one year at μ = 0.1 multiplies the price by e^0.1.
    const { quotes } = run(params({ volatility: 0, drift: 0.1, startPrice: "100.00", spreadTicks: 2 }), AAPL, [START + YEAR]);
    expect(quotes[0]).toMatchObject({ bidTicks: Math.round(10000 * Math.exp(0.1)) - 1, askTicks: Math.round(10000 * Math.exp(0.1)) + 1 });
  });

  it("takes the Itô term σ²/2 out of the log drift, so the median price does not drift up", () => {
    // One year in one step for 4000 seeds: ln(S1/S0) ~ N(μ - σ²/2, σ²) = N(-0.125, 0.25).
    const seeds = Array.from({ length: 4000 }, (_, seed) => seed);
    const logReturns = seeds.map((seed) => {
      const p = params({ seed, volatility: 0.5 });
      const start = initialSimState(p, AAPL, START);
      return stepSimulator(start, p, AAPL, START + YEAR).state.logPrice - start.logPrice;
    });
    const mean = logReturns.reduce((a, b) => a + b, 0) / logReturns.length;
    expect(Math.abs(mean + 0.125)).toBeLessThan(0.03); // the standard error is 0.008
  });

  it("moves log prices with the stated volatility", () => {
    const p = params({ seed: 11, volatility: 0.3 });
    const times = Array.from({ length: 20_000 }, (_, i) => START + (i + 1) * MINUTE);
    const { states } = run(p, AAPL, times);
    const returns = states.slice(1).map((s, i) => s.logPrice - (states[i]?.logPrice ?? 0));
    const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
    const sd = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / returns.length);
    expect(sd / (0.3 * Math.sqrt(MINUTE / YEAR))).toBeCloseTo(1, 1);
  });

  it("widens the spread on exactly the steps with a jump", () => {
    // σ = 0, so any log move beyond the deterministic jump compensation is a jump.
    const p = params({ seed: 5, volatility: 0, jumpIntensity: 2000, jumpStdDev: 0.05, spreadTicks: 3 });
    const times = Array.from({ length: 2000 }, (_, i) => START + (i + 1) * 60 * MINUTE);
    const { states, quotes } = run(p, AAPL, times);
    const compensation = -2000 * (Math.exp(0.05 ** 2 / 2) - 1) * (60 * MINUTE / YEAR);
    let jumps = 0;
    states.forEach((state, i) => {
      const before = i === 0 ? initialSimState(p, AAPL, START).logPrice : (states[i - 1]?.logPrice ?? 0);
      const jumped = Math.abs(state.logPrice - before - compensation) > 1e-12;
      if (jumped) jumps++;
      const quote = quotes[i];
      expect(quote && quote.askTicks - quote.bidTicks).toBe(jumped ? 6 : 3);
    });
    // 2000 jumps a year over 2000 hours: about 457 expected.
    expect(jumps).toBeGreaterThan(350);
    expect(jumps).toBeLessThan(570);
  });

  it("prints a trade on every step at probability 1 and never at 0", () => {
    const always = run(params({ tradeProbability: 1 }), AAPL, everySecond(50));
    expect(always.trades.map((t) => t.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(run(params({ tradeProbability: 0 }), AAPL, everySecond(50)).trades).toEqual([]);
  });

  it("never trades more than the displayed size on the side it takes", () => {
    const p = params({ seed: 9, tradeProbability: 1, displayedLots: { min: 1, max: 3 } });
    const { quotes, trades } = run(p, AAPL, everySecond(3000));
    trades.forEach((trade, i) => {
      const quote = quotes[i];
      expect(quote && trade.sizeLots <= (trade.takerSide === "B" ? quote.askLots : quote.bidLots)).toBe(true);
    });
    // Every size from 1 to 3 occurs, so the bound above is tight, not vacuous.
    expect(new Set(trades.map((t) => t.sizeLots))).toEqual(new Set([1, 2, 3]));
  });

  it("lets no time pass and keeps the timestamp when a step is earlier than the last", () => {
    const p = params({ volatility: 0.5 });
    const state = stepSimulator(initialSimState(p, AAPL, START), p, AAPL, START + 5000).state;
    const back = stepSimulator(state, p, AAPL, START + 1000);
    expect(back.quote.t).toBe(START + 5000);
    expect(back.state.logPrice).toBe(state.logPrice);
  });

  it("keeps every quote and trade on the grid and inside the book, and stays deterministic across a restore", () => {
    const paramsArb = fc.record({
      seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      startPrice: fc.constantFrom("0.01", "0.05", "1.00", "187.50", "67250.00"),
      drift: fc.double({ min: -2, max: 2, noNaN: true }),
      volatility: fc.double({ min: 0, max: 5, noNaN: true }),
      jumpIntensity: fc.double({ min: 0, max: 5000, noNaN: true }),
      jumpMean: fc.double({ min: -0.5, max: 0.5, noNaN: true }),
      jumpStdDev: fc.double({ min: 0, max: 0.5, noNaN: true }),
      spreadTicks: fc.integer({ min: 1, max: 50 }),
      displayedLots: fc.integer({ min: 1, max: 500 }).chain((min) => fc.record({ min: fc.constant(min), max: fc.integer({ min, max: 1000 }) })),
      tradeProbability: fc.double({ min: 0, max: 1, noNaN: true }),
    });
    const specArb = fc.record({
      symbol: fc.constant("X"),
      assetClass: fc.constantFrom("us_equity" as const, "crypto" as const),
      tickSize: fc.constantFrom("0.01", "0.05", "0.0001", "1", "0.5"),
      lotSize: fc.constantFrom("1", "0.0001"),
      timeZone: fc.constant("UTC"),
    });
    const gapsArb = fc.array(fc.integer({ min: 0, max: 3 * 24 * 60 * MINUTE }), { minLength: 2, maxLength: 60 });
    fc.assert(
      fc.property(paramsArb, specArb, gapsArb, fc.nat(), (raw, spec, gaps, cut) => {
        const p = SimParamsSchema.parse(raw);
        const times = gaps.reduce<number[]>((acc, gap) => [...acc, (acc.at(-1) ?? START) + gap], []);
        const whole = run(p, spec, times);
        for (const q of whole.quotes) {
          expect(Number.isSafeInteger(q.bidTicks) && Number.isSafeInteger(q.askTicks)).toBe(true);
          expect(q.bidTicks).toBeGreaterThanOrEqual(1);
          expect(q.askTicks - q.bidTicks).toBeGreaterThanOrEqual(p.spreadTicks);
          for (const lots of [q.bidLots, q.askLots]) {
            expect(Number.isInteger(lots) && lots >= p.displayedLots.min && lots <= p.displayedLots.max).toBe(true);
          }
        }
        // Steps may share a timestamp (a zero gap), so pair each trade with its own step's quote.
        for (const [i, trade] of whole.trades.entries()) {
          const quote = whole.quoteOfTrade[i]!;
          expect(quote.t).toBe(trade.t);
          expect(trade.priceTicks).toBe(trade.takerSide === "B" ? quote.askTicks : quote.bidTicks);
          expect(trade.sizeLots).toBeGreaterThanOrEqual(1);
          expect(trade.sizeLots).toBeLessThanOrEqual(trade.takerSide === "B" ? quote.askLots : quote.bidLots);
        }
        expect(whole.trades.map((t) => t.id)).toEqual(whole.trades.map((_, i) => i + 1));

        const split = 1 + (cut % (times.length - 1));
        const head = run(p, spec, times.slice(0, split));
        const restored = JSON.parse(JSON.stringify(head.states.at(-1))) as SimState;
        const tail = run(p, spec, times.slice(split), restored);
        expect([...head.quotes, ...tail.quotes]).toEqual(whole.quotes);
        expect([...head.trades, ...tail.trades]).toEqual(whole.trades);
      }),
      { numRuns: 200 },
    );
  });
});
