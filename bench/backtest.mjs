// The backtester against grademark and a bare loop: `npm run bench:backtest`
//   env BACKTEST_BARS (default 1000000), GRADEMARK_BARS (default: BACKTEST_BARS),
//       INDICATOR_UPDATES (default 1000000), BACKTEST_SEED (20260102).
// Seeded 1-minute bars (bench/lib/random.mjs) go through, each timed on its own:
//  (a) runBacktest with the ma-cross template, SMA(10)/SMA(30) — the full engine: every
//      bar played as 4 quotes and 4 trades through the Venue, the AccountEngine and the
//      strategy runtime (shared/strategy, bundled with esbuild);
//  (b) grademark 0.3 (data-forge DataFrame + backtest()) on the same rule: enter at the
//      next open after a cross up, exit at the next open after a cross down. Its rules read
//      the cross from columns computed beforehand (as grademark's examples add indicator
//      series first); building the DataFrame and the backtest are timed, the columns not;
//  (c) a bare loop of the rule over the same bars (running tick sums, fills at next opens);
//  (d) indicator updates/s: shared/indicators' SMA(30), EMA(30), RSI(14) next to
//      trading-signals' same indicators, on the same closes (as prices, not ticks).
// Each is run once on a short prefix first so that it is measured warm. Prints bars/s and
// a `BENCH_RESULT {...}` line, also written to bench/results/backtest.json.
import { createRequire } from "node:module";
import { EMA as TsEMA, RSI as TsRSI, SMA as TsSMA } from "trading-signals";
import { round, writeResult } from "./lib/platform.mjs";
import { seededRandom } from "./lib/random.mjs";
import { importBundle, reexport } from "../scripts/lib/bundle.mjs";

const require = createRequire(import.meta.url);
const { DataFrame } = require("data-forge");
const { backtest: grademarkBacktest } = require("grademark");

const BARS = Number(process.env.BACKTEST_BARS ?? 1_000_000);
const GRADEMARK_BARS = Math.min(BARS, Number(process.env.GRADEMARK_BARS ?? BARS));
const INDICATOR_UPDATES = Number(process.env.INDICATOR_UPDATES ?? 1_000_000);
const SEED = Number(process.env.BACKTEST_SEED ?? 20_260_102);
const WARM_UP_BARS = 20_000;
const FAST = 10;
const SLOW = 30;
const MINUTE = 60_000;
const START = Date.UTC(2024, 0, 1);
const SPEC = { symbol: "BENCH/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.000000001", timeZone: "UTC" };
const LIFTED = "1000000000000";
const LIMITS = { maxOrderQty: LIFTED, maxOrderNotional: LIFTED, maxPositionNotional: LIFTED, dailyLossLimit: LIFTED, ordersPerMinute: 100_000 };

/** Minute bars in ticks around 200.00, pulled gently back so a million of them stay in range. */
function seededTicks(count) {
  const rand = seededRandom(SEED);
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const bars = new Array(count);
  let close = 20_000;
  for (let i = 0; i < count; i++) {
    const open = Math.max(1_000, close + int(-1, 1));
    close = Math.max(1_000, open + int(-8, 8) + Math.round((20_000 - open) / 2_000));
    bars[i] = { t: START + i * MINUTE, open, high: Math.max(open, close) + int(0, 4), low: Math.max(500, Math.min(open, close) - int(0, 4)), close };
  }
  return bars;
}

const seconds = (from) => (performance.now() - from) / 1000;

/** The rule's state C[t] for every bar (null before index slow − 1), exact in ticks. */
function crossStates(ticks) {
  const above = new Array(ticks.length).fill(null);
  let fastSum = 0;
  let slowSum = 0;
  for (let t = 0; t < ticks.length; t++) {
    fastSum += ticks[t].close;
    slowSum += ticks[t].close;
    if (t >= FAST) fastSum -= ticks[t - FAST].close;
    if (t >= SLOW) slowSum -= ticks[t - SLOW].close;
    if (t >= SLOW - 1) above[t] = SLOW * fastSum > FAST * slowSum;
  }
  return above;
}

