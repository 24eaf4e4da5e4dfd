// Runs the Workers test suite (for CI and for `npm test`), with a watchdog for a run that
// stops reporting, and counts its results.
//
// The stall CI met at every other run from 4 to 6 December (a workerd at full CPU, no file
// reported) was a test's own endless loop: test/trading/number-formats.test.ts's reference
// binary search never ended for random inputs with more than 2^53 affordable lots (about
// one run of that file in three). The stacks this script prints (below) named it: the main
// thread in BigInt arithmetic. Fixed there; the watchdog stays for any other.
//
// @cloudflare/vitest-pool-workers can stall between two test files: the last file's
// results print, then nothing more, no error and no exit (cloudflare/workers-sdk#15498,
// open; CI once sat silent for over an hour after test/market/symbol.test.ts). Every file
// normally reports within about a minute, so after STALL_MINUTES with no output the run
// is stopped (its whole process group, workerd included) after printing what its processes
// were doing, and the files that had not reported run again in a new run. Each file's
// results are written as it ends (scripts/vitest-results.mjs), so a failure reported before
// a stall stays counted. Files that never report, after the last attempt, count as failed.
//
// Usage: node scripts/vitest-ci.mjs <counts file> [vitest filters]
// Writes "<passed> <failed>" to the counts file; exits non-zero if anything failed.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";

const [countsFile, ...filters] = process.argv.slice(2);
if (!countsFile) throw new Error("usage: node scripts/vitest-ci.mjs <counts file> [vitest filters]");
// The slowest file reports within about a minute; a stalled run (twice in one run on 5
// December, each time a new workerd at full CPU before its file started) is given five.
const STALL_MINUTES = Number(process.env.VITEST_STALL_MINUTES ?? 5);
const ATTEMPTS = 5;
const results = `${countsFile}.jsonl`;

/** Runs vitest on `files` (all when empty) until it exits or stalls. */
function run(files) {
  return new Promise((resolve) => {
    const args = ["vitest", "run", "--reporter=default", "--reporter=./scripts/vitest-results.mjs", ...files];
    // detached: the run is its own process group and session, workerd included.
    const child = spawn("npx", args, { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, VITEST_RESULTS: results } });
    let last = Date.now();
    let stalled = false;
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ]) {
      from.on("data", (chunk) => {
        last = Date.now();
        to.write(chunk);
      });
    }
    const timer = setInterval(() => {
      if (stalled || Date.now() - last < STALL_MINUTES * 60_000) return;
      stalled = true;
      console.log(`\n::: tests: no output for ${STALL_MINUTES} minutes: vitest has stalled. Its processes:`);
      try {
        console.log(execFileSync("ps", ["-o", "pid,ppid,stat,etime,time,pcpu,args", "--sid", String(child.pid)], { encoding: "utf8" }));
      } catch {
        console.log("(ps printed nothing)");
      }
      // What a spinning workerd is doing (the stalls so far: a workerd at full CPU, started
      // as the previous file ended, before the next file began): each thread's stack.
      for (const pid of busyWorkerds(child.pid)) console.log(stacksOf(pid));
      // The files it was in: started and not ended (once a run stalled with one workerd at
      // full CPU for the whole eight minutes; which file was not known).
      try {
        // This attempt's records: those after its list of files.
        const all = records();
        const own = all.slice(Math.max(0, all.findLastIndex((r) => r.files)));
        const ended = new Set(own.flatMap((r) => (r.file ? [r.file] : [])));
        const inFlight = [...new Set(own.flatMap((r) => (r.started && !ended.has(r.started) ? [relative(process.cwd(), r.started)] : [])))];
        console.log(`::: tests: files started and not ended: ${inFlight.length > 0 ? inFlight.join(", ") : "(none)"}`);
      } catch {
        console.log("::: tests: could not read the files in flight");
      }
      kill(child.pid, "SIGTERM");
      setTimeout(() => kill(child.pid, "SIGKILL"), 15_000).unref();
    }, 10_000);
    child.on("close", (code) => {
      clearInterval(timer);
      // A stopped run's processes are gone before the next attempt starts (its workerd was
      // still spinning when the next run began, and that one stalled at once).
      if (stalled) waitForGroupExit(child.pid).then(() => resolve({ code: code ?? 1, stalled }));
      else resolve({ code: code ?? 1, stalled });
    });
  });
}

