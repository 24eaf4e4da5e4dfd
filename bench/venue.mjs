// Venue matching benchmark: `node bench/venue.mjs`
//   env VENUE_COMMANDS (default 1000000), VENUE_SEED (20260101).
// Builds shared/venue/venue.ts for Node with esbuild, generates a seeded stream of limit
// (~70%), market (~10%) and cancel (~20%) commands around a randomly walking mid, and
// runs it through our Venue as a plain central limit order book (no quotes, users cross,
// no fees) and through nodejs-order-book. The fills (maker, taker, price, quantity, in
// order) must be identical, else it exits 1. Prints commands/s for both and a
// `BENCH_RESULT {...}` line, also written to bench/results/venue.json.
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { OrderBook as ReferenceBook, Side as ReferenceSide } from "nodejs-order-book";
import { ROOT, round, writeResult } from "./lib/platform.mjs";
import { seededRandom } from "./lib/random.mjs";

const COMMANDS = Number(process.env.VENUE_COMMANDS ?? 1_000_000);
const SEED = Number(process.env.VENUE_SEED ?? 20_260_101);
const SPEC = { symbol: "BENCH", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
const CLOB = { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 1, slippageTicks: 0, crossUsers: true };

async function loadVenue() {
  const dir = mkdtempSync(join(tmpdir(), "venue-bench-"));
  try {
    const outfile = join(dir, "venue.mjs");
    await build({ entryPoints: [join(ROOT, "shared/venue/venue.ts")], bundle: true, platform: "node", format: "esm", target: "node20", outfile, logLevel: "warning" });
    return (await import(pathToFileURL(outfile).href)).Venue;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


const LIMIT = 0;
const MARKET = 1;
const CANCEL = 2;

/**
 * Commands as parallel arrays (generated before timing). A limit sits a few ticks on its
 * own side of the mid, and about one in five crosses it; cancels pick among recent
 * limits, some of which have filled by then (a no-op on both books).
 */
function generate(n, rand) {
  const kind = new Uint8Array(n);
  const buy = new Uint8Array(n);
  const price = new Int32Array(n);
  const qty = new Int32Array(n);
  const target = new Int32Array(n).fill(-1);
  const recent = [];
  let mid = 10_000;
  for (let i = 0; i < n; i++) {
    if (rand() < 0.05) mid += rand() < 0.5 ? -1 : 1;
    const r = rand();
    buy[i] = rand() < 0.5 ? 1 : 0;
    if (r < 0.7) {
      kind[i] = LIMIT;
      const away = Math.floor(rand() * 14) - 3;
      price[i] = buy[i] ? mid - away : mid + away;
      qty[i] = 1 + Math.floor(rand() * 100);
      recent.push(i);
      if (recent.length > 5_000) recent.shift();
    } else if (r < 0.8) {
      kind[i] = MARKET;
      qty[i] = 1 + Math.floor(rand() * 150);
    } else {
      kind[i] = CANCEL;
      if (recent.length > 0) {
        const k = Math.floor(rand() * recent.length);
        target[i] = recent[k];
        recent[k] = recent[recent.length - 1];
        recent.pop();
      }
    }
  }
  return { n, kind, buy, price, qty, target };
}

const id = (i) => `o${i}`;

/** Our fills as a flat [maker, taker, price, qty, …] list: the venue reports each as a maker leg then a taker leg. */
function runVenue(Venue, s) {
  const venue = new Venue(SPEC, CLOB);
  const fills = [];
  for (let i = 0; i < s.n; i++) {
    const k = s.kind[i];
    if (k === CANCEL) {
      if (s.target[i] >= 0) venue.cancel(id(s.target[i]), i);
    } else {
      const limit = k === LIMIT;
      venue.submit(
        { id: id(i), account: "bench", side: s.buy[i] ? "buy" : "sell", type: limit ? "limit" : "market", tif: limit ? "gtc" : "ioc", qty: s.qty[i], notional: null, maxLots: null, limit: limit ? s.price[i] : null, stop: null, cap: null, expiresAt: null },
        i,
      );
    }
    let maker;
    for (const r of venue.drain().reports) {
      if (r.kind !== "fill") continue;
      if (r.liquidity === "maker") maker = r;
      else fills.push(maker.orderId, r.orderId, r.price, r.qty);
    }
  }
  return { fills, resting: [...venue.orders].length };
}

/** nodejs-order-book's fills: used-up makers in `done`, then at most one partly filled `partial`; the taker itself shows up in either and is skipped. */
function runReference(s) {
  const book = new ReferenceBook();
  const fills = [];
  for (let i = 0; i < s.n; i++) {
    const k = s.kind[i];
    if (k === CANCEL) {
      if (s.target[i] >= 0) book.cancel(id(s.target[i]));
      continue;
    }
    const taker = id(i);
    const side = s.buy[i] ? ReferenceSide.BUY : ReferenceSide.SELL;
    const result = k === LIMIT ? book.limit({ id: taker, side, size: s.qty[i], price: s.price[i] }) : book.market({ side, size: s.qty[i] });
    if (result.err) throw new Error(`nodejs-order-book refused command ${i}: ${result.err.message}`);
    for (const o of result.done) if (o.id !== taker) fills.push(o.id, taker, o.price, o.size);
    const p = result.partial;
    if (p && p.id !== taker) fills.push(p.id, taker, p.price, result.partialQuantityProcessed);
  }
  return { fills };
}

function timed(run) {
  const start = performance.now();
  const result = run();
  return { ...result, seconds: (performance.now() - start) / 1000 };
}

function firstDifference(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i += 4) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2] || a[i + 3] !== b[i + 3]) return i;
  }
  return -1;
}

const Venue = await loadVenue();
const stream = generate(COMMANDS, seededRandom(SEED));
const ours = timed(() => runVenue(Venue, stream));
const theirs = timed(() => runReference(stream));

const at = firstDifference(ours.fills, theirs.fills);
if (at >= 0) {
  const fill = (f) => (f.length > at ? f.slice(at, at + 4).join(" ") : "none");
  console.error(`fills differ at fill #${at / 4}: venue ${fill(ours.fills)}, nodejs-order-book ${fill(theirs.fills)}`);
  process.exit(1);
}

const rate = (r) => Math.round(COMMANDS / r.seconds);
const result = {
  commands: COMMANDS,
  seed: SEED,
  fills: ours.fills.length / 4,
  restingAtEnd: ours.resting,
  venueCommandsPerSecond: rate(ours),
  referenceCommandsPerSecond: rate(theirs),
  ratio: round(rate(ours) / rate(theirs)),
};
console.log(`commands            ${COMMANDS.toLocaleString("en-US")} (seed ${SEED})`);
console.log(`fills               ${result.fills.toLocaleString("en-US")}, identical on both books; ${ours.resting.toLocaleString("en-US")} orders rest at the end`);
console.log(`venue               ${result.venueCommandsPerSecond.toLocaleString("en-US")} commands/s (${round(ours.seconds, 3)} s)`);
console.log(`nodejs-order-book   ${result.referenceCommandsPerSecond.toLocaleString("en-US")} commands/s (${round(theirs.seconds, 3)} s)`);
console.log(`ratio               ${result.ratio}×`);
writeResult("venue", result);
