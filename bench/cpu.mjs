// CPU per request benchmark: `npm run bench:cpu` (env BENCH_ROUNDS, BENCH_AMOUNT,
// BENCH_CONNECTIONS, BENCH_ACCOUNTS). Starts the platform with wrangler dev in a throwaway
// state dir and measures, for each of wrangler's processes (the Worker's workerd, the
// proxy's workerd, wrangler's node) and for the load generator itself, the CPU time one
// request costs: `GET /health`, then `POST /v2/orders` (market buys that fill, from many
// accounts), BENCH_ROUNDS times alternately. Each window counts from the first request
// until 4 s after the last, so the queue consumer's projection of an order's events is in
// the order's cost, and each process's idle CPU (the demo feeds) measured just before is
// taken out.
//
// req/s on two shared cores swings by a third between windows minutes apart; CPU time per
// request is a second reading of what an order costs next to a /health in the same run,
// and says where it goes (it varies between rounds too: run it more than once). Their
// ratio (health's CPU ÷ an order's) over wrangler's three processes is the orders ÷
// /health req/s a load generator costing nothing would see; with the load generator's own
// CPU, what autocannon on the same cores can see. Prints a table and a `BENCH_RESULT {...}`
// line, also written to bench/results/cpu.json.
import autocannon from "autocannon";
import { cpus } from "node:os";
import { placingRequest, signUpMany } from "./lib/orders.mjs";
import { median, round, sleep, withPlatform, writeResult } from "./lib/platform.mjs";
import { commandLine, cpuSeconds, descendantsNamed } from "./lib/proc.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const AMOUNT = Number(process.env.BENCH_AMOUNT ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100);
const IDLE_MS = 3000;
const DRAIN_MS = 4000;
// Each account places AMOUNT / ACCOUNTS orders a window, ROUNDS + 1 windows within its
// 200-a-minute risk limit (RISK_LIMITS.ordersPerMinute) at the default sizes.

/** CPU seconds so far of a process; `SELF` is this one, the load generator. */
const SELF = 0;
const totalCpu = (pid) => {
  if (pid === SELF) {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  }
  const { user, sys } = cpuSeconds(pid);
  return user + sys;
};

/**
 * CPU ms per request of each process over one window of `amount` requests, idle use
 * removed. (autocannon ends a counted run on its one-second tick, so the window's req/s is
 * not a figure worth printing.)
 */
async function window(base, pids, request, amount) {
  let before = pids.map(totalCpu);
  const idleStart = performance.now();
  await sleep(IDLE_MS);
  const idleSeconds = (performance.now() - idleStart) / 1000;
  const idleRate = pids.map((pid, i) => (totalCpu(pid) - before[i]) / idleSeconds);
  before = pids.map(totalCpu);
  const start = performance.now();
  const result = await autocannon({ url: base, connections: CONNECTIONS, amount, requests: [request] });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) throw new Error(`${request.path}: ${result.non2xx} non-2xx ${JSON.stringify(result.statusCodeStats)}, ${result.errors} errors, ${result.timeouts} timeouts`);
  await sleep(DRAIN_MS);
  const seconds = (performance.now() - start) / 1000;
  return pids.map((pid, i) => ((totalCpu(pid) - before[i] - idleRate[i] * seconds) / amount) * 1000);
}