/** (c) The rule as a bare loop: fills (bar index, side, open in ticks). */
function bareLoop(ticks) {
  const fills = [];
  let fastSum = 0;
  let slowSum = 0;
  let before = null;
  let long = false;
  for (let t = 0; t + 1 < ticks.length; t++) {
    const close = ticks[t].close;
    fastSum += close;
    slowSum += close;
    if (t >= FAST) fastSum -= ticks[t - FAST].close;
    if (t >= SLOW) slowSum -= ticks[t - SLOW].close;
    if (t < SLOW - 1) continue;
    const above = SLOW * fastSum > FAST * slowSum;
    if (before !== null && !before && above && !long) {
      fills.push({ bar: t + 1, side: "buy", price: ticks[t + 1].open });
      long = true;
    } else if (before && !above && long) {
      fills.push({ bar: t + 1, side: "sell", price: ticks[t + 1].open });
      long = false;
    }
    before = above;
  }
  return fills;
}

/** (b) grademark on the same bars and rule; answers its trades. */
function grademark(ticks, above) {
  const rows = ticks.map((b, i) => ({ time: new Date(b.t), open: b.open / 100, high: b.high / 100, low: b.low / 100, close: b.close / 100, crossUp: above[i - 1] === false && above[i] === true, crossDown: above[i - 1] === true && above[i] === false }));
  const started = performance.now();
  const series = new DataFrame(rows);
  const trades = grademarkBacktest(
    {
      entryRule: (enter, { bar }) => {
        if (bar.crossUp) enter();
      },
      exitRule: (exit, { bar }) => {
        if (bar.crossDown) exit();
      },
    },
    series,
  );
  return { trades, seconds: seconds(started) };
}

async function engine(m, ticks) {
  const price = (x) => x / 100;
  const bars = ticks.map((b) => ({ t: b.t, open: price(b.open), high: price(b.high), low: price(b.low), close: price(b.close), volume: 1 }));
  const template = m.TEMPLATES.get("ma-cross");
  const started = performance.now();
  const result = await m.runBacktest({ strategy: template.create(), bars, spec: SPEC, params: { fast: FAST, slow: SLOW, sizing: "all_in" }, cash: "100000", halfSpreadTicks: 0, venue: { slippageTicks: 0 }, limits: LIMITS });
  return { result, seconds: seconds(started) };
}

function indicatorRate(make, update, closes) {
  const indicator = make();
  const started = performance.now();
  for (let i = 0; i < closes.length; i++) update(indicator, closes[i]);
  return round(closes.length / seconds(started), 0);
}

function indicators(m, closes) {
  const ours = (make) => indicatorRate(make, (x, v) => x.update(v), closes);
  const theirs = (make) => indicatorRate(make, (x, v) => x.update(v, false), closes);
  const rows = {
    "SMA(30)": { redfire: () => new m.SMA(30), tradingSignals: () => new TsSMA(30) },
    "EMA(30)": { redfire: () => new m.EMA(30), tradingSignals: () => new TsEMA(30) },
    "RSI(14)": { redfire: () => new m.RSI(14), tradingSignals: () => new TsRSI(14) },
  };
  const out = {};
  // The best of three runs each (after a warm-up): a shared machine slows single runs at random.
  const best = (run) => Math.max(run(), run(), run());
  for (const [name, make] of Object.entries(rows)) {
    ours(make.redfire);
    theirs(make.tradingSignals);
    out[name] = { redfire: best(() => ours(make.redfire)), tradingSignals: best(() => theirs(make.tradingSignals)) };
  }
  return out;
}

