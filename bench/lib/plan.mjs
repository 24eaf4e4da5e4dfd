// The declared number of checks of a script that drives a real `wrangler dev`: it prints
// "plan N" before its first check, and .ci/run counts every planned check that never
// printed "ok" as failed, so a script that stops early or skips a check cannot pass.
import { readFileSync } from "node:fs";

/**
 * Prints and returns "plan N", N being the calls of `fn` the script makes at the start of
 * a statement (`await fn(` or `const x = await fn(`) in its own source: a check added to
 * the script is planned without anyone updating a number. A call inside a loop would
 * report more "ok" lines than planned, which .ci/run also counts as a failure.
 */
export function planFromSource(scriptUrl, fn) {
  const source = readFileSync(new URL(scriptUrl), "utf8");
  const calls = source.match(new RegExp(`^\\s*(?:(?:const|let) \\w+ = )?await ${fn}\\(`, "gm")) ?? [];
  console.log(`plan ${calls.length}`);
  return calls.length;
}
