import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newYorkTime } from "../../shared/calendar";
import { MONEY_ONE, parseMoney, quantityOf, type Money } from "../../shared/trading/money";
import { COIN, harness } from "./engine-harness";
import { applyChange, equityAt, foldActivities, portfolioSpan, readSpan, holdingChange, planPortfolio, portfolioHistory, type HoldingChange, type PortfolioPlan, type PricePoint } from "../../shared/trading/portfolio-history";

// The portfolio history's rules, pure: which windows a request reports (Alpaca's
// parameters), the account's activities folded into holdings, and the equity series
// against a model that values every instant from scratch.

const MIN = 60_000;
const DAY = 86_400_000;
const money = (text: string) => parseMoney(text)!;
const plan = (q: Parameters<typeof planPortfolio>[0], now: number, createdAt = 0): PortfolioPlan => {
  const planned = planPortfolio(q, now, createdAt);
  if (!planned.ok) throw new Error(planned.problem.message);
  return planned.plan;
};
const problemOf = (q: Parameters<typeof planPortfolio>[0], now = Date.UTC(2026, 11, 2, 18)) => {
  const planned = planPortfolio(q, now, 0);
  return planned.ok ? null : planned.problem;
};
const iso = (ms: number) => new Date(ms).toISOString();

describe("the windows a request reports", () => {
  // Wednesday 2 December 2026, 13:00 in New York.
  const now = newYorkTime("2026-12-02", "13:00");

  it("defaults to a month of trading days, each a New York day, the last still open", () => {
    const p = plan({}, now);
    expect(p.timeframe).toBe("1D");
    expect(p.baseAt.every((t) => t === p.starts[0])).toBe(true);
    // 3 November to 2 December, weekends and Thanksgiving (26 November) left out; Veterans Day trades.
    expect(p.starts.map((t) => iso(t).slice(0, 10))).toEqual(
      ["03", "04", "05", "06", "09", "10", "11", "12", "13", "16", "17", "18", "19", "20", "23", "24", "25", "27", "30"].map((d) => `2026-11-${d}`).concat(["2026-12-01", "2026-12-02"]).map((d) => iso(newYorkTime(d, "00:00")).slice(0, 10)),
    );
    expect(p.starts[0]).toBe(newYorkTime("2026-11-03", "00:00"));
    expect(p.ends.at(-1)).toBe(now);
    expect(p.ends.at(-2)).toBe(newYorkTime("2026-12-02", "00:00"));
  });

  it("reports every day with continuous reporting, a crypto trader's seven-day week", () => {
    const p = plan({ period: "1W", timeframe: "1D", intradayReporting: "continuous" }, now);
    expect(p.starts).toEqual(["11-26", "11-27", "11-28", "11-29", "11-30", "12-01", "12-02"].map((d) => newYorkTime(`2026-${d}`, "00:00")));
  });

  it("reports the regular session, the extended one or every window of an intraday timeframe", () => {
    const session = plan({ period: "1D", timeframe: "15Min" }, newYorkTime("2026-12-02", "23:00"));
    expect(session.starts.length).toBe(26);
    expect(session.starts[0]).toBe(newYorkTime("2026-12-02", "09:30"));
    expect(session.starts.at(-1)).toBe(newYorkTime("2026-12-02", "15:45"));
    const extended = plan({ period: "1D", timeframe: "1H", intradayReporting: "extended_hours" }, newYorkTime("2026-12-02", "23:00"));
    expect(extended.starts.length).toBe(16);
    expect(extended.starts[0]).toBe(newYorkTime("2026-12-02", "04:00"));
    const continuous = plan({ period: "1D", timeframe: "1H", intradayReporting: "continuous" }, newYorkTime("2026-12-03", "00:00"));
    expect(continuous.starts.length).toBe(24);
    // The day after Thanksgiving closes at 13:00: 14 windows of 15 minutes from 09:30.
    expect(plan({ dateEnd: "2026-11-27", period: "1D", timeframe: "15Min" }, now).starts.length).toBe(14);
    // A New York day with a clock change has 25 hours (1 November 2026).
    expect(plan({ dateEnd: "2026-11-01", period: "1D", timeframe: "1H", intradayReporting: "continuous" }, now).starts.length).toBe(25);
  });

  it("picks the timeframe by span as Alpaca does, and per_day bases for intraday ones", () => {
    const short = plan({ period: "1D" }, now);
    expect(short.timeframe).toBe("1Min");
    expect(short.baseAt.every((t) => t === newYorkTime("2026-12-02", "00:00"))).toBe(true);
    expect(plan({ period: "2W" }, now).timeframe).toBe("15Min");
    expect(plan({ period: "1A" }, now).timeframe).toBe("1D");
    const noReset = plan({ period: "1D", pnlReset: "no_reset" }, now);
    expect(noReset.baseAt.every((t) => t === noReset.starts[0])).toBe(true);
  });

  it("reads start, end and period as Alpaca does: any two, a period ending at end or starting at start", () => {
    const start = newYorkTime("2026-11-02", "00:00");
    const fromStart = plan({ start, period: "1W", timeframe: "1D", intradayReporting: "continuous" }, now);
    expect(fromStart.starts[0]).toBe(start);
    expect(fromStart.starts.length).toBe(7);
    const both = plan({ start: newYorkTime("2026-12-01", "10:00"), end: newYorkTime("2026-12-01", "11:00"), timeframe: "5Min" }, now);
    expect(both.starts.length).toBe(12);
    expect(both.ends.at(-1)).toBe(newYorkTime("2026-12-01", "11:00"));
  });

  it("reports nothing before the account existed, nor after now", () => {
    const created = newYorkTime("2026-12-02", "10:07");
    const p = plan({ period: "1D", timeframe: "5Min" }, now, created);
    // The window holding the account's opening (10:05) is its first.
    expect(p.starts[0]).toBe(newYorkTime("2026-12-02", "10:05"));
    // The last window ends now: 12:55 to 13:00.
    expect(p.starts.at(-1)).toBe(newYorkTime("2026-12-02", "12:55"));
    expect(p.ends.at(-1)).toBe(now);
    expect(plan({ period: "1W", timeframe: "1D" }, now, now + 1).starts).toEqual([]);
    // A window asked to end at the very instant the account opened holds nothing of it (QA).
    expect(plan({ start: created - 48_000, end: created, timeframe: "1Min", intradayReporting: "continuous" }, now, created).starts).toEqual([]);
    expect(plan({ start: created - 48_000, end: created + 1, timeframe: "1Min", intradayReporting: "continuous" }, now, created).starts).toEqual([newYorkTime("2026-12-02", "10:07")]);
  });

  it("refuses what cannot be answered, naming the parameter", () => {
    expect(problemOf({ start: 1, end: 2, period: "1D" })?.path).toBe("period");
    expect(problemOf({ period: "1X" })?.path).toBe("period");
    expect(problemOf({ period: "0D" })?.path).toBe("period");
    expect(problemOf({ period: "2M", timeframe: "15Min" })).toEqual({ path: "timeframe", message: "15Min covers at most 30 days; use 1D for a longer span" });
    expect(problemOf({ timeframe: "1Week" })?.path).toBe("timeframe");
    expect(problemOf({ dateEnd: "2026-02-30" })?.path).toBe("date_end");
    expect(problemOf({ dateEnd: "2026-12-01", end: 5 })?.path).toBe("date_end");
    expect(problemOf({ start: 10, end: 5 })?.path).toBe("start");
    // Spans outside the calendar's years, each refusal naming the parameter that reached out (QA).
    expect(problemOf({ end: Date.UTC(1970, 0, 3) })).toEqual({ path: "end", message: "end must leave a month after 1970-01-02 (or give start or period)" });
    expect(problemOf({ dateEnd: "1970-01-02" })?.path).toBe("date_end");
    expect(problemOf({ dateEnd: "2099-12-31", timeframe: "1D" })).toBeNull();
    expect(problemOf({ end: Date.UTC(2099, 11, 31, 12), timeframe: "1D" })).toBeNull();
    // Thirty days of New York's clock: an hour more is refused unless the clock fell back in the span.
    expect(problemOf({ start: Date.UTC(2026, 0, 5, 4), end: Date.UTC(2026, 1, 4, 5), timeframe: "1Min" })?.path).toBe("timeframe");
    expect(problemOf({ start: Date.UTC(2026, 0, 5, 4), end: Date.UTC(2026, 1, 4, 4), timeframe: "1Min" })).toBeNull();

    expect(problemOf({ period: "9999A" })).toEqual({ path: "period", message: "the span must be from 1970-01-02 to 2099-12-31 (New York dates)" });
    // A long period inside the calendar is a period (10,000 days), a real date past it out of range (QA).
    expect(problemOf({ period: "10000D", timeframe: "1D" })).toBeNull();
    expect(problemOf({ dateEnd: "2100-01-02", period: "1D" })).toEqual({ path: "date_end", message: "date_end must be from 1970-01-02 to 2099-12-31 (New York dates)" });
    expect(problemOf({ start: 0 })?.path).toBe("start");
    expect(problemOf({ start: newYorkTime("2099-12-01", "00:00"), period: "1A" })?.path).toBe("period");
    expect(problemOf({ end: Date.UTC(2200, 0, 1) })?.path).toBe("end");
    // A month of New York days across the November clock change is 30 days and an hour: allowed.
    expect(problemOf({ start: newYorkTime("2026-10-15", "00:00"), end: newYorkTime("2026-11-14", "00:00"), timeframe: "1H" })).toBeNull();
  });
});

