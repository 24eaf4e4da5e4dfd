// A researcher's backtest from the command line:
//   npm run backtest -- --strategy ma-cross --csv bars.csv --params '{"fast":10,"slow":30}' [--json]
// (`--help` lists every option). It runs shared/strategy's runBacktest — the engine the
// platform's backtests and live strategies run — in Node, bundled with esbuild together
// with the user's strategy file when one is given, which runs as uploaded code runs in the
// sandbox (loadEngine). Bad input (an option, a CSV row, the
// parameters, the strategy file) is reported on stderr, with the line number where there
// is one, and exits 2; with --json stdout carries exactly one JSON object.
import { spawnSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BundleError, importBundle, reexport, ROOT } from "./lib/bundle.mjs";
import { readArgs, runOptions, strategySource, USAGE, UsageError } from "./lib/backtest-options.mjs";
import { fillsJson, metricsJson, textReport } from "./lib/backtest-report.mjs";

// Imported rows: a cap well above a few years of minute bars that still fits in memory.
const MAX_ROWS = 10_000_000;
// The CSV parser refuses bars after its `now`; history on the command line may be synthetic.
const LATEST_TIME = 8.64e15;

function fail(messages, code = 2, aboutOptions = true) {
  for (const message of messages) process.stderr.write(`backtest: ${message}\n`);
  if (code === 2 && aboutOptions) process.stderr.write("(npm run backtest -- --help lists the options)\n");
  process.exit(code);
}

/**
 * The engine, and a user's strategy file as the platform runs user code: compiled as on
 * save (TypeScript stripped by sucrase, imports refused, a syntax error with its line and
 * column), its loops guarded (sandbox/instrument.ts), with the sandbox's loop budget, event
 * clock and seeded randomness (sandbox/loop-budget.ts, determinism.ts) and its callbacks
 * run as the sandbox runs them (sandbox/callbacks.ts). So a file trades here as it trades
 * uploaded: `Date.now()` is the event's time, `Math.random()` the same sequence, and a
 * loop that never ends stops at the same budget with its line.
 */
async function loadEngine(file) {
  const engine = await importBundle(
    [
      // Refusals of --params in the API's words.
      `import ${JSON.stringify(join(ROOT, "shared/zod-messages.ts"))};`,
      reexport(["runBacktest"], "shared/strategy/backtest.ts"),
      reexport(["TEMPLATES", "templateParams"], "shared/strategy/templates/index.ts"),
      reexport(["parseOhlcvCsv", "csvRejection"], "shared/market/csv.ts"),
      reexport(["parseTimeframe"], "shared/market/timeframe.ts"),
      reexport(["InstrumentSpecSchema", "decimalToLots", "lotsToNumber", "ticksToNumber", "tooManySteps"], "shared/market/instrument.ts"),
      reexport(["VenueSettings", "startingCashProblem"], "shared/trading/config.ts"),
      reexport(["RiskLimits", "DEFAULT_LIMITS"], "shared/trading/risk.ts"),
      reexport(["parseMoney", "formatMoney", "roundHalfUp", "CENT"], "shared/trading/money.ts"),
      reexport(["compileStrategy"], "shared/strategy/compile.ts"),
      reexport(["guardLoops", "userColumn"], "sandbox/instrument.ts"),
    ],
    "redfire-backtest-",
  );
  if (!file) return engine;
  const compiled = engine.compileStrategy(readFileSync(file, "utf8"), /\.[cm]?ts$/.test(file) ? "ts" : "js");
  if (!compiled.ok) throw new UsageError([`--strategy: ${file}: ${compiled.error.message}`]);
  const guarded = engine.guardLoops(compiled.js);
  written = { js: compiled.js, userColumn: engine.userColumn };
  const budget = join(ROOT, "sandbox/loop-budget.ts");
  // The user's file is read as the guarded JavaScript (its lines unchanged), and its import
  // of the loop budget is the sandbox's module: frames in it still name the file's lines.
  // esbuild loads it by its real path (a link resolved), which the comparison must use.
  const real = realpathSync(file);
  const userCode = {
    name: "user-strategy",
    setup(build) {
      build.onResolve({ filter: /^\.\/loop-budget\.js$/ }, () => ({ path: budget }));
      build.onLoad({ filter: /.*/ }, (args) => (args.path === real || args.path === file ? { contents: guarded, loader: "js" } : undefined));
    },
  };
  // A user file's errors should name its own lines: the bundle carries a source map, which Node reads.
  process.setSourceMapsEnabled(true);
  const user = await importBundle(
    // The callbacks' module first: it imports the loop budget, whose determinism.ts patches
    // the clocks and random sources before any line of the user's module runs, as the
    // sandbox's entry does (a file without loops does not import the budget itself).
    [reexport(["withLoopBudget"], "sandbox/callbacks.ts"), `import * as userModule from ${JSON.stringify(file)};`, "export { userModule };"],
    "redfire-strategy-",
    { sourcemap: true, plugins: [userCode] },
  );
  return { ...engine, ...user };
}

