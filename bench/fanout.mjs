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

import { cpus, totalmem } from "node:os";
import { startMiniflare } from "./lib/miniflare.mjs";
import { api, benchAccount, createAsset, expectStatus, fdLimits, round, sleep, writeResult } from "./lib/platform.mjs";
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
const SUBSCRIBE_TIMEOUT_MS = 180_000;
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
  const setupMeter = cpuMeter([process.pid, workerd]);
  const connectStart = performance.now();
  const { clients, errors } = await connectAll({ url, headers: account.keyHeaders, n, inFlight: HANDSHAKES, recorder });
  const connectS = (performance.now() - connectStart) / 1000;
  const subscribeStart = performance.now();
  const subscribed = await subscribeAll(clients, recorder, { action: "subscribe", trades: [SYMBOL], quotes: [SYMBOL] }, SUBSCRIBE_TIMEOUT_MS);
  const subscribeS = (performance.now() - subscribeStart) / 1000;
  const [setupNode, setupWorkerd] = setupMeter();
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

  const ticks = truth.quotes; // every simulator step quotes; with tradeProbability 1 it also trades
  const messages = truth.tradeIds.length + truth.quotes;
  const delivered = clients.reduce((sum, c) => sum + c.tradeIds.length + c.quotes, 0);
  const expected = messages * clients.length;
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
    // The symbol re-arms its alarm only after every hub has taken the tick, so a slow
    // fan-out shows up as fewer ticks, not as lost messages.
    tick_rate_pct_of_configured: round((ticks / ((SECONDS * 1000) / TICK_MS)) * 100, 1),
    messages_published: messages,
    delivered,
    expected,
    delivery_pct: expected > 0 ? round((delivered / expected) * 100, 3) : null,
    clients_with_exact_trade_sequence: clients.filter((c) => sameSequence(c.tradeIds, truth.tradeIds)).length,
    latency_ms: { p50: round(h.quantile(0.5), 1), p99: round(h.quantile(0.99), 1), max: round(h.max, 1), samples: h.count },
    frames_per_s_delivered: round((ticks * clients.length) / SECONDS, 0),
    sockets_per_hub: { min: Math.min(...hubs), max: Math.max(...hubs), total: hubs.reduce((a, b) => a + b, 0) },
    symbol_hubs: symbolHubs,
    cpu_pct_of_one_core: { window: { node_load_generator: nodeCpu, workerd: workerdCpu }, connect_and_subscribe: { node_load_generator: setupNode, workerd: setupWorkerd } },
    ...resources,
  };

  await closeAll(clients);
  const drained = await waitUntil(async () => (await socketsPerHub(platform)).every((s) => s === 0), 60_000, 500);
  if (!drained) row.note = "hubs still held sockets 60 s after the clients closed";
  row.workerd_rss_mb_after_close = rssMb(workerd);
  return row;
}

function printTable(title, cols, rows) {
  console.log(`\n${title}\n` + cols.map(([name, w]) => name.padStart(w)).join(""));
  for (const r of rows) console.log(cols.map(([, w, f]) => String(f(r)).padStart(w)).join(""));
}