describe("any request", () => {
  it("is planned or refused, never thrown, and a plan's windows are in order, open, and end by now (3,000 runs)", () => {
    const instant = fc.oneof(fc.integer({ min: -1e13, max: 1e13 }), fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2027, 0, 1) }));
    fc.assert(
      fc.property(
        fc.record(
          {
            period: fc.oneof(fc.stringMatching(/^\d{1,4}[DWMAdwmaX]$/), fc.string({ maxLength: 5 })),
            timeframe: fc.constantFrom("1Min", "5Min", "15Min", "1H", "1D", "1Hour"),
            intradayReporting: fc.constantFrom("market_hours" as const, "extended_hours" as const, "continuous" as const),
            pnlReset: fc.constantFrom("per_day" as const, "no_reset" as const),
            start: instant,
            end: instant,
            dateEnd: fc.oneof(fc.constantFrom("2026-12-01", "1970-01-01", "2099-12-31", "2026-13-01"), fc.string({ maxLength: 10 })),
          },
          { requiredKeys: [] },
        ),
        instant,
        instant,
        (q, now, createdAt) => {
          const planned = planPortfolio(q, now, createdAt);
          if (!planned.ok) return;
          const { starts, ends, baseAt } = planned.plan;
          // The span the account reads covers every instant the history values.
          const spanned = portfolioSpan(q, now);
          if (!spanned.ok) throw new Error("a planned request has a span");
          const span = readSpan(spanned.span, now);
          for (const t of [...baseAt, ...ends]) expect(t >= span.from && t <= span.until).toBe(true);
          expect(ends.length).toBe(starts.length);
          expect(starts.length).toBeLessThanOrEqual(50_000);
          starts.forEach((s, i) => {
            expect(ends[i]!).toBeGreaterThanOrEqual(s);
            expect(ends[i]!).toBeLessThanOrEqual(now);
            expect(ends[i]!).toBeGreaterThan(createdAt);
            if (i > 0) expect(s).toBeGreaterThanOrEqual(ends[i - 1]!);
            expect(baseAt[i]!).toBeLessThanOrEqual(s);
          });
        },
      ),
      { numRuns: 3000 },
    );
    // Found by it (seed -887123371): continuous days on a clock past the calendar's last year threw.
    expect(planPortfolio({ period: "90A", intradayReporting: "continuous" }, Date.UTC(2100, 0, 1, 5, 0, 0, 1), Date.UTC(2026, 0, 1)).ok).toBe(true);
  });
});