/** The workerd processes of session `sid` using more than half a core. */
function busyWorkerds(sid) {
  try {
    return execFileSync("ps", ["-o", "pid=,pcpu=,comm=", "--sid", String(sid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter(([, cpu, comm]) => comm === "workerd" && Number(cpu) > 50)
      .map(([pid]) => Number(pid));
  } catch {
    return [];
  }
}

/** Every thread's stack of `pid` by gdb (when the machine has it), cut to a readable length. */
function stacksOf(pid) {
  try {
    const out = execFileSync("gdb", ["-p", String(pid), "-batch", "-nx", "-ex", "thread apply all bt 25"], { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "pipe"] });
    const frames = out.split("\n").filter((line) => /^(Thread|#)/.test(line));
    return `::: tests: stacks of workerd ${pid}:\n${frames.slice(0, 400).join("\n")}`;
  } catch (error) {
    return `::: tests: no stacks of workerd ${pid} (${String(error).split("\n")[0]})`;
  }
}

/** Waits until no process of the group `pid` is left (at most 30 s, then kills what is). */
async function waitForGroupExit(pid) {
  for (let waited = 0; waited < 30_000; waited += 500) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  kill(pid, "SIGKILL");
}

function kill(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group has already exited.
  }
}

const records = () =>
  readFileSync(results, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));

mkdirSync(dirname(results), { recursive: true });
writeFileSync(results, "");
let files = filters;
let all = null;
let code = 0;
let unhandled = 0;
for (let n = 1; n <= ATTEMPTS; n += 1) {
  const attempt = await run(files);
  const seen = records();
  all ??= seen.find((r) => r.files)?.files ?? null;
  if (!attempt.stalled) {
    code = attempt.code;
    break;
  }
  const reported = new Set(seen.filter((r) => r.file).map((r) => r.file));
  // Stalled before the run listed its files: run the same selection again.
  const left = all ? all.filter((f) => !reported.has(f)) : null;
  if (left && left.length === 0) {
    // Every file reported; the run stalled on its way out. Its end record says whether
    // anything went wrong outside the files; without it that is unknown, so it fails.
    code = seen.some((r) => r.end !== undefined) ? 0 : 1;
    break;
  }
  files = left ? left.map((f) => relative(process.cwd(), f)) : filters;
  code = 1;
  if (n === ATTEMPTS) console.log(`::: tests: stopped the stalled run (attempt ${n} of ${ATTEMPTS})`);
  else console.log(`::: tests: stopped the stalled run (attempt ${n} of ${ATTEMPTS}); ${left ? `running the files that had not reported (${left.length})` : "running it again"}`);
}

// A file's first result counts: a filter of a later attempt may match a file that had
// reported, and running it again must not replace a failure.
const byFile = new Map();
for (const r of records()) {
  if (r.file && !byFile.has(r.file)) byFile.set(r.file, r);
  if (r.end !== undefined) unhandled += r.unhandled;
}
let passed = 0;
let failed = 0;
for (const r of byFile.values()) {
  passed += r.passed;
  // Skipped and pending tests are checks that did not run: failures here, as before.
  failed += r.failed + r.skipped + r.pending;
  if (r.errors > 0 && r.failed === 0) failed += 1;
}
const missing = (all ?? []).filter((f) => !byFile.has(f));
for (const f of missing) console.log(`::: tests: ${relative(process.cwd(), f)} never reported`);
failed += missing.length;
if (all === null) failed += 1;
if (unhandled > 0) {
  console.log(`::: tests: ${unhandled} unhandled error(s)`);
  failed += 1;
}
// vitest's own exit code covers what the records cannot (a crashed pool, a failing global setup).
if (code !== 0 && failed === 0) {
  console.log(`::: tests: vitest exited ${code} with no failure in its results`);
  failed += 1;
}
console.log(`::: tests: ${byFile.size} files, ${passed} passed, ${failed} failed`);
writeFileSync(countsFile, `${passed} ${failed}\n`);
process.exit(failed > 0 ? 1 : 0);
