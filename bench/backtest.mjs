// The backtester against grademark and a bare loop: `npm run bench:backtest`
//   env BACKTEST_BARS (default 1000000), GRADEMARK_BARS (default: BACKTEST_BARS),
//       INDICATOR_UPDATES (default 1000000), BACKTEST_SEED (20260102).
// Seeded 1-minute bars (bench/lib/random.mjs) go through, each timed on its own:
//  (a) runBacktest with the ma-cross template, SMA(10)/SMA(30) — the full engine: every
//      bar played as 4 quotes and 4 trades through the Venue, the AccountEngine and the
//      strategy runtime (shared/strategy, bundled with esbuild);
//      the result's fills (its trade list) are read inside the timed run, its orders' views after it;
//  (b) grademark 0.3 (data-forge DataFrame + backtest()) on the same rule: enter at the
//      next open after a cross up, exit at the next open after a cross down. Its rules read
//      the cross from columns computed beforehand (as grademark's examples add indicator
//      series first); building the DataFrame and the backtest are timed, the columns not;
//  (b2) grademark end to end: the same, with its two moving averages computed by data-forge
//      (rolling windows) and the cross columns derived from them inside the timed run, as
//      the full engine computes its own;
//  (c) a bare loop of the rule over the same bars (running tick sums, fills at next opens);
//  (d) indicator updates/s: shared/indicators' SMA(30), EMA(30), RSI(14) next to
//      trading-signals' same indicators, on the same closes (as prices, not ticks);
//  (e) when the platform has its backtest API (workers/routes/backtests.ts) and
//      BACKTEST_PLATFORM is not 0: the first PLATFORM_BARS (default: all of them, up to the
//      API's cap of 1,000,000) of the same bars uploaded as CSV to a local `wrangler dev`
//      (POST /api/backtests/csv, streamed into the job), polled until done, the result
//      fetched: wall time from upload to result, and the upload's share of it;
//  (f) the upload's CSV parser (shared/market/csv.ts) in Node on the same CSV, rows/s, next
//      to a bare loop that only splits the lines and reads the numbers;
//  (g) with (e): the same rule written as user code (JavaScript, saved with POST
//      /api/strategies), backtested on the same upload in the Worker Loader's sandbox.
// (a), (b) and (b2) each run in Node processes of their own, in turns (a, b, b2, a, …), the
// side's input made first, a short prefix run to warm it up, then two timed runs; each is
// the best of three such processes (BENCH_RUNS), as (d) is of three runs in this process.
// All three run with the same V8 flags (SIDE_NODE_FLAGS, default --max-semi-space-size=64).
// Prints bars/s and a `BENCH_RESULT {...}` line, also written to bench/results/backtest.json.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, URLSearchParams } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EMA as TsEMA, RSI as TsRSI, SMA as TsSMA } from "trading-signals";
import { api, expectStatus, freePort, makeAdminViaScript, ROOT, round, sleep, startWranglerDev, stopWranglerDev, waitHealthy, writeResult } from "./lib/platform.mjs";
import { seededRandom } from "./lib/random.mjs";
import { importBundle, reexport } from "../scripts/lib/bundle.mjs";

const require = createRequire(import.meta.url);
const { DataFrame, Series } = require("data-forge");
const { backtest: grademarkBacktest } = require("grademark");

const BARS = Number(process.env.BACKTEST_BARS ?? 1_000_000);
const GRADEMARK_BARS = Math.min(BARS, Number(process.env.GRADEMARK_BARS ?? BARS));
const INDICATOR_UPDATES = Number(process.env.INDICATOR_UPDATES ?? 1_000_000);
const SEED = Number(process.env.BACKTEST_SEED ?? 20_260_102);
const PLATFORM_BARS = Math.min(BARS, Number(process.env.PLATFORM_BARS ?? 1_000_000));
const PLATFORM = process.env.BACKTEST_PLATFORM !== "0" && existsSync(join(ROOT, "workers/routes/backtests.ts"));
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

/** grademark's rule for the cross: enter on a bar flagged crossUp, exit on one flagged crossDown (it fills at the next open). */
const CROSS_RULES = {
  entryRule: (enter, { bar }) => {
    if (bar.crossUp) enter();
  },
  exitRule: (exit, { bar }) => {
    if (bar.crossDown) exit();
  },
};
/** A bar as grademark takes it: prices, not ticks, and its cross flags (one object literal: a spread or a late property makes grademark's reads of it measurably slower). */
const grademarkBar = (b, crossUp = false, crossDown = false) => ({ time: new Date(b.t), open: b.open / 100, high: b.high / 100, low: b.low / 100, close: b.close / 100, crossUp, crossDown });
/** Whether the cross state went from `from` at bar i-1 to `to` at bar i. */
const crossed = (stateAt, i, from, to) => stateAt(i - 1) === from && stateAt(i) === to;

