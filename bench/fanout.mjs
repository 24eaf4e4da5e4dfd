// Market-data fan-out benchmark: `node bench/fanout.mjs`
//   env FANOUT_SIZES (default "1000,5000,10000"), FANOUT_SECONDS (15 per size),
//   FANOUT_TICK_MS (100: the benchmark symbol's simulator interval), FANOUT_HANDSHAKES (200
//   handshakes in flight while connecting).
// N WebSocket clients subscribe to trades and quotes of one dedicated simulated symbol; a
// single subscriber runs first as the baseline. Per N it reports connect time, ticks
// published, delivery (messages received / ticks' messages x clients, checked against the
// symbol's own stored trades and quotes) and tick-to-client latency (receive time - event
// time `t`, same machine clock). The platform runs through Miniflare (see lib/miniflare.mjs)
// because wrangler dev's proxy runs out of file handles past ~3,000 sockets.
// Prints a table and a `BENCH_RESULT {...}` line, also written to bench/results/fanout.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { startMiniflare } from "./lib/miniflare.mjs";
import { api, benchAccount, createAsset, expectStatus, fdLimits, ROOT, round, sleep } from "./lib/platform.mjs";
import { cpuMeter, descendantsNamed, openFds, rssMb } from "./lib/proc.mjs";
import { closeAll, connectAll, Recorder, subscribeAll } from "./lib/stream-clients.mjs";

const SIZES = (process.env.FANOUT_SIZES ?? "1000,5000,10000").split(",").map(Number);
const SECONDS = Number(process.env.FANOUT_SECONDS ?? 15);
const TICK_MS = Number(process.env.FANOUT_TICK_MS ?? 100);
const HANDSHAKES = Number(process.env.FANOUT_HANDSHAKES ?? 200);
const WARMUP_MS = 2000;
// Messages of window ticks still in flight when the window closes count as delivered if
// they arrive within this long; a backlog beyond it is reported as undelivered.
const STRAGGLER_MS = 10_000;
const SYMBOL = "FANOUT";
const HUBS = 16; // wrangler.toml STREAM_HUBS
// Each client is one socket here and one in workerd; the rest is headroom for both.
const FD_HEADROOM = 1000;

/** What the symbol itself stored for [from, to): the ground truth for delivery. */
async function published(base, headers, from, to) {
  const range = `start=${new Date(from).toISOString()}&end=${new Date(to - 1).toISOString()}&limit=10000`;
  const get = (dataset) => expectStatus(api(base, "GET", `/v2/stocks/${SYMBOL}/${dataset}?${range}`, undefined, headers), 200, `${dataset} history`);
  const [trades, quotes] = await Promise.all([get("trades"), get("quotes")]);
  if (trades.next_page_token || quotes.next_page_token) throw new Error("more than 10,000 ticks in the window: lower FANOUT_SECONDS");
  return { tradeIds: trades.trades.map((t) => t.i), quotes: quotes.quotes.length };
}

async function socketsPerHub(platform) {
  return Promise.all(Array.from({ length: HUBS }, async (_, i) => (await (await platform.stub("STREAM_HUB", `hub-${i}`)).stats()).sockets));
}

async function waitUntil(predicate, timeoutMs, stepMs = 200) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await sleep(stepMs);
  }
  return false;
}

const sameSequence = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function runRound(ctx, n) {
  const { platform, account, workerd } = ctx;
  const recorder = new Recorder();
  const url = `${platform.base.replace(/^http/, "ws")}/v2/iex`;
  const connectStart = performance.now();
  const { clients, errors } = await connectAll({ url, headers: account.keyHeaders, n, inFlight: HANDSHAKES, recorder });
  const connectS = (performance.now() - connectStart) / 1000;
  const subscribeStart = performance.now();
  const subscribed = await subscribeAll(clients, recorder, { action: "subscribe", trades: [SYMBOL], quotes: [SYMBOL] });
  const subscribeS = (performance.now() - subscribeStart) / 1000;
  await sleep(WARMUP_MS);

  const hubs = await socketsPerHub(platform);
  const symbolHubs = (await (await platform.stub("MARKET", SYMBOL)).status()).hubs;
  const from = Date.now();
  recorder.open(from, from + SECONDS * 1000);
  const meter = cpuMeter([process.pid, workerd]);
  await sleep(SECONDS * 1000);
  const [nodeCpu, workerdCpu] = meter();
  const truth = await published(platform.base, account.keyHeaders, from, from + SECONDS * 1000);
  const lastId = truth.tradeIds.at(-1) ?? 0;
  await waitUntil(() => clients.every((c) => c.lastTradeId >= lastId), STRAGGLER_MS);
  const resources = { node_rss_mb: rssMb(process.pid), workerd_rss_mb: rssMb(workerd), node_fds: openFds(process.pid), workerd_fds: openFds(workerd) };

  const perTick = 2; // one quote and one trade per step (tradeProbability 1)
  const ticks = truth.quotes;
  const delivered = clients.reduce((sum, c) => sum + c.tradeIds.length + c.quotes, 0);
  const expected = (truth.tradeIds.length + truth.quotes) * clients.length;
  const h = recorder.histogram;
  const row = {
    n,
    connected: clients.length,
    connect_errors: errors,
    subscribed,
    connect_s: round(connectS, 2),
    subscribe_s: round(subscribeS, 2),
    ticks,
    ticks_per_s: round(ticks / SECONDS, 2),
    messages_per_tick: round((truth.tradeIds.length + truth.quotes) / Math.max(1, ticks), 2),
    delivered,
    expected,
    delivery_pct: expected > 0 ? round((delivered / expected) * 100, 3) : null,
    clients_with_exact_trade_sequence: clients.filter((c) => sameSequence(c.tradeIds, truth.tradeIds)).length,
    latency_ms: { p50: round(h.quantile(0.5), 1), p99: round(h.quantile(0.99), 1), max: round(h.max, 1), samples: h.count },
    frames_per_s_delivered: round(delivered / perTick / SECONDS, 0),
    sockets_per_hub: { min: Math.min(...hubs), max: Math.max(...hubs), total: hubs.reduce((a, b) => a + b, 0) },
    symbol_hubs: symbolHubs,
    cpu_pct_of_one_core: { node_load_generator: nodeCpu, workerd: workerdCpu },
    ...resources,
  };

  await closeAll(clients);
  const drained = await waitUntil(async () => (await socketsPerHub(platform)).every((s) => s === 0), 60_000, 500);
  if (!drained) row.note = "hubs still held sockets 60 s after the clients closed";
  return row;
}

