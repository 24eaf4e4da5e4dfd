// Order placement benchmark: `npm run bench:orders` (env BENCH_CONNECTIONS, BENCH_SECONDS,
// BENCH_ACCOUNTS, BENCH_PAIRS). Starts the platform with wrangler dev in a throwaway state
// dir and measures POST /v2/orders through the whole path (authentication, validation, the
// account's Durable Object with its gate, risk checks and reservation, the symbol's venue
// and back) for one account and for many, and the authenticated GET /api/users/me with a
// JWT and with an API key, against GET /health in the same run (the run's first /health,
// and for each 100-account row a /health window measured just before it, BENCH_PAIRS
// times, the median pair shown); and one order at a time (the serial latency). Prints
// tables and a `BENCH_RESULT {...}` line, also written to bench/results/orders.json.
//
// `npm run bench:orders -- --metrics=off` runs it with the gateway's request metrics
// switched off (REQUEST_METRICS); `--metrics=compare` instead measures the cost of metrics on
// the order path: two wrangler dev starts, on then off, each timing market orders from many
// accounts and one at a time, and prints orders/s and p99 side by side (written to
// bench/results/orders-metrics.json). `--help` lists the options.
import autocannon from "autocannon";
import { cpus } from "node:os";
import { orderBody, placingRequest, QTY, rotating, signUpMany, SYMBOL } from "./lib/orders.mjs";
import { api, expectStatus, median, percentile, round, withPlatform, writeResult } from "./lib/platform.mjs";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100);
// --metrics=compare: rounds of (on, off), each its own wrangler dev start.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
// Each 100-account row is measured this many times, each right after a /health window of its
// own, the rows' rounds interleaved; the table shows the median pair.
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const WARMUP_SECONDS = 2;
const USAGE = `usage: npm run bench:orders -- [--metrics=on|off|compare]
  --metrics=on       the full order benchmark with request metrics on (the default)
  --metrics=off      the same with REQUEST_METRICS=off (no counting, no flush to the metrics object)
  --metrics=compare  the order load with metrics on, then off (two wrangler dev starts): orders/s and p99 for each
environment: BENCH_CONNECTIONS (${CONNECTIONS}), BENCH_SECONDS (${SECONDS}), BENCH_ACCOUNTS (${ACCOUNTS}), BENCH_PAIRS (${PAIRS}: /health-then-row pairs of each ${ACCOUNTS}-account row), BENCH_ROUNDS (${ROUNDS}: rounds of on, off for --metrics=compare)`;
const argv = process.argv.slice(2);
const METRICS_MODE = argv.find((a) => a.startsWith("--metrics="))?.slice("--metrics=".length) ?? "on";
// The platform's own pre-trade limit (RISK_LIMITS.ordersPerMinute in wrangler.toml): one
// account may place 200 orders in any 60 s. The single-account rows therefore measure a
// burst of ORDER_BUDGET orders rather than a timed run; raising the limit would measure a
// platform that is not the one we ship.
const ORDERS_PER_MINUTE = 200;
const ORDER_BUDGET = ORDERS_PER_MINUTE - 10;
const WARMUP_ORDERS = 20;
// Serial orders come from one account: within its 200-a-minute risk limit with the warm-up.
const SERIAL_ORDERS = 150;
// Resting buys sit inside the 10% price band but far enough below the market not to fill.
const LIMIT_DISCOUNT_PCT = 5;

/** An API key's headers for the user behind `authorization`. */
async function apiKeyHeaders(base, authorization) {
  const key = await expectStatus(api(base, "POST", "/api/keys", { name: "bench", scopes: ["read", "trade"] }, { authorization }), 201, "create API key");
  return { "apca-api-key-id": key.key_id, "apca-api-secret-key": key.secret };
}

async function lastPrice(base, authorization) {
  const body = await expectStatus(api(base, "GET", `/v1beta3/crypto/us/latest/trades?symbols=${SYMBOL}`, undefined, { authorization }), 200, "latest trade");
  const price = body.trades?.[SYMBOL]?.p;
  if (!price) throw new Error(`no ${SYMBOL} trade yet: ${JSON.stringify(body)}`);
  return price;
}

/** An autocannon GET spreading requests over `credentials` in turn. */
function readingRequest(path, credentials) {
  const headersOf = rotating(credentials);
  return { method: "GET", path, setupRequest: (request) => ({ ...request, headers: headersOf() }) };
}