async function main() {
  const started = Date.now();
  console.log(`# RedFire CPU per request: ${ROUNDS} rounds of ${AMOUNT} GET /health then ${AMOUNT} POST /v2/orders (market buys that fill, ${ACCOUNTS} accounts), ${CONNECTIONS} connections`);
  console.log(`# wrangler dev (local workerd) on ${cpus().length} CPU cores; per process, CPU time from /proc over each window and ${DRAIN_MS / 1000} s after it, idle use taken out`);
  await withPlatform("cpu", {}, async (base) => {
    const workerds = descendantsNamed(process.pid, "workerd");
    const nodes = descendantsNamed(process.pid, "node").filter((pid) => /wrangler-dist\/cli\.js/.test(commandLine(pid)));
    if (workerds.length !== 2 || nodes.length !== 1) throw new Error(`expected wrangler's two workerd processes and its node, found workerd ${workerds.join(",")} and node ${nodes.join(",")}`);
    const pids = [...workerds, ...nodes, SELF];

    const order = placingRequest((await signUpMany(base, ACCOUNTS)).map((authorization) => ({ authorization })), "market");
    const health = { method: "GET", path: "/health" };
    // Warm-up: isolates, JIT, every account's object and its first price.
    await autocannon({ url: base, connections: CONNECTIONS, amount: ACCOUNTS * 2, requests: [order] });
    await autocannon({ url: base, connections: CONNECTIONS, amount: AMOUNT, requests: [health] });
    await sleep(DRAIN_MS);

    const rounds = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const h = await window(base, pids, health, AMOUNT);
      const o = await window(base, pids, order, AMOUNT);
      rounds.push({ health: h, order: o });
      const fmt = (w) => `${w.map((x) => x.toFixed(2)).join(" / ")} ms`;
      console.log(`  round ${r}: /health ${fmt(h)}; order ${fmt(o)}`);
    }

    // The Worker's workerd is the one that works hardest for orders.
    const workerIndex = [0, 1].sort((a, b) => median(rounds.map((x) => x.order[b])) - median(rounds.map((x) => x.order[a])))[0];
    const names = ["", "", "wrangler's node", "the load generator"];
    names[workerIndex] = "the Worker's workerd";
    names[1 - workerIndex] = "the proxy's workerd";
    const perProcess = names.map((name, i) => ({
      process: name,
      health_ms: round(median(rounds.map((x) => x.health[i])), 2),
      order_ms: round(median(rounds.map((x) => x.order[i])), 2),
    }));
    // The platform: wrangler's three processes; the machine: those and the load generator.
    const sum = (ms, n) => ms.slice(0, n).reduce((a, b) => a + b, 0);
    const reading = (n) => ({
      health_ms: round(median(rounds.map((x) => sum(x.health, n))), 2),
      order_ms: round(median(rounds.map((x) => sum(x.order, n))), 2),
      ratios: rounds.map((x) => round(sum(x.health, n) / sum(x.order, n), 3)),
    });
    const platform = reading(3);
    const machine = reading(4);
    console.log(`\n${"process".padEnd(24)}${"/health ms".padStart(12)}${"order ms".padStart(10)}   (CPU per request, median of ${ROUNDS} rounds)`);
    const line = (name, health, order) => console.log(`${name.padEnd(24)}${health.toFixed(2).padStart(12)}${order.toFixed(2).padStart(10)}`);
    for (const p of perProcess) line(p.process, p.health_ms, p.order_ms);
    line("wrangler's three", platform.health_ms, platform.order_ms);
    line("all four", machine.health_ms, machine.order_ms);
    console.log(`\n/health's CPU ÷ an order's: ${median(platform.ratios)} over wrangler's three processes (rounds ${platform.ratios.join(", ")}), the orders ÷ /health req/s that a load generator costing nothing would see;`);
    console.log(`${median(machine.ratios)} with the load generator's own (rounds ${machine.ratios.join(", ")}), what autocannon on the same two cores can see.`);

    const result = {
      connections: CONNECTIONS,
      accounts: ACCOUNTS,
      amount: AMOUNT,
      rounds: rounds.map((x) => ({ health_ms: x.health.map((v) => round(v, 3)), order_ms: x.order.map((v) => round(v, 3)) })),
      processes: names,
      per_process: perProcess,
      platform: { ...platform, ratio: median(platform.ratios) },
      machine: { ...machine, ratio: median(machine.ratios) },
      elapsed_seconds: round((Date.now() - started) / 1000, 1),
    };
    writeResult("cpu", result);
  });
}

await main();