function printTable(rows, base) {
  const cols = [
    ["N", 6, (r) => r.n],
    ["conn", 6, (r) => r.connected],
    ["connect s", 10, (r) => r.connect_s],
    ["ticks (/s)", 12, (r) => `${r.ticks} (${r.ticks_per_s})`],
    ["delivered/expected", 22, (r) => `${r.delivered}/${r.expected}`],
    ["%", 9, (r) => r.delivery_pct],
    ["exact seq", 10, (r) => r.clients_with_exact_trade_sequence],
    ["p50 ms", 8, (r) => r.latency_ms.p50],
    ["p99 ms", 8, (r) => r.latency_ms.p99],
    ["max ms", 8, (r) => r.latency_ms.max],
    ["p50/base", 9, (r) => round(r.latency_ms.p50 / base.latency_ms.p50, 1)],
    ["p99/base", 9, (r) => round(r.latency_ms.p99 / base.latency_ms.p99, 1)],
    ["hub min-max", 12, (r) => `${r.sockets_per_hub.min}-${r.sockets_per_hub.max}`],
    ["CPU% node/wd", 13, (r) => `${r.cpu_pct_of_one_core.node_load_generator}/${r.cpu_pct_of_one_core.workerd}`],
  ];
  console.log("\n" + cols.map(([name, w]) => name.padStart(w)).join(""));
  for (const r of rows) console.log(cols.map(([, w, f]) => String(f(r)).padStart(w)).join(""));
  console.log("(latency: receive time - event time t, quotes and trades alike, 0.1 ms bins; t has ms precision so figures carry up to +1 ms)");
  console.log("(hub min-max: sockets on the emptiest and fullest of the 16 hubs; CPU%: of one core each, during the window)");
  for (const r of rows) {
    if (Object.keys(r.connect_errors).length > 0) console.log(`N=${r.n} connect errors: ${JSON.stringify(r.connect_errors)}`);
    if (r.subscribed !== r.connected) console.log(`N=${r.n}: ${r.connected - r.subscribed} clients got no subscription echo`);
    if (r.note) console.log(`N=${r.n}: ${r.note}`);
  }
}

async function main() {
  const started = Date.now();
  const limits = fdLimits();
  const needed = Math.max(...SIZES) + FD_HEADROOM;
  console.log(`# RedFire market-data fan-out benchmark: N = 1 (baseline), ${SIZES.join(", ")}; ${SECONDS} s window per N after ${WARMUP_MS / 1000} s warm-up`);
  console.log(`# one symbol (${SYMBOL}) simulated every ${TICK_MS} ms with a trade on every step; clients subscribe to its trades and quotes`);
  console.log(`# ${cpus().length} CPU cores shared by the load generator (this Node process, all clients) and workerd (Miniflare, all ${HUBS} hubs);`);
  console.log(`# ${round(totalmem() / 2 ** 30, 1)} GB RAM; fd limit (ulimit -n): soft ${limits.soft}, hard ${limits.hard}; needs about ${needed} per process`);
  if (limits.soft < needed)
    throw new Error(`ulimit -n is ${limits.soft}; ${needed} needed for ${Math.max(...SIZES)} clients. Raise it (ulimit -n ${needed}, hard limit ${limits.hard}) or lower FANOUT_SIZES`);

  const platform = await startMiniflare();
  const onSignal = () => platform.dispose().finally(() => process.exit(130));
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    const [workerd] = descendantsNamed(process.pid, "workerd");
    console.log(`# platform (Miniflare ${platform.base}, workerd pid ${workerd}) ready after ${round((Date.now() - started) / 1000, 1)} s`);
    const account = await benchAccount(platform.base, platform.promote);
    await createAsset(platform.base, account.bearer, SYMBOL, { kind: "sim", params: { seed: 1, startPrice: "100.00", tickIntervalMs: TICK_MS, tradeProbability: 1 } });

    const rows = [];
    for (const n of [1, ...SIZES]) {
      const row = await runRound({ platform, account, workerd }, n);
      console.log(`# N=${n}: ${row.connected} connected in ${row.connect_s} s, delivery ${row.delivery_pct} %, p50 ${row.latency_ms.p50} ms, p99 ${row.latency_ms.p99} ms`);
      rows.push(row);
    }
    printTable(rows, rows[0]);

    const result = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      fd_limit: limits,
      tick_ms: TICK_MS,
      seconds: SECONDS,
      handshakes_in_flight: HANDSHAKES,
      hubs: HUBS,
      rounds: rows,
      elapsed_seconds: round((Date.now() - started) / 1000, 1),
    };
    const line = JSON.stringify(result);
    mkdirSync(join(ROOT, "bench/results"), { recursive: true });
    writeFileSync(join(ROOT, "bench/results/fanout.json"), line + "\n");
    console.log(`\nBENCH_RESULT ${line}`);
  } catch (error) {
    console.error(`last platform output:\n${platform.log()}`);
    throw error;
  } finally {
    await platform.dispose();
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