/** One request at a time: p50 and p99 of `n` (after `warmup`), in ms with decimals. */
async function serial(target, n, warmup, send) {
  for (let i = 0; i < warmup; i++) await send();
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await send();
    samples.push(performance.now() - t0);
  }
  return { target, requests: n, p50_ms: round(percentile(samples, 50)), p99_ms: round(percentile(samples, 99)) };
}

// autocannon's requests.mean averages whole seconds, which a sub-second burst does not
// have; total ÷ elapsed is comparable across timed and counted runs.
function figures(target, r, extra) {
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r.requests.total === 0)
    throw new Error(`${target}: ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodeStats)}, ${r.errors} errors, ${r.timeouts} timeouts of ${r.requests.total} requests`);
  const elapsed = (new Date(r.finish) - new Date(r.start)) / 1000;
  return { target, ...extra, rps: round(r.requests.total / elapsed, 1), p50_ms: r.latency.p50, p99_ms: r.latency.p99, requests: r.requests.total };
}

// Locally the queue consumer shares the two cores with everything else, and the events of
// a thousand orders keep it busy for a while after the load that made them. Each load
// starts once /health answers serially near its quiet latency again (at most 60 s), so a
// row is not measured under the previous row's backlog; its own events still count.
let quietMs = null;
async function untilQuiet(base) {
  const probe = async () => (await serial("GET /health", 10, 0, () => expectStatus(api(base, "GET", "/health"), 200, "health"))).p50_ms;
  quietMs ??= await probe();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await probe()) > 2 * quietMs + 1) await new Promise((r) => setTimeout(r, 1000));
}

// A warm-up first, so isolate start-up, JIT and the first touch of every Durable Object
// are not in the figures; `amount` replaces the timed run where a limit caps it.
async function load(base, target, request, { accounts, warmup, amount }) {
  await untilQuiet(base);
  const options = { url: base, connections: CONNECTIONS, requests: [request] };
  figures(`${target} (warm-up)`, await autocannon({ ...options, ...(warmup.amount ? { amount: warmup.amount } : { duration: warmup.seconds }) }), {});
  const measured = await autocannon({ ...options, ...(amount ? { amount } : { duration: SECONDS }) });
  return figures(target, measured, { accounts });
}

function printTable(rows) {
  const pad = (s, n) => String(s).padEnd(n);
  const num = (s, n) => String(s).padStart(n);
  console.log(`\n${pad("target", 50)}${num("accounts", 9)}${num("requests", 10)}${num("req/s", 9)}${num("p50 ms", 8)}${num("p99 ms", 8)}${num("req/s ÷ health", 16)}${num("p50 ÷ health", 14)}${num("p99 ÷ health", 14)}${num("adjacent health req/s", 23)}${num("req/s ÷ adj.", 14)}${num("p99 ÷ adj.", 12)}`);
  for (const r of rows)
    console.log(
      `${pad(r.target, 50)}${num(r.accounts ?? "-", 9)}${num(r.requests, 10)}${num(r.rps, 9)}${num(r.p50_ms, 8)}${num(r.p99_ms, 8)}${num(r.rps_ratio, 16)}${num(r.p50_ratio ?? "n/a", 14)}${num(r.p99_ratio ?? "n/a", 14)}` +
        (r.adjacent_health ? `${num(r.adjacent_health.rps, 23)}${num(r.rps_ratio_adjacent, 14)}${num(r.p99_ratio_adjacent ?? "n/a", 12)}` : ""),
    );
  console.log("(autocannon records latency in whole milliseconds; every response above was 2xx; \"adj.\": the /health window run just before the row)");
}

