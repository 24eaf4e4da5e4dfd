// The researchers' backtest command, run as they run it (`node scripts/backtest.mjs …`,
// once through `npm run backtest`), on CSV files written here from seeded bars.
//   npm run test:cli      (prints "plan N", "ok …" / "FAIL …" per check, then "N passed, M failed")
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { planFromSource } from "../../bench/lib/plan.mjs";
import { seededRandom } from "../../bench/lib/random.mjs";
import { importBundle, reexport, ROOT } from "../../scripts/lib/bundle.mjs";

const HOUR = 3_600_000;
const START = Date.UTC(2025, 0, 1);
const FAST = 5;
const SLOW = 20;

const tally = { passed: 0, failed: 0 };

async function check(name, fn) {
  try {
    await fn();
    tally.passed++;
    console.log(`ok ${name}`);
  } catch (error) {
    tally.failed++;
    console.log(`FAIL ${name}: ${String(error?.message ?? error).replace(/\s+/g, " ").slice(0, 600)}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Hourly bars around 100.00 on a 0.01 grid, in ticks. */
function seededTicks(count, seed) {
  const rand = seededRandom(seed);
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const bars = [];
  let close = 10_000;
  for (let i = 0; i < count; i++) {
    const open = Math.max(500, close + int(-3, 3));
    close = Math.max(500, open + int(-60, 60));
    bars.push({ t: START + i * HOUR, open, high: Math.max(open, close) + int(0, 20), low: Math.max(100, Math.min(open, close) - int(0, 20)), close, volume: int(0, 5000) });
  }
  return bars;
}

const price = (ticks) => (ticks / 100).toFixed(2);
const csv = (bars, time) => ["timestamp,open,high,low,close,volume", ...bars.map((b) => [time(b.t), price(b.open), price(b.high), price(b.low), price(b.close), (b.volume / 1000).toFixed(3)].join(","))].join("\n") + "\n";

/** The contract's moving-average cross as a plain loop: each fill's bar, side and price. */
function plainLoop(bars, fast, slow) {
  const sum = (t, k) => bars.slice(t - k + 1, t + 1).reduce((s, b) => s + b.close, 0);
  const above = (t) => slow * sum(t, fast) > fast * sum(t, slow);
  const fills = [];
  let long = false;
  for (let t = slow; t + 1 < bars.length; t++) {
    const was = above(t - 1);
    const is = above(t);
    const side = !was && is && !long ? "buy" : was && !is && long ? "sell" : null;
    if (side === null) continue;
    fills.push({ time: new Date(bars[t + 1].t).toISOString(), side, price: price(bars[t + 1].open) });
    long = side === "buy";
  }
  return fills;
}

function backtest(args) {
  // A run that hangs (a strategy's endless loop the budget missed) fails its check instead of CI.
  const run = spawnSync(process.execPath, [join(ROOT, "scripts/backtest.mjs"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function json(run) {
  assert(run.code === 0, `exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const dir = mkdtempSync(join(tmpdir(), "redfire-cli-"));
const file = (name, text) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

planFromSource(import.meta.url, "check");
try {
  const bars = seededTicks(1500, 20_260_102);
  const rfc = file("btc-usd.csv", csv(bars, (t) => new Date(t).toISOString()));
  const epoch = file("btc-usd-epoch.csv", csv(bars, (t) => String(t)));
  const maArgs = (path) => ["--strategy", "ma-cross", "--csv", path, "--params", JSON.stringify({ fast: FAST, slow: SLOW }), "--fee-bps", "7", "--min-fee", "0.01", "--half-spread-ticks", "0", "--slippage-ticks", "0", "--json"];
  let first;

  await check("--json prints one object whose fills are the plain loop's: at the next bars' opens, same sides and prices", () => {
    const run = backtest(maArgs(rfc));
    first = run.stdout;
    const out = json(run);
    assert(Object.keys(out).join() === "metrics,fills", `top-level keys ${Object.keys(out)}`);
    const expected = plainLoop(bars, FAST, SLOW);
    assert(expected.length > 20, `only ${expected.length} signals in the generated bars`);
    const got = out.fills.map((f) => ({ time: f.time, side: f.side, price: f.price }));
    assert(JSON.stringify(got) === JSON.stringify(expected), `fills differ from the plain loop: first ${JSON.stringify(got.find((g, i) => JSON.stringify(g) !== JSON.stringify(expected[i])))}`);
    for (const f of out.fills) assert([f.qty, f.price, f.fee].every((x) => typeof x === "string" && /^\d+(\.\d+)?$/.test(x)), `fill ${JSON.stringify(f)} is not decimal strings`);
    assert(out.fills.every((f) => Number(f.fee) >= 0.01), "a fill paid less than the minimum fee");
  });

  await check("--json metrics carry every documented name; money is a decimal string, ratios numbers or null", () => {
    const { metrics } = JSON.parse(first);
    const names = ["total_return", "cagr", "annualized_volatility", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration", "win_rate", "profit_factor", "expectancy", "average_trade", "exposure", "trades", "fees"];
    const missing = names.filter((n) => !(n in metrics));
    assert(missing.length === 0, `missing ${missing}`);
    assert(metrics.trades === Math.floor(plainLoop(bars, FAST, SLOW).length / 2), `trades ${metrics.trades}`);
    assert(typeof metrics.fees === "string" && Number(metrics.fees) > 0, `fees ${metrics.fees}`);
    assert(Number.isInteger(metrics.max_drawdown_duration) && metrics.max_drawdown_duration % HOUR === 0, `max_drawdown_duration ${metrics.max_drawdown_duration} is not whole hours in ms`);
    for (const n of ["total_return", "sharpe", "max_drawdown", "exposure"]) assert(typeof metrics[n] === "number", `${n} is ${metrics[n]}`);
  });

  await check("RFC 3339 and epoch-ms timestamps give byte-identical output", () => {
    const run = backtest(maArgs(epoch));
    assert(run.code === 0, `exit ${run.code}: ${run.stderr}`);
    assert(run.stdout === first, "the outputs differ");
  });

  await check("npm run backtest prints the metrics table and the trade list, reading a --csv path from where the command was typed", () => {
    // Typed in a folder of the package, with the CSV's path relative to it (found in QA: "no file").
    const typedIn = join(ROOT, "web");
    const run = spawnSync("npm", ["run", "-s", "backtest", "--", "--strategy", "ma-cross", "--csv", relative(typedIn, rfc), "--params", JSON.stringify({ fast: FAST, slow: SLOW }), "--fee-bps", "7", "--min-fee", "0.01"], { cwd: typedIn, encoding: "utf8" });
    assert(run.status === 0, `exit ${run.status}: ${run.stderr}`);
    for (const label of ["total return", "Sharpe", "max drawdown duration", "profit factor", "Fills ("]) assert(run.stdout.includes(label), `no "${label}" in the report`);
    const firstFill = JSON.parse(first).fills[0];
    assert(run.stdout.includes(firstFill.time) && run.stdout.includes(firstFill.qty), "the first fill is not listed");
    // Money reads in cents: the exact --json amount, rounded (not every digit of it).
    const exact = JSON.parse(first).metrics.end_equity;
    const shown = /end equity\s+(-?\d+\.\d+) USD/.exec(run.stdout)?.[1];
    assert(shown !== undefined && /\.\d\d$/.test(shown), `end equity shown as ${shown}`);
    assert(Math.abs(Number(shown) - Number(exact)) <= 0.005, `end equity ${shown} is not ${exact} to the cent`);
  });

  await check("a user's TypeScript strategy file runs: its default export trades at the next bar's open", () => {
    const strategy = file(
      "buy-and-sell.ts",
      `interface Ctx { state: { [k: string]: number }; buy(o: { qty: string }): string; sell(o: { qty: string }): string; indicators: { sma(n: number): { update(x: number): number | null } } }
const entry: number = 5;
// Printing must not break --json's one-object stdout.
console.log("loaded");
export default {
  params: { hold: 3 },
  onStart(ctx: Ctx) { ctx.state = { bar: -1 }; },
  onBar(_bar: { close: number }, ctx: Ctx & { params: { hold: number } }) {
    ctx.state.bar += 1;
    console.info("bar", ctx.state.bar);
    if (ctx.state.bar === entry) ctx.buy({ qty: "1.5" });
    if (ctx.state.bar === entry + ctx.params.hold) ctx.sell({ qty: "1.5" });
  },
};
`,
    );
    const out = json(backtest(["--strategy", strategy, "--csv", rfc, "--params", '{"hold":4}', "--json"]));
    const expected = [
      { time: new Date(bars[6].t).toISOString(), side: "buy", qty: "1.5", price: price(bars[6].open), fee: "0.00" },
      { time: new Date(bars[10].t).toISOString(), side: "sell", qty: "1.5", price: price(bars[10].open), fee: "0.00" },
    ];
    assert(JSON.stringify(out.fills) === JSON.stringify(expected), `fills ${JSON.stringify(out.fills)}`);
    assert(out.metrics.trades === 1, `trades ${out.metrics.trades}`);
  });

  await check("a strategy file runs as uploaded code runs: Date.now() is the event's time, Math.random() the sandbox's seeded sequence", () => {
    // Its top level runs with the clock and random sources already replaced, as in the sandbox.
    const strategy = file(
      "dice.js",
      `const atLoad = [Date.now(), Math.random()];
export default {
  onStart(ctx) { ctx.log("load " + atLoad.join(" ")); },
  onBar(bar, ctx) {
    if (Date.now() !== ctx.now || new Date().getTime() !== ctx.now) throw new Error("the clock is not the event's");
    const roll = Math.random();
    if (ctx.state.rolls === undefined) ctx.state.rolls = [];
    if (ctx.state.rolls.length < 3) ctx.log("roll " + roll);
    ctx.state.rolls.push(roll);
    if (roll < 0.2 && ctx.position.qty === "0") ctx.buy({ qty: "1" });
    if (roll > 0.8 && ctx.position.qty !== "0") ctx.sell({ qty: ctx.position.qty });
  },
};
`,
    );
    const runs = [1, 2].map(() => backtest(["--strategy", strategy, "--csv", rfc, "--json"]));
    for (const run of runs) assert(run.code === 0, `exit ${run.code}: ${run.stderr}`);
    assert(runs[0].stdout === runs[1].stdout && JSON.parse(runs[0].stdout).fills.length > 2, "two runs of the same file differ, or trade too little to tell");
    // The sandbox's generator (sandbox/determinism.ts): mulberry32 from its fixed seed.
    let seed = 0x2545f491;
    const next = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const load = /load (\S+) (\S+)/.exec(runs[0].stderr);
    assert(load !== null && load[1] === "0" && Number(load[2]) === next(), `at load: ${load?.[0]}`);
    const rolls = [...runs[0].stderr.matchAll(/roll (\S+)/g)].map((m) => Number(m[1]));
    assert(JSON.stringify(rolls) === JSON.stringify([next(), next(), next()]), `rolls ${JSON.stringify(rolls)}`);
    // Run through a link to the file (macOS's /tmp is one), it is the same file: still guarded.
    const linked = join(dir, "linked");
    symlinkSync(dir, linked);
    file("spin-linked.js", `export default {\n  onBar() {\n    for (;;) {}\n  },\n};\n`);
    const viaLink = backtest(["--strategy", join(linked, "spin-linked.js"), "--csv", rfc, "--json"]);
    assert(viaLink.code === 1 && viaLink.stderr.includes("LoopBudgetError"), `through a link: exit ${viaLink.code}: ${viaLink.stderr}`);
  });

  await check("a loop that never ends stops at the sandbox's loop budget with its line, exit 1; an import is refused as on upload, exit 2", () => {
    const spinning = file("spin.js", `export default {\n  onBar() {\n    let i = 0;\n    while (true) i++;\n  },\n};\n`);
    const run = backtest(["--strategy", spinning, "--csv", rfc, "--json"]);
    assert(run.code === 1 && /^backtest: the strategy failed: LoopBudgetError: more than 10,000,000 loop iterations in one callback.*\(.*spin\.js:4:\d+\)$/.test(run.stderr.trim()), `exit ${run.code}: ${run.stderr}`);
    // On a one-line file the column is the file's: the second loop's keyword, past the first loop's guard.
    const oneLine = `export default { onBar() { for (let i = 0; i < 3; i++) {} let j = 0; while (j >= 0) j++; } };`;
    const spinningLine = file("spin-line.js", oneLine);
    const lineRun = backtest(["--strategy", spinningLine, "--csv", rfc, "--json"]);
    const column = oneLine.indexOf("while (") + 1;
    assert(lineRun.code === 1 && lineRun.stderr.trim().endsWith(`spin-line.js:1:${column})`), `exit ${lineRun.code}, column ${column} expected: ${lineRun.stderr}`);
    const importing = file("imports.ts", `import { helper } from "./helper";\nexport default { onBar() { helper(); } };\n`);
    const refused = backtest(["--strategy", importing, "--csv", rfc, "--json"]);
    assert(refused.code === 2 && refused.stderr.includes(`--strategy: ${importing}: imports are not available at line 1`), `exit ${refused.code}: ${refused.stderr}`);
    assert(refused.stdout === "", `stdout: ${refused.stdout}`);
  });

  await check("a bad CSV row exits 2 and names its line on stderr, stdout empty", () => {
    const lines = csv(bars.slice(0, 50), (t) => new Date(t).toISOString()).split("\n");
    lines[6] = lines[6].replace(/,([\d.]+),/, ",12.345,"); // line 7 of the file: open off the 0.01 grid
    const run = backtest(["--strategy", "ma-cross", "--csv", file("bad.csv", lines.join("\n")), "--json"]);
    assert(run.code === 2, `exit ${run.code}`);
    assert(/line 7: open "12\.345"/.test(run.stderr), `stderr: ${run.stderr}`);
    assert(run.stderr.includes("CSV rejected: 1 problem on 1 line; nothing was run"), `stderr: ${run.stderr}`);
    assert(run.stdout === "", `stdout: ${run.stdout}`);
    // Past the first 100 problems the list says it stopped short.
    const many = csv(bars.slice(0, 150), (t) => new Date(t).toISOString()).split("\n").map((line, i) => (i === 0 ? line : line.replace(/,([\d.]+),/, ",12.345,")));
    const manyRun = backtest(["--strategy", "ma-cross", "--csv", file("many.csv", many.join("\n")), "--json"]);
    // It ends with the count: the options' list is no help with a file's rows.
    assert(manyRun.code === 2 && manyRun.stderr.trimEnd().endsWith("(the first 100 found; there may be more); nothing was run"), `exit ${manyRun.code}: ${manyRun.stderr.slice(-300)}`);
  });

  await check("parameters the template's schema refuses exit 2 with each issue", () => {
    const run = backtest(["--strategy", "ma-cross", "--csv", rfc, "--params", '{"fast":30,"slow":10}', "--json"]);
    assert(run.code === 2, `exit ${run.code}`);
    // A message that names its field says it once.
    assert(run.stderr.includes("--params: fast must be less than slow"), `stderr: ${run.stderr}`);
    const typed = backtest(["--strategy", "ma-cross", "--csv", rfc, "--params", '{"slow":"long"}']);
    assert(typed.code === 2 && typed.stderr.includes("--params: slow: must be a number, not a string"), `exit ${typed.code}: ${typed.stderr}`);
    const notJson = backtest(["--strategy", "ma-cross", "--csv", rfc, "--params", "{fast:5}"]);
    assert(notJson.code === 2 && notJson.stderr.includes("--params: not JSON"), `exit ${notJson.code}: ${notJson.stderr}`);
  });

  await check("a strategy file that throws exits 1 with its message and its own line, no stack; so does one that throws as it loads", () => {
    const throwing = file("throws.ts", `export default {\n  onBar(bar: { close: number }) {\n    if (bar.close > 0) throw new RangeError("boom");\n  },\n};\n`);
    const run = backtest(["--strategy", throwing, "--csv", rfc, "--json"]);
    assert(run.code === 1, `exit ${run.code}: ${run.stderr}`);
    // The TypeScript file's line and column (through the bundle's source map), not the bundle's.
    assert(run.stderr.trim() === `backtest: the strategy failed: RangeError: boom (${throwing}:3:30)`, `stderr: ${run.stderr}`);
    assert(run.stdout === "", `stdout: ${run.stdout}`);
    const top = file("top.js", `throw new TypeError("no");\nexport default { onBar() {} };\n`);
    const loading = backtest(["--strategy", top, "--csv", rfc]);
    assert(loading.code === 1 && loading.stderr.trim() === `backtest: the strategy failed as it loaded: TypeError: no (${top}:1:7)`, `exit ${loading.code}: ${loading.stderr}`);
  });

  await check("a strategy file's eval and new Function are refused as in the sandbox (exit 1), whether node was given the flag or not", () => {
    // Found in QA: an eval'd loop ran past the loop budget here, and the sandbox refuses it.
    for (const [name, text] of [
      ["eval.js", `export default {\n  onBar(bar, ctx) { eval("let i = 0; while (i < 3e7) i++;"); ctx.log("ran"); },\n};\n`],
      ["function.js", `export default {\n  onBar(bar, ctx) { new Function("for (;;) {}")(); },\n};\n`],
    ]) {
      const strategy = file(name, text);
      const run = backtest(["--strategy", strategy, "--csv", rfc, "--json"]);
      assert(run.code === 1, `${name}: exit ${run.code}: ${run.stderr}`);
      assert(run.stderr.includes("EvalError: Code generation from strings disallowed for this context"), `${name}: ${run.stderr}`);
      assert(run.stdout === "", `${name}: stdout ${run.stdout}`);
    }
  });

  await check("a --csv that cannot be read (a directory) exits 2 with one line, no stack", () => {
    const run = backtest(["--strategy", "ma-cross", "--csv", dir]);
    assert(run.code === 2 && run.stderr.startsWith(`backtest: --csv: cannot read ${dir}: it is a directory`), `exit ${run.code}: ${run.stderr}`);
    assert(!run.stderr.includes("    at "), `a stack: ${run.stderr}`);
  });

  await check("--maker-bps and --taker-bps set one side each: the MA cross's market orders pay the taker's fee", () => {
    const base = backtest(maArgs(rfc));
    // --fee-bps 7 in maArgs; a lower maker fee changes nothing for orders that take on arrival
    // (a higher one would: a buy holds the larger of the two as its worst-case fee).
    const split = backtest([...maArgs(rfc), "--maker-bps", "0", "--taker-bps", "7"]);
    assert(split.code === 0 && split.stdout === base.stdout, `exit ${split.code}: ${split.stderr}`);
    const cheaper = json(backtest([...maArgs(rfc), "--taker-bps", "3"]));
    assert(Number(cheaper.metrics.fees) < Number(json(base).metrics.fees), `fees ${cheaper.metrics.fees} against ${json(base).metrics.fees}`);
    const bad = backtest([...maArgs(rfc), "--maker-bps", "abc"]);
    assert(bad.code === 2 && bad.stderr.includes('--maker-bps: "abc" is not a number of basis points'), `exit ${bad.code}: ${bad.stderr}`);
  });

  await check("metrics in Node equal the Workers runtime's to the last bit: the CAGR test/strategy/metrics.test.ts pins there", async () => {
    // V8's `**` differs in the last place between Node 20 and workerd on this curve (found in
    // QA); the metrics use exp and log, which agree.
    const { computeMetrics, parseMoney } = await importBundle([reexport(["computeMetrics"], "shared/strategy/metrics.ts"), reexport(["parseMoney"], "shared/trading/money.ts")]);
    const points = [
      { t: 0, equity: parseMoney("100000.00") },
      { t: 500 * HOUR, equity: parseMoney("102109.57") },
    ];
    const { cagr } = computeMetrics(points, [], { exposedBars: 0 });
    assert(cagr === 0.44195914022789173, `cagr ${cagr}`);
  });

  await check("bad options exit 2 and name every offending option", () => {
    const run = backtest(["--strategy", "ma-cross", "--csv", rfc, "--tick", "0", "--fee-bps", "abc", "--half-spread-ticks", "1.5", "--json"]);
    assert(run.code === 2, `exit ${run.code}`);
    for (const option of ["--tick", "--fee-bps", "--half-spread-ticks"]) assert(run.stderr.includes(`${option}:`), `no ${option} in ${run.stderr}`);
    const unknown = backtest(["--strategy", "ma-cross", "--csv", rfc, "--fees", "7"]);
    // In one line of the command's words, not Node's advice about positional arguments.
    assert(unknown.code === 2 && unknown.stderr.includes("unknown option --fees\n(npm run backtest -- --help lists the options)") && !unknown.stderr.includes("positional"), `exit ${unknown.code}: ${unknown.stderr}`);
    const dashed = backtest(["--strategy", "ma-cross", "--csv", rfc, "--cash", "-5"]);
    assert(dashed.code === 2 && dashed.stderr.includes('--cash needs a value; one that starts with "-" is written --cash=<value>'), `exit ${dashed.code}: ${dashed.stderr}`);
    // A number out of range is said as such, not as a notation or grid problem.
    const large = backtest(["--strategy", "ma-cross", "--csv", rfc, "--cash", "1e30", "--quote-size", `1${"0".repeat(40)}`]);
    assert(large.code === 2 && large.stderr.includes("write it in digits") && large.stderr.includes(`"1${"0".repeat(40)}" is more than 2^53 lots`), `exit ${large.code}: ${large.stderr}`);
    // A size in exponent notation is refused as --cash's is, saying how to write it.
    const exponent = backtest(["--strategy", "ma-cross", "--csv", rfc, "--quote-size", "1e3"]);
    assert(exponent.code === 2 && exponent.stderr.includes('--quote-size: "1e3" is not a positive size on the 0.000000001 lot grid; write it in digits, like 10 or 0.5'), `exit ${exponent.code}: ${exponent.stderr}`);
    const valueless = backtest(["--strategy", "ma-cross", "--csv"]);
    assert(valueless.code === 2 && valueless.stderr.includes("--csv needs a value"), `exit ${valueless.code}: ${valueless.stderr}`);
    const template = backtest(["--strategy", "no-such-template", "--csv", rfc]);
    assert(template.code === 2 && template.stderr.includes("ma-cross"), `exit ${template.code}: ${template.stderr}`);
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${tally.passed} passed, ${tally.failed} failed`);
process.exit(tally.failed === 0 ? 0 : 1);
