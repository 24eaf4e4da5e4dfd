import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, signUp, type TestUser } from "./helpers";

// No request to the backtest API gets a 5xx, and a refused one records no backtest:
// bodies mostly shaped like real requests (so they get past parsing into the checks),
// with odd values mixed in.

const odd = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("-1", "1e400", "0", "0.001", "abc", "x".repeat(3000), "2024-02-30", "__proto__", 1e300, -1, 2 ** 53, Number.MAX_SAFE_INTEGER),
  fc.object({ maxDepth: 1 }),
);
const mostly = <T>(usual: fc.Arbitrary<T>) => fc.oneof({ arbitrary: usual, weight: 4 }, { arbitrary: odd, weight: 1 });

const bar = fc.record({
  t: mostly(fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2025, 0, 1) })),
  open: mostly(fc.constantFrom(100, 100.01, 99.99, 100.005)),
  high: mostly(fc.constantFrom(101, 100.5)),
  low: mostly(fc.constantFrom(99, 99.5)),
  close: mostly(fc.constantFrom(100, 100.2, 0.01)),
  volume: mostly(fc.constantFrom(0, 1, 10)),
});

const terms = {
  symbol: mostly(fc.constantFrom("AAPL", "ZZ/USD", "NOPE", "")),
  timeframe: mostly(fc.constantFrom("1Min", "1Hour", "1Day", "7Min", "0Hour", "1Year")),
  start: mostly(fc.constantFrom("2024-01-01", "2024-01-01T00:00:00Z", 0, -1e16)),
  end: mostly(fc.constantFrom("2024-02-01", "2030-01-01", 8.64e15)),
  bars: mostly(fc.array(bar, { maxLength: 30 })),
  tick_size: mostly(fc.constantFrom("0.01", "0", "1e-3", "-1", "0.0000000000000000000001")),
  lot_size: mostly(fc.constantFrom("1", "0.000000001", "0")),
  cash: mostly(fc.constantFrom("100000", "0", "-5", "1e9", "0.000000000000000000001", 1e21)),
  fee_bps: mostly(fc.constantFrom(0, 10, 25.5, 0.001, 1000)),
  min_fee: mostly(fc.constantFrom("0", "0.01", "-1", "1e2")),
  half_spread_ticks: mostly(fc.constantFrom(0, 1, 1_000_000)),
  slippage_ticks: mostly(fc.constantFrom(0, 1, 1_000_000)),
};

const backtest = fc.record(
  {
    template: mostly(fc.constantFrom("ma-cross", "nope")),
    strategy_id: mostly(fc.constantFrom("b0b6dd9d-8b9b-48a9-ba46-b9d54a423796", "x")),
    version: mostly(fc.constantFrom(1, 0, 99)),
    params: mostly(fc.record({ fast: mostly(fc.integer({ min: -2, max: 40 })), slow: mostly(fc.integer({ min: -2, max: 60 })) }, { requiredKeys: [] })),
    ...terms,
  },
  { requiredKeys: [] },
);

const range = fc.oneof(
  fc.record({ values: mostly(fc.array(fc.oneof(fc.integer({ min: -5, max: 50 }), fc.string({ maxLength: 3 })), { maxLength: 6 })) }),
  fc.record({ from: mostly(fc.integer({ min: -10, max: 30 })), to: mostly(fc.integer({ min: -10, max: 60 })), step: mostly(fc.constantFrom(1, 0.5, 0, -1, 1e-9)) }),
  odd,
);

const optimize = fc.record(
  {
    template: mostly(fc.constantFrom("ma-cross", "nope")),
    params: mostly(fc.constant({})),
    ranges: mostly(fc.dictionary(fc.constantFrom("fast", "slow", "sizing", "zzz"), range, { maxKeys: 3 })),
    mode: mostly(fc.constantFrom("grid", "random")),
    samples: mostly(fc.integer({ min: -1, max: 300 })),
    seed: mostly(fc.integer({ min: -1, max: 2 ** 33 })),
    metric: mostly(fc.constantFrom("sharpe", "max_drawdown", "nope")),
    ...terms,
  },
  { requiredKeys: [] },
);

const csvQuery = fc.record(
  {
    symbol: mostly(fc.constantFrom("ZZ/USD", "AAPL")),
    timeframe: mostly(fc.constantFrom("1Min", "1Hour", "nope")),
    template: mostly(fc.constantFrom("ma-cross", "nope")),
    params: mostly(fc.constantFrom('{"fast":2,"slow":3}', "[1]", "null", "{", '"x"')),
    tick_size: mostly(fc.constantFrom("0.01", "0")),
    lot_size: mostly(fc.constantFrom("1", "x")),
    fee_bps: mostly(fc.constantFrom("1", "-1", "abc")),
  },
  { requiredKeys: [] },
);
const csvBody = fc.oneof(
  fc.constantFrom("", "timestamp,open,high,low,close,volume\n", "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,100,101,99,100,1\n2024-01-01T00:01:00Z,100,101,99,100.5,1\n", "a,b\n1,2", "\uFEFF"),
  fc.string({ maxLength: 200 }),
);

