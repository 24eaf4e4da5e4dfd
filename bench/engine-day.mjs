// A full trading day of accounts on the AccountEngine in Node: `node bench/engine-day.mjs`
//   env ENGINE_ACCOUNTS (default 20), ENGINE_ORDERS (default 20000), ENGINE_SEED (20260101).
// Builds the engine, the runner, MemoryBook and the in-process venues (shared/trading) and
// the simulator (shared/market) for Node with esbuild: the same code the account objects and
// the symbol objects run. A seeded simulator prints one quote and trade a second for 24 hours
// on two symbols; between ticks, seeded accounts place market, limit and stop orders, replace
// and cancel some. At the end every account is reconciled against the venues' own fill log
// (exits 1 on any difference). Prints orders/s and a `BENCH_RESULT {...}` line, also written
// to bench/results/engine-day.json.
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, round, writeResult } from "./lib/platform.mjs";
import { seededRandom } from "./lib/random.mjs";

const ACCOUNTS = Number(process.env.ENGINE_ACCOUNTS ?? 20);
const ORDERS = Number(process.env.ENGINE_ORDERS ?? 20_000);
const SEED = Number(process.env.ENGINE_SEED ?? 20_260_101);
const DAY_MS = 24 * 3_600_000;
const TICK_MS = 1000;
const START = Date.UTC(2026, 0, 6, 5, 0, 0); // midnight in New York