describe("the account's activities as holdings", () => {
  const fill = (t: number, side: "buy" | "sell", qty: string, price: string, fee = "0", symbol = "BTC/USD") => ({ type: "FILL", t, data: { symbol, side, qty, price, fee, transaction_time: iso(t) } });
  const cash = (t: number, amount: string, description = "deposit", type = "CSD") => ({ type, t, data: { net_amount: amount, description } });

  it("reads a fill's cash (notional and fee), quantity and price, and a reset as positions closed", () => {
    expect(holdingChange(fill(1, "buy", "0.5", "100.10", "0.05"))).toEqual({ t: 1, cash: -money("50.1"), symbol: "BTC/USD", qty: money("0.5"), price: money("100.10") });
    expect(holdingChange(fill(1, "sell", "2", "10", "0.01"))!.cash).toBe(money("19.99"));
    expect(holdingChange(cash(2, "-25.5", "account reset to 100000.00 (cash was 100025.50, positions closed at no price)", "JNLC"))).toEqual({ t: 2, cash: -money("25.5"), reset: true });
    // Another journal entry that says nothing of a reset is only cash.
    expect(holdingChange(cash(2, "5", "account reset to", "CSD"))).toEqual({ t: 2, cash: money("5") });
  });

  it("folds what came before the span and keeps what is in it, with every symbol held", () => {
    const rows = [cash(1, "1000", "opening deposit"), fill(2, "buy", "1", "100"), fill(3, "buy", "2", "10", "0", "ETH/USD"), fill(5, "sell", "2", "11", "0", "ETH/USD"), fill(6, "buy", "1", "5", "0", "SOL/USD"), fill(9, "buy", "1", "7", "0", "SOL/USD")];
    const fold = foldActivities(rows, 4, 8, 1);
    expect(fold.opening).toEqual({ cash: money("880"), qty: { "BTC/USD": money("1"), "ETH/USD": money("2") }, price: { "BTC/USD": money("100"), "ETH/USD": money("10") }, priceAt: { "BTC/USD": 2, "ETH/USD": 3 } });
    expect(fold.changes.map((c) => c.t)).toEqual([5, 6]);
    expect(fold.symbols).toEqual(["BTC/USD", "ETH/USD", "SOL/USD"]);
  });
});