/** (b)'s input: grademark's bars with the cross flags computed beforehand. */
function grademarkRows(ticks, above) {
  const stateAt = (i) => above[i];
  return ticks.map((b, i) => grademarkBar(b, crossed(stateAt, i, false, true), crossed(stateAt, i, true, false)));
}

/** (b) grademark on the same bars and rule; answers its trades. */
function grademark(rows) {
  const started = performance.now();
  const trades = grademarkBacktest(CROSS_RULES, new DataFrame(rows));
  return { trades, seconds: seconds(started) };
}

/**
 * (b2) grademark as its user runs it end to end: the two moving averages computed with
 * data-forge (rolling windows over the closes) and the cross flags derived from them, all
 * inside the timed run, as the full engine computes its own. Answers its trades and how
 * many bars' cross states differ from the exact ones (float averages against tick sums).
 */
function grademarkWithIndicators(rows, above) {
  // Its flags are computed below, inside the timed run.
  const started = performance.now();
  const bars = new DataFrame(rows);
  const closes = bars.getSeries("close");
  // A rolling window of n yields one average per bar from the n-th on.
  const average = (n) => closes.rollingWindow(n).select((w) => w.average()).toArray();
  const [fast, slow] = [average(FAST), average(SLOW)];
  const state = (i) => (i < SLOW - 1 ? null : fast[i - (FAST - 1)] > slow[i - (SLOW - 1)]);
  const flags = (from, to) => new Series(rows.map((_, i) => crossed(state, i, from, to)));
  const trades = grademarkBacktest(CROSS_RULES, bars.withSeries({ crossUp: flags(false, true), crossDown: flags(true, false) }));
  const secondsTaken = seconds(started);
  let differing = 0;
  for (let i = 0; i < rows.length; i++) if (state(i) !== above[i]) differing += 1;
  return { trades, seconds: secondsTaken, differing };
}

/** (a)'s input: the bars in prices, as stored bars reach the engine. */
const engineBars = (ticks) => ticks.map((b) => ({ t: b.t, open: b.open / 100, high: b.high / 100, low: b.low / 100, close: b.close / 100, volume: 1 }));

