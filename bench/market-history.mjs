// Bars-history benchmark: `node bench/market-history.mjs`
//   env HISTORY_BARS (default 50000), HISTORY_CONNECTIONS (10), HISTORY_SECONDS (10).
// Starts the platform with the project's dev script (wrangler dev, like bench/gateway.mjs)
// in a throwaway state dir, imports one-minute bars for a fresh symbol through the admin
// CSV endpoint (timed), then loads each history query with autocannon next to GET /health
// and authenticated no-ops, so the ratios show what auth, rate limiting and history add.
// Prints a table and a `BENCH_RESULT {...}` line, also written to
// bench/results/market-history.json.
import autocannon from "autocannon";
import { cpus } from "node:os";
import { api, benchAccount, createAsset, expectStatus, makeAdminViaScript, round, withPlatform, writeResult } from "./lib/platform.mjs";
import { seededRandom } from "./lib/random.mjs";

const BARS = Number(process.env.HISTORY_BARS ?? 50_000);
const CONNECTIONS = Number(process.env.HISTORY_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.HISTORY_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const SYMBOL = "HIST";
const DAY_MS = 86_400_000;


// New York's UTC offset in hours on a date (-4 in summer, -5 in winter).
const nyOffsetHours = (dayMs) =>
  Number(/GMT([+-]\d+)/.exec(new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", timeZoneName: "shortOffset" }).format(new Date(dayMs + 12 * 3_600_000)))?.[1] ?? -5);

/**
 * `count` one-minute bars of regular sessions (weekdays 09:30-16:00 New York, 390 a day),
 * ending with yesterday's session: what a US equity's real minute history looks like, so
 * the day and week roll-ups have realistic sizes. Prices in whole cents (the 0.01 grid).
 */
function minuteBarsCsv(count) {
  const sessions = [];
  for (let day = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS; sessions.length * 390 < count; day -= DAY_MS) {
    const weekday = new Date(day).getUTCDay();
    if (weekday !== 0 && weekday !== 6) sessions.unshift(day + (9.5 - nyOffsetHours(day)) * 3_600_000);
  }
  const next = seededRandom(42);
  const rows = ["timestamp,open,high,low,close,volume"];
  let close = 10_000;
  const first = sessions.length * 390 - count; // drop the oldest minutes beyond `count`
  for (let i = first; i < sessions.length * 390; i++) {
    const t = sessions[Math.floor(i / 390)] + (i % 390) * 60_000;
    const open = close;
    close = Math.max(100, open + Math.round((next() - 0.5) * 20));
    const high = Math.max(open, close) + Math.floor(next() * 5);
    const low = Math.max(1, Math.min(open, close) - Math.floor(next() * 5));
    const cents = (x) => (x / 100).toFixed(2);
    rows.push(`${new Date(t).toISOString()},${cents(open)},${cents(high)},${cents(low)},${cents(close)},${100 + Math.floor(next() * 5000)}`);
  }
  return { csv: rows.join("\n") + "\n", sessions };
}

// Same load for every target after a short warm-up; any non-2xx means we measured the
// wrong thing.
async function load(base, target, path, headers) {
  const options = { url: base + path, headers, connections: CONNECTIONS };
  for (const duration of [WARMUP_SECONDS, SECONDS]) {
    const r = await autocannon({ ...options, duration });
    if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r.requests.total === 0)
      throw new Error(`${target}: ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodeStats)}, ${r.errors} errors, ${r.timeouts} timeouts of ${r.requests.total} requests`);
    if (duration === SECONDS)
      return { target, path, rps: round(r.requests.mean, 1), p50_ms: r.latency.p50, p99_ms: r.latency.p99, requests: r.requests.total, kb_per_response: round(r.throughput.total / r.requests.total / 1024, 1) };
  }
}

async function main() {
  const started = Date.now();
  await withPlatform("market-history", {}, async (base, stateDir) => {
    console.log(`# RedFire bars-history benchmark: ${BARS} imported 1Min bars; ${CONNECTIONS} connections x ${SECONDS} s per target (after ${WARMUP_SECONDS} s warm-up)`);
    console.log(`# wrangler dev (local workerd) on ${base}; ${cpus().length} CPU cores shared by the load generator (autocannon) and workerd,`);
    console.log("# so absolute figures understate a real deployment; the ratios to /health are the useful part.");

    console.log(`# platform healthy after ${round((Date.now() - started) / 1000, 1)} s`);
    const account = await benchAccount(base, (email) => makeAdminViaScript(email, stateDir));
    // No live feed: nothing but the import writes this symbol's bars while we read them.
    const asset = await createAsset(base, account.bearer, SYMBOL, { kind: "none" });

    const { csv, sessions } = minuteBarsCsv(BARS);
    const importStart = performance.now();
    const imported = await expectStatus(
      api(base, "POST", `/api/admin/assets/${asset.id}/history?timeframe=1Min`, csv, { ...account.bearer, "content-type": "text/csv" }),
      200,
      "CSV import",
    );
    const importMs = performance.now() - importStart;
    const importInfo = { rows: imported.imported, rebuilt: imported.rebuilt, mb: round(csv.length / 2 ** 20, 2), seconds: round(importMs / 1000, 2), rows_per_s: Math.round(imported.imported / (importMs / 1000)) };
    console.log(`# imported ${importInfo.rows} bars (${importInfo.mb} MB CSV) in ${importInfo.seconds} s (${importInfo.rows_per_s} rows/s); rebuilt ${importInfo.rebuilt.join(", ")}`);

    // A full Monday-to-Monday week in the middle of the history, for the 30Min roll-up.
    const mid = sessions[Math.floor(sessions.length / 2)];
    const monday = Math.floor(mid / DAY_MS) * DAY_MS - ((new Date(mid).getUTCDay() + 6) % 7) * DAY_MS;
    const week = `start=${new Date(monday).toISOString().slice(0, 10)}&end=${new Date(monday + 7 * DAY_MS).toISOString().slice(0, 10)}`;
    const from = `start=${new Date(sessions[0]).toISOString().slice(0, 10)}`;
    const bars = `/v2/stocks/${SYMBOL}/bars`;
    const targets = [
      ["GET /health", "/health", {}],
      // /health skips the rate limiter but still resolves the key: auth alone. /v2/clock adds
      // the per-user rate-limiter hit and the permission check, with no market data.
      ["GET /health + key headers", "/health", account.keyHeaders],
      ["GET /v2/clock (auth+limit)", "/v2/clock", account.keyHeaders],
      ["1Min page (stored)", `${bars}?timeframe=1Min&${from}&limit=1000`, account.keyHeaders],
      ["1Day (stored roll-up)", `${bars}?timeframe=1Day&${from}&limit=1000`, account.keyHeaders],
      ["1Week (from 1Day)", `${bars}?timeframe=1Week&${from}&limit=1000`, account.keyHeaders],
      ["30Min, 1 week (from 1Min)", `${bars}?timeframe=30Min&${week}&limit=1000`, account.keyHeaders],
    ];
    // One request each first: every bars query must return bars, or the load is meaningless.
    const counts = {};
    for (const [target, path, headers] of targets.slice(3)) {
      const body = await expectStatus(api(base, "GET", path, undefined, headers), 200, target);
      if (!body.bars?.length) throw new Error(`${target}: no bars returned for ${path}`);
      counts[target] = body.bars.length;
    }

    const rows = [];
    for (const [target, path, headers] of targets) rows.push({ ...(await load(base, target, path, headers)), bars: counts[target] ?? null });
    const [health] = rows;
    for (const row of rows) {
      row.rps_ratio = round(row.rps / health.rps, 3);
      row.p50_ratio = health.p50_ms > 0 ? round(row.p50_ms / health.p50_ms, 1) : null;
    }

    const pad = (s, n) => String(s).padEnd(n);
    const num = (s, n) => String(s).padStart(n);
    console.log(`\n${pad("target", 28)}${num("bars", 6)}${num("kB", 7)}${num("req/s", 9)}${num("p50 ms", 8)}${num("p99 ms", 8)}${num("req/s ÷ health", 16)}${num("p50 ÷ health", 14)}`);
    for (const r of rows)
      console.log(`${pad(r.target, 28)}${num(r.bars ?? "-", 6)}${num(r.kb_per_response, 7)}${num(r.rps, 9)}${num(r.p50_ms, 8)}${num(r.p99_ms, 8)}${num(r.rps_ratio, 16)}${num(r.p50_ratio ?? "n/a", 14)}`);
    console.log("(autocannon records latency in whole milliseconds; every response above was 2xx; kB = body + headers per response)");
    for (const r of rows.slice(3)) console.log(`  ${r.target}: ${r.path}`);

    const result = {
      connections: CONNECTIONS,
      seconds: SECONDS,
      warmup_seconds: WARMUP_SECONDS,
      import: importInfo,
      load: rows,
      elapsed_seconds: round((Date.now() - started) / 1000, 1),
    };
    writeResult("market-history", result);
  });
}

main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