// Valid requests with one field replaced: most of them reach the checks past parsing, and some run.
const validBars = Array.from({ length: 12 }, (_, i) => ({ t: Date.UTC(2024, 0, 1) + i * 60_000, open: 100, high: 101, low: 99, close: 100 + (i % 3) / 10, volume: 1 }));
const validBacktest = { template: "ma-cross", params: { fast: 2, slow: 3 }, symbol: "ZZ/USD", timeframe: "1Min", tick_size: "0.01", lot_size: "1", bars: validBars };
const validOptimize = { ...validBacktest, params: { slow: 5 }, ranges: { fast: { values: [2, 3] } }, metric: "sharpe" };
const mutated = (valid: Record<string, unknown>, arbitraries: Record<string, fc.Arbitrary<unknown>>) =>
  fc.tuple(fc.constantFrom(...Object.keys(arbitraries)), fc.nat()).chain(([key]) => arbitraries[key]!.map((value) => ({ ...valid, [key]: value })));
const nearBacktest = mutated(validBacktest, { template: odd, params: odd, strategy_id: odd, ...terms });
const nearOptimize = mutated(validOptimize, { template: odd, params: odd, ranges: fc.dictionary(fc.constantFrom("fast", "slow", "sizing", "zzz"), range, { maxKeys: 2 }), mode: odd, samples: odd, seed: odd, metric: odd, ...terms });

/** A query value's text: objects as JSON (String() throws on one whose toString or valueOf fast-check made odd). */
const queryText = (v: unknown): string => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));
/** A query string of any generated values: objects as JSON, since String() of one fast-check made with a non-callable toString throws. */
const queryOf = (query: Record<string, unknown>) => new URLSearchParams(Object.entries(query).map(([k, v]) => [k, queryText(v)]));
const validCsvQuery = { symbol: "ZZ/USD", timeframe: "1Min", template: "ma-cross", params: '{"fast":2,"slow":3}', tick_size: "0.01", lot_size: "1" };
const validCsv = ["timestamp,open,high,low,close,volume", ...validBars.map((b) => `${new Date(b.t).toISOString()},${b.open},${b.high},${b.low},${b.close},${b.volume}`)].join("\n");
const nearCsv = fc.oneof(
  mutated(validCsvQuery, { symbol: odd, timeframe: odd, template: odd, params: odd, tick_size: odd, lot_size: odd, cash: odd, half_spread_ticks: odd }).map((q) => ({ query: q, text: validCsv })),
  fc.tuple(fc.nat({ max: validCsv.length }), fc.string({ maxLength: 6 })).map(([at, junk]) => ({ query: validCsvQuery, text: validCsv.slice(0, at) + junk + validCsv.slice(at) })),
);

let users: TestUser[];
beforeAll(async () => {
  users = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
});

const rows = async (userId: string) => (await env.DB.prepare("SELECT count(*) AS n FROM backtests WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;

describe("the backtest API under odd input", () => {
  it("never answers 5xx, and a refusal records no backtest", async () => {
    let turn = 0;
    const request = fc.oneof(
      backtest.map((b) => ({ path: "/api/backtests", init: { body: b } })),
      nearBacktest.map((b) => ({ path: "/api/backtests", init: { body: b } })),
      optimize.map((b) => ({ path: "/api/backtests/optimize", init: { body: b } })),
      nearOptimize.map((b) => ({ path: "/api/backtests/optimize", init: { body: b } })),
      nearCsv.map(({ query, text }) => ({ path: `/api/backtests/csv?${queryOf(query)}`, init: { rawBody: text, headers: { "content-type": "text/csv" } } })),
      fc.tuple(csvQuery, csvBody).map(([q, text]) => ({ path: `/api/backtests/csv?${queryOf(q)}`, init: { rawBody: text, headers: { "content-type": "text/csv" } } })),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ path, init }) => {
        const user = users[turn++ % users.length]!;
        const before = await rows(user.id);
        const res = await call(path, { method: "POST", ...init, token: user.access, ip: user.ip });
        const text = await res.text();
        expect(res.status, `${path} ${JSON.stringify(init).slice(0, 500)} → ${text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) expect(await rows(user.id)).toBe(before);
      }),
      { numRuns: 200 },
    );
  }, 120_000);
});