// ---- the series against a model ----------------------------------------------------------

/**
 * The equity at T from scratch: cash is every change's cash before T; a symbol's quantity
 * is its fills' since the last reset before T; its price is the latest known by T of its
 * fills (before T) and bars (ended by T), a fill over a bar of the same instant.
 */
function modelEquity(changes: HoldingChange[], bars: Record<string, PricePoint[]>, T: number): Money {
  const before = changes.filter((c) => c.t < T);
  const lastReset = before.map((c, i) => (c.reset ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  let equity = before.reduce((s, c) => s + c.cash, 0n);
  const symbols = new Set(before.filter((c) => c.symbol !== undefined).map((c) => c.symbol!));
  for (const symbol of symbols) {
    const qty = before.slice(lastReset + 1).reduce((s, c) => (c.symbol === symbol ? s + c.qty! : s), 0n);
    if (qty === 0n) continue;
    const known = [
      ...before.filter((c) => c.symbol === symbol).map((c) => ({ at: c.t, rank: 1, price: c.price! })),
      ...(bars[symbol] ?? []).filter((b) => b.known <= T).map((b) => ({ at: b.known, rank: 0, price: b.price })),
    ].sort((a, b) => a.at - b.at || a.rank - b.rank);
    equity += (qty * known.at(-1)!.price) / MONEY_ONE;
  }
  return equity;
}

const SYMBOLS = ["A/USD", "B/USD"];
const cents = (n: number) => BigInt(n) * (MONEY_ONE / 100n);
const lots = (n: number) => BigInt(n) * (MONEY_ONE / 1000n);
const changeArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.integer({ min: 0, max: 200 }), symbol: fc.constantFrom(...SYMBOLS), buy: fc.boolean(), qty: fc.integer({ min: 1, max: 5000 }), price: fc.integer({ min: 1, max: 50_000 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.integer({ min: 0, max: 200 }), amount: fc.integer({ min: -100_000, max: 1_000_000 }), reset: fc.boolean() }) },
);
const barArb = fc.record({ known: fc.integer({ min: 0, max: 220 }), symbol: fc.constantFrom(...SYMBOLS), price: fc.integer({ min: 1, max: 50_000 }) });

