// Helpers shared by the benchmarks: starting the platform with `wrangler dev` (as
// bench/gateway.mjs does), talking to its API, and small statistics. The Miniflare start
// for socket-heavy benchmarks is in ./miniflare.mjs.
/* global AbortSignal -- a Node 20 built-in missing from the shared eslint globals */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

export const ROOT = new URL("../..", import.meta.url).pathname;
// The dev defaults (auth 10/min, default 200/min) would turn a load test into a 429 test.
export const RATE_LIMITS = '{"windowSeconds":60,"auth":1000000,"trading":1000000,"data":1000000,"default":1000000}';
const PASSWORD = "bench-password-0042";

/**
 * Prints a benchmark's `BENCH_RESULT {...}` line and keeps it in bench/results/<name>.json,
 * stamped with when and where it ran (date, Node's version, cores).
 */
export function writeResult(name, result) {
  const line = JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, ...result });
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, `bench/results/${name}.json`), line + "\n");
  console.log(`\nBENCH_RESULT ${line}`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const round = (x, digits = 2) => Number(x.toFixed(digits));
export const percentile = (xs, q) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)];
};
/** The middle value, or the mean of the two middle values of an even count. */
export const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[Math.floor(mid)];
};

// Port 0 lets the OS pick a free port; wrangler then binds it (a tiny race we accept).
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Soft and hard "Max open files" of this process (children such as workerd inherit them). */
export function fdLimits() {
  if (!existsSync("/proc/self/limits")) return { soft: NaN, hard: NaN };
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files")) ?? "";
  const [soft, hard] = line.replace("Max open files", "").trim().split(/\s+/).map(Number);
  return { soft, hard };
}

// ---- wrangler dev ------------------------------------------------------------------------

// dev.mjs runs `npx wrangler d1 migrations apply` then `npx wrangler dev`, so there is a
// tree of processes; detached puts them in one group that we can kill together.
/** `vars` override wrangler.toml's (e.g. `{ REQUEST_METRICS: "off" }`). */
export function startWranglerDev(port, stateDir, vars = {}) {
  const overrides = Object.entries({ RATE_LIMITS, ...vars }).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const args = ["scripts/dev.mjs", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", stateDir, ...overrides];
  const child = spawn("node", args, { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  // Keep the output quiet but at hand: it is the only clue when startup fails.
  // Besides the tail, the last lines that are not routine (info-level logs and span lines
  // crowd out a warning or an error under load).
  let log = "";
  const unusual = [];
  const keep = (chunk) => {
    log = (log + chunk).slice(-8000);
    for (const line of String(chunk).split("\n")) if (line.trim() && !line.includes('"level":"info"') && !line.startsWith("[wrangler:info]")) unusual.push(line.slice(0, 2000));
    unusual.splice(0, Math.max(0, unusual.length - 40));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return { child, exited, log: () => `${log}\n---- the last lines other than info logs:\n${unusual.join("\n")}` };
}

export async function stopWranglerDev({ child, exited }) {
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is already gone
    }
  };
  killGroup("SIGTERM");
  if ((await Promise.race([exited.then(() => true), sleep(5000)])) !== true) killGroup("SIGKILL");
  await sleep(300); // grandchildren (workerd) may outlive the direct child by a moment
  killGroup("SIGKILL");
}

export async function waitHealthy(base, platform, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let exit;
  platform.exited.then((e) => (exit = e));
  while (Date.now() < deadline) {
    if (exit) throw new Error(`dev server exited (${JSON.stringify(exit)}) before /health answered:\n${platform.log()}`);
    const ok = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false);
    if (ok) return;
    await sleep(500);
  }
  throw new Error(`/health did not answer 200 within ${timeoutMs / 1000} s:\n${platform.log()}`);
}

/** Promotes a user through the documented script, against wrangler dev's persisted D1. */
export function makeAdminViaScript(email, stateDir) {
  const result = spawnSync("node", ["scripts/make-admin.mjs", email, "--persist-to", stateDir], { cwd: ROOT, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  if (result.status !== 0) throw new Error(`make-admin failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
}

// ---- API ---------------------------------------------------------------------------------

export async function api(base, method, path, body, headers = {}) {
  const isText = typeof body === "string";
  const response = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined && !isText ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : isText ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: the caller reports `text`
  }
  return { status: response.status, json, text };
}

export async function expectStatus(promise, status, what) {
  const response = await promise;
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status}: ${response.text.slice(0, 2000)}`);
  return response.json;
}

/**
 * A fresh user with a read-scoped API key. `promote(email)` makes it an admin before the
 * key is minted; roles are read from D1 on every request, so the same token then works.
 */
export async function benchAccount(base, promote) {
  const tag = randomBytes(4).toString("hex");
  const email = `loadtest-${tag}@example.com`;
  const registered = await expectStatus(api(base, "POST", "/api/auth/register", { email, username: `loadtest_${tag}`, password: PASSWORD }), 201, "register");
  const bearer = { authorization: `Bearer ${registered.access_token}` };
  if (promote) await promote(email);
  const key = await expectStatus(api(base, "POST", "/api/keys", { name: "bench", scopes: ["read"] }, bearer), 201, "create API key");
  return { email, bearer, key, keyHeaders: { "apca-api-key-id": key.key_id, "apca-api-secret-key": key.secret } };
}

/** Creates an instrument as an admin; returns the admin view (with its asset id). */
export function createAsset(base, bearer, symbol, feed) {
  const body = { symbol, name: `Benchmark ${symbol}`, class: "us_equity", exchange: "NASDAQ", tick_size: "0.01", lot_size: "1", feed };
  return expectStatus(api(base, "POST", "/api/admin/assets", body, bearer), 201, `create asset ${symbol}`);
}

/**
 * Starts wrangler dev with `vars` in a throwaway state dir, waits until it is healthy, runs
 * `work(base, stateDir)`, and stops it and removes the state afterwards, also on Ctrl-C.
 */
export async function withPlatform(name, vars, work) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const stateDir = mkdtempSync(join(tmpdir(), `redfire-bench-${name}-`));
  const platform = startWranglerDev(port, stateDir, vars);
  const cleanup = async () => {
    await stopWranglerDev(platform);
    rmSync(stateDir, { recursive: true, force: true });
  };
  const onSignal = () => cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    await waitHealthy(base, platform);
    return await work(base, stateDir);
  } catch (error) {
    // The server's last words are the only clue to an answer it should not have given.
    console.error(`wrangler dev's output before the failure:\n${platform.log()}`);
    throw error;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    await cleanup();
  }
}