// The cost of request metrics on the order path: the same order load against a platform
// with REQUEST_METRICS on and one with it off. Starts of wrangler dev on a shared machine
// drift by more than the difference we look for: BENCH_ROUNDS alternates on and off and
// the summary takes each mode's median run; still read a gap as noise until it repeats.
async function compareMetrics() {
  const started = Date.now();
  console.log(`# RedFire order path, request metrics on vs off: ${CONNECTIONS} connections, ${SECONDS} s timed market orders from ${ACCOUNTS} accounts, then ${SERIAL_ORDERS} serial orders; ${ROUNDS} round(s) of on, off`);
  console.log(`# a wrangler dev start (local workerd) per run, on ${cpus().length} CPU cores shared with autocannon (and whatever else runs on this machine)`);
  const runs = [];
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    for (const metrics of ["on", "off"]) {
      const row = await withPlatform("orders", { REQUEST_METRICS: metrics }, async (base) => {
        const [serialOne, ...many] = (await signUpMany(base, 1 + ACCOUNTS)).map((authorization) => ({ authorization }));
        await lastPrice(base, serialOne.authorization);
        const loaded = await load(base, `POST /v2/orders market, ${ACCOUNTS} accounts, metrics ${metrics}`, placingRequest(many, "market"), { warmup: { amount: 2 * ACCOUNTS }, accounts: ACCOUNTS });
        const post = () => expectStatus(api(base, "POST", "/v2/orders", JSON.parse(orderBody("market")), serialOne), 200, "serial order");
        const one = await serial(`serial, metrics ${metrics}`, SERIAL_ORDERS, 10, post);
        return { round: round_, metrics, orders_per_s: loaded.rps, p50_ms: loaded.p50_ms, p99_ms: loaded.p99_ms, requests: loaded.requests, serial_p50_ms: one.p50_ms, serial_p99_ms: one.p99_ms };
      });
      quietMs = null;
      runs.push(row);
      console.log(`  round ${round_}, metrics ${metrics}: ${row.orders_per_s} orders/s, p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms (${row.requests} orders); serial p50 ${row.serial_p50_ms} ms, p99 ${row.serial_p99_ms} ms`);
    }
  }
  // The median run of each mode, field by field: one disturbed run does not decide it.
  const summary = ["on", "off"].map((metrics) => {
    const of = runs.filter((r) => r.metrics === metrics);
    const pick = (field) => round(median(of.map((r) => r[field])));
    return { metrics, orders_per_s: pick("orders_per_s"), p50_ms: pick("p50_ms"), p99_ms: pick("p99_ms"), serial_p50_ms: pick("serial_p50_ms"), serial_p99_ms: pick("serial_p99_ms") };
  });
  const [on, off] = summary;
  console.log(`\n${"metrics".padEnd(10)}${"orders/s".padStart(10)}${"p50 ms".padStart(8)}${"p99 ms".padStart(8)}${"serial p50".padStart(12)}${"serial p99".padStart(12)}   (median of ${ROUNDS} run(s) each)`);
  for (const r of summary) console.log(`${r.metrics.padEnd(10)}${String(r.orders_per_s).padStart(10)}${String(r.p50_ms).padStart(8)}${String(r.p99_ms).padStart(8)}${String(r.serial_p50_ms).padStart(12)}${String(r.serial_p99_ms).padStart(12)}`);
  const ratio = { orders_per_s: round(on.orders_per_s / off.orders_per_s, 3), p99: off.p99_ms > 0 ? round(on.p99_ms / off.p99_ms, 2) : null, serial_p99: off.serial_p99_ms > 0 ? round(on.serial_p99_ms / off.serial_p99_ms, 2) : null };
  console.log(`on ÷ off: orders/s ${ratio.orders_per_s}×, p99 ${ratio.p99 ?? "n/a"}×, serial p99 ${ratio.serial_p99 ?? "n/a"}×`);
  writeResult("orders-metrics", { connections: CONNECTIONS, seconds: SECONDS, accounts: ACCOUNTS, rounds: ROUNDS, runs, summary, ratio, elapsed_seconds: round((Date.now() - started) / 1000, 1) });
}