describe("the equity series", () => {
  it("values every instant as the model does, whatever the fills, cash, resets and bars (2,000 runs)", () => {
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 40 }), fc.array(barArb, { maxLength: 40 }), fc.uniqueArray(fc.integer({ min: 0, max: 230 }), { maxLength: 30 }), fc.integer({ min: 0, max: 230 }), (raw, rawBars, rawInstants, from) => {
        const all: HoldingChange[] = raw
          .map((r): HoldingChange => {
            if ("symbol" in r) {
              const qty = lots(r.qty);
              const price = cents(r.price);
              return { t: r.t, cash: (r.buy ? -1n : 1n) * ((qty * price) / MONEY_ONE), symbol: r.symbol, qty: r.buy ? qty : -qty, price };
            }
            return { t: r.t, cash: cents(r.amount), ...(r.reset ? { reset: true } : {}) };
          })
          .sort((a, b) => a.t - b.t);
        const bars: Record<string, PricePoint[]> = {};
        for (const b of [...rawBars].sort((x, y) => x.known - y.known)) (bars[b.symbol] ??= []).push({ known: b.known, price: cents(b.price) });
        // The fold as the account makes it: what came before `from` as opening holdings.
        const opening = { cash: 0n, qty: {}, price: {}, priceAt: {} };
        for (const c of all) if (c.t < from) applyChange(opening, c);
        const fold = { from, opening, changes: all.filter((c) => c.t >= from) };
        const instants = rawInstants.filter((t) => t >= from).sort((a, b) => a - b);
        const got = equityAt(fold, bars, instants);
        expect(got).toEqual(instants.map((T) => modelEquity(all, bars, T)));
        // An instant before the fold's start would count changes the opening already holds: refused.
        if (from > 0) expect(() => equityAt(fold, bars, [from - 1])).toThrow(RangeError);
      }),
      { numRuns: 2000 },
    );
  });

  it("answers Alpaca's shape: dollars to the cent, P&L and its ratio from a new account's opening deposit", () => {
    const t0 = newYorkTime("2026-12-01", "00:00");
    const p: PortfolioPlan = { timeframe: "1D", starts: [t0, t0 + DAY, t0 + 2 * DAY], ends: [t0 + DAY, t0 + 2 * DAY, t0 + 2 * DAY + 5 * MIN], baseAt: [t0, t0, t0] };
    // Opened at t0 + 1 s with 1,000; a share bought for 100.004 and a fee of 1 in its first window.
    const changes: HoldingChange[] = [
      { t: t0 + 1000, cash: money("1000") },
      { t: t0 + 2000, cash: -money("101.004"), symbol: "A/USD", qty: money("1"), price: money("100.004") },
    ];
    const bars = { "A/USD": [{ known: t0 + DAY + 3 * 3_600_000, price: money("120") }] };
    const view = portfolioHistory(p, { createdAt: t0 + 1000, from: t0, opening: { cash: 0n, qty: {}, price: {}, priceAt: {} }, changes }, bars);
    expect(view).toEqual({
      timestamp: p.starts.map((t) => t / 1000),
      // 898.996 cash and the share at its fill price, then at the bar's 120 (rounded to the cent).
      equity: [999, 1019, 1019],
      profit_loss: [-1, 19, 19],
      // Twelve decimals, printed as such: -0.001, not -0.0010000000000000009.
      profit_loss_pct: [-0.001, 0.018996, 0.018996],
      base_value: 1000,
      base_value_asof: "2026-12-01",
      timeframe: "1D",
    });
    // The same account a day older: measured from the equity when the span began.
    const older = portfolioHistory(p, { createdAt: t0 - DAY, from: t0, opening: { cash: money("1000"), qty: {}, price: {}, priceAt: {} }, changes: changes.slice(1) }, bars);
    expect([older.base_value, older.base_value_asof, older.profit_loss[0]]).toEqual([1000, "2026-11-30", -1]);
  });

  it("with no window to report (a weekend), still answers the base: the equity the span began with, and as of when", () => {
    // Found in QA: base_value 0 and no base_value_asof.
    const t0 = newYorkTime("2026-12-05", "00:00");
    const empty: PortfolioPlan = { timeframe: "1D", starts: [], ends: [], baseAt: [] };
    const opening = { cash: money("990"), qty: { "A/USD": money("1") }, price: { "A/USD": money("10.005") }, priceAt: { "A/USD": t0 - DAY } };
    const view = portfolioHistory(empty, { createdAt: t0 - 5 * DAY, from: t0, opening, changes: [] }, {});
    expect(view).toEqual({ timestamp: [], equity: [], profit_loss: [], profit_loss_pct: [], base_value: 1000.01, base_value_asof: "2026-12-04", timeframe: "1D" });
  });

  it("measures points after a reset from the equity the reset left, as last_equity is", () => {
    // Found in QA: a reset to 50,000.55 read a day's P&L of -49,999.45 here and 0 on /v2/account.
    const d1 = newYorkTime("2026-12-01", "00:00");
    const p: PortfolioPlan = { timeframe: "1H", starts: [d1 + 3_600_000, d1 + 7_200_000, d1 + 10_800_000], ends: [d1 + 7_200_000, d1 + 10_800_000, d1 + 14_400_000], baseAt: [d1, d1, d1] };
    const changes: HoldingChange[] = [
      { t: d1 + 3_700_000, cash: money("-40") },
      // The reset: every position closed, the cash set to 50,010.55.
      { t: d1 + 7_300_000, cash: money("-49909.45"), reset: true },
      { t: d1 + 11_000_000, cash: money("10") },
    ];
    const view = portfolioHistory(p, { createdAt: d1 - DAY, from: d1, opening: { cash: money("99960"), qty: {}, price: {}, priceAt: {} }, changes }, {});
    expect(view.equity).toEqual([99920, 50010.55, 50020.55]);
    // Before the reset, from the day's start; after it, from the reset's 50,010.55.
    expect(view.profit_loss).toEqual([-40, 0, 10]);
    expect(view.base_value).toBe(99960);
  });

  it("measures intraday points per day from the equity the day began with", () => {
    const d1 = newYorkTime("2026-12-01", "00:00");
    const d2 = newYorkTime("2026-12-02", "00:00");
    const p: PortfolioPlan = { timeframe: "1H", starts: [d1 + 3_600_000, d2 + 3_600_000], ends: [d1 + 7_200_000, d2 + 7_200_000], baseAt: [d1, d2] };
    const changes: HoldingChange[] = [
      { t: d1 - 5, cash: money("500") },
      { t: d1 + 10, cash: money("100") },
      { t: d2 + 10, cash: money("-50") },
    ];
    const view = portfolioHistory(p, { createdAt: d1 - 10, from: d1 - 10, opening: { cash: 0n, qty: {}, price: {}, priceAt: {} }, changes }, {});
    expect(view.equity).toEqual([600, 550]);
    expect(view.profit_loss).toEqual([100, -50]);
    expect(view.base_value).toBe(500);
    expect(view.base_value_asof).toBe("2026-11-30");
  });
});

