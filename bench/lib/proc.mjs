// Linux /proc readings for the benchmark's own process tree: which workerd serves the
// platform, how much CPU, memory and how many file handles each side uses. Benchmarks on
// two shared cores are only readable next to these numbers. Returns NaN off Linux.
import { existsSync, readdirSync, readFileSync } from "node:fs";

const CLOCK_TICKS_PER_S = 100; // USER_HZ; `getconf CLK_TCK` is 100 on Linux x86-64/arm64

const read = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

// Fields after the ")" that closes the command name, which may itself contain spaces.
const statFields = (pid) => read(`/proc/${pid}/stat`)?.replace(/^.*\)\s/s, "").split(" ");

/** Descendants of `root` whose command name is `name` (Miniflare spawns workerd itself). */
export function descendantsNamed(root, name) {
  if (!existsSync("/proc")) return [];
  const parent = new Map();
  const comm = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (!fields) continue;
    parent.set(Number(entry), Number(fields[1]));
    comm.set(Number(entry), read(`/proc/${entry}/comm`)?.trim());
  }
  const isBelow = (pid) => {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  return [...comm].filter(([pid, c]) => c === name && isBelow(pid)).map(([pid]) => pid);
}

/** A process's command line, its arguments joined by spaces ("" once it is gone). */
export const commandLine = (pid) => read(`/proc/${pid}/cmdline`)?.split("\0").join(" ") ?? "";

/** User and system CPU seconds used so far by one process. */
export function cpuSeconds(pid) {
  const fields = statFields(pid);
  return fields ? { user: Number(fields[11]) / CLOCK_TICKS_PER_S, sys: Number(fields[12]) / CLOCK_TICKS_PER_S } : { user: NaN, sys: NaN };
}

/** Resident memory in MB. */
export function rssMb(pid) {
  const kb = /VmRSS:\s+(\d+)/.exec(read(`/proc/${pid}/status`) ?? "")?.[1];
  return kb ? Math.round(Number(kb) / 1024) : NaN;
}

/** Open file descriptors. */
export function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/**
 * CPU use of several processes between two calls, as % of one core each (user + system),
 * with the system share apart: kernel socket work shows up there.
 */
export function cpuMeter(pids) {
  const start = { at: performance.now(), cpu: pids.map(cpuSeconds) };
  return () => {
    const seconds = (performance.now() - start.at) / 1000;
    const pct = (x) => Math.round((x / seconds) * 100);
    return pids.map((pid, i) => {
      const now = cpuSeconds(pid);
      const [user, sys] = [pct(now.user - start.cpu[i].user), pct(now.sys - start.cpu[i].sys)];
      return { total: user + sys, user, sys };
    });
  };
}
