// Gateway benchmark: `npm run bench` (env BENCH_CONNECTIONS, BENCH_SECONDS).
// Starts the platform with the project's own dev script (wrangler dev + local D1/DO) in a
// throwaway state dir, then measures what authentication adds to a request and what one
// password hash costs. Prints a table and a `BENCH_RESULT {...}` line, which is also
// written to bench/results/gateway.json.
import autocannon from "autocannon";
import { randomBytes, scrypt } from "node:crypto";
import { cpus } from "node:os";
import { promisify } from "node:util";
import { api, expectStatus, percentile, round, withPlatform, writeResult } from "./lib/platform.mjs";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const KDF_SAMPLES = 20;
// Must match workers/lib/passwords.ts.
const SCRYPT = { N: 2 ** 14, r: 8, p: 5, keyLength: 32, maxmem: 64 * 1024 * 1024 };
const PASSWORD = "bench-password-0042";

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

// Same load for every target; a short warm-up first so isolate start-up, JIT and the
// first D1/DO touches are not in the figures. Any non-2xx means we measured the wrong thing.
async function load(base, target, path, headers = {}) {
  const options = { url: base + path, headers, connections: CONNECTIONS };
  for (const duration of [WARMUP_SECONDS, SECONDS]) {
    const r = await autocannon({ ...options, duration });
    if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r.requests.total === 0)
      throw new Error(
        `${target}: ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodeStats)}, ${r.errors} errors, ${r.timeouts} timeouts of ${r.requests.total} requests`,
      );
    if (duration === SECONDS) return { target, rps: round(r.requests.mean, 1), p50_ms: r.latency.p50, p99_ms: r.latency.p99, requests: r.requests.total };
  }
}

// Sequential wall-clock timings in ms of an async function (one warm-up call first).
async function timeEach(n, fn) {
  await fn();
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return { mean_ms: round(mean(samples)), p50_ms: round(percentile(samples, 50)), samples: n };
}

async function main() {
  const started = Date.now();
  await withPlatform("gateway", {}, async (base) => {
    console.log(`# RedFire gateway benchmark: ${CONNECTIONS} connections x ${SECONDS} s per target (after ${WARMUP_SECONDS} s warm-up)`);
    console.log(`# wrangler dev (local workerd) on ${base}; ${cpus().length} CPU cores shared by the load generator (autocannon) and workerd,`);
    console.log("# so absolute figures understate a real deployment; the ratios to /health are the useful part.");

    console.log(`# platform healthy after ${round((Date.now() - started) / 1000, 1)} s`);

    const tag = randomBytes(4).toString("hex");
    const email = `loadtest-${tag}@example.com`;
    const registered = await expectStatus(
      api(base, "POST", "/api/auth/register", { email, username: `loadtest_${tag}`, password: PASSWORD }),
      201,
      "register",
    );
    const jwt = registered.access_token;
    const key = await expectStatus(api(base, "POST", "/api/keys", { name: "bench", scopes: ["read"] }, { authorization: `Bearer ${jwt}` }), 201, "create API key");

    const rows = [
      await load(base, "GET /health", "/health"),
      await load(base, "GET /api/users/me (JWT)", "/api/users/me", { authorization: `Bearer ${jwt}` }),
      await load(base, "GET /api/users/me (API key)", "/api/users/me", { "apca-api-key-id": key.key_id, "apca-api-secret-key": key.secret }),
    ];
    const [health] = rows;
    for (const row of rows) {
      row.rps_ratio = round(row.rps / health.rps, 3);
      row.p50_ratio = health.p50_ms > 0 ? round(row.p50_ms / health.p50_ms, 2) : null;
    }

    // KDF in Node: the same parameters, on an otherwise idle machine (workerd is idle now).
    const hash = promisify(scrypt);
    const nodeKdf = await timeEach(KDF_SAMPLES, () =>
      hash(`pepper\u0000${PASSWORD}`, randomBytes(16), SCRYPT.keyLength, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: SCRYPT.maxmem }),
    );
    // KDF in the Worker: a correct-password login does exactly one verify (one scrypt);
    // the rest of its cost (D1 reads, session insert, DO hits) is why the /api/users/me
    // baseline is also shown: login minus that is the tighter estimate.
    const healthSeq = await timeEach(KDF_SAMPLES, () => expectStatus(api(base, "GET", "/health"), 200, "health"));
    const meSeq = await timeEach(KDF_SAMPLES, () => expectStatus(api(base, "GET", "/api/users/me", undefined, { authorization: `Bearer ${jwt}` }), 200, "users/me"));
    const loginSeq = await timeEach(KDF_SAMPLES, () => expectStatus(api(base, "POST", "/api/auth/login", { email, password: PASSWORD }), 200, "login"));
    const kdf = {
      params: { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, keylen: SCRYPT.keyLength },
      node_scrypt: nodeKdf,
      worker_sequential: { health: healthSeq, users_me_jwt: meSeq, login: loginSeq },
      worker_kdf_estimate_ms: round(loginSeq.p50_ms - healthSeq.p50_ms),
      worker_kdf_estimate_vs_users_me_ms: round(loginSeq.p50_ms - meSeq.p50_ms),
    };

    const pad = (s, n) => String(s).padEnd(n);
    const num = (s, n) => String(s).padStart(n);
    console.log(`\n${pad("target", 28)}${num("req/s", 10)}${num("p50 ms", 9)}${num("p99 ms", 9)}${num("req/s ÷ health", 16)}${num("p50 ÷ health", 14)}`);
    for (const r of rows) console.log(`${pad(r.target, 28)}${num(r.rps, 10)}${num(r.p50_ms, 9)}${num(r.p99_ms, 9)}${num(r.rps_ratio, 16)}${num(r.p50_ratio ?? "n/a", 14)}`);
    console.log("(autocannon records latency in whole milliseconds; every response above was 2xx)");

    console.log(`\nscrypt N=2^14 r=8 p=5 keylen=32, ${KDF_SAMPLES} sequential samples each:`);
    console.log(`  Node crypto.scrypt:              mean ${nodeKdf.mean_ms} ms, p50 ${nodeKdf.p50_ms} ms`);
    console.log(`  Worker GET /health:              mean ${healthSeq.mean_ms} ms, p50 ${healthSeq.p50_ms} ms`);
    console.log(`  Worker GET /api/users/me (JWT):  mean ${meSeq.mean_ms} ms, p50 ${meSeq.p50_ms} ms`);
    console.log(`  Worker POST /api/auth/login:     mean ${loginSeq.mean_ms} ms, p50 ${loginSeq.p50_ms} ms`);
    console.log(`  in-Worker KDF estimate (login p50 - health p50):   ${kdf.worker_kdf_estimate_ms} ms`);
    console.log(`  tighter estimate (login p50 - users/me p50):       ${kdf.worker_kdf_estimate_vs_users_me_ms} ms`);

    const result = {
      connections: CONNECTIONS,
      seconds: SECONDS,
      warmup_seconds: WARMUP_SECONDS,
      load: rows,
      kdf,
      elapsed_seconds: round((Date.now() - started) / 1000, 1),
    };
    writeResult("gateway", result);
  });
}

main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