// ---- reconciled with the account ----------------------------------------------------------

describe("the activities against the account's ledger", () => {
  it("fold to the ledger's cash and positions after any run of fills (fees), deposits and resets (100 runs)", async () => {
    const op = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant("trade" as const), side: fc.constantFrom("buy" as const, "sell" as const), qty: fc.integer({ min: 1, max: 3000 }), price: fc.integer({ min: 5_000, max: 15_000 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("deposit" as const), cents: fc.integer({ min: 1, max: 10_000_000 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const), cents: fc.integer({ min: 100, max: 50_000_000 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const h = harness({ specs: [COIN], venue: { takerBps: 25, minFee: "0.01", slippageTicks: 0 } });
        for (const o of ops) {
          h.advance(1_000);
          if (o.kind === "trade") {
            const price = (o.price / 100).toFixed(2);
            await h.quote(price, price, "1000");
            await h.place({ side: o.side, qty: (o.qty / 1000).toFixed(3) });
          } else if (o.kind === "deposit") await h.runner.deposit(BigInt(o.cents) * (MONEY_ONE / 100n), null);
          else await h.runner.reset(BigInt(o.cents) * (MONEY_ONE / 100n), null);
        }
        const rows = h.book.activities({ types: null, after: null, until: null, direction: "asc", pageSize: 1_000_000, pageToken: null });
        const fold = foldActivities(rows, h.now() + 1, h.now() + 1, 0);
        const ledger = h.engine.ledger;
        expect(fold.opening.cash).toBe(ledger.cash + ledger.reservedCash);
        const held = Object.fromEntries(Object.entries(ledger.positions).filter(([, p]) => p.qty !== 0).map(([symbol, p]) => [symbol, quantityOf(p.qty, COIN)]));
        expect(fold.opening.qty).toEqual(held);
      }),
      { numRuns: 100 },
    );
  });
});