/** The user file's JavaScript as compiled, before its loops were guarded, once loaded: what its columns are counted in. */
let written = null;

/**
 * What a strategy's error says, in one line: its message and, for a user file, the place in
 * it the error was thrown from (no stack of the engine's frames; DEBUG=1 prints the stack).
 * The place's column is the file's, not the guarded module's (sandbox/instrument.ts).
 */
function strategyError(error, file) {
  if (process.env.DEBUG) return String(error?.stack ?? error);
  const message = error instanceof Error ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}` : String(error);
  const frame = file && typeof error?.stack === "string" ? error.stack.split("\n").find((line) => line.includes(file)) : undefined;
  const at = frame?.match(/\(?(?:file:\/\/)?([^()\s]+):(\d+):(\d+)\)?\s*$/);
  if (!at) return message;
  const [, path, line, column] = at;
  return `${message} (${path}:${line}:${written ? written.userColumn(written.js, Number(line), Number(column)) : column})`;
}

/** The strategy object and its checked parameters, or a UsageError. */
function resolveStrategy(source, m, input) {
  if (source.template !== undefined) {
    const template = m.TEMPLATES.get(source.template);
    if (!template) throw new UsageError([`--strategy: no template "${source.template}"; templates: ${[...m.TEMPLATES.keys()].join(", ")} (or give a .ts/.js file)`]);
    const checked = m.templateParams(template, input);
    // A message that starts with its field's name is said once (found in QA: "fast: fast must be …").
    if (!checked.ok) throw new UsageError(checked.issues.map((i) => `--params: ${i.path && !i.message.startsWith(`${i.path} `) ? `${i.path}: ` : i.path ? "" : "(the object): "}${i.message}`));
    return { name: template.name, strategy: template.create(), params: checked.params };
  }
  const strategy = m.userModule.default;
  if (typeof strategy !== "object" || strategy === null) throw new UsageError([`--strategy: ${source.file} has no default export of a strategy object (export default { onBar(bar, ctx) { … } })`]);
  const callbacks = ["onStart", "onBar", "onTrade", "onQuote", "onOrderUpdate", "onStop"];
  const wrong = callbacks.filter((name) => name in strategy && typeof strategy[name] !== "function");
  if (wrong.length > 0) throw new UsageError([`--strategy: ${wrong.join(", ")} must be ${wrong.length === 1 ? "a function" : "functions"}`]);
  if (!callbacks.some((name) => typeof strategy[name] === "function")) throw new UsageError([`--strategy: the default export has none of ${callbacks.join(", ")}`]);
  return { name: source.file, file: source.file, strategy: m.withLoopBudget(strategy), params: input };
}

/** The CSV's rows as the strategy's bars, or every problem with their line numbers. */
function readBars(options, m) {
  let text;
  try {
    text = readFileSync(options.csv, "utf8");
  } catch (error) {
    throw new UsageError([`--csv: cannot read ${options.csv}: ${error?.code === "EISDIR" ? "it is a directory" : (error?.message ?? error)}`]);
  }
  const parsed = m.parseOhlcvCsv(text, options.spec, { timeframe: options.timeframe, now: LATEST_TIME, maxRows: MAX_ROWS });
  // Each problem, then how many and whether the list stopped short (found in QA: past 100 it ended without a word).
  if (!parsed.ok) throw new UsageError([...parsed.errors.map((e) => `${options.csv}: line ${e.line}: ${e.message}`), `${options.csv}: ${m.csvRejection(parsed.errors, "nothing was run")}`], { aboutOptions: false });
  if (parsed.bars.length === 0) throw new UsageError([`${options.csv}: no bars after the header`]);
  const price = (ticks) => m.ticksToNumber(ticks, options.spec);
  return parsed.bars.map((b) => ({ t: b.t, open: price(b.o), high: price(b.h), low: price(b.l), close: price(b.c), volume: m.lotsToNumber(b.v, options.spec) }));
}

async function main() {
  // Standard output is the report (with --json, one object and nothing else): whatever the
  // strategy's module prints with console.log, at load or in a callback, goes to stderr.
  for (const name of ["log", "info", "debug"]) console[name] = (...parts) => console.error(...parts);
  let values;
  try {
    values = readArgs(process.argv.slice(2));
  } catch (error) {
    return fail(error.messages, 2, error.aboutOptions);
  }
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return;
  }
  let m, options, chosen, bars;
  try {
    const source = strategySource(values);
    try {
      m = await loadEngine(source.file);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      if (error instanceof BundleError) throw new UsageError([`--strategy: ${source.file} does not build:`, ...error.messages]);
      // The module threw as it loaded (its top level ran).
      return fail([`the strategy failed as it loaded: ${strategyError(error, source.file)}`], 1);
    }
    options = runOptions(values, m);
    chosen = resolveStrategy(source, m, options.params);
    bars = readBars(options, m);
  } catch (error) {
    if (error instanceof UsageError) return fail(error.messages, 2, error.aboutOptions);
    throw error;
  }

  let result;
  try {
    result = await m.runBacktest({
      strategy: chosen.strategy,
      bars,
      spec: options.spec,
      params: chosen.params,
      cash: options.cash,
      venue: options.venue,
      limits: options.limits,
      halfSpreadTicks: options.halfSpreadTicks,
      quoteLots: options.quoteLots,
    });
  } catch (error) {
    return fail([`the strategy failed: ${strategyError(error, chosen.file)}`], 1);
  }
  if (options.json) {
    // The strategy's log would break the one-object stdout: it goes to stderr.
    for (const line of result.logs) process.stderr.write(`log ${new Date(line.t).toISOString()} ${line.text}\n`);
    process.stdout.write(JSON.stringify({ metrics: metricsJson(result.metrics), fills: fillsJson(result.fills) }) + "\n");
  } else {
    process.stdout.write(textReport({ spec: options.spec, strategyName: chosen.name, result, bars, money: m }) + "\n");
  }
}

// In the sandbox strings never become code (eval, new Function: found in QA, a loop in an
// eval'd string ran past the loop budget here and was refused there): Node is told the
// same, by running again with the flag when it was not given (npm run backtest gives it).
const NO_CODE_FROM_STRINGS = "--disallow-code-generation-from-strings";
if (!process.execArgv.includes(NO_CODE_FROM_STRINGS)) {
  const again = spawnSync(process.execPath, [NO_CODE_FROM_STRINGS, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(again.status ?? 1);
}
// npm runs a script from the package's root; the files a researcher names are where they
// typed the command (found in QA: --csv bars.csv from web/ was "no file").
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
await main();