function printResults(rows) {
  const [base] = rows;
  // CPU time is counted in 10 ms ticks: over a phase shorter than a second it is noise.
  const cpu = (phase) => (r) =>
    phase !== "window" && r.connect_s + r.subscribe_s < 1
      ? "-"
      : `${r.cpu_pct_of_one_core[phase].node_load_generator.total}/${r.cpu_pct_of_one_core[phase].workerd.total}`;
  printTable("Delivery and tick-to-client latency", [
    ["N", 6, (r) => r.n],
    ["ticks", 7, (r) => r.ticks],
    ["ticks/s", 9, (r) => r.ticks_per_s],
    ["% of cfg", 10, (r) => r.tick_rate_pct_of_configured],
    ["delivered/expected", 22, (r) => `${r.delivered}/${r.expected}`],
    ["%", 9, (r) => r.delivery_pct],
    ["exact seq", 13, (r) => `${r.clients_with_exact_trade_sequence}/${r.connected}`],
    ["p50 ms", 8, (r) => r.latency_ms.p50],
    ["p99 ms", 8, (r) => r.latency_ms.p99],
    ["max ms", 8, (r) => r.latency_ms.max],
    ["p50÷N=1", 9, (r) => round(r.latency_ms.p50 / base.latency_ms.p50, 1)],
    ["p99÷N=1", 9, (r) => round(r.latency_ms.p99 / base.latency_ms.p99, 1)],
    ["CPU% node/wd", 14, cpu("window")],
  ], rows);
  console.log(`(ticks: simulator steps the symbol stored in the ${SECONDS} s window, each one quote + one trade; % of cfg: of one per ${TICK_MS} ms;`);
  console.log(" delivered/expected: quote+trade messages received by all clients ÷ (messages published × clients); exact seq: clients whose");
  console.log(" trade ids equal the symbol's stored ones in order; latency: receive time - event time t over quotes and trades, 0.1 ms bins,");
  console.log(" t has ms precision so figures carry up to +1 ms; CPU%: of one core each during the window)");
  printTable("Connections and resources", [
    ["N", 6, (r) => r.n],
    ["connected", 11, (r) => r.connected],
    ["connect s", 11, (r) => r.connect_s],
    ["conn/s", 8, (r) => Math.round(r.connected / Math.max(r.connect_s, 0.001))],
    ["subscribe s", 13, (r) => r.subscribe_s],
    ["echoed", 8, (r) => r.subscribed],
    ["CPU% node/wd", 14, cpu("connect_and_subscribe")],
    ["hub min-max", 13, (r) => `${r.sockets_per_hub.min}-${r.sockets_per_hub.max}`],
    ["fds node/wd", 13, (r) => `${r.node_fds}/${r.workerd_fds}`],
    ["RSS MB node/wd", 16, (r) => `${r.node_rss_mb}/${r.workerd_rss_mb}`],
    ["wd MB closed", 14, (r) => r.workerd_rss_mb_after_close],
  ], rows);
  console.log(`(connect: handshakes with key headers, ${HANDSHAKES} in flight; subscribe: until each client's subscription echo, at most ${SUBSCRIBE_TIMEOUT_MS / 1000} s;`);
  console.log(" CPU% during connect + subscribe; hub min-max: sockets on the emptiest and fullest of the 16 hubs; wd MB closed: workerd RSS once the hubs are empty)");
  for (const r of rows) {
    if (Object.keys(r.connect_errors).length > 0) console.log(`N=${r.n} connect errors: ${JSON.stringify(r.connect_errors)}`);
    if (r.subscribed !== r.connected) console.log(`N=${r.n}: ${r.connected - r.subscribed} clients got no subscription echo within ${SUBSCRIBE_TIMEOUT_MS / 1000} s`);
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
  console.log(`# locally the symbol and all ${HUBS} hubs share workerd's one JS thread, so hubs fan out one after another, not in parallel;`);
  console.log(`# ${round(totalmem() / 2 ** 30, 1)} GB RAM; fd limit (ulimit -n): soft ${limits.soft}, hard ${limits.hard}; needs about ${needed} per process`);
  if (limits.soft < needed)
    throw new Error(`ulimit -n is ${limits.soft}; ${needed} needed for ${Math.max(...SIZES)} clients. Raise it (ulimit -n ${needed}, hard limit ${limits.hard}) or lower FANOUT_SIZES`);

  // Every subscriber is the same benchmark user: lift the per-user socket limit above N.
  const platform = await startMiniflare({ vars: { SOCKET_LIMITS: JSON.stringify({ connectionsPerUser: 20_000 }) } });
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
    printResults(rows);

    const result = {
      fd_limit: limits,
      tick_ms: TICK_MS,
      seconds: SECONDS,
      handshakes_in_flight: HANDSHAKES,
      hubs: HUBS,
      rounds: rows,
      elapsed_seconds: round((Date.now() - started) / 1000, 1),
    };
    writeResult("fanout", result);
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