async function loadEngine() {
  const dir = mkdtempSync(join(tmpdir(), "engine-bench-"));
  try {
    const entry = join(dir, "entry.ts");
    const shared = join(ROOT, "shared");
    writeFileSync(
      entry,
      [
        `export { AccountEngine } from ${JSON.stringify(join(shared, "trading/account-engine.ts"))};`,
        `export { AccountRunner } from ${JSON.stringify(join(shared, "trading/account-runner.ts"))};`,
        `export { MemoryBook, InProcessVenues } from ${JSON.stringify(join(shared, "trading/memory.ts"))};`,
        `export { ledgerViolations } from ${JSON.stringify(join(shared, "trading/ledger.ts"))};`,
        `export { DEFAULT_LIMITS } from ${JSON.stringify(join(shared, "trading/risk.ts"))};`,
        `export { SimParamsSchema, initialSimState, stepSimulator } from ${JSON.stringify(join(shared, "market/simulator.ts"))};`,
      ].join("\n"),
    );
    const outfile = join(dir, "engine.mjs");
    await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", target: "node20", outfile, logLevel: "warning" });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const m = await loadEngine();
const rand = seededRandom(SEED);
let clock = START;
const now = () => clock;
let ids = 0;
const newId = () => `00000000-0000-4000-8000-${(++ids).toString(16).padStart(12, "0")}`;
const venueConfig = { makerBps: 10, takerBps: 30, minFee: "0.01", depthLevels: 5, slippageTicks: 1, crossUsers: false };
const config = { startingCash: 10n ** 6n * 10n ** 18n, limits: { ...m.DEFAULT_LIMITS, ordersPerMinute: 1_000_000, maxOrderNotional: "10000000", maxPositionNotional: "100000000" }, venue: venueConfig };
const venues = new m.InProcessVenues({ now, config: venueConfig });
const specs = [
  { symbol: "SIMA", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" },
  { symbol: "SIMB/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.0001", timeZone: "UTC" },
];
const feeds = specs.map((spec, i) => {
  venues.add(spec);
  const params = m.SimParamsSchema.parse({ seed: SEED + i, startPrice: i === 0 ? "100.00" : "30000.00", volatility: 0.4, tickIntervalMs: TICK_MS, displayedLots: { min: 5, max: 200 } });
  return { spec, params, state: m.initialSimState(params, spec, START), nextTrade: 1, last: null };
});
const assets = specs.map((spec) => ({ id: `asset-${spec.symbol}`, spec, tradable: true, active: true, session: null }));
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => {
  // No crash is simulated here, so the books keep the engine's objects instead of copies.
  const book = new m.MemoryBook({ isolated: false });
  const owner = `bench-${i}`;
  const runner = new m.AccountRunner(book, venues, () => new m.AccountEngine(book, { owner, now, newId, config }));
  return { owner, book, runner };
});
const byOwner = new Map(accounts.map((a) => [a.owner, a]));

async function deliver() {
  for (const { symbol, account } of venues.undelivered()) {
    const applied = await byOwner.get(account).runner.venueReports(symbol, venues.pending(symbol, account));
    venues.acknowledge(symbol, account, applied);
  }
}

const price = (ticks, spec) => (ticks * Number(spec.tickSize)).toFixed(2);
const ticksPerDay = DAY_MS / TICK_MS;
const ordersPerTick = ORDERS / ticksPerDay;
let placed = 0;
let accepted = 0;
let owed = 0;
const started = performance.now();
for (let tick = 0; tick < ticksPerDay; tick++) {
  clock = START + tick * TICK_MS;
  for (const feed of feeds) {
    const step = m.stepSimulator(feed.state, feed.params, feed.spec, clock);
    feed.state = step.state;
    feed.last = step.quote;
    venues.quote(feed.spec.symbol, step.quote);
    if (step.trade) venues.trade(feed.spec.symbol, step.trade);
  }
  await deliver();
  owed += ordersPerTick;
  for (; owed >= 1; owed--) {
    const account = accounts[Math.floor(rand() * accounts.length)];
    const which = Math.floor(rand() * feeds.length);
    const { spec, last } = feeds[which];
    const r = rand();
    const side = rand() < 0.55 ? "buy" : "sell";
    const qty = spec.lotSize === "1" ? String(1 + Math.floor(rand() * 50)) : (0.0001 * (1 + Math.floor(rand() * 50))).toFixed(4);
    const away = Math.floor(rand() * 20) - 5;
    const near = side === "buy" ? last.bidTicks - away : last.askTicks + away;
    let fields;
    if (r < 0.3) fields = { side, type: "market", time_in_force: "day", qty };
    else if (r < 0.85) fields = { side, type: "limit", time_in_force: rand() < 0.5 ? "day" : "gtc", qty, limit_price: price(near, spec) };
    else fields = { side, type: "stop", time_in_force: "gtc", qty, stop_price: price(side === "buy" ? last.askTicks + 10 : Math.max(1, last.bidTicks - 10), spec) };
    placed += 1;
    const outcome = await account.runner.place(fields, assets[which], null);
    if (outcome.ok) accepted += 1;
    // Some orders are replaced or canceled a little later.
    const open = account.book.openOrders();
    if (open.length > 0 && rand() < 0.1) {
      const target = open[Math.floor(rand() * open.length)];
      if (target.limit !== null && rand() < 0.5) await account.runner.replace(target.id, { limit_price: price(target.limit + (rand() < 0.5 ? -1 : 1), target.spec) }, assets[specs.indexOf(specs.find((s) => s.symbol === target.spec.symbol))], null);
      else await account.runner.cancel(target.id);
    }
  }
}
const seconds = (performance.now() - started) / 1000;

// Every account against the venues' own fill logs.
const venueFills = venues.fills();
let problems = 0;
let fills = 0;
for (const a of accounts) {
  const state = a.book.state();
  const applied = a.book.activities({ types: ["FILL"], after: null, until: null, direction: "asc", pageSize: 10_000_000, pageToken: null }).map((f) => f.data.execution_id);
  const own = venueFills.filter((f) => f.account === a.owner).map((f) => f.executionId);
  fills += own.length;
  const same = applied.length === own.length && new Set(applied).size === applied.length && own.every((id) => applied.includes(id));
  const violations = m.ledgerViolations(state.ledger);
  if (!same || violations.length > 0 || state.anomalies > 0) {
    problems += 1;
    console.error(`FAIL ${a.owner}: fills ${applied.length} vs venue ${own.length}; ${violations.join("; ")}; anomalies ${state.anomalies}`);
  }
}

console.log(`${placed} orders (${accepted} accepted) by ${ACCOUNTS} accounts over a day of ${ticksPerDay} ticks on ${feeds.length} symbols; ${fills} fills`);
console.log(`${round(seconds, 2)} s: ${round(placed / seconds, 0)} orders/s with the feed (${round((placed + ticksPerDay * feeds.length) / seconds, 0)} commands/s)`);
console.log(problems === 0 ? "every account reconciles with the venues' fill logs" : `${problems} accounts do not reconcile`);
writeResult("engine-day", { accounts: ACCOUNTS, orders: placed, accepted, fills, ticks: ticksPerDay * feeds.length, seconds: round(seconds, 2), ordersPerSecond: round(placed / seconds, 0), reconciled: problems === 0 });
process.exit(problems === 0 ? 0 : 1);
