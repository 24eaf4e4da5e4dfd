// Runs the Workers test suite for CI with a watchdog for one known runner fault.
//
// @cloudflare/vitest-pool-workers can stall between two test files: the last file's
// results print, then nothing more, no error and no exit (cloudflare/workers-sdk#15498,
// open; CI once sat silent for over an hour after test/market/symbol.test.ts). Every file
// normally reports within about two minutes, so after STALL_MINUTES with no output the
// run is stopped (its whole process group, workerd included) after printing what its
// processes were doing, and the suite runs once more from the start. Only the run that
// finishes writes the report that CI counts. A stalled run that had already shown a failed
// test is not run again: its failure stands. A second stall fails the step.
//
// Usage: node scripts/vitest-ci.mjs <json report path> [more vitest arguments]
import { spawn, execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";

const report = process.argv[2];
if (!report) throw new Error("usage: node scripts/vitest-ci.mjs <json report path>");
const STALL_MINUTES = Number(process.env.VITEST_STALL_MINUTES ?? 6);
const ATTEMPTS = 2;
// A failed test or file in the default reporter's lines, colours stripped.
const FAILED_LINE = /^\s*(×|❯ test\/|FAIL )/;

function attempt() {
  return new Promise((resolve) => {
    rmSync(report, { force: true });
    const child = spawn("npx", ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(3)], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let last = Date.now();
    let sawFailure = false;
    let stalled = false;
    let pending = "";
    const watch = (stream, out) =>
      stream.on("data", (chunk) => {
        last = Date.now();
        out.write(chunk);
        pending += chunk.toString();
        const lines = pending.split("\n");
        pending = lines.pop();
        for (const line of lines) if (FAILED_LINE.test(stripVTControlCharacters(line))) sawFailure = true;
      });
    watch(child.stdout, process.stdout);
    watch(child.stderr, process.stderr);
    const timer = setInterval(() => {
      if (stalled || Date.now() - last < STALL_MINUTES * 60_000) return;
      stalled = true;
      console.log(`\n::: tests: no output for ${STALL_MINUTES} minutes: vitest has stalled. Its processes:`);
      try {
        // detached: the run is its own session, workerd included.
        console.log(execFileSync("ps", ["-o", "pid,ppid,stat,etime,time,pcpu,args", "--sid", String(child.pid)], { encoding: "utf8" }));
      } catch {
        console.log("(ps printed nothing)");
      }
      kill(child.pid, "SIGTERM");
      setTimeout(() => kill(child.pid, "SIGKILL"), 15_000).unref();
    }, 10_000);
    child.on("close", (code, signal) => {
      clearInterval(timer);
      resolve({ code: code ?? 1, signal, stalled, sawFailure });
    });
  });
}

function kill(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group has already exited.
  }
}

for (let n = 1; n <= ATTEMPTS; n += 1) {
  const result = await attempt();
  if (!result.stalled) process.exit(result.code);
  rmSync(report, { force: true });
  if (result.sawFailure) {
    console.log("::: tests: the stalled run had already shown a failed test; not running it again");
    process.exit(1);
  }
  if (n < ATTEMPTS) console.log(`::: tests: stopped the stalled run (attempt ${n} of ${ATTEMPTS}); running the whole suite again`);
}
console.log(`::: tests: vitest stalled in each of ${ATTEMPTS} attempts`);
process.exit(1);