async function main() {
  if (argv.includes("--help") || argv.includes("-h")) return console.log(USAGE);
  if (!["on", "off", "compare"].includes(METRICS_MODE)) throw new Error(`--metrics must be on, off or compare\n${USAGE}`);
  if (METRICS_MODE === "compare") return compareMetrics();
  const started = Date.now();
  await withPlatform("orders", { REQUEST_METRICS: METRICS_MODE }, async (base) => {
    console.log(`# RedFire order placement benchmark (request metrics ${METRICS_MODE}): ${CONNECTIONS} connections; ${SECONDS} s timed runs, ${ORDER_BUDGET - WARMUP_ORDERS}-order bursts for one account`);
    console.log(`# wrangler dev (local workerd) on ${base}; ${cpus().length} CPU cores shared by autocannon, workerd and the demo feeds,`);
    console.log("# so absolute figures understate a real deployment; the ratios to /health are the useful part.");

    // Two single accounts (each has its own 200-a-minute budget) and the many.
    const [limitOne, marketOne, serialOne, ...many] = (await signUpMany(base, 3 + ACCOUNTS)).map((authorization) => ({ authorization }));
    const price = await lastPrice(base, limitOne.authorization);
    const limitPrice = (price * (1 - LIMIT_DISCOUNT_PCT / 100)).toFixed(2);
    const keys = [];
    for (const account of many) keys.push(await apiKeyHeaders(base, account.authorization));
    console.log(`# platform healthy and ${3 + ACCOUNTS} accounts signed up after ${round((Date.now() - started) / 1000, 1)} s; ${SYMBOL} last ${price}, resting buys at ${limitPrice}`);

    const burst = { warmup: { amount: WARMUP_ORDERS }, amount: ORDER_BUDGET - WARMUP_ORDERS, accounts: 1 };
    // Every account's first order wakes its Durable Object: two per account warms them all.
    const timed = { warmup: { amount: 2 * ACCOUNTS }, accounts: ACCOUNTS };
    // One request at a time first, so the figure is the path's own latency, neither queueing
    // nor the queue consumer's work on the events of the loads below.
    const post = (kind) => () => expectStatus(api(base, "POST", "/v2/orders", JSON.parse(orderBody(kind)), serialOne), 200, "serial order");
    const serialRows = [
      await serial("GET /health", SERIAL_ORDERS, 10, () => expectStatus(api(base, "GET", "/health"), 200, "health")),
      await serial("POST /v2/orders market buy (fills)", SERIAL_ORDERS, 10, post("market")),
    ];
    console.log(`\none at a time, ${SERIAL_ORDERS} requests each (ms):`);
    for (const r of serialRows) console.log(`  ${r.target.padEnd(40)} p50 ${String(r.p50_ms).padStart(7)}  p99 ${String(r.p99_ms).padStart(7)}`);
    // The reads come before the orders: thousands of orders leave the queue consumer busy
    // projecting their events into D1 for a while, which would slow whatever runs next.
    const reads = { warmup: { seconds: WARMUP_SECONDS }, accounts: ACCOUNTS };
    const health = () => load(base, "GET /health", { method: "GET", path: "/health" }, { warmup: { seconds: WARMUP_SECONDS } });
    // The host's speed drifts within a run (this machine's /health has moved by a third
    // between the first and last rows, and two 10 s windows of the same load differ by a
    // fifth), so each 100-account row gets a /health window of its own right before it, and
    // its ratios to that one ("adjacent") besides the ratios to the run's first /health.
    // Each such pair is measured PAIRS times, the rows' rounds interleaved so a slow spell of
    // the host falls on every row alike; the table shows each row's median pair (by req/s ÷
    // its adjacent /health) and the result keeps them all.
    const paired = async (...args) => {
      const adjacent = await health();
      const row = await load(base, ...args);
      return { ...row, adjacent_health: { rps: adjacent.rps, p50_ms: adjacent.p50_ms, p99_ms: adjacent.p99_ms } };
    };
    const medianPairs = async (targets) => {
      const runs = targets.map(() => []);
      for (let r = 0; r < PAIRS; r++) for (const [i, args] of targets.entries()) runs[i].push(await paired(...args));
      return runs.map((pairs) => {
        const ratio = (p) => p.rps / p.adjacent_health.rps;
        const sorted = [...pairs].sort((a, b) => ratio(a) - ratio(b));
        const median = sorted[Math.floor((sorted.length - 1) / 2)];
        return { ...median, pairs: pairs.map((p) => ({ rps: p.rps, p99_ms: p.p99_ms, health_rps: p.adjacent_health.rps, health_p99_ms: p.adjacent_health.p99_ms, rps_ratio: round(ratio(p), 3) })) };
      });
    };
    const firstHealth = await health();
    const reading = await medianPairs([
      [`GET /api/users/me (JWT), ${ACCOUNTS} accounts`, readingRequest("/api/users/me", many), reads],
      [`GET /api/users/me (API key), ${ACCOUNTS} accounts`, readingRequest("/api/users/me", keys), reads],
    ]);
    const bursts = [
      await load(base, "POST /v2/orders resting limit buy, 1 account", placingRequest([limitOne], "limit", limitPrice), burst),
      await load(base, "POST /v2/orders market buy (fills), 1 account", placingRequest([marketOne], "market"), burst),
    ];
    const placing = await medianPairs([
      [`POST /v2/orders resting limit buy, ${ACCOUNTS} accounts`, placingRequest(many, "limit", limitPrice), timed],
      [`POST /v2/orders market buy (fills), ${ACCOUNTS} accounts`, placingRequest(many, "market"), timed],
      [`POST /v2/orders market buy, API keys, ${ACCOUNTS} accounts`, placingRequest(keys, "market"), timed],
    ]);
    const rows = [
      firstHealth,
      ...reading,
      ...bursts,
      ...placing,
      // The baseline again, to show how far the machine drifted during the run.
      { ...(await health()), target: "GET /health (again, after the orders)" },
    ];
    const [first] = rows;
    for (const row of rows) {
      row.rps_ratio = round(row.rps / first.rps, 3);
      row.p50_ratio = first.p50_ms > 0 ? round(row.p50_ms / first.p50_ms, 2) : null;
      row.p99_ratio = first.p99_ms > 0 ? round(row.p99_ms / first.p99_ms, 2) : null;
      if (row.adjacent_health) {
        row.rps_ratio_adjacent = round(row.rps / row.adjacent_health.rps, 3);
        row.p99_ratio_adjacent = row.adjacent_health.p99_ms > 0 ? round(row.p99_ms / row.adjacent_health.p99_ms, 2) : null;
      }
    }
    printTable(rows);
    console.log(`\neach ${ACCOUNTS}-account row's pairs (its req/s ÷ the /health window just before it), in the order run; the table shows the median:`);
    for (const r of rows.filter((row) => row.pairs)) console.log(`  ${r.target.padEnd(50)} ${r.pairs.map((p) => `${p.rps_ratio} (${p.rps} ÷ ${p.health_rps})`).join(", ")}`);
    // A second reading of the same windows: a single /health window's noise is as large as
    // the drift the pairs cancel, so each row's median req/s is also set against the median
    // of every /health window of the run.
    const healthWindows = [first.rps, ...rows.flatMap((r) => r.pairs?.map((p) => p.health_rps) ?? []), rows.at(-1).rps];
    const healthMedian = round(median(healthWindows), 1);
    console.log(`
each ${ACCOUNTS}-account row's median req/s ÷ the median of the run's ${healthWindows.length} /health windows (${healthMedian} req/s; they ranged ${Math.min(...healthWindows)}–${Math.max(...healthWindows)}):`);
    for (const r of rows.filter((row) => row.pairs)) {
      r.rps_ratio_run_median = round(median(r.pairs.map((p) => p.rps)) / healthMedian, 3);
      console.log(`  ${r.target.padEnd(50)} ${r.rps_ratio_run_median}`);
    }

    const byTarget = (prefix) => rows.find((r) => r.target.startsWith(prefix));
    const scaling = {
      limit: round(byTarget(`POST /v2/orders resting limit buy, ${ACCOUNTS}`).rps / byTarget("POST /v2/orders resting limit buy, 1").rps, 2),
      market: round(byTarget(`POST /v2/orders market buy (fills), ${ACCOUNTS}`).rps / byTarget("POST /v2/orders market buy (fills), 1").rps, 2),
    };
    console.log(`\n${ACCOUNTS} accounts ÷ 1 account, req/s: resting limit ${scaling.limit}×, market ${scaling.market}×`);
    console.log(`one account is also capped at ${ORDERS_PER_MINUTE} orders a minute by its risk limit (order_rate): ${round(ORDERS_PER_MINUTE / 60, 1)} orders/s sustained`);

    const result = {
      request_metrics: METRICS_MODE,
      connections: CONNECTIONS,
      seconds: SECONDS,
      accounts: ACCOUNTS,
      burst_orders: ORDER_BUDGET - WARMUP_ORDERS,
      symbol: SYMBOL,
      qty: QTY,
      load: rows,
      health_windows: { rps: healthWindows, median: healthMedian },
      serial: serialRows,
      scaling,
      elapsed_seconds: round((Date.now() - started) / 1000, 1),
    };
    writeResult("orders", result);
  });
}

main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