const m = await importBundle(
  [reexport(["runBacktest"], "shared/strategy/backtest.ts"), reexport(["TEMPLATES"], "shared/strategy/templates/index.ts"), reexport(["SMA", "EMA", "RSI"], "shared/indicators/index.ts")],
  "redfire-bench-backtest-",
);
const ticks = seededTicks(BARS);
const above = crossStates(ticks);
console.log(`${BARS} seeded 1-minute bars (${new Date(START).toISOString()} … ${new Date(ticks.at(-1).t).toISOString()}), ma-cross SMA(${FAST})/SMA(${SLOW})`);

await engine(m, ticks.slice(0, WARM_UP_BARS));
const full = await engine(m, ticks);
const engineRate = BARS / full.seconds;
console.log(`(a) full engine: ${round(full.seconds, 2)} s, ${round(engineRate, 0)} bars/s, ${full.result.fills.length} fills, ${full.result.metrics.trades} round trips`);

grademark(ticks.slice(0, WARM_UP_BARS), above.slice(0, WARM_UP_BARS));
const gm = grademark(ticks.slice(0, GRADEMARK_BARS), above.slice(0, GRADEMARK_BARS));
const grademarkRate = GRADEMARK_BARS / gm.seconds;
console.log(`(b) grademark: ${GRADEMARK_BARS} bars in ${round(gm.seconds, 2)} s, ${round(grademarkRate, 0)} bars/s, ${gm.trades.length} trades`);

bareLoop(ticks.slice(0, WARM_UP_BARS));
const bareStarted = performance.now();
const bare = bareLoop(ticks);
const bareSeconds = seconds(bareStarted);
const bareRate = BARS / bareSeconds;
console.log(`(c) bare loop: ${round(bareSeconds, 3)} s, ${round(bareRate, 0)} bars/s, ${bare.length} fills`);

// The engine must have traded as the bare loop did, or its speed means nothing.
const engineFills = full.result.fills.map((f) => `${f.transaction_time} ${f.side} ${f.price}`);
const bareFills = bare.map((f) => `${new Date(ticks[f.bar].t).toISOString()} ${f.side} ${(f.price / 100).toFixed(2)}`);
const sameTrades = engineFills.length === bareFills.length && engineFills.every((f, i) => f === bareFills[i]);
console.log(sameTrades ? "the engine's fills equal the bare loop's (time, side, price)" : `MISMATCH: the engine's ${engineFills.length} fills differ from the bare loop's ${bareFills.length}`);
// grademark evaluates no rule on the bar it enters or exits, so a cross on that very bar is
// missed and its trade list can differ slightly; its count is reported, not compared.

const closes = ticks.slice(0, INDICATOR_UPDATES).map((b) => b.close / 100);
const indicatorRates = indicators(m, closes);
for (const [name, r] of Object.entries(indicatorRates)) console.log(`(d) ${name}: RedFire ${r.redfire} updates/s, trading-signals ${r.tradingSignals} updates/s (${round(r.redfire / r.tradingSignals, 2)}×)`);

const ratio = engineRate / grademarkRate;
console.log(`full engine / grademark: ${round(ratio, 2)}× in bars/s (goal ≥ 10×)`);
writeResult("backtest", {
  bars: BARS,
  seed: SEED,
  engine: { seconds: round(full.seconds, 2), barsPerSecond: round(engineRate, 0), fills: full.result.fills.length, roundTrips: full.result.metrics.trades, sameFillsAsBareLoop: sameTrades },
  grademark: { bars: GRADEMARK_BARS, seconds: round(gm.seconds, 2), barsPerSecond: round(grademarkRate, 0), trades: gm.trades.length },
  bareLoop: { seconds: round(bareSeconds, 3), barsPerSecond: round(bareRate, 0), fills: bare.length },
  indicators: { updates: closes.length, ...indicatorRates },
  engineOverGrademark: round(ratio, 2),
  node: process.version,
});
process.exit(sameTrades ? 0 : 1);