async function engine(m, bars) {
  const template = m.TEMPLATES.get("ma-cross");
  const started = performance.now();
  const result = await m.runBacktest({ strategy: template.create(), bars, spec: SPEC, params: { fast: FAST, slow: SLOW, sizing: "all_in" }, cash: "100000", halfSpreadTicks: 0, venue: { slippageTicks: 0 }, limits: LIMITS });
  // A result makes its fills' and orders' views when they are first read: the fills (the
  // trade list, as grademark answers its trades) are read on the clock; the orders after it.
  if (result.fills.length === 0) throw new Error("the engine made no fills");
  const secondsTaken = seconds(started);
  const viewsStarted = performance.now();
  if (result.orders.length === 0) throw new Error("the engine made no orders");
  return { result, seconds: secondsTaken, orderViewsSeconds: seconds(viewsStarted) };
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

/** (g) The rule as a trader writes it: SMA(10)/SMA(30) of closes in cents (exact sums), all in on a cross up, flat on a cross down. */
const USER_MA_CROSS = `export default {
  onStart(ctx) {
    ctx.state = { closes: [], fast: 0, slow: 0, above: null };
  },
  onBar(bar, ctx) {
    const s = ctx.state;
    const close = Math.round(bar.close * 100);
    s.closes.push(close);
    s.fast += close;
    s.slow += close;
    const n = s.closes.length;
    if (n > ${FAST}) s.fast -= s.closes[n - 1 - ${FAST}];
    if (n > ${SLOW}) s.slow -= s.closes.shift();
    if (s.closes.length < ${SLOW}) return;
    const above = ${SLOW} * s.fast > ${FAST} * s.slow;
    const before = s.above;
    s.above = above;
    if (before === null || before === above) return;
    const long = Number(ctx.position.qty) > 0;
    if (above && !long) {
      const qty = ctx.maxBuyQty();
      if (qty !== "0") ctx.buy({ qty });
    } else if (!above && long) ctx.sell({ qty: ctx.position.qty });
  },
};
`;

/** The bars as the import format: the CSV (e) uploads and (f) parses. */
function csvOf(ticks) {
  const price = (x) => (x / 100).toFixed(2);
  return ["timestamp,open,high,low,close,volume", ...ticks.map((b) => `${b.t},${price(b.open)},${price(b.high)},${price(b.low)},${price(b.close)},1`)].join("\n") + "\n";
}

/** Pieces of `text` as an upload's body arrives (64 KiB each). */
function* pieces(text) {
  for (let i = 0; i < text.length; i += 65_536) yield text.slice(i, i + 65_536);
}

/**
 * (f) The upload's parser in Node: OhlcvCsvReader over the CSV in 64 KiB pieces (every
 * field checked: the timestamp, prices on the tick grid, high and low, the order of rows),
 * next to a bare loop that only splits the lines and reads the numbers.
 */
function csvImport(m, text) {
  const timeframe = m.STREAM_TIMEFRAMES.find((t) => t.label === "1Min");
  const read = () => {
    const reader = new m.OhlcvCsvReader(SPEC, { timeframe, now: Date.now(), maxRows: 1_000_000 });
    let rows = 0;
    const started = performance.now();
    for (const piece of pieces(text)) rows += reader.push(piece).length;
    rows += reader.end().length;
    if (reader.errors.length > 0) throw new Error(`the bench CSV was refused: ${JSON.stringify(reader.errors.slice(0, 3))}`);
    return { rows, seconds: seconds(started) };
  };
  const bare = () => {
    let rows = 0;
    let sum = 0;
    const started = performance.now();
    let rest = "";
    for (const piece of pieces(text)) {
      const lines = (rest + piece).split("\n");
      rest = lines.pop();
      for (const line of lines) {
        const f = line.split(",");
        if (f[0] === "timestamp") continue;
        sum += Number(f[0]) + Number(f[1]) + Number(f[2]) + Number(f[3]) + Number(f[4]) + Number(f[5]);
        rows += 1;
      }
    }
    return { rows, seconds: seconds(started), sum };
  };
  read();
  bare();
  const reader = read();
  const loop = bare();
  return { rows: reader.rows, megabytes: round(text.length / 1e6, 1), seconds: round(reader.seconds, 2), rowsPerSecond: round(reader.rows / reader.seconds, 0), bareLoopRowsPerSecond: round(loop.rows / loop.seconds, 0) };
}

/** (e) The same backtest through the platform's API: upload, poll, fetch the result. */
async function platformRun(ticks) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const stateDir = mkdtempSync(join(tmpdir(), "redfire-bench-backtest-"));
  const platform = startWranglerDev(port, stateDir);
  let step = "start the platform";
  try {
    await waitHealthy(base, platform, 180_000);
    step = "sign up";
    // Backtests need strategy:write, which a new user lacks: the bench user is promoted.
    // The promotion blocks this process for seconds, long enough for the server to close
    // the idle keep-alive socket: the next request retries once on a fresh connection.
    const email = `backtest-bench-${Date.now()}@example.com`;
    const registered = await expectStatus(api(base, "POST", "/api/auth/register", { email, username: `backtest_${Date.now()}`, password: "bench-password-0042" }), 201, "register");
    makeAdminViaScript(email, stateDir);
    const bearer = { authorization: `Bearer ${registered.access_token}` };
    await api(base, "GET", "/health").catch(() => undefined);
    // The engine run's terms (no fee, no spread, no slippage): the platform's defaults would charge its venue fees.
    const csv = csvOf(ticks);
    const query = new URLSearchParams({ template: "ma-cross", params: JSON.stringify({ fast: FAST, slow: SLOW }), symbol: SPEC.symbol, timeframe: "1Min", tick_size: SPEC.tickSize, lot_size: SPEC.lotSize, cash: "100000", fee_bps: "0", min_fee: "0", half_spread_ticks: "0", slippage_ticks: "0" });
    /** Uploads the CSV as one backtest of `query`, polls it to its end and fetches the result: the timings. */
    const run = async (query) => {
      step = "upload the CSV";
      const started = performance.now();
      const created = await expectStatus(api(base, "POST", `/api/backtests/csv?${query}`, csv, { ...bearer, "content-type": "text/csv" }), 201, "upload the backtest");
      const uploaded = seconds(started);
      step = "poll";
      let view = created;
      while (view.status === "queued" || view.status === "running") {
        await sleep(250);
        view = await expectStatus(api(base, "GET", `/api/backtests/${created.id}`, undefined, bearer), 200, "poll the backtest");
      }
      if (view.status !== "done") throw new Error(`the platform's backtest ended ${view.status}: ${view.error}`);
      step = "fetch the result";
      const result = await expectStatus(api(base, "GET", `/api/backtests/${created.id}/result`, undefined, bearer), 200, "fetch the result");
      const wall = seconds(started);
      return { bars: ticks.length, csvMegabytes: round(csv.length / 1e6, 1), seconds: round(wall, 2), uploadSeconds: round(uploaded, 2), barsPerSecond: round(ticks.length / wall, 0), fills: result.fills_total, trades: result.metrics.trades };
    };
    const template = await run(query);
    // (g) The same rule as user code, run in the sandbox (a strategy saved for a listed symbol; the CSV's terms are the query's).
    step = "save the code strategy";
    const strategy = await expectStatus(api(base, "POST", "/api/strategies", { name: "bench-ma-cross", symbol: "BTC/USD", timeframe: "1Min", kind: "code", language: "js", source: USER_MA_CROSS }, bearer), 201, "save the code strategy");
    const codeQuery = new URLSearchParams(query);
    codeQuery.delete("template");
    codeQuery.delete("params");
    codeQuery.set("strategy_id", strategy.id);
    const code = await run(codeQuery);
    return { ...template, code };
  } catch (error) {
    const message = `${step}: ${error.message}${error.cause ? ` (${error.cause.message ?? error.cause})` : ""}`;
    console.error(`(e) the platform run failed: ${message}\n${platform.log().slice(-3000)}`);
    return { bars: ticks.length, error: message.slice(0, 500) };
  } finally {
    await stopWranglerDev(platform);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const m = await importBundle(
  [
    reexport(["runBacktest"], "shared/strategy/backtest.ts"),
    reexport(["TEMPLATES"], "shared/strategy/templates/index.ts"),
    reexport(["SMA", "EMA", "RSI"], "shared/indicators/index.ts"),
    reexport(["OhlcvCsvReader"], "shared/market/csv.ts"),
    reexport(["STREAM_TIMEFRAMES"], "shared/market/timeframe.ts"),
  ],
  "redfire-bench-backtest-",
);
const ticks = seededTicks(BARS);
const above = crossStates(ticks);
// The engine and both grademark runs are timed as the best of RUNS, as the indicators are:
// a shared machine slows single runs at random, by as much as the differences measured.
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** The engine's fills as the bare loop's: time, side and price of each, in order. */
function sameFillsAsBareLoop(fills) {
  const bare = bareLoop(ticks);
  const engineFills = fills.map((f) => `${f.transaction_time} ${f.side} ${f.price}`);
  const bareFills = bare.map((f) => `${new Date(ticks[f.bar].t).toISOString()} ${f.side} ${(f.price / 100).toFixed(2)}`);
  return engineFills.length === bareFills.length && engineFills.every((f, i) => f === bareFills[i]);
}

/** Timed runs of a side in each process `sides` starts for it, the fastest kept: a process's first full run also grows its heap. */
const RUNS_IN_PROCESS = 2;

/**
 * A side's timed runs in the process `sides` starts for it: its input made first (made just
 * before a run, a million young objects were copied out of the young generation on the
 * run's clock), a warm-up on a short prefix, then RUNS_IN_PROCESS runs. Answers the fastest,
 * with what the report needs.
 */
async function side(name) {
  const fastest = async (run) => {
    let best = null;
    for (let i = 0; i < RUNS_IN_PROCESS; i++) {
      const next = await run();
      if (best === null || next.seconds < best.seconds) best = next;
    }
    return best;
  };
  if (name === "engine") {
    const bars = engineBars(ticks);
    await engine(m, bars.slice(0, WARM_UP_BARS));
    const { result, seconds, orderViewsSeconds } = await fastest(() => engine(m, bars));
    return { seconds, orderViewsSeconds, orders: result.orders.length, fills: result.fills.length, roundTrips: result.metrics.trades, sameFillsAsBareLoop: sameFillsAsBareLoop(result.fills) };
  }
  if (name === "grademark") {
    const rows = grademarkRows(ticks.slice(0, GRADEMARK_BARS), above);
    grademark(rows.slice(0, WARM_UP_BARS));
    const { trades, seconds } = await fastest(async () => grademark(rows));
    return { seconds, trades: trades.length };
  }
  const rows = ticks.slice(0, GRADEMARK_BARS).map((b) => grademarkBar(b));
  grademarkWithIndicators(rows.slice(0, WARM_UP_BARS), above);
  const { trades, seconds, differing } = await fastest(async () => grademarkWithIndicators(rows, above));
  return { seconds, trades: trades.length, differing };
}

const SIDES = ["engine", "grademark", "grademarkWithIndicators"];
if (SIDES.includes(process.env.BENCH_SIDE)) {
  console.log(`SIDE_RESULT ${JSON.stringify(await side(process.env.BENCH_SIDE))}`);
  process.exit(0);
}

/**
 * (a), (b) and (b2), each run in a Node process of its own, RUNS times, the sides in turn
 * (a, b, b2, a, b, b2, …). In one process a side ran on the heap and the collector's state
 * the side before it left (the engine's runs after grademark's were a quarter slower than
 * its first), and run one after the other the sides' figures came from minutes apart, on a
 * host whose speed drifts. Answers each side's fastest run and every run's seconds.
 */
// Every side's process gets the same V8 flags: a young generation of 64 MB semi-spaces
// (V8's default grows to 16 MB) for a batch job that makes a gigabyte of short-lived
// garbage, as `npm run backtest` runs; SIDE_NODE_FLAGS="" runs them with V8's defaults.
const SIDE_FLAGS = (process.env.SIDE_NODE_FLAGS ?? "--max-semi-space-size=64").split(" ").filter(Boolean);

function sides() {
  const best = {};
  const seconds = Object.fromEntries(SIDES.map((s) => [s, []]));
  for (let i = 0; i < RUNS; i++)
    for (const name of SIDES) {
      const child = spawnSync(process.execPath, [...SIDE_FLAGS, fileURLToPath(import.meta.url)], { env: { ...process.env, BENCH_SIDE: name }, encoding: "utf8", maxBuffer: 1 << 26 });
      const line = child.stdout?.split("\n").find((l) => l.startsWith("SIDE_RESULT "));
      if (child.status !== 0 || !line) throw new Error(`the ${name} run failed (exit ${child.status}): ${child.stderr?.slice(-2000)}`);
      const run = JSON.parse(line.slice("SIDE_RESULT ".length));
      seconds[name].push(run.seconds);
      if (!best[name] || run.seconds < best[name].seconds) best[name] = run;
    }
  return { best, seconds };
}

console.log(`side processes: node ${SIDE_FLAGS.join(" ") || "(V8's defaults)"}`);
console.log(`${BARS} seeded 1-minute bars (${new Date(START).toISOString()} … ${new Date(ticks.at(-1).t).toISOString()}), ma-cross SMA(${FAST})/SMA(${SLOW})`);
const runs = sides();
const { engine: full, grademark: gm, grademarkWithIndicators: gmAll } = runs.best;
const engineRate = BARS / full.seconds;
console.log(`(a) full engine: ${round(full.seconds, 2)} s, ${round(engineRate, 0)} bars/s, ${full.fills} fills, ${full.roundTrips} round trips (then its ${full.orders} orders' views, when read: ${round(full.orderViewsSeconds, 3)} s)`);
const grademarkRate = GRADEMARK_BARS / gm.seconds;
console.log(`(b) grademark: ${GRADEMARK_BARS} bars in ${round(gm.seconds, 2)} s, ${round(grademarkRate, 0)} bars/s, ${gm.trades} trades`);
const grademarkAllRate = GRADEMARK_BARS / gmAll.seconds;
console.log(
  `(b2) grademark computing its moving averages with data-forge: ${GRADEMARK_BARS} bars in ${round(gmAll.seconds, 2)} s, ${round(grademarkAllRate, 0)} bars/s, ${gmAll.trades} trades (${gmAll.differing} bars' cross state differs from the exact one)`,
);

bareLoop(ticks.slice(0, WARM_UP_BARS));
const bareStarted = performance.now();
const bare = bareLoop(ticks);
const bareSeconds = seconds(bareStarted);
const bareRate = BARS / bareSeconds;
console.log(`(c) bare loop: ${round(bareSeconds, 3)} s, ${round(bareRate, 0)} bars/s, ${bare.length} fills`);

// The engine must have traded as the bare loop did, or its speed means nothing.
const sameTrades = full.sameFillsAsBareLoop;
console.log(sameTrades ? "the engine's fills equal the bare loop's (time, side, price)" : `MISMATCH: the engine's ${full.fills} fills differ from the bare loop's ${bare.length}`);
// grademark evaluates no rule on the bar it enters or exits, so a cross on that very bar is
// missed and its trade list can differ slightly; its count is reported, not compared.

const closes = ticks.slice(0, INDICATOR_UPDATES).map((b) => b.close / 100);
const indicatorRates = indicators(m, closes);
for (const [name, r] of Object.entries(indicatorRates)) console.log(`(d) ${name}: RedFire ${r.redfire} updates/s, trading-signals ${r.tradingSignals} updates/s (${round(r.redfire / r.tradingSignals, 2)}×)`);

const csvRun = csvImport(m, csvOf(ticks.slice(0, PLATFORM_BARS)));
console.log(`(f) CSV import in Node: ${csvRun.rows} rows (${csvRun.megabytes} MB) in ${csvRun.seconds} s, ${csvRun.rowsPerSecond} rows/s; a bare split-and-Number loop ${csvRun.bareLoopRowsPerSecond} rows/s`);

let platform = null;
if (PLATFORM) {
  platform = await platformRun(ticks.slice(0, PLATFORM_BARS));
  const expected = bareLoop(ticks.slice(0, PLATFORM_BARS)).length;
  if (platform.seconds !== undefined) {
    platform.sameFillCountAsBareLoop = platform.fills === expected;
    console.log(`(e) platform (wrangler dev, POST /api/backtests/csv → result): ${PLATFORM_BARS} bars (${platform.csvMegabytes} MB of CSV) in ${platform.seconds} s wall (upload and parse ${platform.uploadSeconds} s), ${platform.barsPerSecond} bars/s, ${platform.fills} fills (bare loop: ${expected})`);
    const code = platform.code;
    code.sameFillCountAsBareLoop = code.fills === expected;
    console.log(`(g) the same rule as user code in the sandbox, through the platform: ${code.seconds} s wall (upload and parse ${code.uploadSeconds} s), ${code.barsPerSecond} bars/s, ${code.fills} fills (bare loop: ${expected})`);
  }
} else console.log("(e) platform run skipped (no workers/routes/backtests.ts, or BACKTEST_PLATFORM=0)");

const ratio = engineRate / grademarkRate;
const ratioAll = engineRate / grademarkAllRate;
console.log(`full engine / grademark: ${round(ratio, 2)}× in bars/s with its cross columns given, ${round(ratioAll, 2)}× computing them (goal ≥ 10×)`);
// Each round's pair (the engine's run and grademark's end-to-end run next to it): the spread a host's drift leaves.
const roundRatios = runs.seconds.engine.map((engineSeconds, i) => round(BARS / engineSeconds / (GRADEMARK_BARS / runs.seconds.grademarkWithIndicators[i]), 2));
console.log(`full engine / grademark computing them, round by round: ${roundRatios.map((r) => `${r}×`).join(", ")}`);
writeResult("backtest", {
  sideNodeFlags: SIDE_FLAGS.join(" "),
  bars: BARS,
  seed: SEED,
  runs: RUNS,
  engine: { seconds: round(full.seconds, 2), orderViewsSeconds: round(full.orderViewsSeconds, 3), barsPerSecond: round(engineRate, 0), fills: full.fills, roundTrips: full.roundTrips, sameFillsAsBareLoop: sameTrades },
  grademark: { bars: GRADEMARK_BARS, seconds: round(gm.seconds, 2), barsPerSecond: round(grademarkRate, 0), trades: gm.trades },
  grademarkWithIndicators: { bars: GRADEMARK_BARS, seconds: round(gmAll.seconds, 2), barsPerSecond: round(grademarkAllRate, 0), trades: gmAll.trades, crossStatesDiffering: gmAll.differing },
  bareLoop: { seconds: round(bareSeconds, 3), barsPerSecond: round(bareRate, 0), fills: bare.length },
  indicators: { updates: closes.length, ...indicatorRates },
  engineOverGrademark: round(ratio, 2),
  engineOverGrademarkWithIndicators: round(ratioAll, 2),
  engineOverGrademarkWithIndicatorsByRound: roundRatios,
  csvImport: csvRun,
  platform,
});
process.exit(sameTrades ? 0 : 1);
